"""The verifier's exception tree: every error the verifier raises, split by fault.

As in python-tuf, the first split is whose fault it is: the data is bad
(:class:`FormatError`, :class:`VerificationError` and their subclasses) or the
transport failed (:class:`FetchError`). The rest name faults of the verifier's own
edges: a proof the server's tile store cannot make, a witness refusing a
checkpoint, a witness state directory it cannot use, bad command-line arguments.
Library code only raises these; the CLI alone maps them to exit codes. Nothing
here returns a bool that a caller could ignore. Evidence travels on the exception
(both checkpoints of a fork, the witness's refused checkpoint), so it survives to
the caller. Standard library only::

    LedgerVerifyError
    ├── FormatError (also a ValueError)     the input does not parse
    │   ├── WeakKeyError                     a small-order or non-canonical key
    │   └── SnapshotError                    a stored replay state of the wrong shape
    ├── VerificationError                   parsed, but a check failed
    │   ├── SignatureError
    │   │   ├── UnknownKeyError              no trusted key signed (names who did)
    │   │   ├── MissingSignatureError        a required signature is absent
    │   │   ├── RetiredKeyError              signed only by a retired log key
    │   │   └── AdmissionError               an entry not signed as the key registry requires
    │   ├── QuorumError                      too few witness cosignatures
    │   │   └── CosignatureError             a known witness's cosignature does not verify
    │   ├── ProofError                       an inclusion or consistency proof fails
    │   ├── ReceiptError                     a receipt is false or malformed (not the log)
    │   ├── InconsistencyError               a fork or rollback (carries both checkpoints)
    │   └── TileMismatch                     a tile or bundle does not hash as it must
    ├── FetchError                          the log could not be fetched
    ├── ProofUnavailable (also a LookupError)  the tile store lacks a tile a proof needs
    ├── Refusal                             a witness will not cosign (carries its answer)
    ├── WitnessStoreError                   the witness's state directory is unusable
    └── UsageError                          bad command-line arguments (exit 2)
        └── InputError                       a file given is malformed (exit 2)
            └── FileTooLarge                 a file given is larger than its cap
"""

from __future__ import annotations


class LedgerVerifyError(Exception):
    """Root of every error the verifier raises."""


class FormatError(LedgerVerifyError, ValueError):
    """Input is malformed: it does not parse under the strict grammar of its format.

    The message names the format and what was wrong, so an operator can act on it.
    """


class VerificationError(LedgerVerifyError):
    """Input parsed, but a cryptographic or structural check failed."""


class SignatureError(VerificationError):
    """A signature is missing, made by an unknown key, or does not verify."""


class UnknownKeyError(SignatureError):
    """No key the verifier trusts signed the note; it names the keys that did sign.

    ``unknown`` holds ``<name>+<hex key ID>`` of each signature line by a key the
    verifier does not know (a rotated log key, a witness not in the policy).
    """

    def __init__(self, message: str, *, unknown: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.unknown = unknown


class AdmissionError(SignatureError):
    """An entry is not signed as the registry requires (unknown, revoked or wrong-role key).

    ``code`` names the rule for machines (``unknown-key``, ``schema``, ...), as the
    ledger's refusal and the audit's finding report it.
    """

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class MissingSignatureError(SignatureError):
    """A signature the verifier requires (e.g. the log's ML-DSA-44 one) is absent."""


class RetiredKeyError(SignatureError):
    """The note is signed only by a log key that a logged key change retired."""


class WeakKeyError(FormatError):
    """A public key is small-order or not canonically encoded; such keys are refused."""


class SnapshotError(FormatError):
    """A state snapshot does not have the shape its types require.

    Raised when a verifier's stored replay state (``replay.json`` of a state directory,
    the site's cache) is damaged or hand-edited; callers replay from the charter instead.
    """


class QuorumError(VerificationError):
    """The checkpoint lacks the witness cosignatures the policy requires (C2SP tlog-policy)."""


class CosignatureError(QuorumError):
    """A cosignature line by a witness the verifier knows does not verify.

    The note is refused, as signed-note requires when a known key's signature fails
    (Go's ``note.Open`` does the same), but only after the log's own signature
    verified: the log is not shown broken, the witnesses' word is what is missing.
    ``witness`` names the key (``<name>+<hex key ID>``) whose line failed;
    ``verified`` is the :class:`verifier.core.note.VerifiedNote` of the signatures
    that did verify (so the caller can still check the log's own).
    """

    def __init__(self, message: str, *, witness: str, verified: object | None = None) -> None:
        super().__init__(message)
        self.witness = witness
        self.verified = verified


class ProofError(VerificationError):
    """An inclusion or consistency proof does not verify."""


class ReceiptError(VerificationError):
    """A receipt someone handed over is false or malformed: it does not parse, its
    checkpoint's signature does not verify, or its inclusion proof does not lead from
    its leaf to the signed root. The receipt is wrong; nothing is shown about the log.
    """


class InconsistencyError(VerificationError):
    """Two signed checkpoints of one log cannot both be honest (a fork, or a rollback).

    Carries the evidence so it survives to the caller: both signed checkpoints (as the
    exact note bytes) and the consistency proof that failed (possibly empty).
    """

    def __init__(
        self,
        message: str,
        *,
        old_checkpoint: bytes,
        new_checkpoint: bytes,
        proof: tuple[bytes, ...] = (),
    ) -> None:
        super().__init__(message)
        self.old_checkpoint = old_checkpoint
        self.new_checkpoint = new_checkpoint
        self.proof = proof


class TileMismatch(VerificationError):
    """A tile or bundle does not match what the data below it hashes to (C2SP tlog-tiles)."""


class FetchError(LedgerVerifyError):
    """A resource could not be fetched (network, file system, HTTP status)."""


class ProofUnavailable(LedgerVerifyError, LookupError):
    """The store lacks a tile that a proof for this tree size needs.

    Raised by the prover over the log's own tile store (the server side): the data is
    not bad, it is missing. Also a :class:`LookupError`, as a missing item is.
    """


class Refusal(LedgerVerifyError):
    """The witness will not cosign (C2SP tlog-witness ``add-checkpoint``).

    Carries the HTTP answer: ``status``, ``body`` (default: the message and a newline)
    and ``content_type``; and, when a validly signed checkpoint was refused in a way
    worth keeping, ``evidence``: the :class:`verifier.witness.protocol.WitnessEvidence`
    (the checkpoint the witness had cosigned, the one submitted and the proof sent),
    which the witness stores before it answers.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        body: bytes | None = None,
        content_type: str = "text/plain; charset=utf-8",
        evidence: object | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body if body is not None else (message + "\n").encode()
        self.content_type = content_type
        self.evidence = evidence


class WitnessStoreError(LedgerVerifyError):
    """The witness's state directory is unusable: locked by another process, corrupt, or
    unwritable. (Not the ledger's ``StoreError``, which is about the log's database.)"""


class UsageError(LedgerVerifyError):
    """Bad command-line arguments or an unusable key file given on the command line (exit 2)."""


class InputError(UsageError):
    """A file given on the command line is not what it must be: not the format, a field
    of the wrong type, deeper or larger than allowed (exit 2). The file is bad input;
    nothing is shown about the log."""


class FileTooLarge(InputError):
    """A file is larger than the cap of what it must hold; at most ``cap + 1`` bytes were read.

    ``path`` names the file and ``cap`` its limit in bytes.
    """

    def __init__(self, path: str, cap: int, what: str) -> None:
        super().__init__(f"{what} {path} is larger than {cap} bytes (the most it may hold)")
        self.path = path
        self.cap = cap
