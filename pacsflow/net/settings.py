"""The PACS, pacsflow's AE and the storage folder: from arguments, else from the environment.

Flows, deployments and the CLI take these values as optional arguments; what
is not given comes from the environment of the process (a Prefect worker, a
shell), so a deployment carries no site settings and a cron line stays short.
"""

from __future__ import annotations

import os

from pacsflow.net.nodes import DEFAULT_LOCAL_AE_TITLE, LocalAE, PacsNode

__all__ = [
    "DEFAULT_STORAGE",
    "ENV",
    "MissingSettingError",
    "resolve_local",
    "resolve_pacs",
    "resolve_storage",
]

ENV = {
    "pacs_ae_title": "PACSFLOW_PACS_AET",
    "pacs_host": "PACSFLOW_PACS_HOST",
    "pacs_port": "PACSFLOW_PACS_PORT",
    "local_ae_title": "PACSFLOW_LOCAL_AET",
    "local_port": "PACSFLOW_LOCAL_PORT",
    "local_bind_address": "PACSFLOW_LOCAL_BIND",
    "storage": "PACSFLOW_STORAGE",
}
"""Setting (as flows name their parameters) -> the environment variable giving it."""

DEFAULT_STORAGE = "pacsflow-storage"
"""Where the storage SCP writes received files (relative to the working directory)."""

_DEFAULTS = {
    "local_ae_title": DEFAULT_LOCAL_AE_TITLE,
    "local_port": "11112",
    "local_bind_address": "127.0.0.1",
    "storage": DEFAULT_STORAGE,
}


_OPTIONS = {
    "pacs_ae_title": "--pacs-aet",
    "pacs_host": "--pacs-host",
    "pacs_port": "--pacs-port",
    "local_ae_title": "--local-aet",
    "local_port": "--local-port",
    "local_bind_address": "--local-bind",
    "storage": "--storage",
}


class MissingSettingError(ValueError):
    """A required setting is neither given nor in the environment, or is malformed."""


def _text(name: str, value: str | int | None) -> str:
    if value is not None and str(value).strip():
        return str(value)
    from_env = os.environ.get(ENV[name], "").strip() or _DEFAULTS.get(name)
    if not from_env:
        raise MissingSettingError(
            f"no {name.replace('_', ' ')}: set ${ENV[name]}, or give {_OPTIONS[name]} "
            f"(pacsflow command) or {name} (flow parameter)"
        )
    return from_env


def _port(name: str, value: int | None) -> int:
    text = _text(name, value)
    try:
        return int(text)
    except ValueError:
        raise MissingSettingError(
            f"{name.replace('_', ' ')} {text!r} (${ENV[name]}) is not a port number"
        ) from None


def resolve_pacs(ae_title: str | None, host: str | None, port: int | None) -> PacsNode:
    """The PACS: each value given, else from ``$PACSFLOW_PACS_AET/HOST/PORT``.

    Raises:
        MissingSettingError: a value is missing or malformed (naming its variable).
        ValueError: an invalid AE title or port.
    """
    return PacsNode(
        _text("pacs_ae_title", ae_title), _text("pacs_host", host), _port("pacs_port", port)
    )


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
