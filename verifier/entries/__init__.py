"""Entries of the schedule: typed payloads, DSSE signatures, the key registry (POLICY.md)."""
