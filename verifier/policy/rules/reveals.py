"""Sealed documents revealed must match their commitment (S14); schedule markers
are logged no earlier than their deadline (the boundary S8 and S9 read)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping

from verifier.entries.payloads import Document, Reveal, ScheduleMarker
from verifier.policy.calendar import fmt_date
from verifier.policy.findings import NOT_AUDITABLE, NOTICE, Finding, finding, refused
from verifier.policy.state import PolicyState, Sealed

#: POLICY.md "Blobs and commitments": SHA-256(prefix || salt32 || content).
COMMITMENT_PREFIX = b"frontier-ledger/commitment/v1\n"


def sealed_documents(body: object) -> tuple[str, ...]:
    """The commitments of the sealed documents an entry carries."""
    out: list[str] = []
    for name in ("plan", "public", "secret", "report", "evidence"):
        doc = getattr(body, name, None)
        if isinstance(doc, Document) and doc.sealed:
            out.append(doc.sha256)
    return tuple(out)


def record_sealed(st: PolicyState, index: int, body: object, logged_ms: int) -> None:
    sealed = sealed_documents(body)
    if sealed:
        st.sealed[index] = Sealed(index, sealed, logged_ms)


def check_reveal(
    st: PolicyState, index: int, b: Reveal, logged_ms: int, blobs: Mapping[str, bytes]
) -> list[Finding]:
    sealed = st.sealed.get(b.commitment)
    if sealed is None:
        return [
            refused(
                "S14",
                (b.commitment, index),
                f"entry {b.commitment} has no sealed document to reveal",
            )
        ]
    content = blobs.get(b.content_sha256)
    if content is None:
        return [
            finding(
                "S14",
                NOT_AUDITABLE,
                (b.commitment, index),
                f"the revealed document {b.content_sha256[:16]}… is not available, so the commitment cannot be checked",
            )
        ]
    if hashlib.sha256(content).hexdigest() != b.content_sha256:
        return [
            refused(
                "S14",
                (b.commitment, index),
                "the revealed document does not have the digest the reveal states",
            )
        ]
    commitment = hashlib.sha256(COMMITMENT_PREFIX + base64.b64decode(b.salt) + content).hexdigest()
    if commitment not in sealed.commitments:
        return [
            refused(
                "S14",
                (b.commitment, index),
                f"the revealed document does not match the commitment in entry {b.commitment}",
            )
        ]
    return []


def apply_reveal(st: PolicyState, index: int, b: Reveal, logged_ms: int) -> None:
    sealed = st.sealed.get(b.commitment)
    if sealed is not None and b.content_sha256 not in sealed.shown:
        sealed.shown += (b.content_sha256,)


def check_schedule_marker(
    st: PolicyState, index: int, b: ScheduleMarker, logged_ms: int
) -> list[Finding]:
    out: list[Finding] = []
    expected = marker_deadline(st, b.marker, b.cycle)
    if logged_ms < expected:
        out.append(
            refused(
                "S8",
                (index,),
                f"the {b.marker} marker of {b.cycle} is logged on {fmt_date(logged_ms)}, before {fmt_date(expected)}",
            )
        )
    if (b.cycle, b.marker) in st.markers:  # early and a repeat: both findings
        out.append(
            finding(
                "S8",
                NOTICE,
                (st.markers[(b.cycle, b.marker)], index),
                f"the {b.marker} marker of {b.cycle} is logged twice",
            )
        )
    return out


def apply_schedule_marker(st: PolicyState, index: int, b: ScheduleMarker, logged_ms: int) -> None:
    st.markers.setdefault((b.cycle, b.marker), index)


MARKERS = ("lift_date", "submission_window_closed", "decision_due")


def marker_deadline(st: PolicyState, marker: str, cycle: int) -> int:
    """The instant a schedule marker stands for."""
    return {
        "lift_date": st.cal.lift_ms(cycle),
        "submission_window_closed": st.cal.window_closes_ms(cycle),
        "decision_due": st.cal.decision_day(cycle)[0],
    }[marker]


def due_markers(st: PolicyState, now_ms: int) -> list[tuple[int, str, int]]:
    """Schedule markers whose deadline has passed by *now_ms* and are not yet logged.

    Returns (deadline ms, marker, cycle), earliest first. Cycles start at the
    charter's first cycle, so a new log never back-fills history.
    """
    if st.charter is None or st.calendar is None:
        return []
    out = []
    cycle = st.charter.first_cycle
    while st.cal.lift_ms(cycle) <= now_ms:
        for marker in MARKERS:
            when = marker_deadline(st, marker, cycle)
            if when <= now_ms and (cycle, marker) not in st.markers:
                out.append((when, marker, cycle))
        cycle += 1
    out.sort()
    return out
