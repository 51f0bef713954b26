"""Audit a whole log: admission replay (L2–L4) plus the schedule's rules (S1–S14).

Pure: leaves, the time of the audit and any revealed documents come in;
findings go out. A bad entry becomes a finding, not an exception, so one
broken entry does not hide what the rest of the log shows.

Everything an auditor knows after entry *i* is one :class:`AuditState`, which
:mod:`verifier.policy.snapshot` can store and load: a verifier with a state directory
resumes where it stopped instead of replaying the log from its charter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from verifier.core.leaf import Leaf, format_logged_at, parse_leaf
from verifier.entries.codec import parse_payload
from verifier.entries.payloads import Decision
from verifier.entries.registry import SignatureSink
from verifier.entries.replay import CheckedEntry, LogReplay
from verifier.errors import AdmissionError, FormatError
from verifier.policy.engine import PolicyEngine
from verifier.policy.findings import SEVERITIES, VIOLATION, Finding
from verifier.policy.rules.decisions import broken_submission_link
from verifier.policy.state import PolicyState

#: The rules the log's own admission checks stand for (``verify`` reports these).
LOG_RULES = ("L2", "L3", "L4")


@dataclass(frozen=True)
class AuditReport:
    origin: str
    size: int
    now_ms: int
    findings: tuple[Finding, ...]

    @property
    def violations(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == VIOLATION)

    def by_rule(self) -> dict[str, list[Finding]]:
        out: dict[str, list[Finding]] = {}
        for f in self.findings:
            out.setdefault(f.rule, []).append(f)
        return out


@dataclass
class AuditState:
    """What an auditor knows after replaying entries ``0 .. size-1``.

    ``policy`` is None when only the log's own rules (L2–L4) are replayed, as
    ``frontier-verify verify`` does; ``findings`` are those entries caused so far.
    """

    replay: LogReplay
    policy: PolicyState | None = None
    findings: list[Finding] = field(default_factory=list)
    last_ms: int | None = None
    #: The entry that set ``last_ms`` (the first logged at it): L2 names it.
    last_index: int = -1
    #: Entry 0 is not a charter (a synthetic test or benchmark log): there is
    #: no key set to check signatures against, so only leaf shapes are checked.
    charterless: bool = False

    @property
    def size(self) -> int:
        return self.replay.size


class Auditor:
    """Incremental audit: feed leaves in order, ask for the report at any time.

    With ``schedule=False`` only the admission replay runs (signatures under the
    key set replayed from the log, schemas, roles, references, time order).
    """

    def __init__(
        self,
        origin: str,
        blobs: Mapping[str, bytes] | None = None,
        *,
        schedule: bool = True,
        state: AuditState | None = None,
    ) -> None:
        if state is None:
            state = AuditState(LogReplay(origin), PolicyState() if schedule else None)
        if state.replay.origin != origin:
            raise FormatError(f"state is for log {state.replay.origin!r}, not {origin!r}")
        self.state = state
        self.replay = state.replay
        self.engine: PolicyEngine | None = None
        if state.policy is not None:
            self.engine = PolicyEngine(blobs)
            self.engine.state = state.policy
        self.findings = state.findings
        #: Where Ed25519 checks go instead of being done in line (see verifier.client.sigpool).
        self.defer: SignatureSink | None = None
        #: The leaf :meth:`feed` parsed last (None if it was not a valid leaf).
        self.last_parsed: Leaf | None = None
        #: The entry :meth:`feed` admitted last (None if it failed admission).
        self.last_checked: CheckedEntry | None = None

    @property
    def size(self) -> int:
        return self.replay.size

    @property
    def schedule(self) -> bool:
        return self.engine is not None

    def feed(self, leaf: bytes) -> list[Finding]:
        index = self.replay.size
        new: list[Finding] = []
        self.last_parsed = None
        self.last_checked = None
        try:
            parsed = self.last_parsed = parse_leaf(leaf)
        except FormatError as exc:
            self.replay.skip(index)
            new.append(
                Finding("L3", VIOLATION, (index,), f"entry {index} is not a valid leaf: {exc}")
            )
            self.findings.extend(new)
            return new
        if index == 0 and parsed.envelope.entry_type != "charter":
            self.state.charterless = True
        last_ms = self.state.last_ms
        if last_ms is not None and parsed.logged_at_ms < last_ms:
            # Named against the entry that set the latest time, not the one before it:
            # after entries logged 11-01, 10-01, 10-15, the third was logged after the
            # second and before the first.
            latest = self.state.last_index
            new.append(
                Finding(
                    "L2",
                    VIOLATION,
                    (latest, index),
                    f"entry {index} was logged at {parsed.logged_at}, before entry {latest} "
                    f"(logged at {format_logged_at(last_ms)})",
                )
            )
        if last_ms is None or parsed.logged_at_ms > last_ms:
            self.state.last_ms, self.state.last_index = parsed.logged_at_ms, index
        if self.state.charterless:
            self.replay.skip(index)
            self.findings.extend(new)
            return new
        try:
            checked = self.last_checked = self.replay.admit(
                parsed.envelope, index, defer=self.defer
            )
        except AdmissionError as exc:
            self.replay.skip(index)
            rule = "L4" if exc.code == "bad-reference" else "L3"
            new.append(
                Finding(
                    rule, VIOLATION, (index,), f"entry {index} should not have been admitted: {exc}"
                )
            )
            if rule == "L4":
                new.extend(self._broken_chain(index, parsed))
        except FormatError as exc:
            self.replay.skip(index)
            new.append(
                Finding(
                    "L3", VIOLATION, (index,), f"entry {index} should not have been admitted: {exc}"
                )
            )
        else:
            if self.engine is not None:
                new.extend(
                    f
                    for f in self.engine.apply(index, checked.payload, parsed.logged_at_ms)
                    if f.rule != "L2"
                )
        self.findings.extend(new)
        return new

    def _broken_chain(self, index: int, parsed: Leaf) -> list[Finding]:
        """A properly signed decision that failed admission on a reference (L4) is
        still judged on its chain (S6): a reader must learn that it names something that
        is not a submission. A decision that fails its own checks (L3) is that finding
        alone."""
        if self.engine is None:
            return []
        try:
            payload = parse_payload(parsed.envelope.payload)
        except FormatError:
            return []
        if not isinstance(payload.body, Decision):
            return []
        link = broken_submission_link(index, payload.body, self.replay.entry_type)
        return [] if link is None else [link]

    def report(self, now_ms: int) -> AuditReport:
        findings = [*self.findings]
        if self.engine is not None:
            findings.extend(self.engine.time_findings(now_ms))
        order = {s: i for i, s in enumerate(SEVERITIES)}
        findings.sort(key=lambda f: (order.get(f.severity, 9), _rule_key(f.rule), f.indices))
        return AuditReport(self.replay.origin, self.replay.size, now_ms, tuple(findings))


def _rule_key(rule: str) -> tuple[str, int]:
    return rule[0], int(rule[1:]) if rule[1:].isdigit() else 0


def audit_leaves(
    origin: str, leaves: Iterable[bytes], now_ms: int, blobs: Mapping[str, bytes] | None = None
) -> AuditReport:
    auditor = Auditor(origin, blobs)
    for leaf in leaves:
        auditor.feed(leaf)
    return auditor.report(now_ms)
