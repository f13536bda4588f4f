"""The linkage of a pseudonymised export, kept in pacsflow's database (never exported)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from pacsflow.database.models import utc_now
from pacsflow.database.models.tables import PSEUDONYMS
from pacsflow.database.upsert import insert_ignore, unique_by
from pacsflow.export.pseudonymise import Pseudonymiser

__all__ = ["record_linkage"]


def record_linkage(session: Session, pseudonymiser: Pseudonymiser) -> int:
    """Store the (kind, original, pseudonym) triples ``pseudonymiser`` made; rows added.

    A pseudonym already stored is left as it is, so re-running an export adds nothing.
    """
    fingerprint, now = pseudonymiser.key.fingerprint, utc_now()
    rows = [
        {
            "kind": kind,
            "original": original,
            "pseudonym": pseudonym,
            "key_fingerprint": fingerprint,
            "created_on": now,
        }
        for (kind, original), pseudonym in pseudonymiser.linkage.items()
    ]
    return len(insert_ignore(session, PSEUDONYMS, unique_by(rows, "pseudonym"), "pseudonym"))
