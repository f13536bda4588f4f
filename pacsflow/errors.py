"""The errors pacsflow raises.

Two families matter to callers: :class:`PermanentError` (bad input, refused
requests: retrying changes nothing) and :class:`RetryableError` (timeouts,
aborted or transiently rejected associations: a later attempt may succeed).
Prefect retry conditions test for :class:`RetryableError` only.
"""

from __future__ import annotations

from os import PathLike

__all__ = [
    "DatabaseUnreachableError",
    "InvalidDicomError",
    "InvalidTagError",
    "MissingTagError",
    "NotAnInstanceError",
    "PacsflowError",
    "PermanentError",
    "RetryableError",
    "UnreadableFolderError",
]


class PacsflowError(Exception):
    """Base class of every error pacsflow raises on purpose."""


class PermanentError(PacsflowError):
    """An error that a retry cannot fix (bad data, a refused request)."""


class RetryableError(PacsflowError):
    """An error that may go away on a later attempt (timeout, abort, busy peer)."""


def _where(source: str | PathLike[str] | None) -> str:
    return str(source) if source is not None else "<dataset>"


class InvalidDicomError(PermanentError):
    """A file that cannot be read as DICOM (not DICOM, truncated, unreadable)."""

    def __init__(self, source: str | PathLike[str] | None, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{_where(source)}: {reason}")


class NotAnInstanceError(PermanentError):
    """A valid DICOM file that holds no instance to store (a DICOMDIR media directory).

    Ingest counts such files as skipped, not failed; ``kind`` names what they are.
    """

    def __init__(self, source: str | PathLike[str] | None, kind: str, reason: str) -> None:
        self.source = source
        self.kind = kind
        self.reason = reason
        super().__init__(f"{_where(source)}: {reason}")


class UnreadableFolderError(PermanentError):
    """A folder under the ingested one that cannot be listed: its files were not seen."""

    def __init__(self, source: str | PathLike[str], reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(
            f"{source}: folder cannot be listed ({reason}); the files in it were not ingested"
        )


class MissingTagError(PermanentError):
    """A required identifier is absent or empty, so the data cannot be keyed."""

    def __init__(self, keyword: str, tag: str, source: str | PathLike[str] | None) -> None:
        self.keyword = keyword
        self.tag = tag
        self.source = source
        super().__init__(
            f"{_where(source)}: required {tag} {keyword} is missing or empty; "
            "the file cannot be stored without it"
        )


class InvalidTagError(PermanentError):
    """A required identifier is present but unusable (e.g. a UID that is not a UID)."""

    def __init__(
        self, keyword: str, tag: str, source: str | PathLike[str] | None, reason: str
    ) -> None:
        self.keyword = keyword
        self.tag = tag
        self.source = source
        self.reason = reason
        super().__init__(f"{_where(source)}: {tag} {keyword} {reason}")


class DatabaseUnreachableError(RetryableError):
    """The database server cannot be reached (down, wrong host or port, refused login)."""
