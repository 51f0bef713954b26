"""Check a log's entries against a verified checkpoint: the engine of ``verify`` and ``audit``.

From nothing, every tile and entry bundle is fetched and re-hashed into the
checkpoint's root (:func:`verifier.client.tilelog.verify_tile_log`) and every entry is
replayed from the charter. From a stored :class:`verifier.policy.audit.AuditState`
at an older checkpoint (already shown consistent with this one), only the new
entries are fetched, each proven included in the signed tree, and replayed on
top of it — work in proportion to what is new.

Replaying means, per entry: the leaf's shape, every envelope signature under
the key set replayed from the log (on other cores for long runs, see
:mod:`verifier.client.sigpool`), schema, roles, references and time order — and, for
an audit, the schedule's rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from verifier.client.sigpool import CHUNK, MIN_PARALLEL, ParallelSignatures
from verifier.client.tilelog import Fetch, fetch_new_leaves, verify_tile_log
from verifier.core.checkpoint import SignedCheckpoint
from verifier.entries.payloads import LogKeyChange
from verifier.policy.audit import Auditor, AuditState

#: Called with (entries replayed so far in this run, entries to replay in this run).
Progress = Callable[[int, int], None]


@dataclass
class LogCheck:
    auditor: Auditor
    start_size: int  # entries known before this run (0 when checked from nothing)
    tiles_checked: int
    bundles_checked: int
    parallel_jobs: int  # processes that checked signatures (1: in line)
    rechecked_in_line: bool  # a signature failed: the run was redone in line
    #: With ``collect_entries``: (index, entry type, logged_at) of each new entry.
    entries: list[tuple[int, str, str]] = field(default_factory=list)
    #: Admitted ``log_key_change`` entries among the new entries, in log order.
    key_changes: list[tuple[int, LogKeyChange]] = field(default_factory=list)

    @property
    def new_entries(self) -> int:
        return self.auditor.size - self.start_size


def check_log(
    checkpoint: SignedCheckpoint,
    fetch: Fetch,
    start: AuditState | None,
    *,
    schedule: bool,
    reload: Callable[[], AuditState | None] | None = None,
    blobs: Mapping[str, bytes] | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
    collect_entries: bool = False,
    min_parallel: int = MIN_PARALLEL,
    chunk: int = CHUNK,
) -> LogCheck:
    """Replay the entries the checkpoint adds to *start* (None: the whole log).

    *start* is changed in place. If signatures were checked on other processes
    and one failed, the run is redone in line from ``reload()`` (a fresh copy
    of *start*; required when *start* is not None and ``jobs > 1``).
    Raises :class:`verifier.errors.VerificationError` if a tile, bundle or
    inclusion proof does not match the checkpoint; entry-level problems become
    findings on the returned auditor.
    """
    base = start.size if start is not None else 0
    parallel = jobs > 1 and checkpoint.size - base >= min_parallel
    if parallel and start is not None and reload is None:
        parallel = False  # nothing to redo the run from: check in line
    args = (checkpoint, fetch, schedule, blobs, progress, collect_entries)
    if not parallel:
        return _run(start, None, *args)
    with ParallelSignatures(jobs, chunk) as pool:
        result = _run(start, pool, *args)
        failed = pool.finish()
    if not failed:
        result.parallel_jobs = jobs
        return result
    # The replay assumed every signature verifies and one does not: redo it in
    # line, so a bad entry (say, a forged key grant) takes no effect.
    result = _run(reload() if reload is not None else None, None, *args)
    result.rechecked_in_line = True
    return result


def _run(  # noqa: PLR0917 - private; called with one shared argument tuple
    state: AuditState | None,
    pool: ParallelSignatures | None,
    checkpoint: SignedCheckpoint,
    fetch: Fetch,
    schedule: bool,
    blobs: Mapping[str, bytes] | None,
    progress: Progress | None,
    collect_entries: bool,
) -> LogCheck:
    auditor = Auditor(checkpoint.origin, blobs, schedule=schedule, state=state)
    auditor.defer = pool
    base = auditor.size
    todo = checkpoint.size - base
    entries: list[tuple[int, str, str]] = []
    key_changes: list[tuple[int, LogKeyChange]] = []

    def feed(leaves: list[bytes]) -> None:
        for leaf in leaves:
            index = auditor.size
            auditor.feed(leaf)
            checked = auditor.last_checked
            if checked is not None and isinstance(checked.payload.body, LogKeyChange):
                # Admitted: board quorum and valid keys (with a pool, the run is redone
                # in line if any signature fails, so only a clean run's list survives).
                key_changes.append((index, checked.payload.body))
            if collect_entries:
                parsed = auditor.last_parsed
                if parsed is None:
                    entries.append((index, "invalid", ""))
                else:
                    entries.append((index, parsed.envelope.entry_type, parsed.logged_at))
        if progress is not None:
            progress(auditor.size - base, todo)

    if base == 0:
        # The whole log (a fresh state too, as audit --low-memory passes one): every
        # tile and bundle checked against the checkpoint, leaves fed bundle by bundle.
        result = verify_tile_log(checkpoint, fetch, lambda _first, leaves: feed(leaves))
        tiles, bundles = result.tiles_checked, result.bundles_checked
    else:
        leaves = fetch_new_leaves(checkpoint, fetch, base)
        for i in range(0, len(leaves), 256):
            feed(leaves[i : i + 256])
        tiles, bundles = 0, 0
    return LogCheck(auditor, base, tiles, bundles, 1, False, entries, key_changes)
