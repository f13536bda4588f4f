"""The database's URL: checked, its default, its password split off and held in the process."""

from __future__ import annotations

import os

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from flows.config.env import DB_PASSWORD_ENV, DB_URL_ENV, DEFAULT_DB_URL
from tasks.credentials import use_db_password

__all__ = ["check_db_url", "default_db_url", "open_database", "split_password"]


def default_db_url() -> str:
    """The database URL from ``PACSFLOW_DB_URL``, or the embedded SQLite default."""
    return os.environ.get(DB_URL_ENV) or DEFAULT_DB_URL


_URL_EXAMPLES = "e.g. sqlite:///pacsflow.sqlite or postgresql+psycopg2://user@host:5432/pacs"
_BACKENDS = ("sqlite", "postgresql")


def check_db_url(text: str) -> URL:
    """Parse a database URL given by a user, or say in one line what is wrong with it.

    The message never repeats the text: it may hold a password.

    Raises:
        ValueError: not a URL, a non-numeric port, a backend other than SQLite
            or PostgreSQL, a driver that is not installed, or in-memory SQLite.
    """
    if text.lower().startswith("sqlite:") and not text.lower().startswith("sqlite://"):
        raise ValueError(
            "a SQLite URL has three slashes before a relative path and four before an "
            "absolute one: sqlite:///pacsflow.sqlite, sqlite:////data/pacsflow.sqlite"
        )
    try:
        url = make_url(text)
    except ArgumentError:
        raise ValueError(f"not a database URL; give one like {_URL_EXAMPLES}") from None
    except ValueError:
        raise ValueError("the port in the database URL is not a number") from None
    backend = url.get_backend_name()
    if backend not in _BACKENDS:
        raise ValueError(f"pacsflow works with SQLite and PostgreSQL, not {backend!r}")
    try:
        url.get_dialect()
    except NoSuchModuleError:
        raise ValueError(
            f"the database driver {url.drivername!r} is not installed; "
            "use postgresql+psycopg2:// or sqlite:///"
        ) from None
    if backend == "sqlite" and url.database in (None, "", ":memory:"):
        raise ValueError(
            "an in-memory SQLite database would vanish when the run ends; give a file, "
            "e.g. sqlite:///pacsflow.sqlite"
        )
    return url


def split_password(db_url: str) -> tuple[str, str | None]:
    """Split a URL into the URL without its password, and the password (None if absent)."""
    url = make_url(db_url)
    if url.password is None:
        return db_url, None
    # Not url.set(password=None): for URL.set, None means "keep the current value".
    without = URL.create(
        url.drivername,
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
        query=url.query,
    )
    return without.render_as_string(hide_password=False), str(url.password)


def open_database(db_url: str | None) -> str:
    """The database URL to give flows and tasks: ``db_url`` (else ``$PACSFLOW_DB_URL``, else
    SQLite) without its password, which is held in the process with
    ``$PACSFLOW_DB_PASSWORD`` (:mod:`tasks.credentials`)."""
    without, password = split_password(db_url or default_db_url())
    use_db_password(os.environ.get(DB_PASSWORD_ENV) or None)
    use_db_password(password, without)
    return without
