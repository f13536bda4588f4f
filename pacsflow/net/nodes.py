"""Typed descriptions of the DICOM peers: the remote PACS and pacsflow's own AE."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LOCAL_AE_TITLE", "LocalAE", "PacsNode", "Timeouts", "validate_ae_title"]

DEFAULT_LOCAL_AE_TITLE = "PACSFLOW"


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


@dataclass(frozen=True)
class PacsNode:
    """A remote DICOM application entity: the PACS pacsflow queries and retrieves from."""

    ae_title: str
    host: str
    port: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "ae_title", validate_ae_title(self.ae_title, "PACS"))
        _validate_port(self.port, "PACS")
        if not self.host.strip():
            raise ValueError("PACS host must not be empty")

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"


@dataclass(frozen=True)
class LocalAE:
    """pacsflow's own application entity: its AE title, and where its storage SCP listens."""

    ae_title: str = DEFAULT_LOCAL_AE_TITLE
    port: int = 11112
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
