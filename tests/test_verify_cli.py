"""``frontier-verify log`` on a good exported log, and on logs a malicious operator altered."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ledger.demo.synth import synthetic_envelopes
from ledger.ops.datadir import DataDir
from ledger.read.mirror import export_log
from ledger.read.reader import LogReader
from ledger.storage.sqlite import SqliteStore
from ledger.write.open_log import init_log, open_writer
from ledger.write.sequencer import prepare
from verifier.cli import EXIT_FETCH, EXIT_LOG_BROKEN, EXIT_OK, EXIT_UNWITNESSED, main
from verifier.core.checkpoint import open_checkpoint

ORIGIN = "verify.example/log"
SIZE = 700


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("log")
    data = DataDir.at(root / "data")
    vkey = init_log(data, ORIGIN)
    writer = open_writer(data)
    writer.commit([prepare(e) for e in synthetic_envelopes(ORIGIN, SIZE)], receipts=False)
    writer.store.close()
    store = SqliteStore.open(data.db_path, readonly=True)
    export_log(LogReader(store), root / "out")
    store.close()
    return root / "out", vkey


def copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(src, dst)
    return dst


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_good_log_verifies(exported: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    out, vkey = exported
    assert main(["verify", "--log", str(out), "--vkey", vkey, "--quiet"]) == EXIT_OK
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("VERIFIED ") and f"tree size {SIZE}" in first


@pytest.mark.parametrize(
    ("path", "offset"),
    [
        ("tile/0/000", 100),  # a leaf hash
        ("tile/0/002.p/188", 5),  # the partial level-0 tile
        ("tile/1/000.p/2", 40),  # a level-1 hash
        ("tile/entries/001", 300),  # a byte inside an entry
    ],
)
def test_flipped_byte_is_caught(
    exported: tuple[Path, str],
    tmp_path: Path,
    path: str,
    offset: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out, vkey = exported
    log = copy(out, tmp_path)
    flip_byte(log / path, offset)
    assert main(["verify", "--log", str(log), "--vkey", vkey, "--quiet"]) == EXIT_LOG_BROKEN
    assert "LOG BROKEN" in capsys.readouterr().err


def test_flipped_checkpoint_is_caught(exported: tuple[Path, str], tmp_path: Path) -> None:
    out, vkey = exported
    log = copy(out, tmp_path)
    text = (log / "checkpoint").read_bytes()
    (log / "checkpoint").write_bytes(text.replace(b"\n700\n", b"\n701\n"))
    assert main(["verify", "--log", str(log), "--vkey", vkey, "--quiet"]) == EXIT_LOG_BROKEN


def test_wrong_key_and_missing_tile(exported: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = exported
    other = init_log(DataDir.at(tmp_path / "other"), ORIGIN)
    assert main(["verify", "--log", str(out), "--vkey", other, "--quiet"]) == EXIT_LOG_BROKEN
    log = copy(out, tmp_path)
    (log / "tile/0/001").unlink()
    _, vkey = exported
    assert main(["verify", "--log", str(log), "--vkey", vkey, "--quiet"]) == EXIT_FETCH


@pytest.fixture(scope="module")
def demo_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    from ledger.demo.build import build_demo

    root = tmp_path_factory.mktemp("demo")
    result = build_demo(root / "data")
    store = SqliteStore.open(result.data.db_path, readonly=True)
    export_log(LogReader(store), root / "out")
    store.close()
    policy = root / "trust.policy"
    policy.write_text(f"log {result.vkey}\nquorum none\n")
    return root / "out", result.vkey, policy


def test_audit_of_the_demo_is_clean(demo_export, capsys: pytest.CaptureFixture[str]) -> None:
    out, _, policy = demo_export
    code = main(
        ["audit", "--log", str(out), "--policy", str(policy), "--at", "2030-01-02T00:00:00Z"]
    )
    assert code == EXIT_OK
    out = capsys.readouterr().out
    # The demo breaks no rule and earns no notice (a lesser update is not a finding).
    assert out.startswith("NO VIOLATIONS ") and "notice" not in out.splitlines()[0]
    assert "0 findings" in out


def test_s14_is_judged_from_the_mirrors_revealed_documents(
    demo_export, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The mirror carries the revealed documents (by digest), so a foreign audit of it
    recomputes each commitment; without them the reveal is only not_auditable."""
    import shutil

    out, vkey, _ = demo_export
    blobs = sorted((out / "blobs" / "sha256").iterdir())
    assert blobs, "the demo reveals a sealed plan: its document must be in the mirror"
    argv = ["audit", "--vkey", vkey, "--json", "--quiet", "--at", "2030-01-02T00:00:00Z"]
    assert main([*argv, "--log", str(out)]) == EXIT_OK
    assert not [f for f in json.loads(capsys.readouterr().out)["findings"] if f["rule"] == "S14"]
    bare = tmp_path / "without-documents"
    shutil.copytree(out, bare)
    shutil.rmtree(bare / "blobs")
    assert main([*argv, "--log", str(bare)]) == EXIT_OK
    s14 = [f for f in json.loads(capsys.readouterr().out)["findings"] if f["rule"] == "S14"]
    from ledger.demo.build import scenario_path
    from ledger.demo.scenario import load

    reveals = sum(1 for e in load(scenario_path()).entries if e.type == "reveal")
    assert len(s14) == reveals and {f["severity"] for f in s14} == {"not_auditable"}


def test_audit_reports_violations_with_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ledger.demo.build import build_demo
    from ledger.demo.scenario import load

    scenario = load(Path(__file__).parent / "scenarios" / "s3_overrun_without_halt.toml")
    result = build_demo(tmp_path / "data", scenario)
    store = SqliteStore.open(result.data.db_path, readonly=True)
    export_log(LogReader(store), tmp_path / "out")
    store.close()
    code = main(
        ["audit", "--log", str(tmp_path / "out"), "--vkey", result.vkey, "--json", "--quiet"]
    )
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    assert [f["rule"] for f in report["findings"]] == ["S3"]
    code = main(["audit", "--log", str(tmp_path / "out"), "--vkey", result.vkey, "--quiet"])
    first = capsys.readouterr().out.splitlines()[0]
    assert code == 1 and first.startswith("VIOLATIONS ") and "1 violation of" in first


def test_policy_quorum_refused(
    demo_export, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from verifier.core.cosignature import CosignatureSigner

    out, vkey, _ = demo_export
    witness = CosignatureSigner.from_seed("witness.example/w", bytes(range(32)))
    policy = tmp_path / "strict.policy"
    policy.write_text(f"log {vkey}\nwitness w {witness.verifier.vkey}\nquorum w\n")
    assert (
        main(["verify", "--log", str(out), "--policy", str(policy), "--quiet"]) == EXIT_UNWITNESSED
    )
    err = capsys.readouterr().err
    assert "NOT WITNESSED" in err and "lacks the witness quorum" in err
    assert "LOG BROKEN" not in err


def _grow(data: DataDir, count: int, start: int) -> None:
    writer = open_writer(data)
    writer.commit([prepare(e) for e in synthetic_envelopes(ORIGIN, count, start)], receipts=False)
    writer.store.close()


def _export(data: DataDir, out: Path) -> Path:
    store = SqliteStore.open(data.db_path, readonly=True)
    export_log(LogReader(store), out)
    store.close()
    return out


@pytest.fixture
def forked(tmp_path: Path) -> dict:
    """A malicious operator: one key, two histories that share their first 100 entries."""
    honest = DataDir.at(tmp_path / "honest")
    vkey = init_log(honest, ORIGIN, synthetic=True)
    _grow(honest, 100, 0)
    shutil.copytree(honest.root, tmp_path / "evil")
    evil = DataDir.at(tmp_path / "evil")
    _grow(honest, 150, 100)
    _grow(evil, 170, 5000)
    return {"vkey": vkey, "honest": honest, "evil": evil, "tmp": tmp_path}


def test_state_refuses_rollback_and_fork(forked: dict, capsys: pytest.CaptureFixture[str]) -> None:
    tmp, vkey = forked["tmp"], forked["vkey"]
    state = tmp / "state"
    old_copy = _export(forked["honest"], tmp / "mirror-250")
    assert (
        main(["verify", "--log", str(old_copy), "--vkey", vkey, "--state", str(state), "--quiet"])
        == EXIT_OK
    )
    _grow(forked["honest"], 10, 9000)
    newer = _export(forked["honest"], tmp / "mirror-260")
    assert (
        main(["verify", "--log", str(newer), "--vkey", vkey, "--state", str(state), "--quiet"])
        == EXIT_OK
    )
    # Rollback: the operator serves the older copy again.
    assert (
        main(["verify", "--log", str(old_copy), "--vkey", vkey, "--state", str(state), "--quiet"])
        == EXIT_LOG_BROKEN
    )
    assert "rollback" in capsys.readouterr().err
    # Fork: the other history (270 entries) with the same key.
    evil = _export(forked["evil"], tmp / "mirror-evil")
    assert (
        main(["verify", "--log", str(evil), "--vkey", vkey, "--state", str(state), "--quiet"])
        == EXIT_LOG_BROKEN
    )
    err = capsys.readouterr().err
    assert "fork" in err and "evidence written" in err
    evidence = sorted(state.glob("evidence-*.json"))
    assert evidence
    # The state still holds the last good checkpoint (size 260).
    assert b"\n260\n" in (state / "checkpoint").read_bytes()
    assert main(["compare", "--evidence", str(evidence[-1]), "--vkey", vkey]) == EXIT_LOG_BROKEN
    assert capsys.readouterr().err.startswith("INCONSISTENT: proven fork")


def test_compare_two_checkpoints(forked: dict, capsys: pytest.CaptureFixture[str]) -> None:
    tmp, vkey = forked["tmp"], forked["vkey"]
    honest = _export(forked["honest"], tmp / "h")
    evil = _export(forked["evil"], tmp / "e")
    store = SqliteStore.open(forked["honest"].db_path, readonly=True)
    (tmp / "cp100").write_bytes(store.read_checkpoint(100))
    store.close()
    # Consistent: size 100 and the honest head, proof from the honest tiles.
    code = main(
        [
            "compare",
            str(tmp / "cp100"),
            str(honest / "checkpoint"),
            "--log",
            str(honest),
            "--vkey",
            vkey,
        ]
    )
    assert code == EXIT_OK and "CONSISTENT" in capsys.readouterr().out
    # Split view: the honest head (250) and the evil head (270), proof from the evil tiles.
    out = tmp / "fork.json"
    code = main(
        [
            "compare",
            str(honest / "checkpoint"),
            str(evil / "checkpoint"),
            "--log",
            str(evil),
            "--vkey",
            vkey,
            "--out",
            str(out),
        ]
    )
    assert code == EXIT_LOG_BROKEN
    capsys.readouterr()
    assert main(["compare", "--evidence", str(out), "--vkey", vkey]) == EXIT_LOG_BROKEN
    assert capsys.readouterr().err.startswith("INCONSISTENT: proven fork")
    # Evidence does not convince under another key: it proves nothing about that log.
    other = init_log(DataDir.at(tmp / "other"), ORIGIN)
    assert main(["compare", "--evidence", str(out), "--vkey", other]) == EXIT_OK
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("NO FORK PROVEN: ") and "not validly signed by the log's key" in first


@pytest.mark.parametrize("old_size", [64, 256, 130])
def test_fork_evidence_for_power_of_two_and_other_sizes(
    tmp_path: Path, old_size: int, capsys: pytest.CaptureFixture[str]
) -> None:
    honest = DataDir.at(tmp_path / "honest")
    vkey = init_log(honest, ORIGIN, synthetic=True)
    _grow(honest, 20, 0)
    shutil.copytree(honest.root, tmp_path / "evil")
    _grow(honest, old_size - 20, 100)
    _grow(DataDir.at(tmp_path / "evil"), old_size + 37, 10_000)
    h = _export(honest, tmp_path / "h")
    e = _export(DataDir.at(tmp_path / "evil"), tmp_path / "e")
    out = tmp_path / "fork.json"
    argv = [
        "compare",
        str(h / "checkpoint"),
        str(e / "checkpoint"),
        "--log",
        str(e),
        "--vkey",
        vkey,
    ]
    assert main([*argv, "--out", str(out)]) == EXIT_LOG_BROKEN
    capsys.readouterr()
    assert main(["compare", "--evidence", str(out), "--vkey", vkey]) == EXIT_LOG_BROKEN
    assert capsys.readouterr().err.startswith("INCONSISTENT: proven fork")


def test_monitor_reports_new_entries_findings_forks_and_a_frozen_log(forked: dict) -> None:
    from verifier.client.fetch import LogSource
    from verifier.client.monitor import Monitor
    from verifier.core.note import parse_vkey
    from verifier.errors import InconsistencyError

    tmp, key = forked["tmp"], parse_vkey(forked["vkey"])
    mirror = tmp / "mirror"
    _export(forked["honest"], mirror)  # 250 entries
    events: list[dict] = []
    now = [1_000_000.0]
    monitor = Monitor(
        LogSource(str(mirror)).fetch,
        lambda data: (open_checkpoint(data, key), {}),
        max_age_s=600,
        emit=events.append,
        clock=lambda: now[0],
    )
    monitor.round()
    assert [e["index"] for e in events if e["event"] == "entry"] == list(range(250))
    # Synthetic entries are not schedule entries: the audit says so, once.
    findings = [e for e in events if e["event"] == "finding"]
    assert findings and all(f["rule"] in ("L3",) for f in findings)
    events.clear()
    _grow(forked["honest"], 7, 20_000)
    _export(forked["honest"], mirror)  # incremental: 257 entries
    now[0] += 60
    monitor.round()
    assert [e["index"] for e in events if e["event"] == "entry"] == list(range(250, 257))
    assert events[-1] == {"event": "checkpoint", "size": 257, "new_entries": 7}
    events.clear()
    now[0] += 3600  # nothing new for an hour: a frozen log is an event
    monitor.round()
    assert [e["event"] for e in events] == ["stale", "checkpoint"]
    events.clear()
    evil = _export(forked["evil"], tmp / "evil-mirror")  # a split view of the same log
    monitor.fetch = LogSource(str(evil)).fetch
    with pytest.raises(InconsistencyError):
        monitor.round()
    assert events[0]["event"] == "inconsistency" and "fork" in events[0]["message"]


def test_monitor_command_runs_a_round(demo_export, capsys: pytest.CaptureFixture[str]) -> None:
    out, _, policy = demo_export
    assert main(["monitor", "--log", str(out), "--policy", str(policy), "--rounds", "1"]) == EXIT_OK
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    size = int((out / "checkpoint").read_text().split("\n")[1])
    assert sum(1 for e in lines if e["event"] == "entry") == size > 60
    assert lines[-1]["event"] == "checkpoint" and lines[-1]["size"] == size
    assert not [e for e in lines if e["event"] == "finding" and e["severity"] == "violation"]


def test_receipt_needs_the_witness_quorum_with_a_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import base64

    from verifier.core.cosignature import CosignatureSigner
    from verifier.core.note import parse_note
    from verifier.core.tlog_proof import RECEIPT_MEDIA_TYPE, parse_tlog_proof

    data = DataDir.at(tmp_path / "data")
    vkey = init_log(data, ORIGIN, synthetic=True)
    writer = open_writer(data)
    receipt = writer.commit([prepare(e) for e in synthetic_envelopes(ORIGIN, 5)])[3]
    writer.store.close()
    witness = CosignatureSigner.from_seed("witness.example/w", bytes(range(32)))
    policy = tmp_path / "p"
    policy.write_text(f"log {vkey}\nwitness w {witness.verifier.vkey}\nquorum w\n")

    def write(proof_text: str) -> Path:
        path = tmp_path / "receipt.json"
        path.write_text(
            json.dumps(
                {
                    "media_type": RECEIPT_MEDIA_TYPE,
                    "leaf": base64.b64encode(receipt.leaf).decode(),
                    "tlog_proof": proof_text,
                }
            )
        )
        return path

    bare = write(receipt.tlog_proof())
    assert main(["proof", str(bare), "--vkey", vkey]) == EXIT_OK
    assert main(["proof", str(bare), "--policy", str(policy)]) == EXIT_UNWITNESSED
    assert "lacks the witness quorum" in capsys.readouterr().err
    note = parse_note(receipt.checkpoint)
    cosig = witness.cosign(note.text, 1_800_000_000)
    cosigned = type(note)(note.text, (*note.signatures, cosig)).to_bytes()
    proof = parse_tlog_proof(receipt.tlog_proof())
    text = receipt.tlog_proof().replace(receipt.checkpoint.decode(), cosigned.decode())
    assert parse_tlog_proof(text).index == proof.index
    assert main(["proof", str(write(text)), "--policy", str(policy)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "witnessed by w; existed by 2027-01-15T08:00:00Z" in out


def test_incremental_verify_fetches_only_what_is_new(
    forked: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    from verifier.client.fetch import LogSource
    from verifier.client.tilelog import fetch_new_leaves
    from verifier.core.note import parse_vkey

    tmp, vkey = forked["tmp"], forked["vkey"]
    state = tmp / "inc-state"
    mirror = _export(forked["honest"], tmp / "inc")  # 250 entries
    argv = ["verify", "--log", str(mirror), "--vkey", vkey, "--state", str(state), "--quiet"]
    assert main(argv) == EXIT_OK
    _grow(forked["honest"], 300, 30_000)  # 550: crosses into bundle 2
    _export(forked["honest"], mirror)
    fetched: list[str] = []
    source = LogSource(str(mirror))

    def counting(path: str) -> bytes:
        fetched.append(path)
        return source.fetch(path)

    cp = open_checkpoint(source.fetch("checkpoint"), parse_vkey(vkey))
    leaves = fetch_new_leaves(cp, counting, 250)
    assert len(leaves) == 300
    bundles = [p for p in fetched if p.startswith("tile/entries/")]
    assert bundles == ["tile/entries/000", "tile/entries/001", "tile/entries/002.p/38"]
    assert len(fetched) < 12
    capsys.readouterr()
    assert main(argv) == EXIT_OK
    assert "300 new entries verified since size 250 (incremental)" in capsys.readouterr().out
    # A new entry altered on the mirror is caught by the incremental check.
    _grow(forked["honest"], 5, 40_000)
    _export(forked["honest"], mirror)
    bundle = mirror / "tile/entries/002.p/43"
    data = bytearray(bundle.read_bytes())
    data[-10] ^= 1
    bundle.write_bytes(bytes(data))
    assert main(argv) == EXIT_LOG_BROKEN


@pytest.mark.parametrize(
    ("path", "change"),
    [
        ("tile/0/002.p/38", "append"),  # 15 junk bytes: not a whole number of hashes
        ("tile/0/002.p/38", "hash"),  # one hash too many for its width
        ("tile/0/001", "truncate"),  # a full tile one hash short, read by the proofs
    ],
)
def test_incremental_and_full_runs_refuse_the_same_malformed_tile(
    forked: dict, path: str, change: str, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp, vkey = forked["tmp"], forked["vkey"]
    state = tmp / "shape-state"
    mirror = _export(forked["honest"], tmp / "shape")  # 250 entries
    incremental = ["verify", "--log", str(mirror), "--vkey", vkey, "--state", str(state)]
    assert main([*incremental, "--quiet"]) == EXIT_OK
    _grow(forked["honest"], 300, 30_000)  # 550
    _export(forked["honest"], mirror)
    tile = mirror / path
    data = tile.read_bytes()
    tile.write_bytes(
        {"append": data + b"JUNK-NOT-A-HASH", "hash": data + data[:32], "truncate": data[:-32]}[
            change
        ]
    )
    capsys.readouterr()
    assert main([*incremental, "--quiet"]) == EXIT_LOG_BROKEN
    from_state = capsys.readouterr().err
    assert main(["verify", "--log", str(mirror), "--vkey", vkey, "--quiet"]) == EXIT_LOG_BROKEN
    full = capsys.readouterr().err
    assert from_state == full and path in full
    assert b"\n250\n" in (state / "checkpoint").read_bytes()  # the state did not advance


class _Trickle:
    """A loopback HTTP server answering every GET with *body*, *delay* seconds between
    bytes, from the first byte of the status line (*headers*) or of the body."""

    def __init__(self, body: bytes, delay: float, *, headers: bool = False) -> None:
        import socket
        import threading

        self.body, self.delay, self.trickle_headers = body, delay, headers
        self.stop = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.port}/log"

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()

    def _serve(self) -> None:
        import time

        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(4096)
                head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(self.body)
                slow = head + self.body if self.trickle_headers else self.body
                try:
                    if not self.trickle_headers:
                        conn.sendall(head)
                    for b in slow:
                        if self.stop.is_set():
                            break
                        conn.sendall(bytes([b]))
                        if self.delay:
                            time.sleep(self.delay)
                except OSError:
                    continue  # the client gave up


@pytest.mark.parametrize("headers", [False, True], ids=["body", "status-line"])
def test_an_http_answer_trickled_byte_by_byte_hits_the_deadline(
    exported: tuple[Path, str], headers: bool
) -> None:
    from verifier.client.fetch import LogSource
    from verifier.errors import FetchError

    out, _ = exported
    trickle = _Trickle((out / "checkpoint").read_bytes(), 0.2, headers=headers)
    with trickle as url, pytest.raises(FetchError) as caught:
        LogSource(url, deadline=1).fetch("checkpoint")
    assert str(caught.value) == (
        f"GET {url}/checkpoint: no complete answer within 1 s "
        "(the limit for one request: --http-deadline)"
    )


def test_a_prompt_http_answer_is_read_whole_under_a_deadline(exported: tuple[Path, str]) -> None:
    from verifier.client.fetch import LogSource

    out, _ = exported
    body = (out / "tile/entries/000").read_bytes()
    with _Trickle(body, 0) as url:
        assert LogSource(url, deadline=1).fetch("tile/entries/000") == body


def test_verify_gives_up_on_a_trickling_server_as_unreachable(
    exported: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    out, vkey = exported
    with _Trickle((out / "checkpoint").read_bytes(), 0.2) as url:
        argv = ["verify", "--log", url, "--vkey", vkey, "--http-deadline", "1", "--quiet"]
        assert main(argv) == EXIT_FETCH
    err = capsys.readouterr().err
    assert err.startswith("frontier-verify: cannot fetch the log: GET ")
    assert "no complete answer within 1 s" in err and "LOG BROKEN" not in err
    for bad in ("0", "-1", "soon", "inf"):
        with pytest.raises(SystemExit):
            main(["verify", "--log", url, "--vkey", vkey, "--http-deadline", bad])
