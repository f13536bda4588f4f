"""WADO-RS: retrieve a study (or some of its series) straight into the storage folder.

The multipart response is streamed part by part to ``.incoming`` files; each
complete part is named by its own UIDs (read from its header only) and
renamed into ``<storage>/<study>/<series>/<sop>.dcm``, the storage SCP's
layout, so ingest and completeness work as for C-MOVE. ``transfer-syntax=*``
asks for the instances as stored (no transcoding on the server), and no
compression of the HTTP body is accepted. A response cut short (no closing
boundary) keeps the parts that arrived whole and deletes the one being
written; the error is retryable and a retry asks only for what is missing.
Files are not synced one by one: the study's are, before it is marked retrieved.
"""

from __future__ import annotations

import http.client
import logging
import os
import struct
import time
import zlib
from collections.abc import Iterator, Sequence
from io import BytesIO
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_partial

from pacsflow.dicom.fast_header import ParsedHeader
from pacsflow.dicom.values import is_valid_uid
from pacsflow.errors import RetryableError
from pacsflow.ingest.arrivals import Arrivals, naming_uids_of, parse_arrival
from pacsflow.net.dicomweb.client import DicomWebBusyError, DicomWebClient, DicomWebError
from pacsflow.net.dicomweb.multipart import (
    MultipartCutShortError,
    MultipartError,
    boundary_of,
    parts,
)
from pacsflow.net.move import MoveResult
from pacsflow.net.storage_files import (
    NAMING_KEYWORDS,
    after_naming_uids,
    naming_uids,
    new_part,
)

LOGGER = logging.getLogger(__name__)

__all__ = ["ACCEPT_DICOM", "WadoCutShortError", "retrieve_study_wado"]

ACCEPT_DICOM = 'multipart/related; type="application/dicom"; transfer-syntax=*'
"""Every instance as a DICOM file, in the transfer syntax it is stored in."""

_HEAD_BYTES = 64 * 1024  # enough for the elements before (0020,000E) of nearly any header


class WadoCutShortError(RetryableError):
    """A WADO-RS response ended before its closing boundary (a dropped connection)."""


def retrieve_study_wado(
    client: DicomWebClient,
    storage: Path,
    study_uid: str,
    *,
    series_uids: Sequence[str] = (),
    arrivals: Arrivals | None = None,
) -> MoveResult:
    """Retrieve the study (or only ``series_uids``, one request each) into ``storage``.

    Each part's header is parsed once from the bytes held in memory
    (:mod:`pacsflow.ingest.arrivals`): its UIDs name the file, and its rows go
    to ``arrivals`` when given, for the ingest.

    Returns:
        A :class:`~pacsflow.net.move.MoveResult`: ``completed`` counts the files
        stored, ``failed`` the parts refused (not DICOM, UIDs missing or not of
        the study); status 0x0000 when every part was stored, 0xB000 otherwise.

    Raises:
        WadoCutShortError / DicomWebBusyError / PacsUnreachableError: retryable.
        DicomWebError: the server refused the request (e.g. 404 for an unknown study).
    """
    started = time.monotonic()
    stored = failed = 0
    paths = (
        [client.path("studies", study_uid, "series", uid) for uid in series_uids]
        if series_uids
        else [client.path("studies", study_uid)]
    )
    for path in paths:
        ok, bad = _retrieve_one(client, storage, study_uid, path, arrivals)
        stored, failed = stored + ok, failed + bad
    seconds = time.monotonic() - started
    LOGGER.info(
        "WADO-RS of study %s from %s: %d stored, %d refused in %.1f s",
        study_uid,
        client.base_url,
        stored,
        failed,
        seconds,
    )
    return MoveResult(
        status=0x0000 if failed == 0 else 0xB000,
        completed=stored,
        failed=failed,
        warning=0,
        seconds=seconds,
    )


def _retrieve_one(
    client: DicomWebClient, storage: Path, study_uid: str, path: str, arrivals: Arrivals | None
) -> tuple[int, int]:
    response = client.get(path, ACCEPT_DICOM)
    stored = failed = 0
    try:
        if response.status == 204:
            return 0, 0
        boundary = boundary_of(response.getheader("Content-Type") or "")
        for headers, content in parts(response, boundary):
            kind = headers.get_content_type()
            if kind != "application/dicom":
                _drain(content)
                failed += 1
                LOGGER.warning("WADO-RS of study %s: a %s part was skipped", study_uid, kind)
                continue
            if _store_part(storage, study_uid, content, arrivals):
                stored += 1
            else:
                failed += 1
    except MultipartCutShortError as exc:
        raise WadoCutShortError(
            f"{client.base_url} cut the WADO-RS response for {path} short ({exc}) "
            f"after {stored} files; they are kept, and a retry asks for the rest"
        ) from None
    except MultipartError as exc:
        raise DicomWebError(
            f"{client.base_url} answered GET {path} with a malformed multipart body ({exc})",
            response.status,
        ) from None
    except (OSError, http.client.HTTPException) as exc:
        raise DicomWebBusyError(
            f"the connection to {client.base_url} dropped during GET {path} "
            f"({type(exc).__name__}) after {stored} files"
        ) from None
    finally:
        client.close()  # the body may not have been read to its end
    return stored, failed


def _drain(content: Iterator[bytes]) -> None:
    for _ in content:
        pass


def _store_part(
    storage: Path, study_uid: str, content: Iterator[bytes], arrivals: Arrivals | None
) -> bool:
    """Write one part under .incoming and rename it into place; False if it was refused.

    A file that cannot be written (disk full) is refused and the part drained,
    so the parts after it are still read; errors reading the body propagate.
    """
    fd, partial = new_part(storage)
    try:
        head = bytearray()
        write_error, size = _write(fd, content, head)
        parsed = None if write_error else parse_arrival(bytes(head), size)
        target = None if write_error else _target(storage, study_uid, partial, bytes(head), parsed)
        if write_error:
            LOGGER.warning("WADO-RS of study %s: cannot write a file (%s)", study_uid, write_error)
        if target is None:
            partial.unlink(missing_ok=True)
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(partial, target)
        if parsed is not None and arrivals is not None:
            arrivals.add(target, parsed)
        return True
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _write(fd: int, content: Iterator[bytes], head: bytearray) -> tuple[str | None, int]:
    """Copy the part's content to ``fd`` (closed after), its first bytes to ``head``;
    why writing failed (or None), and the part's size."""
    failure: str | None = None
    size = 0
    out = os.fdopen(fd, "wb")
    try:
        for chunk in content:
            size += len(chunk)
            if len(head) < _HEAD_BYTES:
                head += chunk[: _HEAD_BYTES - len(head)]
            if failure is None:
                try:
                    out.write(chunk)
                except OSError as exc:
                    failure = exc.strerror or type(exc).__name__
    finally:
        try:
            out.close()
        except OSError as exc:
            failure = failure or exc.strerror or type(exc).__name__
    return failure, size


def _naming_elements(head: bytes, partial: Path) -> Dataset:
    """The file's elements up to (0020,000E), parsed from its first bytes when they hold
    them (twice as fast as reading the file), else from the whole file."""
    try:
        ds = read_partial(BytesIO(head), stop_when=after_naming_uids)
        if all(keyword in ds for keyword in NAMING_KEYWORDS):
            return ds
    except (InvalidDicomError, ValueError, EOFError, KeyError, struct.error, zlib.error):
        pass  # a header longer than the head, or odd: read the file
    return dcmread(partial, stop_before_pixels=True, specific_tags=list(NAMING_KEYWORDS))


def _target(
    storage: Path, study_uid: str, partial: Path, head: bytes, parsed: ParsedHeader | None
) -> Path | None:
    """Where a received file belongs, from its own UIDs (of its parsed header when the
    fast path read it); None if they are unusable."""
    if parsed is not None:
        uids = naming_uids_of(parsed)
    else:
        try:
            uids = naming_uids(_naming_elements(head, partial))
        except (InvalidDicomError, ValueError, EOFError, OSError) as exc:
            LOGGER.warning("WADO-RS of study %s: a part is not DICOM (%s)", study_uid, exc)
            return None
    if not all(is_valid_uid(uid) for uid in uids) or uids[0] != study_uid:
        LOGGER.warning(
            "WADO-RS of study %s: a part without valid UIDs of this study was refused", study_uid
        )
        return None
    return storage / uids[0] / uids[1] / f"{uids[2]}.dcm"
