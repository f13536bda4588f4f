"""Defaults and environment settings shared by the library, the CLI and the flows."""

from __future__ import annotations

import os

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

__all__ = [
    "DB_PASSWORD_ENV",
    "DB_URL_ENV",
    "DEFAULT_DB_URL",
    "PREFECT_DEFAULTS",
    "apply_prefect_defaults",
    "check_db_url",
    "default_db_url",
    "resolve_db_url",
    "split_password",
]

DB_URL_ENV = "PACSFLOW_DB_URL"
"""Environment variable naming the database when none is given."""

DB_PASSWORD_ENV = "PACSFLOW_DB_PASSWORD"  # noqa: S105 - a variable name, not a secret
"""Environment variable holding the database password, kept out of URLs and flow parameters."""

DEFAULT_DB_URL = "sqlite:///pacsflow.sqlite"
"""The embedded default: a SQLite file in the current directory."""

PREFECT_DEFAULTS = {
    # No telemetry leaves a hospital network.
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # The V2 UI calls an analytics host from the browser even then; V1 does not.
    "PREFECT_SERVER_UI_V2_ENABLED": "false",
    # The temporary server can take 10-20 s to start on a small, busy machine.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    # Task and flow results may hold identifiers: never written to disk unless asked.
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
}
"""Prefect settings pacsflow applies unless the user set them (see the README)."""


def apply_prefect_defaults() -> None:
    """Put :data:`PREFECT_DEFAULTS` in the environment where the user has not set them.

    Must run before Prefect is imported: Prefect reads its settings then.
    """
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)


def default_db_url() -> str:
    """The database URL from ``PACSFLOW_DB_URL``, or the embedded SQLite default."""
    return os.environ.get(DB_URL_ENV) or DEFAULT_DB_URL


def resolve_db_url(db_url: str | None) -> str:
    """The URL to connect with: ``db_url`` (or the default), plus the password from the env.

    Flow parameters are stored and shown by Prefect, so they carry URLs without
    passwords; the password comes from ``PACSFLOW_DB_PASSWORD`` at connect time.
    """
    url = make_url(db_url or default_db_url())
    password = os.environ.get(DB_PASSWORD_ENV)
    if password and url.password is None and url.get_backend_name() != "sqlite":
        url = url.set(password=password)
    return url.render_as_string(hide_password=False)


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
