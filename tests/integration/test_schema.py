"""Migrations on both dialects: upgrade, models agree (alembic check), downgrade, upgrade."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy_utils import database_exists, drop_database

from alembic import command
from pacsflow.database.engine import make_engine
from pacsflow.database.schema import (
    alembic_config,
    current_revision,
    downgrade_database,
    head_revision,
    migrations_dir,
)
from pacsflow.db import initialize_database

SEED_TABLES = {"studies_find", "patients", "studies", "series", "images"}


def _tables_and_views(url: str) -> tuple[set[str], set[str]]:
    engine = make_engine(url)
    try:
        inspector = inspect(engine)
        return set(inspector.get_table_names()), set(inspector.get_view_names())
    finally:
        engine.dispose()


def _alembic_check(url: str) -> None:
    config = alembic_config(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            config.attributes["connection"] = conn
            command.check(config)  # raises when models and migrations disagree
    finally:
        engine.dispose()


def test_upgrade_check_downgrade_upgrade(empty_db_url: str) -> None:
    initialize_database(empty_db_url)
    assert current_revision(empty_db_url) == head_revision()
    tables, views = _tables_and_views(empty_db_url)
    assert tables >= SEED_TABLES
    assert views == {"study_metadata", "manufacturers"}
    _alembic_check(empty_db_url)

    downgrade_database(empty_db_url, "base")
    tables, views = _tables_and_views(empty_db_url)
    assert tables <= {"alembic_version"}
    assert not views
    assert current_revision(empty_db_url) is None

    initialize_database(empty_db_url)
    assert current_revision(empty_db_url) == head_revision()
    _alembic_check(empty_db_url)


def test_initialize_database_keeps_existing_data(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO studies_find (study_uid, found_on) VALUES ('1.2.3', :now)"),
            {"now": "2024-01-01 00:00:00"},
        )
    initialize_database(db_url, force_init=True)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT study_uid FROM studies_find")).scalars().all() == ["1.2.3"]
    engine.dispose()


def test_initialize_database_creates_a_missing_postgres_database(pg_admin_url: str) -> None:
    url = make_url(pg_admin_url).set(database="pacsflow_created_by_test")
    if database_exists(url):
        drop_database(url)
    try:
        initialize_database(url)
        assert database_exists(url)
        assert current_revision(url) == head_revision()
    finally:
        drop_database(url)


def test_initialize_database_creates_a_sqlite_file_in_a_new_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'db.sqlite'}"
    (tmp_path / "new").mkdir()
    initialize_database(url)
    assert _tables_and_views(url)[0] >= SEED_TABLES


def test_echo_prints_the_ddl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    initialize_database(f"sqlite:///{tmp_path / 'db.sqlite'}", echo=True)
    out = capsys.readouterr().out
    assert "CREATE TABLE images" in out
    assert "CREATE VIEW study_metadata" in out


def test_quiet_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    initialize_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert capsys.readouterr().out == ""
    assert logging.getLogger().level >= logging.WARNING  # Alembic left the root logger alone


def test_password_never_appears_in_logs(
    pg_admin_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cret-pw"  # noqa: S105 - a marker to search for, not a credential
    url = make_url(pg_admin_url).set(password=secret, host="127.0.0.1", port=1)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(OperationalError) as info:  # nothing listens on port 1
        initialize_database(url)
    assert secret not in str(info.value)
    assert secret not in caplog.text


def test_migration_files_match_the_packaged_chain() -> None:
    files = sorted(p.name for p in (migrations_dir() / "versions").glob("*.py"))
    assert files, "no migration found"
    revisions = [re.match(r"(\d+)_", name) for name in files]
    assert all(revisions), files
