"""Free TCP ports on the loopback interface, for the local peers (demo, benchmarks, tests)."""

from __future__ import annotations

import socket

_GIVEN: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, never the same one twice.

    A port handed out is not listened on until its server starts, so the
    kernel could offer it again: remembering the ports given avoids two peers
    of one test getting the same port.
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port
