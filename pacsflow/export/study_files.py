"""Copying one study's files into an export, resumably."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from pacsflow.database.models import Image
from pacsflow.export.layout import copy_atomically, exported_file

LOGGER = logging.getLogger(__name__)

__all__ = ["StudyCopy", "export_study_files"]


@dataclass
class StudyCopy:
    """What exporting one study's files did."""

    study_uid: str
    copied: int = 0
    kept: int = 0
    missing: list[str] = field(default_factory=list)
    """SOP Instance UIDs whose file could not be read (moved, deleted, unreadable)."""
    excluded: list[str] = field(default_factory=list)
    """Pseudonymised exports: files left out because their pixels may hold text."""
    review: list[str] = field(default_factory=list)
    """Pseudonymised exports: exported files whose pixels may hold text, to review."""


def export_study_files(session: Session, study_uid: str, dest: Path) -> StudyCopy:
    """Copy the study's files to ``dest/files/<study>/<series>/<sop>.dcm``.

    A file already exported with the source's size is kept (a re-run copies
    only what is missing); a file that cannot be read is listed, not fatal.
    """
    done = StudyCopy(study_uid)
    rows = session.execute(
        select(Image.series_uid, Image.image_uid, Image.filepath)
        .where(Image.study_uid == study_uid)
        .order_by(Image.series_uid, Image.image_uid)
    )
    for series_uid, sop_uid, filepath in rows:
        try:
            target = exported_file(dest, study_uid, series_uid, sop_uid)
            source = Path(filepath or "")
            size = source.stat().st_size
            if target.is_file() and target.stat().st_size == size:
                done.kept += 1
                continue
            copy_atomically(source, target, dest)
        except (OSError, ValueError) as exc:
            LOGGER.warning("Instance %s of study %s not exported: %s", sop_uid, study_uid, exc)
            done.missing.append(sop_uid)
            continue
        done.copied += 1
    return done
