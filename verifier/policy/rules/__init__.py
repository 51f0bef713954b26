"""The schedule's rules, one module per family (POLICY.md, docs/policy-notes.md).

Each module has, per entry type it judges, ``check_<type>(st, index, body,
logged_ms) -> list[Finding]`` (read-only) and ``apply_<type>(st, index, body,
logged_ms)`` (records the entry). :mod:`verifier.policy.engine` dispatches to them.

- :mod:`.thresholds` — caps, lifts, postponements, deregulation (S11, S12, S13)
- :mod:`.runs` — pre-registration, training, compute, submission (S1–S5)
- :mod:`.decisions` — evaluation, contests, decisions (S6–S10)
- :mod:`.reveals` — sealed documents and schedule markers (S14, S8's markers)
- :mod:`.deadlines` — what only the passing of time shows
"""
