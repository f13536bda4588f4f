"""Claims on found studies, so that two runs never move the same study at once.

A run claims a study just before moving it, with one compare-and-set UPDATE
of ``studies_find.claimed_by`` / ``claimed_until``: of two runs racing for a
study, exactly one UPDATE matches. The claim is released when the try is
recorded. A claim left behind by a crash is taken over when it has lapsed or,
on the same host, as soon as its holder's process is gone, so a re-run after
``kill -9`` retrieves the interrupted study at once.

Holders are ``host:pid:token`` strings: no patient data, and enough to tell a
live holder from a dead one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from pacsflow.database.models import StudyFind, utc_now
from pacsflow.liveness import owner_is_gone, owner_tag

__all__ = ["DEFAULT_LEASE", "Claim", "claim_study", "new_claim_holder", "release_claim"]

DEFAULT_LEASE = dt.timedelta(hours=1)
"""How long a claim lasts if its holder dies on another host without releasing it."""

_FIND: Table = StudyFind.__table__  # type: ignore[assignment]


def new_claim_holder() -> str:
    """A holder name unique to this call: ``host:pid:token``."""
    return f"{owner_tag()}:{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class Claim:
    """The result of :func:`claim_study`: whether it was granted, and else who holds it."""

    granted: bool
    #: Why the claim was refused (another live holder, or already retrieved).
    reason: str | None = None


def claim_study(
    session: Session, study_uid: str, holder: str, lease: dt.timedelta = DEFAULT_LEASE
) -> Claim:
    """Claim an unretrieved found study for ``holder`` until ``now + lease``.

    Granted when the study is unclaimed, claimed by ``holder`` already (a
    Prefect retry of the same run), or claimed by a holder that is gone (lapsed
    lease, or a dead process of this host). Refused when the study is
    retrieved, unknown, or held by another live run. Commit to make it visible.
    """
    now = utc_now()
    row = session.execute(
        select(_FIND.c.retrieved_on, _FIND.c.claimed_by, _FIND.c.claimed_until).where(
            _FIND.c.study_uid == study_uid
        )
    ).one_or_none()
    if row is None:
        return Claim(False, "the study is not among the found studies")
    if row.retrieved_on is not None:
        return Claim(False, "the study is retrieved already")
    current, until = row.claimed_by, row.claimed_until
    held_by_other = (
        current is not None
        and current != holder
        and until is not None
        and until > now
        and not owner_is_gone(current)
    )
    if held_by_other:
        return Claim(False, f"claimed by {current} until {until:%Y-%m-%d %H:%M:%S} UTC")
    # Compare-and-set: matches only if nobody changed the claim since the read.
    claimed = session.execute(
        update(_FIND)
        .where(
            _FIND.c.study_uid == study_uid,
            _FIND.c.retrieved_on.is_(None),
            _FIND.c.claimed_by.is_not_distinct_from(current),
            _FIND.c.claimed_until.is_not_distinct_from(until),
        )
        .values(claimed_by=holder, claimed_until=now + lease)
    )
    if claimed.rowcount == 1:  # type: ignore[attr-defined]
        return Claim(True)
    return Claim(False, "claimed by another run at the same moment")


def release_claim(session: Session, study_uid: str, holder: str) -> None:
    """Drop ``holder``'s claim on the study (nothing happens if another run holds it)."""
    session.execute(
        update(_FIND)
        .where(_FIND.c.study_uid == study_uid, _FIND.c.claimed_by == holder)
        .values(claimed_by=None, claimed_until=None)
    )
