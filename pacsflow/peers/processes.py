"""Starting a peer's process and waiting until it serves; stopping it."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

__all__ = ["no_nagle_env", "start_process", "stop_process"]

_START_TIMEOUT_S = 30


def no_nagle_env() -> dict[str, str]:
    """The caller's environment with ``TCP_NODELAY=1``: Debian's DCMTK leaves Nagle on otherwise."""
    return {**os.environ, "TCP_NODELAY": "1"}


def start_process(
    command: Sequence[str],
    *,
    name: str,
    log: Path,
    ready: Callable[[], object],
    retry_on: tuple[type[Exception], ...] = (OSError,),
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout_s: float = _START_TIMEOUT_S,
    poll_s: float = 0.2,
) -> subprocess.Popen[bytes]:
    """Start ``command`` (its standard error to ``log``) and wait until ``ready()`` succeeds.

    Args:
        command: the program and its arguments.
        name: what the error message calls the server.
        log: the file the process's standard error goes to.
        ready: called until it returns without raising one of ``retry_on``.
        retry_on: the errors that mean "not serving yet".
        env: the process's environment (the caller's when None).
        cwd: the process's working folder.
        timeout_s: how long to wait for it.
        poll_s: the pause between two calls of ``ready``.

    Returns:
        The running process; the caller stops it with :func:`stop_process`.

    Raises:
        RuntimeError: the process exited or was not serving within ``timeout_s``
            (it is stopped; the message ends with the log's tail).
    """
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            list(command),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=None if env is None else dict(env),
            cwd=cwd,
        )
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            ready()
            return process
        except retry_on:
            if process.poll() is not None or time.monotonic() > deadline:
                stop_process(process)
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} did not start: {tail}") from None
            time.sleep(poll_s)


def stop_process(process: subprocess.Popen[bytes] | None, timeout_s: float = 20) -> None:
    """Terminate a server process (SIGTERM), killing it if it lingers past ``timeout_s``."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout_s)
