"""A small DICOMweb HTTP client: one kept-alive connection, errors that say what to fix.

Messages name the server and the resource path, never the query string: a
QIDO-RS query may carry a PatientID or an AccessionNumber.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import ssl
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from pacsflow.errors import PermanentError, RetryableError
from pacsflow.net.dicomweb.access import WebAccess
from pacsflow.net.dimse_errors import PacsUnreachableError

LOGGER = logging.getLogger(__name__)

__all__ = [
    "DicomWebAuthError",
    "DicomWebBusyError",
    "DicomWebClient",
    "DicomWebError",
    "DicomWebTlsError",
]

_BUSY = {408, 425, 429, 500, 502, 503, 504}
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class DicomWebError(PermanentError):
    """The DICOMweb server answered with an error status (retrying changes nothing)."""

    def __init__(self, message: str, status: int) -> None:
        self.status = status
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.status))


class DicomWebAuthError(DicomWebError):
    """The server refused pacsflow's credentials (HTTP 401 or 403)."""


class DicomWebTlsError(PermanentError):
    """The server's TLS certificate could not be verified."""


class DicomWebBusyError(RetryableError):
    """The server is overloaded or failed for now (HTTP 429, 5xx) or stopped answering."""


class DicomWebClient:
    """Requests to one DICOMweb base URL, on one connection kept alive between them.

    Use as a context manager (the connection is closed at the end).
    """

    def __init__(self, base_url: str, access: WebAccess | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the DICOMweb URL must be http:// or https:// with a host")
        self.base_url = base_url.rstrip("/")
        self.access = access or WebAccess()
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._connection: http.client.HTTPConnection | None = None

    def __enter__(self) -> DicomWebClient:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (a later request opens a new one)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            timeout = self.access.timeout
            if self._https:
                self._connection = http.client.HTTPSConnection(
                    self._host, self._port, timeout=timeout, context=self.access.ssl_context()
                )
            else:
                self._connection = http.client.HTTPConnection(
                    self._host, self._port, timeout=timeout
                )
        return self._connection

    def path(self, *segments: str) -> str:
        """The request path of a resource below the base URL (segments escaped)."""
        return "/".join([self._prefix, *(quote(s, safe="") for s in segments)])

    def get(
        self,
        path: str,
        accept: str,
        params: Sequence[tuple[str, str]] | Mapping[str, str] = (),
    ) -> http.client.HTTPResponse:
        """Send a GET; the response with a 2xx status, its body not read yet.

        A kept-alive connection the server closed meanwhile is reopened once
        (the request never reached the server).

        Raises:
            PacsUnreachableError: no connection (retryable).
            DicomWebBusyError: HTTP 408/429/5xx, or the connection dropped (retryable).
            DicomWebAuthError: HTTP 401 or 403.
            DicomWebTlsError: the certificate could not be verified.
            DicomWebError: any other error status.
        """
        target = path + (f"?{urlencode(params)}" if params else "")
        headers = {**self.access.headers, "Accept": accept, "Accept-Encoding": "identity"}
        reused = self._connection is not None
        try:
            try:
                response = self._send(target, headers)
            except _STALE:
                if not reused:
                    raise
                self.close()
                response = self._send(target, headers)
        except ssl.SSLCertVerificationError as exc:
            self.close()
            raise DicomWebTlsError(
                f"the certificate of {self.base_url} could not be verified "
                f"({exc.verify_message}); give the hospital's CA bundle in "
                "PACSFLOW_DICOMWEB_CA_BUNDLE"
            ) from None
        except (ConnectionRefusedError, socket.gaierror, TimeoutError) as exc:
            self.close()
            raise PacsUnreachableError(
                f"{self.base_url} cannot be reached ({exc.strerror or type(exc).__name__}); "
                "is the DICOMweb server running?"
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise DicomWebBusyError(
                f"the connection to {self.base_url} failed during GET {path} ({type(exc).__name__})"
            ) from None
        if 200 <= response.status < 300:
            return response
        response.read()
        self.close()
        raise _status_error(self.base_url, path, response.status, response.reason)

    def _send(self, target: str, headers: dict[str, str]) -> http.client.HTTPResponse:
        connection = self._connect()
        connection.request("GET", target, headers=headers)
        return connection.getresponse()

    def get_json(
        self, path: str, params: Sequence[tuple[str, str]] | Mapping[str, str] = ()
    ) -> tuple[list[dict[str, Any]], str]:
        """A QIDO-RS GET: the JSON array it answered (204: empty) and its Warning header.

        Raises:
            DicomWebError: the body is not a DICOM JSON array; and as :meth:`get`.
        """
        response = self.get(path, "application/dicom+json", params)
        try:
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise DicomWebBusyError(
                f"{self.base_url} dropped the answer to GET {path} ({type(exc).__name__})"
            ) from None
        warning = response.getheader("Warning") or ""
        if response.status == 204 or not body.strip():
            return [], warning
        try:
            answers = json.loads(body)
        except ValueError:
            answers = None
        if not isinstance(answers, list) or not all(isinstance(a, dict) for a in answers):
            raise DicomWebError(
                f"{self.base_url} answered GET {path} with something else than a DICOM JSON array",
                response.status,
            )
        return answers, warning


def _status_error(
    base_url: str, path: str, status: int, reason: str
) -> DicomWebError | DicomWebBusyError:
    said = f"{base_url} answered GET {path} with HTTP {status} {reason}".rstrip()
    if status in (401, 403):
        return DicomWebAuthError(
            f"{said}: pacsflow is not allowed in. Set PACSFLOW_DICOMWEB_TOKEN (bearer "
            "token), or PACSFLOW_DICOMWEB_USER and PACSFLOW_DICOMWEB_PASSWORD (basic)",
            status,
        )
    if status in _BUSY:
        return DicomWebBusyError(f"{said}; a later try may succeed")
    return DicomWebError(said, status)
