"""Engine helpers and settings: JSON for JSONB, URL masking, passwords kept out of parameters."""

from __future__ import annotations

import json

import pytest

from pacsflow.database.engine import JSONText, dumps_json, is_sqlite, mask_url, to_json_text
from tasks.settings import (
    DB_PASSWORD_ENV,
    DB_URL_ENV,
    DEFAULT_DB_URL,
    resolve_db_url,
    split_password,
)


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
    assert resolve_db_url(url) == "postgresql+psycopg2://pacs:p%40ss@db/pacs"
    assert split_password(DEFAULT_DB_URL) == (DEFAULT_DB_URL, None)


def test_resolve_db_url_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DB_URL_ENV, raising=False)
    monkeypatch.setenv(DB_PASSWORD_ENV, "ignored-for-sqlite")
    assert resolve_db_url(None) == DEFAULT_DB_URL
    monkeypatch.setenv(DB_URL_ENV, "sqlite:////tmp/x.sqlite")
    assert resolve_db_url(None) == "sqlite:////tmp/x.sqlite"
    assert is_sqlite(resolve_db_url(None))
