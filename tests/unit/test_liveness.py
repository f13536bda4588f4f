"""Whether the owner of a claim or a partial file is gone: zombies included."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from pacsflow.liveness import owner_is_gone, owner_tag, process_alive


def test_a_running_process_is_alive_and_this_one_is_not_gone() -> None:
    assert process_alive(os.getpid())
    assert not owner_is_gone(f"{owner_tag()}:1.part")


def test_a_zombie_counts_as_gone() -> None:
    """A killed process nobody reaped yet (its parent never waits) runs no more."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        with open(f"/proc/{child.pid}/stat") as stat:
            while stat.read().rpartition(")")[2].split()[0] != "Z":
                assert time.monotonic() < deadline, "the child never exited"
                time.sleep(0.01)
                stat.seek(0)
        assert not process_alive(child.pid)
        assert owner_is_gone(f"{socket.gethostname()}:{child.pid}:1.part")
    finally:
        child.wait()
    assert not process_alive(child.pid)
