"""Structured logs: one JSON object per line, for log shippers (``serve --log-format json``).

Every record carries ``time`` (RFC 3339 UTC, milliseconds), ``level``,
``logger`` and ``message``; uvicorn's access records add ``client``,
``method``, ``path`` and ``status``; an exception adds ``exception``. The same
configuration routes the server's own loggers (``frontier_ledger.*``,
``ledger.*``) and uvicorn's through one handler on stderr.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from ledger.errors import ConfigError


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        t = dt.datetime.fromtimestamp(record.created, tz=dt.UTC)
        out: dict[str, Any] = {
            "time": t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        # uvicorn.access passes (client, method, path, http version, status) as args.
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            client, method, path, _, status = args
            out.update(client=client, method=method, path=path, status=status)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def log_config(fmt: str, level: str) -> dict[str, Any]:
    """A logging.dictConfig for uvicorn.run(log_config=…): text or JSON lines on stderr."""
    if fmt not in ("text", "json"):
        raise ConfigError(f"log format {fmt!r} is not text or json")
    formatter: dict[str, Any] = (
        {"()": "ledger.ops.logs.JsonFormatter"}
        if fmt == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    )
    handler = {"class": "logging.StreamHandler", "formatter": "main", "stream": "ext://sys.stderr"}
    lvl = level.upper()
    loggers = {
        name: {"handlers": ["main"], "level": lvl, "propagate": False}
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "frontier_ledger", "ledger")
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "handlers": {"main": handler},
        "loggers": loggers,
    }
