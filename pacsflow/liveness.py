"""Names that tell which process owns something, and whether that process is gone.

A claim on a study and a file being received are tagged ``host:pid:...``.
After a crash, a new run can then take over what a dead process of this host
left behind at once, instead of waiting for a timeout.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

__all__ = ["owner_is_gone", "owner_tag", "process_alive"]


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host runs (as any user).

    A zombie (dead, not yet reaped by its parent: a killed process whose
    parent never waits, or an orphan of a killed parent) answers signals but
    runs no more, so it counts as gone.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, as another user
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust the signal
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def owner_tag() -> str:
    """``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_is_gone(tagged: str) -> bool:
    """Whether ``tagged`` (``host:pid...``) names a process of this host that no longer runs.

    A process of another host is never known to be gone: only a lease tells.
    """
    host, _, rest = tagged.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    return not process_alive(int(pid_text))
