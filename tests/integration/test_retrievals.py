"""Picking studies to move and recording retrieval attempts, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pacsflow.database.crud import add_found_studies
from pacsflow.database.models import StudyFind
from pacsflow.retrieval.attempts import StudyPick, pick_studies, record_attempt
from tests.factories import make_find_answer

UIDS = [f"1.2.826.0.1.3680043.10.7.{i}" for i in range(6)]


@pytest.fixture
def found(session: Session) -> Session:
    """Six found studies, one per day from 2024-02-01, with various modalities."""
    modalities = [["CT"], ["MR"], ["CT", "SR"], ["XCT"], [], ["MR", "CT"]]
    answers = []
    for i, (uid, mods) in enumerate(zip(UIDS, modalities, strict=True)):
        answer = make_find_answer(uid, f"202402{i + 1:02d}")
        if mods:
            answer.ModalitiesInStudy = mods
        answers.append(answer)
    add_found_studies(session, list(reversed(answers)))
    session.commit()
    return session


def test_pick_oldest_first_with_limit(found: Session) -> None:
    assert pick_studies(found, StudyPick()).study_uids == UIDS
    assert pick_studies(found, StudyPick(limit=2)).study_uids == UIDS[:2]


def test_pick_by_modality_matches_whole_values(found: Session) -> None:
    picked = pick_studies(found, StudyPick(modalities=["CT"])).study_uids
    assert picked == [UIDS[0], UIDS[2], UIDS[5]]  # not XCT, not the study without modalities
    assert pick_studies(found, StudyPick(modalities=["SR", "XCT"])).study_uids == UIDS[2:4]


def test_pick_by_date_range(found: Session) -> None:
    pick = StudyPick(start_date=dt.date(2024, 2, 2), end_date=dt.date(2024, 2, 3))
    assert pick_studies(found, pick).study_uids == UIDS[1:3]


def test_bad_pick_options_are_refused() -> None:
    with pytest.raises(ValueError, match="not a modality"):
        StudyPick(modalities=["C%"])
    with pytest.raises(ValueError, match="limit must be at least 1"):
        StudyPick(limit=0)
    with pytest.raises(ValueError, match="before"):
        StudyPick(start_date=dt.date(2024, 2, 2), end_date=dt.date(2024, 2, 1))


def test_attempts_are_counted_and_complete_studies_are_not_picked(found: Session) -> None:
    record_attempt(found, UIDS[0], complete=False, received=3, expected=None, error="0xC000")
    record_attempt(found, UIDS[0], complete=False, received=4, expected=9, error="0xA702")
    record_attempt(found, UIDS[1], complete=True, received=5, expected=5, error=None)
    found.commit()
    rows = {r.study_uid: r for r in found.scalars(select(StudyFind))}
    first = rows[UIDS[0]]
    assert (first.attempts, first.received_instances, first.last_error) == (2, 4, "0xA702")
    assert first.expected_instances == 9
    assert first.retrieved_on is None
    assert first.last_attempt_on is not None
    second = rows[UIDS[1]]
    assert second.retrieved_on is not None
    assert (second.attempts, second.last_error) == (1, None)

    picked = pick_studies(found, StudyPick(max_attempts=2))
    assert picked.study_uids == UIDS[2:]
    assert picked.given_up == [UIDS[0]]
    retrieved_on = second.retrieved_on
    record_attempt(found, UIDS[1], complete=True, received=5, expected=5, error=None)
    found.commit()
    found.refresh(second)
    assert second.retrieved_on == retrieved_on  # the first time is kept
