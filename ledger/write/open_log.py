"""Create a log, and open it for writing: the store, the log key and admission.

The one place that puts a writer together; the server, the CLI and the demo call it.
"""

from __future__ import annotations

from ledger.errors import DataDirError
from ledger.keys.entry_signing import EntryKey
from ledger.keys.log_keys import KeyFiles, load_extra_signers, load_key, write_new_key
from ledger.ops.clock import Clock, system_clock
from ledger.ops.datadir import DataDir
from ledger.read.views import BlobDir
from ledger.storage.admission_db import AdmissionDB
from ledger.storage.backends import check_no_log, create_store, open_store
from ledger.write.admission import ADMISSION_STATE_FORMAT, GovernedAdmission, Resume
from ledger.write.sequencer import LogWriter
from verifier.core.checkpoint import Checkpoint, check_origin
from verifier.core.merkle import EMPTY_ROOT
from verifier.core.note import sign_note

#: Where the writer keeps its admission state between runs (a cache: see admission.py).
ADMISSION_STATE_NAME = "admission-state.sqlite"
#: The JSON file earlier versions kept it in, read whole at every start: removed.
OLD_ADMISSION_STATE_NAME = "admission-state.json"

#: The key the server signs schedule markers with (PEM, mode 0600), beside the log key.
MARKER_KEY_NAME = "marker.key"


def init_log(
    data: DataDir, origin: str, *, synthetic: bool = False, created_at_ms: int | None = None
) -> str:
    """Create a new log: key file (0600), vkey file, database with the empty checkpoint.

    Returns the vkey. Refuses to touch an existing database or key.
    """
    check_origin(origin)
    check_no_log(data)  # with PostgreSQL: the database is reachable and holds no log
    if data.key_path.exists():
        raise DataDirError(f"{data.key_path} already exists; refusing to overwrite a key")
    data.root.mkdir(parents=True, exist_ok=True)
    signer = write_new_key(data.key_path, origin)
    note = sign_note(Checkpoint(origin, 0, EMPTY_ROOT).to_text(), [signer])
    try:
        store = create_store(
            data,
            origin,
            note,
            EMPTY_ROOT,
            profile="synthetic" if synthetic else "governed",
            created_at_ms=created_at_ms,
        )
    except BaseException:
        data.key_path.unlink(missing_ok=True)  # a failed init leaves nothing behind
        raise
    store.close()
    vkey = signer.verifier.vkey
    data.vkey_path.write_text(vkey + "\n")
    if not synthetic:
        # The key the server signs schedule markers with; the board grants it
        # the "log" role (a key_grant) before markers can be logged.
        EntryKey.generate().write(data.root / MARKER_KEY_NAME)
    return vkey


def open_writer(data: DataDir, *, admit: bool = False, clock: Clock | None = None) -> LogWriter:
    """The store opened for writing, with the log key (the caller holds the writer lock).

    With *admit*, a governed log admits every new entry against its charter,
    keys and rules (the server always does); a synthetic log never does.
    """
    store = open_store(data)
    try:
        signer = load_key(data.key_path)
        # The next key during a key rotation, the ML-DSA-44 key: they sign every checkpoint too.
        extra = load_extra_signers(KeyFiles(data.key_path, data.vkey_path))
        admission = None
        if admit and store.profile == "governed":
            (data.root / OLD_ADMISSION_STATE_NAME).unlink(missing_ok=True)
            admission = GovernedAdmission(
                store.origin,
                store.iter_leaves,
                simulated_clock=clock is not None,
                blobs=BlobDir(data.root / "blobs" / "sha256"),
                resume=Resume(
                    AdmissionDB(data.root / ADMISSION_STATE_NAME, ADMISSION_STATE_FORMAT),
                    store.iter_leaves,
                    store.read_checkpoint,
                ),
            )
        writer = LogWriter(
            store, signer, clock or system_clock, admission=admission, extra_signers=extra
        )
        # A crash may have come between a commit and its search index write.
        writer.open_index()
        return writer
    except BaseException:
        store.close()
        raise
