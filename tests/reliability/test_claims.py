"""Claims on found studies (case 4's fix): one run at a time moves a study.

On both databases: who gets a claim, who is refused, when a claim left by a
crash is taken over, and that of many racing claimants exactly one wins.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pacsflow.database.engine import make_engine
from pacsflow.database.models import StudyFind, utc_now
from pacsflow.demo.synthetic import make_find_answer
from pacsflow.liveness import owner_tag
from pacsflow.retrieval.claims import claim_study, new_claim_holder, release_claim
from tests.helpers import record_found

UIDS = [f"1.2.826.0.1.3680043.2.1125.7.{i}" for i in range(20)]


def _found(db_url: str) -> None:
    record_found(db_url, [make_find_answer(uid, "20240105") for uid in UIDS])


def _claim(db_url: str, uid: str, holder: str, lease: dt.timedelta = dt.timedelta(hours=1)) -> bool:
    engine = make_engine(db_url)
    try:
        with Session(engine) as session, session.begin():
            return claim_study(session, uid, holder, lease).granted
    finally:
        engine.dispose()


def _dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(child.stdout)


def test_a_claim_is_exclusive_until_released(db_url: str) -> None:
    _found(db_url)
    first, second = new_claim_holder(), new_claim_holder()
    assert _claim(db_url, UIDS[0], first)
    assert _claim(db_url, UIDS[0], first), "a retry of the same run keeps its claim"
    assert not _claim(db_url, UIDS[0], second), "another live run is refused"
    engine = make_engine(db_url)
    with Session(engine) as session, session.begin():
        release_claim(session, UIDS[0], second)  # not its claim: nothing happens
    assert not _claim(db_url, UIDS[0], second)
    with Session(engine) as session, session.begin():
        release_claim(session, UIDS[0], first)
    engine.dispose()
    assert _claim(db_url, UIDS[0], second)
    assert not _claim(db_url, "1.2.3.404", first), "an unknown study cannot be claimed"


def test_a_retrieved_study_is_never_claimed(db_url: str) -> None:
    _found(db_url)
    engine = make_engine(db_url)
    with Session(engine) as session, session.begin():
        session.execute(
            update(StudyFind).where(StudyFind.study_uid == UIDS[1]).values(retrieved_on=utc_now())
        )
    engine.dispose()
    assert not _claim(db_url, UIDS[1], new_claim_holder())


def test_claims_left_by_a_crash_are_taken_over(db_url: str) -> None:
    _found(db_url)
    host = owner_tag().partition(":")[0]
    dead = f"{host}:{_dead_pid()}:crashed"
    assert _claim(db_url, UIDS[2], dead)
    assert _claim(db_url, UIDS[2], new_claim_holder()), "a dead process of this host"

    elsewhere = "another-host:1:alive"  # cannot be checked: only its lease counts
    assert _claim(db_url, UIDS[3], elsewhere, lease=dt.timedelta(hours=1))
    assert not _claim(db_url, UIDS[3], new_claim_holder())
    assert _claim(db_url, UIDS[4], elsewhere, lease=dt.timedelta(seconds=-1))
    assert _claim(db_url, UIDS[4], new_claim_holder()), "a lapsed lease"


def test_racing_claimants_get_each_study_once(db_url: str) -> None:
    _found(db_url)
    holders = [new_claim_holder() for _ in range(4)]
    start = threading.Barrier(len(holders))
    granted: dict[str, list[str]] = {holder: [] for holder in holders}

    def claim_all(holder: str) -> None:
        engine = make_engine(db_url)
        start.wait()
        for uid in UIDS:
            with Session(engine) as session, session.begin():
                if claim_study(session, uid, holder).granted:
                    granted[holder].append(uid)
        engine.dispose()

    threads = [threading.Thread(target=claim_all, args=(h,)) for h in holders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    won = sorted(uid for uids in granted.values() for uid in uids)
    assert won == sorted(UIDS), "each study claimed exactly once"
    engine = make_engine(db_url)
    with Session(engine) as session:
        owners = dict(session.execute(select(StudyFind.study_uid, StudyFind.claimed_by)).all())
    engine.dispose()
    assert owners == {uid: h for h, uids in granted.items() for uid in uids}
