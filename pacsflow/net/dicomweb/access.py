"""How pacsflow may reach a DICOMweb server: authentication headers and TLS trust.

Resolved from the environment by the task layer (never a flow parameter, so
no token reaches Prefect) and handed to the core as a :class:`WebAccess`.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["WebAccess", "basic_auth_header", "bearer_auth_header"]


def bearer_auth_header(token: str) -> dict[str, str]:
    """The ``Authorization`` header of a bearer token."""
    return {"Authorization": f"Bearer {token.strip()}"}


def basic_auth_header(user: str, password: str) -> dict[str, str]:
    """The ``Authorization`` header of HTTP basic authentication."""
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {encoded}"}


@dataclass(frozen=True)
class WebAccess:
    """Headers sent with every request, and whom to trust over TLS.

    Args:
        headers: e.g. ``Authorization``; never shown (``repr`` hides values).
        ca_file: a PEM bundle trusted instead of the system's (a hospital CA).
            Verification of the server's certificate and name is always on.
        timeout: seconds to wait for a connection, and between two reads.
    """

    headers: Mapping[str, str] = field(default_factory=dict)
    ca_file: str | None = None
    timeout: float = 60.0

    def __repr__(self) -> str:
        return f"WebAccess(headers={sorted(self.headers)}, ca_file={self.ca_file!r})"

    def ssl_context(self) -> ssl.SSLContext:
        """A verifying TLS context (system trust store, or ``ca_file``)."""
        return ssl.create_default_context(cafile=self.ca_file)
