"""DBWrapper and get_db_session: per-thread sessions, closing, rollback on error."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from pacsflow.database.models import Image
from pacsflow.database.schema import current_revision, head_revision
from pacsflow.db import DBWrapper, add_image, get_db_session
from tests.factories import make_dataset


def test_dbwrapper_gives_each_thread_its_own_session(db_url: str) -> None:
    sessions: dict[str, Session] = {}
    with DBWrapper(db_url) as wrapper:

        def work(name: str) -> None:
            session = wrapper.conn()
            assert wrapper.conn() is session  # stable within a thread
            sessions[name] = session
            add_image(session, make_dataset())

        threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len({id(s) for s in sessions.values()}) == 4
        count = wrapper.conn().scalar(select(text("count(*)")).select_from(Image))
        assert count == 4


def test_two_wrappers_have_two_engines(tmp_path: Path, db_url: str) -> None:
    # pacsanini cached conn() on the class: every instance shared the first engine.
    other_url = f"sqlite:///{tmp_path / 'other.sqlite'}"
    with DBWrapper(db_url) as first, DBWrapper(other_url, create_tables=True) as second:
        assert first.engine is not second.engine
        assert str(second.engine.url) == other_url
    assert current_revision(other_url) == head_revision()


def test_close_releases_and_allows_reuse(db_url: str) -> None:
    wrapper = DBWrapper(db_url)
    first = wrapper.conn()
    wrapper.close()
    assert wrapper.conn() is not first
    wrapper.close()


def test_repr_masks_the_password() -> None:
    wrapper = DBWrapper("postgresql+psycopg2://user:hunter2@db.example/pacs")
    assert "hunter2" not in repr(wrapper)
    assert "***" in repr(wrapper)


def test_get_db_session_rolls_back_on_error(db_url: str) -> None:
    def failing_unit_of_work() -> None:
        with get_db_session(db_url) as session:
            session.execute(
                text("INSERT INTO studies_find (study_uid, found_on) VALUES ('1.2', '2024-01-01')")
            )
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        failing_unit_of_work()
    with get_db_session(db_url) as session:
        assert session.scalar(text("SELECT count(*) FROM studies_find")) == 0


def test_get_db_session_leaves_commit_to_the_caller(db_url: str) -> None:
    with get_db_session(db_url) as session:
        session.execute(
            text("INSERT INTO studies_find (study_uid, found_on) VALUES ('1.2', '2024-01-01')")
        )
    with get_db_session(db_url) as session:
        assert session.scalar(text("SELECT count(*) FROM studies_find")) == 0
        session.execute(
            text("INSERT INTO studies_find (study_uid, found_on) VALUES ('1.2', '2024-01-01')")
        )
        session.commit()
    with get_db_session(db_url) as session:
        assert session.scalar(text("SELECT count(*) FROM studies_find")) == 1
