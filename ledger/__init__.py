"""Frontier Ledger: the log service (storage, sequencer, signing, HTTP API, CLI).

Every check it makes on formats and proofs is imported from :mod:`verifier`, so
the code auditors review is the code that runs.
"""

__version__ = "0.1.0"
