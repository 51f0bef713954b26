"""The stateless part of admission, for HTTP workers in front of the one sequencer.

Admission (:mod:`ledger.write.admission`) runs in log order, in the one process
that signs. Most of its cost does not depend on that order: an Ed25519
signature either verifies under a key or it does not, whatever the log says.
What depends on the log -- whether the key is granted and unrevoked at this
index, whether it holds the role, the references, the schedule's rules -- is
cheap. So an HTTP worker process (:mod:`ledger.api.workers`) checks the
signatures before it hands the entry to the sequencer, on its own core:

- The sequencer sends each worker the public keys the log has granted, as a
  table by key id (:class:`KeyTable`). A key id is the SHA-256 of its key
  (``verifier.entries.registry.keyid_of``, checked for every grant), so a key
  id names one key for ever: a table can be late, never wrong.
- :func:`precheck` verifies every signature of an envelope under the key its
  key id names. Only if all of them verify (and every key id is in the table)
  is the entry marked ``verified``; the sequencer then checks the rest of
  admission in sequence and does not verify the signatures again. Anything
  else (an unknown key, a bad signature, a key granted a moment ago) is left
  unmarked and the sequencer runs the whole of admission itself, so a refusal
  reads exactly as it does without workers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.write.sequencer import PreparedEntry
from verifier.core import ed25519
from verifier.core.leaf import pae
from verifier.entries.registry import keyid_of
from verifier.errors import FormatError, SignatureError


class KeyTable:
    """Public keys by key id, as the sequencer sent them (grants only ever add keys)."""

    def __init__(self) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def update(self, keys: Mapping[str, bytes]) -> None:
        """Add keys (raw 32-byte Ed25519 public keys by key id); a key whose id is not its
        SHA-256 is ignored (the sequencer then checks its signatures itself)."""
        for keyid, raw in keys.items():
            if keyid not in self._keys and keyid_of(raw) == keyid:
                try:
                    self._keys[keyid] = ed25519.load_public_key(raw)
                except FormatError:
                    continue

    def get(self, keyid: str) -> Ed25519PublicKey | None:
        return self._keys.get(keyid)


def precheck(entry: PreparedEntry, keys: KeyTable) -> PreparedEntry:
    """*entry*, marked ``verified`` if every signature verifies under the key its key id
    names in *keys*; unchanged otherwise (the sequencer will check it in full)."""
    env = entry.envelope
    if not env.signatures or not len(keys):
        return entry
    message = pae(env.payload_type, env.payload)
    for sig in env.signatures:
        key = keys.get(sig.keyid)
        if key is None:
            return entry
        try:
            ed25519.verify(key, sig.sig, message)
        except SignatureError:
            return entry
    return replace(entry, verified=True)
