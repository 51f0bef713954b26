"""The verifier's I/O edge: read a tlog-tiles log from an HTTP(S) prefix or a directory.

Standard library only (urllib). Every read is size-capped: a checkpoint is a
small note, a hash tile at most 8,192 bytes, an entry bundle at most 256 leaves
of 65,535 bytes each. Errors become :class:`verifier.errors.FetchError`.

Files a user hands the verifier (a receipt, fork evidence, a checkpoint, a policy, a
key) are read the same way, by :func:`read_capped`: at most their cap and one byte,
so a huge file or ``/dev/zero`` fails with :class:`verifier.errors.FileTooLarge`
before any memory is spent on it.
"""

from __future__ import annotations

import gzip
import hashlib
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path

from verifier.core.note import MAX_NOTE_SIZE
from verifier.core.tiles import TILE_WIDTH
from verifier.errors import FetchError, FileTooLarge, InputError

MAX_TILE_BYTES = TILE_WIDTH * 32
MAX_BUNDLE_BYTES = TILE_WIDTH * (2 + 65_535)
#: Revealed documents (plans, reports) served as blobs/sha256/<hex>.
MAX_BLOB_BYTES = 16 * 1024 * 1024
TIMEOUT_SECONDS = 30.0
USER_AGENT = "frontier-verify/0.1 (+https://c2sp.org/tlog-tiles)"


def read_capped(path: str | Path, cap: int, what: str) -> bytes:
    """The bytes of the file *path*, which may hold at most *cap* bytes; *what* names it.

    Reads at most ``cap + 1`` bytes (a larger file, a device such as ``/dev/zero``, is
    never read whole) and raises :class:`~verifier.errors.FileTooLarge`, naming the file
    and the cap, if there are more. An unreadable file raises :class:`OSError`.
    """
    with open(path, "rb") as f:
        data = f.read(cap + 1)
    if len(data) > cap:
        raise FileTooLarge(str(path), cap, what)
    return data


def read_capped_text(path: str | Path, cap: int, what: str) -> str:
    """:func:`read_capped`, decoded as strict UTF-8 (else :class:`~verifier.errors.InputError`)."""
    data = read_capped(path, cap, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} {path} is not valid UTF-8 (byte {exc.start})") from None


def _cap(path: str) -> int:
    if path == "checkpoint":
        return MAX_NOTE_SIZE
    if path.startswith("tile/entries/"):
        return MAX_BUNDLE_BYTES
    if path.startswith("tile/"):
        return MAX_TILE_BYTES
    if path.startswith("blobs/"):
        return MAX_BLOB_BYTES
    return MAX_NOTE_SIZE


class RemoteBlobs(Mapping[str, bytes]):
    """Revealed documents fetched on demand from ``<log>/blobs/sha256/<hex>``.

    A blob that cannot be fetched, or whose content does not hash to its name,
    is absent: the audit then says the commitment is not auditable.
    """

    def __init__(self, source: LogSource) -> None:
        self.source = source
        self._cache: dict[str, bytes | None] = {}

    def __getitem__(self, digest: str) -> bytes:
        if digest not in self._cache:
            data: bytes | None = None
            if len(digest) == 64 and all(c in "0123456789abcdef" for c in digest):
                try:
                    got = self.source.fetch(f"blobs/sha256/{digest}")
                    data = got if hashlib.sha256(got).hexdigest() == digest else None
                except FetchError:
                    data = None
            self._cache[digest] = data
        found = self._cache[digest]
        if found is None:
            raise KeyError(digest)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter([d for d, v in self._cache.items() if v is not None])

    def __len__(self) -> int:
        return sum(1 for _ in self)


class LogSource:
    """Where a log is read from: ``http(s)://host/prefix`` or a local directory."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.is_http = location.startswith(("http://", "https://"))
        if not self.is_http and not Path(location).is_dir():
            raise FetchError(f"{location} is neither an http(s) URL nor a directory")

    def fetch(self, path: str) -> bytes:
        """Bytes at *path* below the log prefix (e.g. ``checkpoint``, ``tile/0/000``)."""
        if ".." in path.split("/"):
            raise FetchError(f"refusing path {path!r}")
        cap = _cap(path)
        if self.is_http:
            return self._fetch_http(path, cap)
        file = Path(self.location) / path
        try:
            with open(file, "rb") as f:
                data = f.read(cap + 1)
        except OSError as exc:
            raise FetchError(f"cannot read {file}: {exc.strerror}") from None
        if len(data) > cap:
            raise FetchError(f"{file} is larger than {cap} bytes")
        return data

    def _fetch_http(self, path: str, cap: int) -> bytes:
        url = self.location.rstrip("/") + "/" + path
        # The scheme was checked in __init__: http or https only, never file:.
        headers = {"Accept-Encoding": "gzip, identity", "User-Agent": USER_AGENT}
        req = urllib.request.Request(url, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_SECONDS) as resp:  # noqa: S310
                raw: bytes = resp.read(cap + 1)
                encoding = resp.headers.get("Content-Encoding", "identity")
        except urllib.error.HTTPError as exc:
            raise FetchError(f"GET {url}: HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise FetchError(f"GET {url}: {exc}") from None
        if encoding == "gzip":
            try:
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                raw = d.decompress(raw, cap + 1)
            except (zlib.error, gzip.BadGzipFile) as exc:
                raise FetchError(f"GET {url}: bad gzip body ({exc})") from None
        elif encoding != "identity":
            raise FetchError(f"GET {url}: unsupported Content-Encoding {encoding}")
        if len(raw) > cap:
            raise FetchError(f"GET {url}: response larger than {cap} bytes")
        return raw
