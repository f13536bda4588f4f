"""Defaults shared by the library, the CLI and the flows."""

from __future__ import annotations

import os

__all__ = ["DB_URL_ENV", "DEFAULT_DB_URL", "default_db_url"]

DB_URL_ENV = "PACSFLOW_DB_URL"
"""Environment variable naming the database when none is given."""

DEFAULT_DB_URL = "sqlite:///pacsflow.sqlite"
"""The embedded default: a SQLite file in the current directory."""


def default_db_url() -> str:
    """The database URL from ``PACSFLOW_DB_URL``, or the embedded SQLite default."""
    return os.environ.get(DB_URL_ENV) or DEFAULT_DB_URL
