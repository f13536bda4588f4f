"""A local HTTP proxy in front of Orthanc's DICOMweb that misbehaves on purpose.

It forwards GETs and, for WADO-RS (multipart) answers, can send only their
first ``keep`` bytes (a connection dropped mid-response), or hold the first
one back until an event is set (a slow transfer still in flight).
"""

from __future__ import annotations

import http.server
import threading
import urllib.request


class MeddlingProxy(http.server.ThreadingHTTPServer):
    """Forwards to ``upstream``; see the module docstring for ``keep`` and ``hold``."""

    def __init__(
        self, upstream: str, *, keep: int | None = None, hold: threading.Event | None = None
    ) -> None:
        self.upstream, self.keep, self.hold = upstream, keep, hold
        self.held_once = False
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        """The proxy's base URL (append the upstream's paths, e.g. /dicom-web)."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> MeddlingProxy:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc_info: object) -> None:
        if self.hold is not None:
            self.hold.set()
        self.shutdown()
        self.server_close()

    def first_hold(self) -> bool:
        """True once: for the first multipart answer."""
        with self._lock:
            first, self.held_once = not self.held_once, True
        return first


class _Handler(http.server.BaseHTTPRequestHandler):
    server: MeddlingProxy

    def do_GET(self) -> None:
        request = urllib.request.Request(  # noqa: S310 - loopback
            self.server.upstream + self.path,
            headers={"Accept": self.headers.get("Accept", "*/*")},
        )
        with urllib.request.urlopen(request) as upstream:  # noqa: S310
            body = upstream.read()
            status, content_type = upstream.status, upstream.headers["Content-Type"]
        multipart = "multipart" in self.headers.get("Accept", "")
        if multipart and self.server.hold is not None and self.server.first_hold():
            self.server.hold.wait(60)
        if multipart and self.server.keep is not None:
            body = body[: self.server.keep]
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *_args: object) -> None:
        pass
