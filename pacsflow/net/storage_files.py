"""Where and how the storage SCP's files are written: folder layout, file meta, syncing.

``<storage>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``,
written first under ``<storage>/.incoming/`` as ``host:pid:...part`` and
renamed into place. The partial files of a crashed SCP are deleted by the
next one; a study's folders are synced before it is marked retrieved.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterable
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.tag import BaseTag
from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID

from pacsflow.dicom.values import is_valid_uid
from pacsflow.liveness import owner_is_gone
from pacsflow.partial_files import create_part

LOGGER = logging.getLogger(__name__)

__all__ = [
    "INCOMING_FOLDER",
    "NAMING_KEYWORDS",
    "after_naming_uids",
    "file_meta_bytes",
    "naming_uids",
    "new_part",
    "prepare_storage",
    "remove_abandoned_parts",
    "study_folder",
    "sync_study_folder",
    "write_atomically",
]

INCOMING_FOLDER = ".incoming"
"""Sub-folder of the storage folder holding files being written."""

NAMING_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
"""The UIDs that name a received file, in path order."""

_LAST_NAMING_TAG = 0x0020000E  # (0020,000E) Series Instance UID: the last of the three


def after_naming_uids(tag: BaseTag, _vr: str | None, _length: int) -> bool:
    """A pydicom ``stop_when``: stop reading a header past the UIDs that name its file."""
    return int(tag) > _LAST_NAMING_TAG


def naming_uids(ds: Dataset) -> list[str]:
    """The data set's :data:`NAMING_KEYWORDS` values, padding stripped ("" when absent)."""
    return [str(ds.get(keyword, "") or "").rstrip("\0 ") for keyword in NAMING_KEYWORDS]


_VERSION_NAME = b"PACSFLOW"


def study_folder(storage: Path, study_uid: str) -> Path:
    """Where the SCP puts the files of a study.

    Raises:
        ValueError: ``study_uid`` is not a valid UID (it would not be a safe path part).
    """
    if not is_valid_uid(study_uid):
        raise ValueError(f"{study_uid!r} is not a valid StudyInstanceUID")
    return storage / study_uid


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_study_folder(storage: Path, study_uid: str, *, files: bool = False) -> None:
    """fsync the study's folder and its series folders, so the files' names survive a power cut.

    Called before a study is marked retrieved: the database commit is durable,
    so the files it vouches for must be too. The receivers do not sync each
    file as they write it (one sync per study costs less than one per file),
    so ``files=True`` syncs the files' contents here too.
    """
    folder = study_folder(storage, study_uid)
    if not folder.is_dir():
        return
    series = [p for p in folder.iterdir() if p.is_dir()]
    if files:
        for series_folder in series:
            for file in series_folder.iterdir():
                _fsync(file, os.O_RDONLY)
    for directory in [folder, *series]:
        _fsync(directory, os.O_RDONLY | os.O_DIRECTORY)


def prepare_storage(storage: Path) -> None:
    """Create the storage folder and its .incoming, and delete crashed runs' partial files."""
    (storage / INCOMING_FOLDER).mkdir(parents=True, exist_ok=True)
    remove_abandoned_parts(storage)


def new_part(storage: Path) -> tuple[int, Path]:
    """A new partial file under .incoming, named for this process: its descriptor and path."""
    return create_part(storage / INCOMING_FOLDER)


def write_atomically(storage: Path, chunks: Iterable[bytes], target: Path, *, sync: bool) -> None:
    """Write ``chunks`` under .incoming, then rename the file into place at ``target``.

    With ``sync`` the content is fsynced (~0.5 ms) before the name appears;
    without, :func:`sync_study_folder` must sync it (``files=True``) before the
    study is marked retrieved.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = new_part(storage)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
            if sync:
                out.flush()
                os.fsync(out.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def remove_abandoned_parts(storage: Path) -> int:
    """Delete the partial files that crashed SCPs of this host left in .incoming.

    Files of live SCPs (another run sharing the folder) and of other hosts stay.
    Returns how many were deleted.
    """
    removed = 0
    for part in (storage / INCOMING_FOLDER).glob("*.part"):
        if owner_is_gone(part.name):
            part.unlink(missing_ok=True)
            removed += 1
    if removed:
        LOGGER.info("Removed %d partial files left by a crashed run in %s", removed, storage)
    return removed


def _element(group_element: int, vr: bytes, value: bytes, pad: bytes) -> bytes:
    """One explicit VR little endian element with a 2-byte length (UI, SH, AE, UL)."""
    if len(value) % 2:
        value += pad
    tag = struct.pack("<HH", group_element >> 16, group_element & 0xFFFF)
    return tag + vr + struct.pack("<H", len(value)) + value


def file_meta_bytes(
    sop_class_uid: str, sop_uid: str, transfer_syntax: str, source_ae: str
) -> bytes:
    """The preamble, ``DICM`` and the File Meta Information of a received instance.

    Encoded directly (explicit VR little endian, as PS3.10 requires): pydicom's
    writer validates and copies each element, which costs more than the rest
    of writing the file.
    """
    body = b"".join(
        [
            b"\x02\x00\x01\x00OB\x00\x00" + struct.pack("<I", 2) + b"\x00\x01",
            _element(0x00020002, b"UI", sop_class_uid.encode("ascii"), b"\0"),
            _element(0x00020003, b"UI", sop_uid.encode("ascii"), b"\0"),
            _element(0x00020010, b"UI", transfer_syntax.encode("ascii"), b"\0"),
            _element(0x00020012, b"UI", PYNETDICOM_IMPLEMENTATION_UID.encode("ascii"), b"\0"),
            _element(0x00020013, b"SH", _VERSION_NAME, b" "),
            _element(0x00020016, b"AE", source_ae.strip().encode("ascii", "replace"), b" "),
        ]
    )
    group_length = _element(0x00020000, b"UL", struct.pack("<I", len(body)), b"")
    return b"\x00" * 128 + b"DICM" + group_length + body
