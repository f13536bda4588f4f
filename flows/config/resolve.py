"""The site resolved from given values, else the environment: the PACS, pacsflow's AE,
storage, retrieval, DICOMweb access; the flows' :func:`open_site`."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal, cast
from urllib.parse import urlsplit

from pydantic.json_schema import SkipJsonSchema

from flows.config.database import open_database
from flows.config.env import DEFAULTS, ENV, KEY_ENV, LABELS, OPTIONS, PARAMETERS, WEB_ENV
from pacsflow.net.dicomweb.access import WebAccess, basic_auth_header, bearer_auth_header
from pacsflow.net.nodes import TRANSPORTS, LocalAE, PacsNode, Transport, check_dicomweb_url
from pacsflow.net.transports.registry import transport_for
from pacsflow.site import RetrievalSettings, Site
from tasks.credentials import use_web_access

if TYPE_CHECKING:  # imported where used: pacsflow --help loads neither Prefect nor the models
    from flows.options import Retrieval
    from pacsflow.export.pseudonym_key import PseudonymKey

SettingSource = Literal["flow", "cli"]
"""Who gives the settings, so a message names what that user can set: a flow
(or deployment) parameter such as ``site.pacs.ae_title``, or a ``pacsflow`` option
such as ``--pacs-aet``; the environment variable either way."""


class MissingSettingError(ValueError):
    """A required setting is neither given nor in the environment, or is malformed."""


def _where(name: str, source: SettingSource) -> str:
    """How a user of ``source`` gives the setting ``name``: its option or flow parameter,
    or its environment variable."""
    if source == "cli":
        return f"give {OPTIONS[name]} or set ${ENV[name]}"
    return f"give the flow parameter {PARAMETERS[name]} or set ${ENV[name]} where the flow runs"


def _text(name: str, value: str | int | None, source: SettingSource = "flow") -> str:
    if value is not None and str(value).strip():
        return str(value)
    from_env = os.environ.get(ENV[name], "").strip() or DEFAULTS.get(name)
    if not from_env:
        raise MissingSettingError(f"no {LABELS[name]}: {_where(name, source)}")
    return from_env


def _port(name: str, value: int | None, source: SettingSource = "flow") -> int:
    text = _text(name, value, source)
    try:
        return int(text)
    except ValueError:
        raise MissingSettingError(
            f"{LABELS[name]} {text!r} (${ENV[name]}) is not a port number"
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
        given = OPTIONS["transport"] if source == "cli" else PARAMETERS["transport"]
        raise MissingSettingError(
            f"transport {chosen!r} ({given}, ${ENV['transport']}) is not one of "
            f"{', '.join(TRANSPORTS)}"
        )
    url = dicomweb_url or os.environ.get(ENV["dicomweb_url"], "").strip() or None
    if transport_for(chosen).needs.dimse_node:
        return PacsNode(
            _text("pacs_ae_title", ae_title, source),
            _text("pacs_host", host, source),
            _port("pacs_port", port, source),
            cast(Transport, chosen),
            url,
        )
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


def resolve_web_access() -> WebAccess:
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
    """pacsflow's AE: each value given, else ``$PACSFLOW_LOCAL_*``, else ``LocalAE()``'s."""
    return LocalAE(
        _text("local_ae_title", ae_title),
        _port("local_port", port),
        _text("local_bind_address", bind_address),
    )


def resolve_callers(given: list[str]) -> list[str]:
    """The AE titles a receiver accepts: ``given``, else the PACS's (``$PACSFLOW_PACS_AET``).

    Raises:
        MissingSettingError: neither is given.
    """
    callers = given or [os.environ.get(ENV["pacs_ae_title"], "").strip()]
    if not all(callers):
        raise MissingSettingError(
            f"whom to accept: give --allow AET or set ${ENV['pacs_ae_title']}"
        )
    return callers


def resolve_storage(storage: str | None) -> str:
    """The storage folder: given, else ``$PACSFLOW_STORAGE``, else ``./pacsflow-storage``."""
    return _text("storage", storage)


def pseudonym_key_from_env() -> PseudonymKey:
    """The pseudonymisation key in ``$PACSFLOW_PSEUDONYM_KEY``.

    Raises:
        MissingPseudonymKeyError: the variable is unset, empty or too short.
    """
    from pacsflow.export.pseudonym_key import require_key

    return require_key(os.environ.get(KEY_ENV), f"set {KEY_ENV} (or give a Prefect Secret block)")


@dataclass(frozen=True)
class SiteOptions:
    """The site as a flow's parameters give it (a form in the UI); each value not given
    comes from the environment of the worker running the flow.

    Args:
        pacs: the PACS: ``ae_title``, ``host``, ``port`` and ``transport``
            (``c-move``, ``c-get``, or ``dicomweb`` with ``dicomweb_url``); default
            $PACSFLOW_PACS_AET, $PACSFLOW_PACS_HOST, $PACSFLOW_PACS_PORT,
            $PACSFLOW_TRANSPORT, $PACSFLOW_PACS_DICOMWEB_URL.
        local: pacsflow's AE: ``ae_title`` (the calling AE and the C-MOVE
            destination, which the PACS must list), the storage SCP's ``port`` and
            ``bind_address`` (0.0.0.0: every interface); default $PACSFLOW_LOCAL_AET,
            $PACSFLOW_LOCAL_PORT, $PACSFLOW_LOCAL_BIND, else PACSFLOW on 127.0.0.1:11112,
            which serves a PACS on this machine only.
        storage: the folder receiving the files, ``<study>/<series>/<sop>.dcm``
            (default $PACSFLOW_STORAGE, else ./pacsflow-storage).
        db_url: the database URL without password (default $PACSFLOW_DB_URL, else
            SQLite; the password comes from $PACSFLOW_DB_PASSWORD).
    """

    pacs: PacsNode | None = None
    local: LocalAE | None = None
    storage: str | None = None
    db_url: str | None = None


SiteParameter = SiteOptions | SkipJsonSchema[Site] | None
"""The type of a flow's ``site`` parameter: the form of :class:`SiteOptions` (all a UI
or deployment user sees, the resolved shape hidden from the parameter schema), or a
:class:`~pacsflow.site.Site` already resolved by the ``pacsflow`` command or a parent
flow, or nothing (everything from the worker's environment)."""


def resolve_retrieval(
    retrieval: Retrieval | None, started: dt.datetime | None = None
) -> RetrievalSettings:
    """The retrieval settings, ``until`` made the instant the window ends: the first such
    time after ``started`` (aware; default now)."""
    from pacsflow.retrieval.window import window_end

    if retrieval is None:
        return RetrievalSettings()
    end = None
    if retrieval.until is not None:
        end = window_end(retrieval.until, started or dt.datetime.now().astimezone())
    return RetrievalSettings(
        concurrency=retrieval.concurrency,
        result_cap=retrieval.result_cap,
        institution=retrieval.institution,
        ingest_workers=retrieval.ingest_workers,
        window_end=end,
        fail_on_incomplete=retrieval.fail_on_incomplete,
    )


def resolve_site(
    options: SiteOptions | None,
    retrieval: Retrieval | None = None,
    *,
    started: dt.datetime | None = None,
) -> Site:
    """The site: each value given, else from the environment; its secrets held
    (:func:`open_database`, DICOMweb credentials).

    Raises:
        MissingSettingError: a setting is missing or malformed (naming where to give it).
        ValueError: an invalid AE title, port, URL or retrieval setting.
    """
    given = options or SiteOptions()
    use_web_access(resolve_web_access())
    return Site(
        pacs=given.pacs or resolve_pacs(None, None, None),
        local=given.local or resolve_local(None, None, None),
        storage=resolve_storage(given.storage),
        db_url=open_database(given.db_url),
        retrieval=resolve_retrieval(retrieval, started),
    )


def open_site(site: Site | SiteOptions | None, retrieval: Retrieval | None = None) -> Site:
    """A flow's site: as given when already resolved (by the ``pacsflow`` command or a
    parent flow), else resolved here, the flow being the edge (a deployment's run).

    A ``retrieval`` given with a resolved site replaces the site's, its ``until``
    counted from the run's scheduled start.
    """
    from flows.dates import run_start

    if isinstance(site, Site):
        if retrieval is None:
            return site
        return replace(site, retrieval=resolve_retrieval(retrieval, run_start()))
    return resolve_site(site, retrieval, started=run_start())
