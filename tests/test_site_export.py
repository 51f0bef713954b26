"""``frontier-ledger export-site``: the static mirror of the public site.

The demo log exported through the CLI: every page and its JSON twin is there,
every link in every page resolves to a file of the mirror, the mirror's log
verifies with ``frontier-verify``, the SQLite snapshot holds every entry, and a
second run rewrites nothing that did not change. A synthetic log that grows shows
the incremental export and ``--base-url``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import sqlite3
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from frontier_ledger import cli
from ledger.demo.build import DemoResult, build_demo, scenario_path
from ledger.demo.scenario import load
from public_site.export.paths import API, CSV, FILE, PAGE, TWIN, resolve
from verifier import cli as verify_cli

ORIGIN = "http://mirror.invalid"


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [v for k, v in attrs if k in ("href", "src", "action") and v is not None]


def local_links(out: Path, prefix: str = "") -> Iterator[tuple[Path, str]]:
    """(page, link) for every same-site link in every HTML file of the mirror."""
    for page in sorted(out.rglob("*.html")):
        parser = Links()
        parser.feed(page.read_text())
        for link in parser.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith("#"):
                continue
            assert link.startswith(prefix + "/"), (page, link)
            yield page, link[len(prefix) :]


def assert_links_resolve(out: Path, prefix: str = "") -> int:
    count = 0
    for page, link in local_links(out, prefix):
        parts = urlsplit(link)
        assert not parts.query, f"{page.relative_to(out)}: {link} has a query string"
        target = out / unquote(parts.path).lstrip("/")
        ok = target.is_file() or (target.is_dir() and (target / "index.html").is_file())
        assert ok, f"{page.relative_to(out)}: {link} does not resolve to a file of the mirror"
        count += 1
    return count


def export(data: Path, out: Path, *extra: str) -> str:
    """Run the command; return what it printed."""
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert cli.main(["export-site", "--data", str(data), str(out), *extra]) == 0
    return printed.getvalue()


def inodes(paths: list[Path]) -> dict[Path, tuple[int, int]]:
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in paths}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, Path]:
    result = build_demo(tmp_path_factory.mktemp("export-demo") / "data")
    out = result.data.root.parent / "mirror"
    printed = export(result.data.root, out, "--simulated-clock", str(result.data.root / "clock"))
    assert "answered an error" not in printed  # every link of the demo's site works
    return result, out


def size_of(result: DemoResult) -> int:
    return result.entries + result.markers


def test_every_page_and_its_json_twin_is_there(demo) -> None:
    result, out = demo
    size = size_of(result)
    for page in ("", "entries", "keys", "compliance"):
        assert (out / page / "index.html").is_file(), page
        assert isinstance(json.loads((out / page / "index.json").read_text()), dict), page
    for index in range(size):
        page = out / "entries" / str(index)
        assert f"<h1>Entry {index}:" in (page / "index.html").read_text()
        assert json.loads((page / "index.json").read_text())["index"] == index
    # The entry list, page by page, as its "next" links go.
    listed, after = [], None
    while True:
        d = out / "entries" / (f"after={after}" if after is not None else "")
        twin = json.loads((d / "index.json").read_text())
        assert (d / "index.html").is_file()
        listed += [e["index"] for e in twin["entries"]]
        after = twin["next_after"]
        if after is None:
            break
    assert listed == list(range(size))
    home = json.loads((out / "index.json").read_text())
    assert home["checkpoint"]["size"] == size
    for path in out.rglob("index.json"):
        json.loads(path.read_text())
    assert (out / "static" / "site.css").is_file() and (out / "static" / "verify.js").is_file()
    assert (out / "feeds" / "entries.atom").read_text().startswith("<?xml")
    assert (out / "entries" / "index.csv").read_text().startswith("index,logged_at,type")
    assert (out / "compliance" / "index.csv").is_file()
    readme = (out / "README.txt").read_text()
    assert "try_files $uri $uri/index.html =404;" in readme
    assert f"frontier-verify verify --log {out / 'log'} --vkey '{result.vkey}'" in readme


def test_every_link_in_the_mirror_resolves_to_a_file(demo) -> None:
    _, out = demo
    assert assert_links_resolve(out) > 1000
    html = (out / "entries" / "index.html").read_text()
    assert 'href="/entries/after=49"' in html  # the next page, as a path
    assert 'href="/entries/index.json"' in html  # the JSON twin beside the page
    assert "<form" not in html  # search needs the server: a pointer to the snapshot instead
    assert 'href="/downloads/ledger.sqlite"' in html
    feed = (out / "feeds" / "entries.atom").read_text()
    assert 'href="/entries/0"' in feed or 'href="/entries/' in feed
    assert "mirror.invalid" not in feed


def test_the_mirrors_log_verifies(demo, capsys: pytest.CaptureFixture[str]) -> None:
    result, out = demo
    assert verify_cli.main(["verify", "--log", str(out / "log"), "--vkey", result.vkey]) == 0
    assert f"tree size {size_of(result)}" in capsys.readouterr().out


def test_the_snapshot_holds_every_entry(demo) -> None:
    result, out = demo
    with sqlite3.connect(out / "downloads" / "ledger.sqlite") as db:
        assert db.execute("SELECT count(*) FROM entries").fetchone()[0] == size_of(result)


def test_a_second_run_rewrites_nothing_unchanged(demo, capsys: pytest.CaptureFixture[str]) -> None:
    result, out = demo
    kept = [
        *(out / "entries").glob("[0-9]*/index.*"),
        *(out / "api").rglob("index.json"),
        *(out / "static").iterdir(),
        *(out / "log").rglob("*"),
        out / "downloads" / "ledger.sqlite",
        out / "index.html",
        out / "entries" / "index.html",
    ]
    # The log's checkpoint is rewritten every time by `export` (ledger.read.mirror), by design.
    kept = [p for p in kept if p.is_file() and p != out / "log" / "checkpoint"]
    assert len(kept) > 2 * size_of(result)
    before = inodes(kept)
    capsys.readouterr()
    printed = export(result.data.root, out, "--simulated-clock", str(result.data.root / "clock"))
    assert inodes(kept) == before
    assert capsys.readouterr().err == ""  # progress goes to a terminal only
    # At most README.txt, which states the export time to the second: within the same
    # second it is unchanged too.
    first = printed.splitlines()[0]
    assert "; 1 files written (" in first or "; 0 files written (" in first, first


def test_a_growing_log_is_exported_incrementally(tmp_path: Path) -> None:
    data, out = tmp_path / "log", tmp_path / "mirror"
    vkey_lines = []
    assert cli.main(["init", "--data", str(data), "--origin", "grow.test/log", "--synthetic"]) == 0
    vkey_lines.append((data / "log.vkey").read_text().strip())
    assert cli.main(["synth", "--data", str(data), "--count", "60"]) == 0
    export(data, out)
    static = inodes([*(out / "static").iterdir()])
    first_page = (out / "entries" / "0" / "index.html").read_text()
    assert cli.main(["synth", "--data", str(data), "--count", "5"]) == 0
    export(data, out)
    for index in range(65):
        assert (out / "entries" / str(index) / "index.html").is_file()
    assert inodes([*(out / "static").iterdir()]) == static
    # Old entries show a proof against the new checkpoint.
    assert (out / "entries" / "0" / "index.html").read_text() != first_page
    assert '"tree_size": 65' in (out / "entries" / "0" / "index.html").read_text()
    assert_links_resolve(out)
    assert verify_cli.main(["verify", "--log", str(out / "log"), "--vkey", vkey_lines[0]]) == 0


def test_jobs_share_the_entries_and_write_the_same_mirror(tmp_path: Path) -> None:
    data = tmp_path / "log"
    assert cli.main(["init", "--data", str(data), "--origin", "jobs.test/log", "--synthetic"]) == 0
    assert cli.main(["synth", "--data", str(data), "--count", "600"]) == 0
    export(data, tmp_path / "one")
    export(data, tmp_path / "three", "--jobs", "3")

    def files(root: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(root)): p.read_bytes()
            for p in root.rglob("*")
            if p.is_file() and p.name != "README.txt"
        }

    one, three = files(tmp_path / "one"), files(tmp_path / "three")
    assert len(one) > 3 * 600
    assert one.keys() == three.keys()
    # What the processes share is the same, byte for byte (the compliance page says the time).
    shared = [k for k in one if k.startswith(("entries/", "api/"))]
    assert len(shared) > 3 * 600
    assert [k for k in shared if one[k] != three[k]] == []


def test_base_url_prefixes_links_and_makes_the_feed_absolute(tmp_path: Path) -> None:
    data, out = tmp_path / "log", tmp_path / "mirror"
    assert cli.main(["init", "--data", str(data), "--origin", "base.test/log", "--synthetic"]) == 0
    assert cli.main(["synth", "--data", str(data), "--count", "3"]) == 0
    export(data, out, "--base-url", "https://mirror.example.org/ledger/")
    assert assert_links_resolve(out, prefix="/ledger") > 10
    feed = (out / "feeds" / "entries.atom").read_text()
    assert 'href="https://mirror.example.org/ledger/entries/2"' in feed
    assert 'rel="self" href="https://mirror.example.org/ledger/feeds/entries.atom"' in feed
    assert cli.main(["export-site", "--data", str(data), str(out), "--base-url", "ftp://x"]) == 2


@pytest.mark.parametrize(
    ("href", "kind", "file"),
    [
        ("/", PAGE, "index.html"),
        ("/entries/5", PAGE, "entries/5/index.html"),
        ("/entries?after=50", PAGE, "entries/after=50/index.html"),
        ("/entries?after=50&type=decision", PAGE, "entries/type=decision/after=50/index.html"),
        ("/entries?type=&org=acme&format=csv", CSV, "entries/org=acme/index.csv"),
        ("/entries/5?format=json", TWIN, "entries/5/index.json"),
        ("?format=json", TWIN, "entries/index.json"),
        ("/entries?q=a%2Fb+c%C3%A9", PAGE, "entries/q=a~2Fb~20c~C3~A9/index.html"),
        ("/feeds/entries.atom?org=acme", FILE, "feeds/org=acme/entries.atom"),
        ("/api/v1/entries/5", API, "api/v1/entries/5/index.json"),
        ("/static/site.css", FILE, "static/site.css"),
        (f"{ORIGIN}/keys#verify", PAGE, "keys/index.html"),
    ],
)
def test_urls_map_to_stable_paths(href: str, kind: str, file: str) -> None:
    t = resolve(href, "/entries", ORIGIN)
    assert t is not None
    assert (t.kind, str(t.rel())) == (kind, file)


@pytest.mark.parametrize(
    "href", ["https://example.org/x", "javascript:alert(1)", "mailto:a@b", "#main", "", "/a/../.."]
)
def test_other_links_are_left_alone(href: str) -> None:
    t = resolve(href, "/entries", ORIGIN)
    assert t is None or t.segments == ()


def test_a_failing_page_is_reported_not_fatal() -> None:
    from fastapi import FastAPI

    from public_site.export.crawler import AsgiClient

    app = FastAPI()

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug in a page")

    got = asyncio.run(AsgiClient(app, ORIGIN).get("/boom"))
    assert got.status == 500
    assert "a bug in a page" in got.error


def test_export_site_refuses_a_missing_log(tmp_path: Path, capsys) -> None:
    assert cli.main(["export-site", "--data", str(tmp_path / "none"), str(tmp_path / "o")]) == 2
    assert "no log database" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "o")


def test_a_witnessed_log_is_mirrored_with_its_policy_and_documents(tmp_path: Path) -> None:
    """The witnessed demo: the mirror holds the policy its pages link to, the cosigned
    checkpoint its entry pages check, and every document they link to."""
    result = build_demo(tmp_path / "data", witnessed=True)
    out = tmp_path / "mirror"
    export(result.data.root, out, "--simulated-clock", str(result.data.root / "clock"))
    policy = (out / "log" / "witnesses.policy").read_text()
    assert policy == (result.data.root / "witnesses.policy").read_text()
    assert 'href="/log/witnesses.policy"' in (out / "index.html").read_text()
    assert_links_resolve(out)
    checkpoint = (out / "log" / "checkpoint").read_text()
    assert checkpoint.count("\n— ") == 3  # the log and both witnesses
    entry = json.loads((out / "entries" / "10" / "index.json").read_text())
    assert entry["proof"]["checkpoint"] == checkpoint and entry["proof"]["policy"] == policy
    documents = list((out / "documents").glob("*/index.html"))
    # One page per document the scenario writes out: public ones, and sealed ones revealed.
    written = {d.content for e in load(scenario_path()).entries for d in e.documents.values()}
    assert len(documents) == len(written) >= 15
    assert all("fictional" in d.read_text() for d in documents)
