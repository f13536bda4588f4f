"""Engine helpers and settings: JSON for JSONB, URL masking, passwords kept out of parameters."""

from __future__ import annotations

import json
import os

import pytest

from flows.config import (
    DB_PASSWORD_ENV,
    DB_URL_ENV,
    DEFAULT_DB_URL,
    open_database,
    split_password,
)
from pacsflow.database.engine import JSONText, dumps_json, is_sqlite, mask_url, to_json_text
from tasks import credentials
from tasks.credentials import connect_url


@pytest.fixture(autouse=True)
def _held_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The passwords these tests hold are forgotten after each (a process-wide store)."""
    monkeypatch.setattr(credentials, "_held", credentials._held)
    monkeypatch.setattr(credentials, "_passwords", {})


def test_dumps_json_drops_nul_escapes_but_not_escaped_backslashes() -> None:
    text = dumps_json({"a": "x\x00y", "b": "c:\\u0000d"})
    assert json.loads(text) == {"a": "xy", "b": "c:\\u0000d"}


def test_json_text_is_stored_as_serialised() -> None:
    text = to_json_text({"00100010": {"vr": "PN"}, "x": "nul\x00"})
    assert isinstance(text, JSONText)
    assert dumps_json(text) == str(text)
    assert json.loads(text) == {"00100010": {"vr": "PN"}, "x": "nul"}


def test_mask_url_hides_the_password() -> None:
    shown = mask_url("postgresql+psycopg2://pacs:s3cret@db:5432/pacs")
    assert "s3cret" not in shown
    assert shown == "postgresql+psycopg2://pacs:***@db:5432/pacs"
    assert mask_url("not a url at all") == "<unparsable database URL>"


def test_split_password_and_resolve_put_it_back(monkeypatch: pytest.MonkeyPatch) -> None:
    url, password = split_password("postgresql+psycopg2://pacs:p%40ss@db/pacs")
    assert url == "postgresql+psycopg2://pacs@db/pacs"
    assert password == "p@ss"  # noqa: S105 - the test's own made-up value
    monkeypatch.setenv(DB_PASSWORD_ENV, password)
    assert open_database(url) == url
    assert connect_url(url) == "postgresql+psycopg2://pacs:p%40ss@db/pacs"
    assert split_password(DEFAULT_DB_URL) == (DEFAULT_DB_URL, None)


def test_a_password_in_the_url_stays_in_the_process_not_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The URL given to flows has no password; the tasks connect with it; os.environ never
    holds it (a child process, a Prefect worker, would inherit it)."""
    monkeypatch.delenv(DB_PASSWORD_ENV, raising=False)
    url = open_database("postgresql+psycopg2://pacs:written-in-url@db/other")
    assert url == "postgresql+psycopg2://pacs@db/other"
    assert connect_url(url) == "postgresql+psycopg2://pacs:written-in-url@db/other"
    assert "written-in-url" not in repr(dict(os.environ))
    assert connect_url("postgresql+psycopg2://pacs@db/third") == (
        "postgresql+psycopg2://pacs@db/third"  # no password given for it, none in the env
    )


def test_database_url_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DB_URL_ENV, raising=False)
    monkeypatch.setenv(DB_PASSWORD_ENV, "ignored-for-sqlite")
    assert connect_url(open_database(None)) == DEFAULT_DB_URL
    monkeypatch.setenv(DB_URL_ENV, "sqlite:////tmp/x.sqlite")
    assert connect_url(open_database(None)) == "sqlite:////tmp/x.sqlite"
    assert is_sqlite(open_database(None))
