"""The server's HTTP/1.1 protocol: uvicorn's (h11), with its own refusals in the one error shape.

uvicorn answers a request it cannot parse (a malformed request line or header, a bad
``Content-Length``, an unsupported ``Transfer-Encoding``) itself, before the app sees
it, with a plain-text 400. :class:`ProblemH11Protocol` answers the same 400 as an RFC
9457 problem document, as every other error of the server (docs/api.md, Errors).
``frontier-ledger serve`` runs uvicorn with it (``uvicorn.run(http=…)``).
"""

from __future__ import annotations

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from ledger.api.problems import problem_body


class ProblemH11Protocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        """Refuse a request that does not parse (uvicorn's message names no detail of it),
        then close the connection: after a framing error nothing more on it can be read."""
        body = problem_body(400, "malformed-request", f"the HTTP request does not parse: {msg}")
        headers = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            data = self.conn.send(event)
            if data:
                self.transport.write(data)
        self.transport.close()
