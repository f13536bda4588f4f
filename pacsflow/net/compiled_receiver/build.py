"""Building pacsflow's compiled storage SCP (``storescp.cc``) on first use.

The program is compiled against the DCMTK development headers (Debian's
``libdcmtk-dev``) with the C++ compiler, once per source, compiler and DCMTK
version: the binary is cached under a name made of their hash, in a folder of
this user's, so every later receiver starts at once. Two receivers building at
the same time wait for each other (a lock file); a half-written binary never
gets the final name.

Where no compiler or no DCMTK headers are found, :func:`compiled_receiver`
says why, and the receiver service receives with pynetdicom instead.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pacsflow.net.receiver_ports import default_runtime_folder

__all__ = ["DCMTK_HEADER", "SOURCE", "Build", "compiled_receiver", "default_cache"]

SOURCE = Path(__file__).with_name("storescp.cc")
DCMTK_HEADER = Path("/usr/include/dcmtk/config/osconfig.h")
"""Present when DCMTK's development headers are installed; its text names DCMTK's version."""
_LIBRARIES = ("-ldcmnet", "-ldcmdata", "-loflog", "-lofstd")
_FLAGS = ("-O2", "-std=c++17", "-Wall")
_BUILD_TIMEOUT = 300.0


@dataclass(frozen=True)
class Build:
    """The compiled receiver's path, or why there is none (then ``path`` is None)."""

    path: Path | None
    reason: str = ""


def default_cache() -> Path:
    """``/tmp/pacsflow-<uid>/bin``: private to this user, shared by all its receivers."""
    return default_runtime_folder() / "bin"


def compiled_receiver(
    cache: Path | None = None, *, compiler: str = "g++", header: Path = DCMTK_HEADER
) -> Build:
    """The compiled receiver, built now when not yet cached.

    Args:
        cache: the folder of built binaries (default :func:`default_cache`).
        compiler: the C++ compiler's command.
        header: DCMTK's configuration header, whose presence says the headers are installed.
    """
    found = shutil.which(compiler)
    if found is None:
        return Build(None, f"no C++ compiler ({compiler}) found")
    try:
        version = header.read_bytes()
    except OSError:
        return Build(None, f"DCMTK's development headers are not installed (no {header})")
    folder = cache or default_cache()
    try:
        folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
        if folder.parent.stat().st_uid != os.getuid() or folder.stat().st_uid != os.getuid():
            return Build(None, f"{folder} is not a folder of this user")
    except OSError as exc:
        return Build(None, f"cannot create {folder} ({exc.strerror})")
    key = hashlib.sha256(SOURCE.read_bytes() + found.encode() + version).hexdigest()[:16]
    binary = folder / f"pacsflow-storescp-{key}"
    if _runs(binary):
        return Build(binary)
    with open(folder / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another receiver may be building it
        if _runs(binary):
            return Build(binary)
        return _compile(found, binary)


def _compile(compiler: str, binary: Path) -> Build:
    partial = binary.with_name(f"{binary.name}.{os.getpid()}.tmp")
    command = [compiler, *_FLAGS, "-o", str(partial), str(SOURCE), *_LIBRARIES]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=_BUILD_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        partial.unlink(missing_ok=True)
        return Build(None, f"the C++ compiler failed to run ({exc})")
    if done.returncode != 0 or not _runs(partial):
        partial.unlink(missing_ok=True)
        first = next((line for line in done.stderr.splitlines() if "error" in line), "")
        return Build(None, f"the compiled receiver did not build: {first or done.stderr[-200:]}")
    os.replace(partial, binary)
    return Build(binary)


def _runs(binary: Path) -> bool:
    """Whether ``binary`` exists and starts (its libraries load): its ``--check`` exits 0."""
    if not binary.is_file():
        return False
    try:
        return subprocess.run([binary, "--check"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
