"""Typed descriptions of the DICOM peers: the remote PACS and pacsflow's own AE."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from pacsflow.net.transports.registry import (
    DEFAULT_TRANSPORT,
    TRANSPORTS,
    Transport,
    transport_for,
)

__all__ = [
    "DEFAULT_LOCAL_AE_TITLE",
    "DEFAULT_LOCAL_PORT",
    "TRANSPORTS",
    "LocalAE",
    "PacsNode",
    "Timeouts",
    "Transport",
    "check_dicomweb_url",
    "validate_ae_title",
]

DEFAULT_LOCAL_AE_TITLE = "PACSFLOW"

DEFAULT_LOCAL_PORT = 11112
"""The port pacsflow's storage SCP listens on unless told (DICOM's registered port)."""


def validate_ae_title(ae_title: str, what: str) -> str:
    """Return ``ae_title`` if it is a valid AE title (PS3.5 AE: 1-16 characters, no backslash).

    Raises:
        ValueError: naming ``what`` and the rule broken.
    """
    stripped = ae_title.strip()
    if not stripped or len(ae_title) > 16:
        raise ValueError(f"{what} AE title {ae_title!r} must have 1 to 16 characters")
    if "\\" in ae_title or any(ord(c) < 32 or ord(c) > 126 for c in ae_title):
        raise ValueError(f"{what} AE title {ae_title!r} may hold printable ASCII only, no '\\'")
    return stripped


def _validate_port(port: int, what: str) -> None:
    if not 0 < port < 65536:
        raise ValueError(f"{what} port {port} must be between 1 and 65535")


def check_dicomweb_url(url: str) -> str:
    """Return the DICOMweb base URL without a trailing slash, or say what is wrong with it.

    Credentials never go in the URL (it is shown in the UI and in logs): they
    come from the environment as HTTP headers.

    Raises:
        ValueError: not an http(s) URL with a host, or one holding a user or password.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            "the DICOMweb URL must be http:// or https:// with a host, "
            "e.g. https://pacs.example.org/dicom-web"
        )
    if parts.username or parts.password:
        raise ValueError(
            "the DICOMweb URL must not hold a user or password: set "
            "PACSFLOW_DICOMWEB_TOKEN, or PACSFLOW_DICOMWEB_USER and PACSFLOW_DICOMWEB_PASSWORD"
        )
    if parts.query or parts.fragment:
        raise ValueError("the DICOMweb URL must not hold a query or a fragment")
    return url.strip().rstrip("/")


@dataclass(frozen=True)
class PacsNode:
    """The PACS pacsflow queries and retrieves from, and how (its transport).

    Args:
        ae_title, host, port: its DICOM application entity (C-ECHO, C-FIND,
            C-MOVE, C-GET).
        transport: ``c-move`` (the PACS sends the images to pacsflow's storage
            SCP, which it must be able to reach), ``c-get`` (the images come back
            on pacsflow's own association: no inbound port), or ``dicomweb``
            (QIDO-RS finds, WADO-RS retrieves, over HTTP(S) from ``dicomweb_url``).
        dicomweb_url: the DICOMweb base URL (required for ``dicomweb``), e.g.
            ``https://pacs.example.org/dicom-web``.
    """

    ae_title: str
    host: str
    port: int
    transport: Transport = DEFAULT_TRANSPORT
    dicomweb_url: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "ae_title", validate_ae_title(self.ae_title, "PACS"))
        _validate_port(self.port, "PACS")
        if not self.host.strip():
            raise ValueError("PACS host must not be empty")
        transport = transport_for(self.transport)  # UnknownTransportError: a ValueError
        if self.dicomweb_url is not None:
            object.__setattr__(self, "dicomweb_url", check_dicomweb_url(self.dicomweb_url))
        transport.check_node(self)

    @property
    def web_url(self) -> str:
        """The DICOMweb base URL.

        Raises:
            ValueError: the node has none.
        """
        if self.dicomweb_url is None:
            raise ValueError(f"{self} has no DICOMweb URL")
        return self.dicomweb_url

    def __str__(self) -> str:
        return transport_for(self.transport).describe(self)


@dataclass(frozen=True)
class LocalAE:
    """pacsflow's own application entity: its AE title, and where its storage SCP listens."""

    ae_title: str = DEFAULT_LOCAL_AE_TITLE
    port: int = DEFAULT_LOCAL_PORT
    bind_address: str = "127.0.0.1"

    def __post_init__(self) -> None:
        object.__setattr__(self, "ae_title", validate_ae_title(self.ae_title, "local"))
        _validate_port(self.port, "local")


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait at each layer; None nowhere, so no call can block forever."""

    connection: float = 10.0
    acse: float = 30.0
    dimse: float = 60.0
    network: float = 60.0
