"""Writing received C-STOREs to files: shared by the storage SCP (C-MOVE) and C-GET.

Each received instance is written to
``<storage>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``.
The three UIDs are checked against the UID grammar (digits and dots) before
they become path parts, so no sender can write outside the storage folder.
A file is first written under ``<storage>/.incoming/`` and then renamed into
place, so a study folder only ever holds complete files, even after a crash.
A C-STORE that cannot be stored is answered with a failure status, which the
PACS counts as a failed sub-operation.
"""

from __future__ import annotations

import errno
import logging
import threading
from collections import Counter
from io import BytesIO
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.filereader import read_dataset
from pynetdicom import evt

from pacsflow.dicom.fast_header import ParsedHeader
from pacsflow.dicom.values import is_valid_uid
from pacsflow.ingest.arrivals import Arrivals, naming_uids_of, parse_arrival, sop_class_of
from pacsflow.net.storage_files import (
    NAMING_KEYWORDS,
    after_naming_uids,
    file_meta_bytes,
    naming_uids,
    write_atomically,
)

LOGGER = logging.getLogger(__name__)

_HEAD_BYTES = 64 * 1024  # the fast path's first read: enough for nearly any header

__all__ = ["STATUS_CANNOT_UNDERSTAND", "STATUS_OUT_OF_RESOURCES", "InstanceReceiver"]

STATUS_OUT_OF_RESOURCES = 0xA700
"""C-STORE status: the file could not be written (disk full, permissions)."""
STATUS_CANNOT_UNDERSTAND = 0xC000
"""C-STORE status: the data set lacks a valid Study, Series or SOP Instance UID."""


class InstanceReceiver:
    """Answers C-STORE requests by writing their data sets under ``storage``.

    Args:
        storage: the storage folder (its ``.incoming`` sub-folder must exist).
        sync_each: fsync each file before its rename. Without it the files are
            synced per study (:func:`~pacsflow.net.storage_files.sync_study_folder`
            with ``files=True``) before the study is marked retrieved.
        arrivals: where to keep each stored instance's rows, parsed from the
            data set in memory (:mod:`pacsflow.ingest.arrivals`); its UIDs then
            also name the file. None (the receiver service): named as before.
    """

    def __init__(
        self, storage: Path, *, sync_each: bool = True, arrivals: Arrivals | None = None
    ) -> None:
        self.storage = storage
        self.sync_each = sync_each
        self.arrivals = arrivals
        self._lock = threading.Lock()
        self._stored: Counter[str] = Counter()
        self._refused = 0

    def stored_count(self, study_uid: str) -> int:
        """Instances of ``study_uid`` stored so far."""
        with self._lock:
            return self._stored[study_uid]

    @property
    def refused(self) -> int:
        """C-STOREs answered with a failure status so far."""
        with self._lock:
            return self._refused

    def on_c_store(self, event: evt.Event) -> int:
        """Write one received instance; answer 0x0000, or a failure status saying why."""
        parsed = _parsed_on_arrival(event) if self.arrivals is not None else None
        try:
            if parsed is not None:
                uids = naming_uids_of(parsed)
                sop_class_uid = sop_class_of(parsed)
            else:
                ds = _identifying_elements(event)
                uids = naming_uids(ds)
                sop_class_uid = str(ds.get("SOPClassUID", "") or "").rstrip("\0 ")
        except Exception as exc:  # a data set pydicom cannot decode
            return self._refuse(STATUS_CANNOT_UNDERSTAND, f"undecodable data set ({exc})")
        bad = [kw for kw, uid in zip(NAMING_KEYWORDS, uids, strict=True) if not is_valid_uid(uid)]
        if bad:
            return self._refuse(STATUS_CANNOT_UNDERSTAND, f"invalid or missing {', '.join(bad)}")
        study_uid, series_uid, sop_uid = uids
        target = self.storage / study_uid / series_uid / f"{sop_uid}.dcm"
        try:
            meta = file_meta_bytes(
                sop_class_uid or str(event.request.AffectedSOPClassUID),
                sop_uid,
                str(event.context.transfer_syntax),
                event.assoc.requestor.ae_title
                if event.assoc.is_acceptor
                else event.assoc.acceptor.ae_title,
            )
            write_atomically(
                self.storage, [meta, _encoded_data_set(event)], target, sync=self.sync_each
            )
        except OSError as exc:
            return self._refuse(STATUS_OUT_OF_RESOURCES, f"cannot write {target} ({exc.strerror})")
        if parsed is not None and self.arrivals is not None:
            self.arrivals.add(target, parsed)
        with self._lock:
            self._stored[study_uid] += 1
        return 0x0000

    def _refuse(self, status: int, reason: str) -> int:
        with self._lock:
            self._refused += 1
        LOGGER.warning("C-STORE refused with status 0x%04X: %s", status, reason)
        return status


def _encoded_data_set(event: evt.Event) -> bytes:
    """The C-STORE's data set as received (already encoded in the accepted transfer syntax)."""
    request = event.request
    data = getattr(request, "DataSet", None)
    if not isinstance(data, BytesIO):
        raise OSError(errno.EINVAL, "the C-STORE request carries no data set")
    return data.getvalue()


def _parsed_on_arrival(event: evt.Event) -> ParsedHeader | None:
    """The data set's header by the fast path, from its first bytes behind a file meta
    made from the request; None when the fast path cannot answer (then as before)."""
    syntax = event.context.transfer_syntax
    request = event.request
    try:
        data = _encoded_data_set(event)
        # Only the transfer syntax matters to the parse (the file meta is not in the header).
        meta = file_meta_bytes(str(request.AffectedSOPClassUID), "", str(syntax), "")
    except (OSError, ValueError, UnicodeError):
        return None
    return parse_arrival(meta + data[:_HEAD_BYTES], len(meta) + len(data))


def _identifying_elements(event: evt.Event) -> Dataset:
    """The data set's elements up to (0020,000E) Series Instance UID, values left unparsed.

    Decoding a whole header costs milliseconds per instance, the bulk of a
    C-STORE's cost; the UIDs that name the file come first. A deflated data
    set is decoded whole (pynetdicom inflates it).
    """
    syntax = event.context.transfer_syntax
    if syntax is None or syntax.is_deflated:
        return event.dataset
    return read_dataset(
        BytesIO(_encoded_data_set(event)),
        syntax.is_implicit_VR,
        syntax.is_little_endian,
        stop_when=after_naming_uids,
    )
