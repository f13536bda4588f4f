"""Where an export puts things: ``files/<study>/<series>/<sop>.dcm``, ``tables/``, the manifest.

Files are first written under ``.partial/`` (named for the writing process)
and renamed into place whole, so an interrupted export leaves no half file
where a reader would take it for a whole one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from pacsflow.dicom.values import is_valid_uid
from pacsflow.liveness import owner_is_gone
from pacsflow.partial_files import create_part

__all__ = [
    "FILES",
    "MANIFEST",
    "PARTIAL",
    "ROWS",
    "TABLES_FOLDER",
    "copy_atomically",
    "exported_file",
    "new_part",
    "prepare_destination",
    "relative_file",
    "write_atomically",
    "write_text_atomically",
]

FILES, TABLES_FOLDER, PARTIAL, MANIFEST = "files", "tables", ".partial", "manifest.json"
ROWS = ".rows"
"""Pseudonymised exports: each run's table rows, ``.rows/<host:pid:token>/<study>.jsonl``."""


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


def prepare_destination(dest: Path) -> None:
    """Create the export's folders; delete the partial files and saved rows of dead
    exports of this host."""
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
    fd, partial = create_part(dest / PARTIAL)
    os.close(fd)
    return partial


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
