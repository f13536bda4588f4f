"""Every environment variable pacsflow reads, and every setting's default: here only.

:mod:`flows.config.resolve` and :mod:`flows.config.database` read them; the
``pacsflow`` command's help and messages name them from here.
"""

from __future__ import annotations

from pacsflow.net.nodes import LocalAE
from pacsflow.net.transports.registry import DEFAULT_TRANSPORT

__all__ = [
    "DB_PASSWORD_ENV",
    "DB_URL_ENV",
    "DEFAULTS",
    "DEFAULT_DB_URL",
    "DEFAULT_STORAGE",
    "ENV",
    "KEY_ENV",
    "LABELS",
    "OPTIONS",
    "PARAMETERS",
    "WEB_ENV",
]

DB_URL_ENV = "PACSFLOW_DB_URL"
"""Environment variable naming the database when none is given."""

DB_PASSWORD_ENV = "PACSFLOW_DB_PASSWORD"  # noqa: S105 - a variable name, not a secret
"""Environment variable holding the database password, kept out of URLs and flow parameters."""

DEFAULT_DB_URL = "sqlite:///pacsflow.sqlite"
"""The embedded default: a SQLite file in the current directory."""


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

_DEFAULT_LOCAL = LocalAE()

DEFAULTS = {
    "local_ae_title": _DEFAULT_LOCAL.ae_title,
    "local_port": str(_DEFAULT_LOCAL.port),
    "local_bind_address": _DEFAULT_LOCAL.bind_address,
    "storage": DEFAULT_STORAGE,
    "transport": DEFAULT_TRANSPORT,
}


OPTIONS = {
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


PARAMETERS = {
    "pacs_ae_title": "site.pacs.ae_title",
    "pacs_host": "site.pacs.host",
    "pacs_port": "site.pacs.port",
    "local_ae_title": "site.local.ae_title",
    "local_port": "site.local.port",
    "local_bind_address": "site.local.bind_address",
    "storage": "site.storage",
    "transport": "site.pacs.transport",
    "dicomweb_url": "site.pacs.dicomweb_url",
}
"""Setting -> the flow (and deployment) parameter giving it."""

LABELS = {
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


WEB_ENV = {
    "token": "PACSFLOW_DICOMWEB_TOKEN",
    "user": "PACSFLOW_DICOMWEB_USER",
    "password": "PACSFLOW_DICOMWEB_PASSWORD",
    "ca_bundle": "PACSFLOW_DICOMWEB_CA_BUNDLE",
}
"""Environment variables of DICOMweb access: read by the tasks, never flow parameters."""


KEY_ENV = "PACSFLOW_PSEUDONYM_KEY"
"""Environment variable holding the pseudonymisation key (or a Prefect Secret block)."""
