"""Frontier Ledger verifier: the trust core.

Pure, strict and dependency-light (``cryptography`` and the standard library):
RFC 9162 Merkle proofs, C2SP signed notes, checkpoints and tiles, the leaf and
DSSE envelope formats. It imports nothing from the ledger service or its stack,
so auditors can review exactly the code that decides what is valid.
"""

__version__ = "0.1.0"
