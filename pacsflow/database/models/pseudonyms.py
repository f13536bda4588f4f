"""The linkage of pseudonymised exports (kept in the trusted zone only)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pacsflow.database.models.base import Base, utc_now

__all__ = ["Pseudonym"]


class Pseudonym(Base):
    """The linkage of pseudonymised exports: an original value and its pseudonym.

    Kept only here, in the trusted zone, never exported. Pseudonyms are keyed
    hashes (:mod:`pacsflow.export.pseudonym_key`), so each is unique to its
    original and key; ``key_fingerprint`` says which key made it.
    """

    __tablename__ = "pseudonyms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: ``patient`` (PatientID), ``accession``, ``study``, ``series`` or ``instance`` (UIDs).
    kind: Mapped[str] = mapped_column(String(16))
    original: Mapped[str] = mapped_column(Text)
    pseudonym: Mapped[str] = mapped_column(String(64), unique=True)
    key_fingerprint: Mapped[str] = mapped_column(String(16), index=True)
    created_on: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)

    __table_args__ = (Index(None, "kind", "original"),)
