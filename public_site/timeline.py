"""The plan's own picture, laid out for server-side SVG: time down the page, levels across.

Caps and their lift dates are lines across a level's column; each run is a bar
in its level's column from its pre-registration to its decision (or to today),
with marks where training started or halted, where the model was submitted and
where it was decided; postponements and deregulations are marked where they
take effect. Coordinates are computed here, labels included: a label that would
print over another label or across a line is moved down until it is clear
(:func:`_place_labels`), with a thin leader back to its bar. The template only
draws them, and Jinja2's autoescape keeps every string inert inside the SVG.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from public_site.pages import Site
from public_site.schedule import Reader, _engine, _history, _versions
from verifier.policy.calendar import DAY_MS, day_start_ms, fmt_date
from verifier.policy.engine import PolicyEngine
from verifier.policy.findings import fmt_flop

LEFT = 70  # room for the year labels
TOP = 50  # room for the level headings
LANE = 18  # width of one run's lane
COLUMN_MIN = 150
LABEL_WIDTH = 180
PX_PER_DAY = 0.5
#: Labels: 11 px text; a generous advance per character, so an estimate never falls
#: short of what a browser draws, and the height of one line with room around it.
CHAR_PX = 6.6
ASCENT, DESCENT = 10, 3
RUN_LABEL_CHARS, LINE_LABEL_CHARS = 26, 40
#: A label moved further than this from its bar gets a leader line back to it.
LEADER_PX = 6


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


@dataclass(frozen=True)
class _Box:
    x0: float
    x1: float
    top: float
    bottom: float

    def hits(self, other: _Box) -> bool:
        return (
            self.x0 < other.x1
            and other.x0 < self.x1
            and self.top < other.bottom
            and other.top < self.bottom
        )


def _text_box(x: float, baseline: float, text: str, anchor_end: bool = False) -> _Box:
    width = len(text) * CHAR_PX + 4
    x0 = x - width if anchor_end else x
    return _Box(x0, x0 + width, baseline - ASCENT, baseline + DESCENT)


def _place_labels(fixed: list[_Box], labels: list[tuple[str, float, bool, float]]) -> list[float]:
    """Baselines for *labels* ((text, x, anchored at its end, wanted baseline)), in order:
    each as near its wanted place as it can be without touching a *fixed* box or a label
    placed before it (labels are placed top down and only ever moved down)."""
    placed = list(fixed)
    out = [0.0] * len(labels)
    for i in sorted(range(len(labels)), key=lambda i: labels[i][3]):
        text, x, end, baseline = labels[i]
        for _ in range(len(placed) + 1):
            box = _text_box(x, baseline, text, end)
            blocking = [b for b in placed if box.hits(b)]
            if not blocking:
                break
            baseline = max(b.bottom for b in blocking) + ASCENT + 1
        placed.append(_text_box(x, baseline, text, end))
        out[i] = round(baseline, 1)
    return out


def _y(ms: int, t0: int) -> float:
    return round(TOP + (ms - t0) / DAY_MS * PX_PER_DAY, 1)


def _lanes(bars: list[dict[str, Any]]) -> int:
    """Greedy interval packing: each bar gets the first lane free at its start."""
    ends: list[int] = []
    for bar in sorted(bars, key=lambda b: (b["start_ms"], b["index"])):
        for lane, end in enumerate(ends):
            if end < bar["start_ms"]:
                bar["lane"] = lane
                ends[lane] = bar["end_ms"]
                break
        else:
            bar["lane"] = len(ends)
            ends.append(bar["end_ms"])
    return max(len(ends), 1)


def _bars(site: Site, engine: PolicyEngine) -> list[dict[str, Any]]:
    """One bar per run: from its first pre-registration to its decision, halt or today."""
    reader = Reader(site)
    bars: list[dict[str, Any]] = []
    for root in sorted(r.index for r in engine.state.runs.values() if r.root == r.index):
        versions = _versions(engine, root)
        latest = versions[-1]
        marks = []
        end = site.now_ms
        outcome = None
        for e in _history(site, reader, versions):
            kind = MARKS.get(e.type)
            if kind is None:
                continue
            marks.append({"kind": kind, "ms": e.logged_ms, "index": e.index})
            if kind == "decided":
                outcome = e.payload.get("outcome")
                end = e.logged_ms
            elif kind == "halted" and outcome is None:
                end = e.logged_ms
        bars.append(
            {
                "index": root,
                "url": f"/runs/{root}",
                "label": f"{latest.org}: {latest.run_id}",
                "model": str(reader.get(latest.index).payload.get("model_name", "")),
                "level": latest.level,
                "cycle": latest.cycle,
                "start_ms": versions[0].logged_ms,
                "end_ms": max(end, versions[0].logged_ms + DAY_MS),
                "outcome": outcome,
                "amended": len(versions) > 1,
                "marks": sorted(marks, key=lambda m: m["ms"]),
            }
        )
    return bars


MARKS = {
    "training_started": "started",
    "training_halted": "halted",
    "submission": "submitted",
    "decision": "decided",
}


def _lines(
    engine: PolicyEngine, columns: dict[int, dict[str, Any]], t0: int
) -> list[dict[str, Any]]:
    """Lifts, postponements and deregulations, each across its level's column."""
    charter = engine.state.charter
    assert charter is not None
    found: list[tuple[int, int, str, str, int]] = []  # (level, ms, text, kind, index)
    first_lift = engine.state.cal.lift_ms(charter.first_cycle)
    found.append(
        (
            charter.initial_frontier_level,
            first_lift,
            f"frontier from {fmt_date(first_lift)}",
            "lift",
            0,
        )
    )
    # The engine's own rules, read-only: a postponed lift, one a calendar change left
    # off a lift date (lapsed), or one stranded above either, does not happen.
    for eff, level, index in engine.state.raising_lifts():
        cap = engine.state.cap_at(level, eff)
        found.append((level, eff, f"lift: cap {fmt_flop(cap) if cap else '?'} FLOP", "lift", index))
    # Shown where they were scheduled, dashed as a postponed lift is: what the log
    # holds but does not take effect (docs/policy-notes.md, S11).
    stranded = engine.state.stranded_lifts()
    for level, caps in engine.state.caps.items():
        for eff, _, index in caps:
            if index in engine.state.lapsed:
                text = "schedule lapsed (its date is no longer a lift date)"
                found.append((level, eff, text, "postponed", index))
            elif index in stranded:
                text = "lift stranded (the level below was not lifted)"
                found.append((level, eff, text, "postponed", index))
    for p in engine.state.postponements:
        for cycle in range(p.from_cycle, p.to_cycle):
            text = f"lift of {cycle} postponed to {p.to_cycle}"
            found.append((p.level, engine.state.cal.lift_ms(cycle), text, "postponed", p.index))
    for eff, level, index in engine.state.deregulated:
        # A postponement freezes a deregulation (S13): shown, but not as in force.
        if engine.state.deregulation_takes_effect(eff, level):
            found.append((level, eff, "deregulated", "deregulated", index))
        else:
            found.append((level, eff, "deregulation frozen", "postponed", index))
    out = []
    for level, ms, text, kind, index in found:
        c = columns.get(level)
        if c is not None:
            out.append(
                {
                    "x0": c["x"],
                    "x1": c["x"] + c["width"],
                    "y": _y(ms, t0),
                    "text": text,
                    "label": _clip(text, LINE_LABEL_CHARS),
                    "kind": kind,
                    "url": f"/entries/{index}",
                    "date": fmt_date(ms),
                }
            )
    return out


def _lay_out_labels(
    bars: list[dict[str, Any]],
    lines: list[dict[str, Any]],
    years: list[dict[str, Any]],
    today: dict[str, Any],
    columns: list[dict[str, Any]],
) -> float:
    """Place every label clear of the others and of the lines; return the lowest baseline."""
    fixed = [_Box(c["x"], c["x"] + c["width"], 0, TOP - 8) for c in columns]  # headings
    fixed += [_Box(ln["x0"], ln["x1"], ln["y"] - 2, ln["y"] + 2) for ln in lines]
    fixed += [_Box(0, LEFT - 4, y["label_y"] - ASCENT, y["label_y"] + DESCENT) for y in years]
    labels = [(b["short_label"], b["label_x"], False, b["y0"] + 9) for b in bars]
    labels += [(ln["label"], ln["x1"] - 4, True, ln["y"] + 12) for ln in lines]
    labels.append(("today", 6, False, today["y"] - 3))
    placed = _place_labels(fixed, labels)
    for b, baseline in zip(bars, placed, strict=False):
        b["label_y"] = baseline
        # Moved away from its bar: a leader from the bar's top to the label.
        b["leader"] = baseline - (b["y0"] + 9) > LEADER_PX
    for ln, baseline in zip(lines, placed[len(bars) :], strict=False):
        ln["label_y"] = baseline
    today["label_y"] = placed[-1]
    return max(placed, default=0)


def timeline(site: Site) -> dict[str, Any]:
    engine = _engine(site)
    charter = engine.state.charter
    assert charter is not None
    now = site.now_ms
    bars = _bars(site, engine)
    levels = sorted({lc.level for lc in charter.levels} | {b["level"] for b in bars})
    starts = [b["start_ms"] for b in bars] + [engine.state.cal.lift_ms(charter.first_cycle), now]
    t0 = day_start_ms(dt.date(dt.datetime.fromtimestamp(min(starts) // 1000, tz=dt.UTC).year, 1, 1))
    t1 = max([now, *(b["end_ms"] for b in bars)]) + 120 * DAY_MS
    columns: dict[int, dict[str, Any]] = {}
    x = LEFT
    for level in levels:
        mine = [b for b in bars if b["level"] == level]
        lanes = _lanes(mine)
        # Labels sit right of the lanes, stepped down by lane so bars that start
        # together do not print over each other.
        width = max(COLUMN_MIN, lanes * LANE + 20 + LABEL_WIDTH)
        cap = engine.state.cap_at(level, 2**62)
        columns[level] = {"level": level, "x": x, "width": width}
        columns[level]["cap"] = fmt_flop(cap) if cap is not None else "no cap"
        for b in mine:
            b["x"] = x + 15 + b["lane"] * LANE
            b["y0"], b["y1"] = _y(b["start_ms"], t0), _y(b["end_ms"], t0)
            b["label_x"] = x + 15 + lanes * LANE
            b["short_label"] = _clip(b["label"], RUN_LABEL_CHARS)
            for m in b["marks"]:
                m["y"] = _y(m["ms"], t0)
        x += width
    years = []
    year = dt.datetime.fromtimestamp(t0 // 1000, tz=dt.UTC).year
    while (ms := day_start_ms(dt.date(year, 1, 1))) <= t1:
        years.append({"year": year, "y": _y(ms, t0), "label_y": _y(ms, t0) + 12})
        year += 1
    today = {"y": _y(now, t0), "date": fmt_date(now)}
    lines = _lines(engine, columns, t0)
    lowest = _lay_out_labels(bars, lines, years, today, list(columns.values()))
    return {
        "width": x + 10,
        "height": max(_y(t1, t0), lowest + DESCENT) + 10,
        "today": today,
        "columns": list(columns.values()),
        "years": years,
        "lines": lines,
        "runs": [
            {k: v for k, v in b.items() if k not in ("start_ms", "end_ms")}
            | {"from": fmt_date(b["start_ms"]), "to": fmt_date(b["end_ms"])}
            for b in bars
        ],
        "simulation": charter.simulation,
    }
