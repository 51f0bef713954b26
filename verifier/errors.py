"""The verifier's exception tree.

Two roots, split by fault, as in python-tuf: the data is bad (:class:`FormatError`,
:class:`VerificationError` and its subclasses) or the transport failed
(:class:`FetchError`). Library code only raises these; the CLI alone maps them to
exit codes. Nothing here returns a bool that a caller could ignore.
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


class MissingSignatureError(SignatureError):
    """A signature the verifier requires (e.g. the log's ML-DSA-44 one) is absent."""


class RetiredKeyError(SignatureError):
    """The note is signed only by a log key that a logged key change retired."""


class WeakKeyError(FormatError):
    """A public key is small-order or not canonically encoded; such keys are refused."""


class ProofError(VerificationError):
    """An inclusion or consistency proof does not verify."""


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


class FetchError(LedgerVerifyError):
    """A resource could not be fetched (network, file system, HTTP status)."""
