"""The secret key of pseudonymised exports, and the keyed hashes (HMAC-SHA256) made with it.

Every pseudonym (patient, UID, accession number, text dummy) and every
patient's date offset is an HMAC of the original value under this key, so two
exports made with one key agree and cannot be reversed without it. The key
is given by the edge (read from ``$PACSFLOW_PSEUDONYM_KEY`` or a Prefect
Secret block by :mod:`flows.config` and the export flow); it is never logged,
printed or written to an export: the manifest holds only its fingerprint, an
HMAC of a fixed text.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from pacsflow.errors import PermanentError

__all__ = ["MIN_KEY_LENGTH", "MissingPseudonymKeyError", "PseudonymKey", "require_key"]

MIN_KEY_LENGTH = 16
"""Characters at least: a short key could be found by trying every key."""


class MissingPseudonymKeyError(PermanentError):
    """No usable pseudonymisation key was given."""


class PseudonymKey:
    """A pseudonymisation key; its ``repr`` never shows it, so it is safe in logs and tracebacks."""

    __slots__ = ("_secret",)

    def __init__(self, secret: str) -> None:
        """Wrap ``secret``.

        Raises:
            MissingPseudonymKeyError: ``secret`` is shorter than ``MIN_KEY_LENGTH``.
        """
        if len(secret.strip()) < MIN_KEY_LENGTH:
            raise MissingPseudonymKeyError(
                f"the pseudonymisation key must be at least {MIN_KEY_LENGTH} characters long"
            )
        self._secret = secret.encode("utf-8")

    def __repr__(self) -> str:
        return f"PseudonymKey(fingerprint={self.fingerprint!r})"

    def __reduce__(self) -> tuple[type[PseudonymKey], tuple[str]]:
        # Worker processes receive the key by pickling; the repr stays redacted.
        return (PseudonymKey, (self._secret.decode("utf-8"),))

    def digest(self, purpose: str, value: str) -> bytes:
        """HMAC-SHA256 of ``value`` for ``purpose`` (so one value gives unrelated digests)."""
        message = f"{purpose}\x00{value}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).digest()

    def number(self, purpose: str, value: str) -> int:
        """The first 128 bits of :meth:`digest` as an integer."""
        return int.from_bytes(self.digest(purpose, value)[:16], "big")

    def token(self, purpose: str, value: str, length: int) -> str:
        """:meth:`digest` as ``length`` characters of upper-case base32 (A-Z, 2-7)."""
        return base64.b32encode(self.digest(purpose, value)).decode("ascii")[:length]

    @property
    def fingerprint(self) -> str:
        """16 hex digits that tell keys apart and reveal nothing of the key."""
        return self.digest("fingerprint", "pacsflow").hex()[:16]


def require_key(secret: str | None, where: str) -> PseudonymKey:
    """The key ``secret``, or a one-line error saying ``where`` to give one.

    Args:
        secret: the key's text, as the edge read it (None: none given).
        where: how the user gives a key, e.g. ``set PACSFLOW_PSEUDONYM_KEY``.

    Raises:
        MissingPseudonymKeyError: no key, an empty one, or one too short.
    """
    if secret is None or not secret.strip():
        raise MissingPseudonymKeyError(
            f"a pseudonymised export needs a secret key: {where}; keep it, exports made "
            "with another key do not join"
        )
    return PseudonymKey(secret)
