"""The site's secrets, held by the process that runs the flows and tasks.

The edge (:mod:`flows.config`: the ``pacsflow`` command, or a flow started
from a deployment) reads the database password and the DICOMweb credentials
once and hands them here. The tasks, which run in threads of that process,
take them from here: the secrets never enter a flow parameter (Prefect
stores and shows those), an artifact, a log, nor ``os.environ``. The process
pool's workers get the URL to connect with as a call argument
(:func:`connect_url`), pickled through their pipe.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from sqlalchemy.engine import make_url

from pacsflow.net.dicomweb.access import WebAccess
from pacsflow.site import Credentials

__all__ = ["connect_url", "use_db_password", "use_web_access", "web_access"]

_lock = threading.Lock()
_held = Credentials()
_passwords: dict[str, str] = {}  # database URL (without password) -> the password given in it


def use_db_password(password: str | None, db_url: str | None = None) -> None:
    """Hold the database password: for ``db_url`` (the URL the user wrote it in), else for
    every URL without one (``$PACSFLOW_DB_PASSWORD``; None: no such password)."""
    global _held
    with _lock:
        if db_url is None:
            _held = replace(_held, db_password=password)
        elif password is not None:
            _passwords[db_url] = password


def use_web_access(web: WebAccess) -> None:
    """Hold the DICOMweb headers (a token, basic authentication) and TLS trust."""
    global _held
    with _lock:
        _held = replace(_held, web=web)


def web_access() -> WebAccess:
    """The DICOMweb headers and TLS trust of this process's site (none before the edge)."""
    return _held.web


def connect_url(db_url: str) -> str:
    """``db_url`` with its password, to connect with (never to show or to pass to a flow)."""
    url = make_url(db_url)
    if url.password is not None or url.get_backend_name() == "sqlite":
        return db_url
    password = _passwords.get(db_url) or _held.db_password
    if not password:
        return db_url
    return url.set(password=password).render_as_string(hide_password=False)
