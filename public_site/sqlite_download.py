"""A SQLite snapshot of the log for journalists: ``GET /downloads/ledger.sqlite``.

One file that opens in Datasette (``datasette ledger.sqlite``), the ``sqlite3``
shell or any spreadsheet tool that reads SQLite:

========== =========================================================================
entries    one row per entry: ``idx`` (the log index), ``logged_at``, ``type``, ``org``,
           ``run_id``, ``level``, ``cycle``, ``headline``, ``signers`` (JSON array),
           ``payload`` (JSON), ``leaf`` and ``leaf_hash`` (base64, exactly as logged);
           full-text search over it in ``entries_fts`` (FTS5)
signatures one row per signature on an entry: ``idx``, ``keyid``, ``holder``
keys       the key set the log itself grants and revokes: ``keyid``, ``holder``,
           ``roles`` (JSON array), ``granted_at`` and ``revoked_at`` (log indices)
findings   the policy audit: ``rule``, ``severity``, ``entries`` (JSON array of
           indices), ``message``; ``rules`` says what each rule is
checkpoint the signed checkpoint the snapshot was made from: ``size``, ``root``, ``note``
about      what this file is, and that the log is authoritative, not this file
========== =========================================================================

Every value comes from the same functions as the site's pages
(:mod:`public_site.pages`), so the snapshot and the pages cannot disagree. The
search facets (``org``, ``run_id``, ``level``, ``cycle``) are the ones the
ledger indexed when it admitted each entry (a result inherits its run's).

A snapshot is a convenience. The log is authoritative: ``frontier-verify``
checks every entry of it against the signed checkpoint, and the ``leaf`` and
``leaf_hash`` here let anyone match a row to the log.

:func:`cached_snapshot` builds at most one file per tree size, under
``DATA/site-cache/``, written atomically (temporary file, fsync, rename).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from ledger.read.reader import LogReader
from ledger.read.views import LogView
from ledger.storage.protocol import EntryRow, SearchQuery
from public_site import pages
from verifier.core.encoding import b64encode
from verifier.core.leaf import format_logged_at
from verifier.files import fsync_dir, fsync_file, temp_name

CACHE_DIR = "site-cache"
PREFIX = "snapshot-"
SUFFIX = ".sqlite"
#: Attempts to read the key set, the audit and the checkpoint at one tree size
#: while the log grows underneath (each attempt is milliseconds apart).
CONSISTENT_TRIES = 5
#: Leftover temporary files of a build that crashed are removed after this long.
STALE_TEMP_S = 24 * 3600
#: Entries read per query (the store's largest search page).
SEARCH_PAGE = 500
INSERT_ENTRY = "INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

ABOUT = (
    "A snapshot of the Frontier Ledger log {origin} at tree size {size}, made by its public "
    "site for querying (for example: datasette ledger.sqlite). It is a convenience, not the "
    "record: the log itself is authoritative. Verify the log with frontier-verify "
    "(frontier-verify verify --log <site>/log --vkey '{vkey}'), which checks every entry "
    "against the signed checkpoint; each row's leaf and leaf_hash match the log's bytes."
)
TABLES = {
    "entries": "One row per log entry (idx is the log index; /entries/<idx> on the site). "
    "signers is a JSON array of key holders; payload is the decoded payload as JSON; leaf "
    "and leaf_hash are base64 of the logged bytes and their RFC 9162 leaf hash. "
    "entries_fts is a full-text index over it.",
    "signatures": "One row per signature on an entry: idx, keyid, and the holder the log's "
    "key set names (null for a key the log never granted).",
    "keys": "The key set as the log itself grants and revokes it (granted_at and revoked_at "
    "are log indices). roles is a JSON array.",
    "findings": "The policy audit (the schedule's rules): one row per finding, with the "
    "entries (a JSON array of indices) that prove it. rules says what each rule means.",
    "checkpoint": "The signed checkpoint this snapshot was made from (size, root, note).",
}


@dataclass(frozen=True)
class SnapshotInfo:
    path: Path
    size: int
    entries: int
    keys: int
    findings: int
    seconds: float


# -- building ------------------------------------------------------------------------------


def _consistent_state(
    site: pages.Site,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Keys, compliance and checkpoint read at one tree size (the log may grow meanwhile)."""
    for _ in range(CONSISTENT_TRIES):
        compliance = pages.compliance(site)
        keys = pages.keys(site)
        checkpoint = pages.checkpoint_info(site)
        if compliance["tree_size"] == checkpoint["size"] == site.view.catch_up().size:
            break
    return keys, compliance, checkpoint


def _rows(site: pages.Site, size: int) -> Iterator[EntryRow]:
    """Entries ``0 .. size-1`` with their search facets, a page of the store's search at a time."""
    after = -1
    while after + 1 < size:
        rows = site.reader.store.search(SearchQuery(after=after, limit=SEARCH_PAGE))
        if not rows:
            return
        for row in rows:
            if row.index >= size:
                return
            yield row
        after = rows[-1].index


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _create_tables(db: sqlite_utils.Database) -> None:
    db.table("entries").create(
        {
            "idx": int,
            "logged_at": str,
            "type": str,
            "org": str,
            "run_id": str,
            "level": int,
            "cycle": int,
            "headline": str,
            "signers": str,
            "payload_type": str,
            "payload": str,
            "leaf": str,
            "leaf_hash": str,
        },
        pk="idx",
    )
    db.table("keys").create(
        {
            "keyid": str,
            "holder": str,
            "roles": str,
            "granted_at": int,
            "revoked_at": int,
            "public_key": str,
        },
        pk="keyid",
        foreign_keys=[("granted_at", "entries", "idx"), ("revoked_at", "entries", "idx")],
    )
    db.table("signatures").create(
        {"idx": int, "keyid": str, "holder": str},
        foreign_keys=[("idx", "entries", "idx")],
    )
    db.table("rules").create({"rule": str, "text": str}, pk="rule")
    db.table("findings").create(
        {"id": int, "rule": str, "severity": str, "entries": str, "message": str},
        pk="id",
        foreign_keys=[("rule", "rules", "rule")],
    )
    db.table("checkpoint").create(
        {"size": int, "root": str, "origin": str, "note": str, "cosigned_by": str}, pk="size"
    )
    db.table("about").create({"key": str, "value": str}, pk="key")


def _entry_rows(
    site: pages.Site, size: int
) -> Iterator[tuple[tuple[Any, ...], list[tuple[int, str, str | None]]]]:
    for row in _rows(site, size):
        summary = pages.summary(site, row)  # type, org, headline, signers: as the pages show them
        described = site.view.describe(row.leaf)
        payload = described.get("payload")
        f = row.facets
        yield (
            (
                row.index,
                summary["logged_at"],
                summary["type"],
                summary["org"],
                f.run_id if f is not None else None,
                f.level if f is not None else None,
                f.cycle if f is not None else None,
                summary["headline"],
                _dumps(summary["signers"]),
                row.payload_type,
                _dumps(payload) if payload is not None else None,
                b64encode(row.leaf),
                b64encode(row.leaf_hash),
            ),
            [(row.index, s["keyid"], s["holder"]) for s in described["signers"]],
        )


def build_snapshot(
    reader: LogReader,
    view: LogView,
    out_path: Path,
    *,
    vkey: str = "",
    now_ms: int | None = None,
) -> SnapshotInfo:
    """Write a fresh SQLite snapshot of the log to *out_path* (atomically); say what it holds.

    Findings are judged as of *now_ms* (default: now, or the last entry's time if
    later), as the compliance page does.
    """
    t0 = time.perf_counter()
    if now_ms is None:
        now_ms = max(int(time.time() * 1000), reader.head().logged_at_ms)
    site = pages.Site(reader, view, vkey, now_ms)
    keys, compliance, checkpoint = _consistent_state(site)
    size = checkpoint["size"]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(out_path)
    tmp.unlink(missing_ok=True)
    try:
        count, findings = _write(site, tmp, keys, compliance, checkpoint)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a failed build leaves nothing behind
        raise
    fsync_file(tmp)
    # Crash point: before this rename only a hidden temporary file exists.
    os.replace(tmp, out_path)
    fsync_dir(out_path.parent)
    return SnapshotInfo(
        out_path, size, count, len(keys["keys"]), findings, time.perf_counter() - t0
    )


def _write(
    site: pages.Site,
    tmp: Path,
    keys: dict[str, Any],
    compliance: dict[str, Any],
    checkpoint: dict[str, Any],
) -> tuple[int, int]:
    """Fill the new database file *tmp*; return (entries, findings)."""
    size = checkpoint["size"]
    conn = sqlite3.connect(tmp)
    try:
        # A new file nobody reads until it is renamed: no journal needed while building.
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        db = sqlite_utils.Database(conn)
        _create_tables(db)
        count = 0
        with conn:
            sigs: list[tuple[int, str, str | None]] = []
            for values, signatures in _entry_rows(site, size):
                conn.execute(INSERT_ENTRY, values)
                sigs.extend(signatures)
                count += 1
                if len(sigs) >= 4096:
                    conn.executemany("INSERT INTO signatures VALUES (?, ?, ?)", sigs)
                    sigs.clear()
            conn.executemany("INSERT INTO signatures VALUES (?, ?, ?)", sigs)
            conn.executemany(
                "INSERT INTO keys VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        k["keyid"],
                        k["holder"],
                        _dumps(k["roles"]),
                        k["granted_at"],
                        k["revoked_at"],
                        k["public_key"],
                    )
                    for k in keys["keys"]
                ],
            )
            conn.executemany(
                "INSERT INTO rules VALUES (?, ?)",
                [(r["rule"], r["text"]) for r in compliance["all_rules"]],
            )
            findings = [
                (f["rule"], f["severity"], _dumps(f["indices"]), f["message"])
                for group in compliance["rules"]
                for f in group["findings"]
            ]
            conn.executemany(
                "INSERT INTO findings (rule, severity, entries, message) VALUES (?, ?, ?, ?)",
                findings,
            )
            conn.execute(
                "INSERT INTO checkpoint VALUES (?, ?, ?, ?, ?)",
                (
                    size,
                    checkpoint["root"],
                    checkpoint["origin"],
                    checkpoint["note"],
                    _dumps(checkpoint["cosigned_by"]),
                ),
            )
            about = _about(checkpoint, compliance, keys, site.vkey, len(findings))
            conn.executemany("INSERT INTO about VALUES (?, ?)", list(about.items()))
        # FTS5 over the words a journalist searches for; Datasette finds it by its name.
        db.table("entries").enable_fts(
            ["type", "org", "run_id", "headline", "signers", "payload"],
            fts_version="FTS5",
            create_triggers=False,
        )
        for col in ("type", "org", "run_id", "cycle", "logged_at"):
            db.table("entries").create_index([col])
        db.table("signatures").create_index(["idx"])
        db.table("signatures").create_index(["keyid"])
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return count, len(findings)


def _about(
    checkpoint: dict[str, Any],
    compliance: dict[str, Any],
    keys: dict[str, Any],
    vkey: str,
    findings: int,
) -> dict[str, str]:
    size = checkpoint["size"]
    out = {
        "what": ABOUT.format(origin=checkpoint["origin"], size=size, vkey=vkey or "<the log key>"),
        "authoritative": "The log (C2SP tlog-tiles, at <site>/log) is authoritative; this file "
        "is derived from it and is not signed. " + pages.SEARCH_NOTE,
        "origin": checkpoint["origin"],
        "tree_size": str(size),
        "root_hash": checkpoint["root"],
        "vkey": vkey,
        "verify": f"frontier-verify verify --log <site>/log --vkey '{vkey}'",
        "generated_at": format_logged_at(int(time.time() * 1000)),
        "findings_as_of": compliance["as_of"],
        "findings": str(findings),
        "violations": str(compliance["violations"]),
        "keys": str(len(keys["keys"])),
    }
    out.update({f"table {name}": text for name, text in TABLES.items()})
    return out


# -- the cache -------------------------------------------------------------------------------

_locks_guard = threading.Lock()
_locks: dict[Path, threading.Lock] = {}


def _lock_for(directory: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(directory, threading.Lock())


def cache_dir_for(reader: LogReader) -> Path:
    """``DATA/site-cache``, or a private temporary directory if the data directory is read-only."""
    data_root = reader.store.data_root  # the data directory, whichever database holds the log
    preferred = data_root / CACHE_DIR
    with contextlib.suppress(OSError):
        preferred.mkdir(exist_ok=True)
    if preferred.is_dir() and os.access(preferred, os.W_OK | os.X_OK):
        return preferred
    tag = hashlib.sha256(str(data_root.resolve()).encode()).hexdigest()[:16]
    fallback = Path(tempfile.gettempdir()) / f"frontier-ledger-{os.getuid()}-{tag}"
    fallback.mkdir(mode=0o700, exist_ok=True)
    return fallback


def snapshot_size(path: Path) -> int | None:
    """The tree size in a cached snapshot's name (``snapshot-<size>.sqlite``), or None."""
    name = path.name
    if not (name.startswith(PREFIX) and name.endswith(SUFFIX)):
        return None
    digits = name[len(PREFIX) : -len(SUFFIX)]
    return int(digits) if digits.isascii() and digits.isdigit() else None


def cached_snapshot(
    cache_dir: Path, reader: LogReader, view: LogView, *, vkey: str = "", now_ms: int | None = None
) -> Path:
    """The snapshot of the log's current size: built once per tree size, then reused."""
    path = cache_dir / f"{PREFIX}{reader.head().size}{SUFFIX}"
    if path.is_file():
        return path
    with _lock_for(cache_dir):  # one build at a time per cache, in this process
        if path.is_file():
            return path  # another request built it meanwhile
        info = build_snapshot(reader, view, path, vkey=vkey, now_ms=now_ms)
        final = cache_dir / f"{PREFIX}{info.size}{SUFFIX}"
        if final != path:  # the log grew while the head was read: name it by what it holds
            os.replace(path, final)
        _prune(cache_dir, info.size)
        return final


def _prune(cache_dir: Path, newest: int) -> None:
    """Delete older snapshots, keeping the one before *newest* for downloads in flight."""
    older = sorted(
        (s, p) for p in cache_dir.iterdir() if (s := snapshot_size(p)) is not None and s < newest
    )
    for _, p in older[:-1]:
        p.unlink(missing_ok=True)
    cutoff = time.time() - STALE_TEMP_S
    for p in cache_dir.glob(f".{PREFIX}*.tmp-*"):
        with contextlib.suppress(OSError):
            if p.stat().st_mtime < cutoff:
                p.unlink()
