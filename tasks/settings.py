"""Settings from the environment of the process doing the work (a worker, a shell, cron).

Flows, deployments and the CLI take the PACS, pacsflow's AE, the storage
folder and the database as optional arguments; what is not given comes
from the environment, so a deployment carries no site settings and a cron
line stays short. The core (``pacsflow``) never reads the environment: it
gets the resolved values. The database password is read here too, when a
task connects, so that it never travels in flow parameters.
"""

from __future__ import annotations

import os
from typing import Literal, cast
from urllib.parse import urlsplit

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from pacsflow.net.dicomweb.access import WebAccess, basic_auth_header, bearer_auth_header
from pacsflow.net.nodes import (
    DEFAULT_LOCAL_AE_TITLE,
    TRANSPORTS,
    LocalAE,
    PacsNode,
    Transport,
    check_dicomweb_url,
)
from pacsflow.net.transports.registry import transport_for

__all__ = [
    "DB_PASSWORD_ENV",
    "DB_URL_ENV",
    "DEFAULT_DB_URL",
    "DEFAULT_STORAGE",
    "ENV",
    "MissingSettingError",
    "SettingSource",
    "check_db_url",
    "default_db_url",
    "resolve_db_url",
    "resolve_local",
    "resolve_pacs",
    "resolve_storage",
    "split_password",
    "web_access",
]

DB_URL_ENV = "PACSFLOW_DB_URL"
"""Environment variable naming the database when none is given."""

DB_PASSWORD_ENV = "PACSFLOW_DB_PASSWORD"  # noqa: S105 - a variable name, not a secret
"""Environment variable holding the database password, kept out of URLs and flow parameters."""

DEFAULT_DB_URL = "sqlite:///pacsflow.sqlite"
"""The embedded default: a SQLite file in the current directory."""


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


ENV = {
    "pacs_ae_title": "PACSFLOW_PACS_AET",
    "pacs_host": "PACSFLOW_PACS_HOST",
    "pacs_port": "PACSFLOW_PACS_PORT",
    "local_ae_title": "PACSFLOW_LOCAL_AET",
    "local_port": "PACSFLOW_LOCAL_PORT",
    "local_bind_address": "PACSFLOW_LOCAL_BIND",
    "storage": "PACSFLOW_STORAGE",
    "transport": "PACSFLOW_TRANSPORT",
    "dicomweb_url": "PACSFLOW_PACS_DICOMWEB_URL",
}
"""Setting (as flows name their parameters) -> the environment variable giving it."""

DEFAULT_STORAGE = "pacsflow-storage"
"""Where the storage SCP writes received files (relative to the working directory)."""

_DEFAULTS = {
    "local_ae_title": DEFAULT_LOCAL_AE_TITLE,
    "local_port": "11112",
    "local_bind_address": "127.0.0.1",
    "storage": DEFAULT_STORAGE,
    "transport": "c-move",
}


_OPTIONS = {
    "pacs_ae_title": "--pacs-aet",
    "pacs_host": "--pacs-host",
    "pacs_port": "--pacs-port",
    "local_ae_title": "--local-aet",
    "local_port": "--local-port",
    "local_bind_address": "--local-bind",
    "storage": "--storage",
    "transport": "--transport",
    "dicomweb_url": "--dicomweb-url",
}


_PARAMETERS = {
    "pacs_ae_title": "pacs.ae_title",
    "pacs_host": "pacs.host",
    "pacs_port": "pacs.port",
    "local_ae_title": "local.ae_title",
    "local_port": "local.port",
    "local_bind_address": "local.bind_address",
    "storage": "storage",
    "transport": "pacs.transport",
    "dicomweb_url": "pacs.dicomweb_url",
}
"""Setting -> the flow (and deployment) parameter giving it."""

_LABELS = {
    "pacs_ae_title": "PACS AE title",
    "pacs_host": "PACS host",
    "pacs_port": "PACS port",
    "local_ae_title": "local AE title",
    "local_port": "local port",
    "local_bind_address": "local bind address",
    "storage": "storage folder",
    "transport": "transport",
    "dicomweb_url": "DICOMweb URL",
}

SettingSource = Literal["flow", "cli"]
"""Who gives the settings, so a message names what that user can set: a flow
(or deployment) parameter such as ``pacs.ae_title``, or a ``pacsflow`` option
such as ``--pacs-aet``; the environment variable either way."""


class MissingSettingError(ValueError):
    """A required setting is neither given nor in the environment, or is malformed."""


def _where(name: str, source: SettingSource) -> str:
    """How a user of ``source`` gives the setting ``name``: its option or flow parameter,
    or its environment variable."""
    if source == "cli":
        return f"give {_OPTIONS[name]} or set ${ENV[name]}"
    return f"give the flow parameter {_PARAMETERS[name]} or set ${ENV[name]} where the flow runs"


def _text(name: str, value: str | int | None, source: SettingSource = "flow") -> str:
    if value is not None and str(value).strip():
        return str(value)
    from_env = os.environ.get(ENV[name], "").strip() or _DEFAULTS.get(name)
    if not from_env:
        raise MissingSettingError(f"no {_LABELS[name]}: {_where(name, source)}")
    return from_env


def _port(name: str, value: int | None, source: SettingSource = "flow") -> int:
    text = _text(name, value, source)
    try:
        return int(text)
    except ValueError:
        raise MissingSettingError(
            f"{_LABELS[name]} {text!r} (${ENV[name]}) is not a port number"
        ) from None


def resolve_pacs(
    ae_title: str | None,
    host: str | None,
    port: int | None,
    transport: str | None = None,
    dicomweb_url: str | None = None,
    *,
    source: SettingSource = "flow",
) -> PacsNode:
    """The PACS: each value given, else from ``$PACSFLOW_PACS_AET/HOST/PORT``,
    ``$PACSFLOW_TRANSPORT`` (default c-move) and ``$PACSFLOW_PACS_DICOMWEB_URL``.

    A ``dicomweb`` PACS needs its URL only: its AE title, host and port
    default to DICOMWEB and the URL's host and port.

    Args:
        source: who gives the values (a flow, or the ``pacsflow`` command), so
            that a message names the parameter, or the option, to give.

    Raises:
        MissingSettingError: a value is missing or malformed (naming its variable).
        ValueError: an invalid AE title, port or URL.
    """
    chosen = _text("transport", transport, source).strip().lower()
    if chosen not in TRANSPORTS:
        given = _OPTIONS["transport"] if source == "cli" else _PARAMETERS["transport"]
        raise MissingSettingError(
            f"transport {chosen!r} ({given}, ${ENV['transport']}) is not one of "
            f"{', '.join(TRANSPORTS)}"
        )
    url = dicomweb_url or os.environ.get(ENV["dicomweb_url"], "").strip() or None
    if transport_for(chosen).needs.dimse_node:
        node = PacsNode(
            _text("pacs_ae_title", ae_title, source),
            _text("pacs_host", host, source),
            _port("pacs_port", port, source),
        )
        return PacsNode(node.ae_title, node.host, node.port, cast(Transport, chosen), url)
    if url is None:
        raise MissingSettingError(
            "the dicomweb transport needs the PACS's DICOMweb URL: "
            + _where("dicomweb_url", source)
        )
    parts = urlsplit(check_dicomweb_url(url))
    default_port = parts.port or (443 if parts.scheme == "https" else 80)
    return PacsNode(
        ae_title or os.environ.get(ENV["pacs_ae_title"], "").strip() or "DICOMWEB",
        host or os.environ.get(ENV["pacs_host"], "").strip() or str(parts.hostname),
        port or _optional_port("pacs_port") or default_port,
        cast(Transport, chosen),
        url,
    )


def _optional_port(name: str) -> int | None:
    return _port(name, None) if os.environ.get(ENV[name], "").strip() else None


WEB_ENV = {
    "token": "PACSFLOW_DICOMWEB_TOKEN",
    "user": "PACSFLOW_DICOMWEB_USER",
    "password": "PACSFLOW_DICOMWEB_PASSWORD",
    "ca_bundle": "PACSFLOW_DICOMWEB_CA_BUNDLE",
}
"""Environment variables of DICOMweb access: read by the tasks, never flow parameters."""


def web_access() -> WebAccess:
    """DICOMweb headers and TLS trust from ``$PACSFLOW_DICOMWEB_*``.

    A bearer token (``PACSFLOW_DICOMWEB_TOKEN``), else basic authentication
    (``PACSFLOW_DICOMWEB_USER`` and ``PACSFLOW_DICOMWEB_PASSWORD``), else none;
    ``PACSFLOW_DICOMWEB_CA_BUNDLE`` names a PEM file of CAs to trust.

    Raises:
        MissingSettingError: a user without a password (or the reverse), or a CA
            bundle that is not a file.
    """
    values = {key: os.environ.get(name, "").strip() for key, name in WEB_ENV.items()}
    headers: dict[str, str] = {}
    if values["token"]:
        headers = bearer_auth_header(values["token"])
    elif values["user"] or values["password"]:
        if not (values["user"] and values["password"]):
            raise MissingSettingError(
                f"set both ${WEB_ENV['user']} and ${WEB_ENV['password']} for basic authentication"
            )
        headers = basic_auth_header(values["user"], values["password"])
    ca_file = values["ca_bundle"] or None
    if ca_file is not None and not os.path.isfile(ca_file):
        raise MissingSettingError(f"${WEB_ENV['ca_bundle']} names no file: {ca_file}")
    return WebAccess(headers=headers, ca_file=ca_file)


def resolve_local(ae_title: str | None, port: int | None, bind_address: str | None) -> LocalAE:
    """pacsflow's AE: each value given, else ``$PACSFLOW_LOCAL_*``, else PACSFLOW:11112 on
    127.0.0.1.
    """
    return LocalAE(
        _text("local_ae_title", ae_title),
        _port("local_port", port),
        _text("local_bind_address", bind_address),
    )


def resolve_storage(storage: str | None) -> str:
    """The storage folder: given, else ``$PACSFLOW_STORAGE``, else ``./pacsflow-storage``."""
    return _text("storage", storage)
