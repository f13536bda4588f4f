"""Writing one study's files pseudonymised into an export, resumably, and their table rows.

A file's place in the export is named by its pseudonymous UIDs, which are
computed from the originals without reading it: a file already there (whole:
files are renamed into place) is kept and only its header is read back for
the tables. Everything the tables hold is read from the pseudonymised files,
so files, tables and header JSON carry the same pseudonyms.
"""

from __future__ import annotations

import logging
import os
import shutil
from functools import partial
from pathlib import Path

import pydicom
from sqlalchemy import select
from sqlalchemy.orm import Session

from pacsflow.database.models import Image
from pacsflow.dicom.reading import read_header_and_pixel_offset
from pacsflow.dicom.records import ImageRecord, dcm2records
from pacsflow.export.layout import relative_file, write_atomically
from pacsflow.export.pseudonymise import Pseudonymiser, needs_pixel_review
from pacsflow.export.record_tables import write_study_rows
from pacsflow.export.study_files import StudyCopy

LOGGER = logging.getLogger(__name__)

__all__ = ["export_pseudonymised_study", "write_pseudonymised"]


def export_pseudonymised_study(
    session: Session,
    study_uid: str,
    dest: Path,
    pseudonymiser: Pseudonymiser,
    run: str,
) -> StudyCopy:
    """Write the study's files pseudonymised to ``dest/files/<study>/<series>/<sop>.dcm``.

    The returned counts, lists and table rows name only pseudonyms. A file that
    cannot be read or pseudonymised is listed as missing and never written as
    it was; with the profile's ``exclude_burned_in``, files whose pixels may
    hold text are left out (listed as excluded), else listed for review. The
    study's table rows go to the run ``run``'s folder under ``dest/.rows``
    (:mod:`pacsflow.export.record_tables`).
    """
    p = pseudonymiser
    done = StudyCopy(p.uid(study_uid))
    records: list[ImageRecord] = []
    rows = session.execute(
        select(Image.series_uid, Image.image_uid, Image.filepath)
        .where(Image.study_uid == study_uid)
        .order_by(Image.series_uid, Image.image_uid)
    )
    for series_uid, sop_uid, filepath in rows:
        uids = (p.uid(study_uid), p.uid(series_uid), p.uid(sop_uid))
        relative = relative_file(*uids)
        target = dest / relative
        try:
            ds: pydicom.Dataset | None
            if target.is_file():
                ds = pydicom.dcmread(target, stop_before_pixels=True)
                done.kept += 1
            else:
                ds = write_pseudonymised(Path(filepath or ""), target, dest, p)
                if ds is None:
                    done.excluded.append(relative)
                    continue
                done.copied += 1
            records.append(dcm2records(ds, filepath=relative))
        except Exception as exc:  # malformed input may fail in pydicom in many ways
            # The file is listed, never written as it was. Only pseudonyms in the log:
            # it goes to Prefect, outside the trusted zone.
            LOGGER.warning("%s not exported: %s", relative, type(exc).__name__)
            done.missing.append(uids[2])
            continue
        if needs_pixel_review(ds):
            done.review.append(relative)
    write_study_rows(dest, run, done.study_uid, records)
    return done


def write_pseudonymised(
    source: Path, target: Path, dest: Path, pseudonymiser: Pseudonymiser
) -> pydicom.Dataset | None:
    """Write ``source`` pseudonymised to ``target``; its header, or None if it is left out
    for its pixels.

    The header is read and checked as the ingest reads it (a truncated file is
    refused). When the pixel data ends the file, its bytes are copied as they
    are after the new header; otherwise the whole dataset is read and goes
    through the rules.

    Raises:
        InvalidDicomError: the source is not DICOM, unreadable or truncated.
    """
    ds, rest = read_header_and_pixel_offset(source)
    if pseudonymiser.profile.exclude_burned_in and needs_pixel_review(ds):
        return None
    if rest is None:
        ds = pydicom.dcmread(source)
    pseudonymiser.pseudonymise(ds)
    write_atomically(target, dest, partial(_save, ds, source, rest))
    return ds


def _save(ds: pydicom.Dataset, source: Path, rest: int | None, path: Path) -> None:
    ds.save_as(path, enforce_file_format=True)
    if rest is not None:
        _append(source, rest, path)


def _append(source: Path, start: int, target: Path) -> None:
    """Append the bytes of ``source`` from ``start`` to its end to ``target``: in the
    kernel (``copy_file_range``), or through a buffer where it cannot."""
    with source.open("rb") as rest, target.open("r+b") as out:
        out.seek(0, os.SEEK_END)
        offset, remaining = start, os.fstat(rest.fileno()).st_size - start
        try:
            while remaining > 0:
                copied = os.copy_file_range(rest.fileno(), out.fileno(), remaining, offset)
                if copied == 0:
                    break
                offset, remaining = offset + copied, remaining - copied
        except OSError:  # e.g. a file system or kernel without it
            rest.seek(offset)
            out.seek(0, os.SEEK_END)
            shutil.copyfileobj(rest, out, 1 << 20)
