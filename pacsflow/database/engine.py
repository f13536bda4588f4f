"""Creating SQLAlchemy engines for SQLite and PostgreSQL the same way everywhere.

Every engine pacsflow makes hides bound parameters in logs and error messages
(they carry patient names and IDs), turns on foreign keys and WAL for SQLite,
and serialises JSON so that PostgreSQL's JSONB accepts it.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

__all__ = [
    "SQLITE_BUSY_TIMEOUT_S",
    "JSONText",
    "dumps_json",
    "is_sqlite",
    "make_engine",
    "mask_url",
    "to_json_text",
]

SQLITE_BUSY_TIMEOUT_S = 60.0
"""How long a SQLite writer waits for another process's write lock before failing."""

# A JSON "\u0000" escape preceded by an even number of backslashes (so a real
# escape, not an escaped backslash followed by the text "u0000").
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


class JSONText(str):
    """A JSON document already serialised by :func:`to_json_text`, stored as it is.

    Batch ingest keeps each header as text rather than as a tree of dicts and
    lists: a fifth of the memory, and nothing for the garbage collector to scan.
    """


def to_json_text(value: Any) -> JSONText:
    """Serialise ``value`` now (see :func:`dumps_json`) for a JSON column."""
    return JSONText(dumps_json(value))


def dumps_json(value: Any) -> str:
    """Serialise to JSON without NUL characters, which PostgreSQL JSONB rejects.

    DICOM pads some values with NUL bytes; dropping them loses nothing. A
    :class:`JSONText` is already serialised and passes through unchanged.

    The text is orjson's (a tenth of ``json.dumps``'s time on a CT header):
    compact, UTF-8 rather than ``\\u`` escapes, NaN and infinity as null.
    Keys keep their order (not sorted): a header's are already in tag order,
    as both header readers emit them. Read stored JSON by parsing it, never
    by comparing its text. Values orjson refuses (integers beyond 64 bits)
    go through ``json.dumps``.
    """
    if isinstance(value, JSONText):
        return str(value)
    try:
        text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # orjson.JSONEncodeError: e.g. an int beyond 64 bits
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if "\\u0000" in text:
        text = _JSON_NUL.sub(r"\1", text)
    return text


def is_sqlite(url: str | URL) -> bool:
    """True when the URL names a SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def mask_url(url: str | URL) -> str:
    """The URL as text with its password replaced by ``***``, safe to log or show."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show nothing of it rather than a secret
        return "<unparsable database URL>"


def _use_wal(cursor: Any) -> None:
    """Put the database in WAL mode, waiting out other connections that hold it open.

    The mode is stored in the file, so this is a read once any process set
    it. The switch itself needs the file to itself, and SQLite refuses it at
    once ("database is locked", without its busy handler) while another
    process opens the same new database: several workers starting at once
    did. The switch is tried again until the busy timeout.
    """
    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def make_engine(url: str | URL, *, echo: bool = False, **kwargs: Any) -> Engine:
    """Create an engine for a pacsflow database.

    Args:
        url: a SQLAlchemy database URL (``sqlite:///pacsflow.sqlite``,
            ``postgresql+psycopg2://user@host:port/db``).
        echo: log every SQL statement (never its bound values).
        **kwargs: passed on to :func:`sqlalchemy.create_engine`.
    """
    url = make_url(url)
    options: dict[str, Any] = {
        "echo": echo,
        "hide_parameters": True,
        "json_serializer": dumps_json,
        **kwargs,
    }
    if url.get_backend_name() == "sqlite":
        # Engines are shared across threads (storage SCP, Prefect task threads).
        connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S}
        options["connect_args"] = {**connect_args, **options.get("connect_args", {})}
        engine = create_engine(url, **options)
        event.listen(engine, "connect", _set_sqlite_pragmas)
        return engine
    options.setdefault("pool_pre_ping", True)
    return create_engine(url, **options)
