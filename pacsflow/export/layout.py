"""Where an export puts things: ``files/<study>/<series>/<sop>.dcm``, ``tables/``, the manifest.

Files are first written under ``.partial/`` (named for the writing process)
and renamed into place whole, so an interrupted export leaves no half file
where a reader would take it for a whole one; a finished export removes the
folder once nothing is left in it. Files and folders get the modes ``cp``
would give them: 0666 and 0777 less the umask.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from pacsflow.dicom.values import is_valid_uid
from pacsflow.errors import PermanentError
from pacsflow.liveness import owner_is_gone
from pacsflow.partial_files import create_part

__all__ = [
    "FILES",
    "MANIFEST",
    "PARTIAL",
    "ROWS",
    "TABLES_FOLDER",
    "UnwritableDestinationError",
    "check_destination",
    "copy_atomically",
    "exported_file",
    "new_part",
    "prepare_destination",
    "relative_file",
    "remove_partial_folder",
    "write_atomically",
    "write_text_atomically",
]

FILES, TABLES_FOLDER, PARTIAL, MANIFEST = "files", "tables", ".partial", "manifest.json"
ROWS = ".rows"
"""Pseudonymised exports: each run's table rows, ``.rows/<host:pid:token>/<study>.jsonl``."""


class UnwritableDestinationError(PermanentError):
    """The export folder cannot be created, or cannot be written."""


def relative_file(study_uid: str, series_uid: str, sop_uid: str) -> str:
    """An instance's path inside the export.

    Raises:
        ValueError: a UID is not a UID (it would not be a safe path part).
    """
    for uid in (study_uid, series_uid, sop_uid):
        if not is_valid_uid(uid):
            raise ValueError(f"{uid!r} is not a valid UID")
    return f"{FILES}/{study_uid}/{series_uid}/{sop_uid}.dcm"


def exported_file(dest: Path, study_uid: str, series_uid: str, sop_uid: str) -> Path:
    """Where an instance goes under ``dest``."""
    return dest / relative_file(study_uid, series_uid, sop_uid)


def check_destination(dest: Path) -> None:
    """Check that ``dest`` is a folder this process may write, or one it may create.

    Raises:
        UnwritableDestinationError: naming ``dest``, or its nearest existing folder,
            when that is not a folder or may not be written.
    """
    existing = dest
    while not _exists(existing) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UnwritableDestinationError(
            f"{existing} is not a folder: give an export folder that is, or that may be created"
        )
    # The effective rights are those a write would meet (root's capabilities, if any).
    effective = os.access in os.supports_effective_ids
    if not os.access(existing, os.W_OK | os.X_OK, effective_ids=effective):
        where = "" if existing == dest else f", where {dest} would be created"
        raise UnwritableDestinationError(
            f"cannot write to {existing}{where}: give a folder you may write, "
            "or change its permissions"
        )


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # e.g. its folder may not be searched: its parent's check says so
        return False


def prepare_destination(dest: Path) -> None:
    """Create the export's folders; delete the partial files and saved rows of dead
    exports of this host.

    Raises:
        UnwritableDestinationError: ``dest`` cannot be created or written.
    """
    check_destination(dest)
    for folder in (FILES, TABLES_FOLDER, PARTIAL):
        (dest / folder).mkdir(parents=True, exist_ok=True)
    for part in (dest / PARTIAL).iterdir():
        if owner_is_gone(part.name):
            part.unlink(missing_ok=True)
    rows = dest / ROWS
    for run in rows.iterdir() if rows.is_dir() else ():
        if owner_is_gone(run.name):
            shutil.rmtree(run, ignore_errors=True)


def new_part(dest: Path) -> Path:
    """A new, empty file under ``dest/.partial``, named for this process."""
    folder = dest / PARTIAL
    while True:
        try:
            fd, partial = create_part(folder)
        except FileNotFoundError:
            # Another run into this folder finished and removed the empty .partial.
            folder.mkdir(exist_ok=True)
            continue
        os.close(fd)
        return partial


def remove_partial_folder(dest: Path) -> None:
    """Remove ``dest/.partial`` when it is empty: the export is finished and no other
    run is writing a file there (a run that writes one later creates it again)."""
    with contextlib.suppress(OSError):  # gone, or not empty: another run's file
        (dest / PARTIAL).rmdir()


def write_atomically(target: Path, dest: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(partial)`` for a file under ``dest/.partial``, then rename it to ``target``:
    ``target`` appears whole or not at all."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = new_part(dest)
    try:
        write(partial)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def copy_atomically(source: Path, target: Path, dest: Path) -> None:
    """Copy ``source`` to ``target`` through ``dest/.partial``."""
    write_atomically(target, dest, lambda partial: shutil.copyfile(source, partial))


def write_text_atomically(text: str, target: Path, dest: Path) -> None:
    """Write ``text`` (UTF-8) to ``target`` through ``dest/.partial``."""
    write_atomically(target, dest, lambda partial: partial.write_text(text, encoding="utf-8"))
