"""Partial files named for the process writing them, shared by the storage SCP and exports.

A file is written under a partial name in a folder of its own and renamed
into place whole, so a reader never takes half a file for a whole one. The
name, ``host:pid:N.part`` with N counted per process, tells whether its
writer is gone (:func:`pacsflow.liveness.owner_is_gone`), so the partial files
of a crashed writer can be deleted and those of a live one left alone.

A partial file is created as ``cp`` creates its files: mode
0666 less the umask. The folder holding the finished files (an export, the
storage folder) is the user's, and so is the choice of who may read them:
``umask 077`` keeps them to the owner.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from pacsflow.liveness import owner_tag

__all__ = ["create_part"]

_NUMBERS = itertools.count()


def create_part(folder: Path) -> tuple[int, Path]:
    """Create a new, empty partial file in ``folder``: its descriptor (open for writing) and path.

    Counted names are cheaper than ``mkstemp``'s random ones (a measurable
    cost per received instance); ``O_EXCL`` still refuses a name left by a
    dead process that had the same pid. Its mode is 0666 less the umask.
    """
    while True:
        partial = folder / f"{owner_tag()}:{next(_NUMBERS)}.part"
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        except FileExistsError:
            continue
        return fd, partial
