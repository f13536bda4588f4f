"""pacsflow's storage SCP: where the PACS sends the images of a C-MOVE.

Each received instance is written to
``<storage>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``.
The three UIDs are checked against the UID grammar (digits and dots) before
they become path parts, so no sender can write outside the storage folder.
A file is first written under ``<storage>/.incoming/`` and then renamed into
place, so a study folder only ever holds complete files, even after a crash.

Only the configured calling AE titles (the PACS) may associate, at most
``max_associations`` at once; a C-STORE that cannot be stored is answered
with a failure status, which the PACS counts as a failed sub-operation.
"""

from __future__ import annotations

import errno
import logging
import os
import tempfile
import threading
from collections import Counter
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path
from types import TracebackType
from typing import Any

from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, evt
from pynetdicom.presentation import AllStoragePresentationContexts
from pynetdicom.transport import ThreadedAssociationServer

from pacsflow.dicom_values import is_valid_uid
from pacsflow.net.association import set_nodelay
from pacsflow.net.nodes import LocalAE, Timeouts, validate_ae_title

LOGGER = logging.getLogger(__name__)

__all__ = [
    "INCOMING_FOLDER",
    "STATUS_CANNOT_UNDERSTAND",
    "STATUS_OUT_OF_RESOURCES",
    "StorageSCP",
    "study_folder",
]

INCOMING_FOLDER = ".incoming"
"""Sub-folder of the storage folder holding files being written."""

STATUS_OUT_OF_RESOURCES = 0xA700
"""C-STORE status: the file could not be written (disk full, permissions)."""
STATUS_CANNOT_UNDERSTAND = 0xC000
"""C-STORE status: the data set lacks a valid Study, Series or SOP Instance UID."""

_UID_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")


def study_folder(storage: Path, study_uid: str) -> Path:
    """Where the SCP puts the files of a study.

    Raises:
        ValueError: ``study_uid`` is not a valid UID (it would not be a safe path part).
    """
    if not is_valid_uid(study_uid):
        raise ValueError(f"{study_uid!r} is not a valid StudyInstanceUID")
    return storage / study_uid


class StorageSCP:
    """A storage SCP running in background threads while the ``with`` block lasts.

    Args:
        local: pacsflow's AE title, port and bind address.
        storage: the folder receiving the files (created when missing).
        allowed_ae_titles: the calling AE titles accepted (the PACS); others are rejected.
        max_associations: associations served at once; more are rejected as busy.
        timeouts: ACSE, DIMSE and network timeouts of the served associations.
    """

    def __init__(
        self,
        local: LocalAE,
        storage: str | os.PathLike[str],
        allowed_ae_titles: Sequence[str],
        *,
        max_associations: int = 4,
        timeouts: Timeouts | None = None,
    ) -> None:
        if not allowed_ae_titles:
            raise ValueError("the storage SCP needs at least one allowed calling AE title")
        if max_associations < 1:
            raise ValueError(f"max_associations must be at least 1, not {max_associations}")
        self.local = local
        self.storage = Path(storage)
        self.allowed_ae_titles = [validate_ae_title(t, "calling") for t in allowed_ae_titles]
        self.max_associations = max_associations
        self.timeouts = timeouts or Timeouts()
        self._lock = threading.Lock()
        self._stored: Counter[str] = Counter()
        self._refused = 0
        self._server: ThreadedAssociationServer | None = None
        self._ae: AE | None = None

    # -- counters --------------------------------------------------------------

    def stored_count(self, study_uid: str) -> int:
        """Instances of ``study_uid`` stored since the SCP started."""
        with self._lock:
            return self._stored[study_uid]

    @property
    def refused(self) -> int:
        """C-STOREs answered with a failure status since the SCP started."""
        with self._lock:
            return self._refused

    # -- life cycle ------------------------------------------------------------

    def start(self) -> StorageSCP:
        """Listen on the local AE's address and port.

        Raises:
            OSError: the port is in use or the folder cannot be created.
        """
        (self.storage / INCOMING_FOLDER).mkdir(parents=True, exist_ok=True)
        ae = AE(ae_title=self.local.ae_title)
        ae.require_calling_aet = self.allowed_ae_titles
        ae.maximum_associations = self.max_associations
        ae.acse_timeout = self.timeouts.acse
        ae.dimse_timeout = self.timeouts.dimse
        ae.network_timeout = self.timeouts.network
        for context in AllStoragePresentationContexts:
            ae.add_supported_context(str(context.abstract_syntax), ALL_TRANSFER_SYNTAXES)
        handlers: list[Any] = [
            (evt.EVT_C_STORE, self._on_c_store),
            (evt.EVT_CONN_OPEN, _on_conn_open),
        ]
        self._server = ae.start_server(
            (self.local.bind_address, self.local.port), block=False, evt_handlers=handlers
        )
        self._ae = ae
        LOGGER.info(
            "Storage SCP %s listening on %s:%d, writing to %s",
            self.local.ae_title,
            self.local.bind_address,
            self.local.port,
            self.storage,
        )
        return self

    def stop(self) -> None:
        """Stop listening and end the associations in progress."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self._ae is not None:
            self._ae.shutdown()
            self._ae = None

    def __enter__(self) -> StorageSCP:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- C-STORE ---------------------------------------------------------------

    def _on_c_store(self, event: evt.Event) -> int:
        """Write one received instance; answer 0x0000, or a failure status saying why."""
        try:
            ds = event.dataset
            uids = [str(ds.get(keyword, "") or "") for keyword in _UID_KEYWORDS]
        except Exception as exc:  # a data set pydicom cannot decode
            return self._refuse(STATUS_CANNOT_UNDERSTAND, f"undecodable data set ({exc})")
        bad = [kw for kw, uid in zip(_UID_KEYWORDS, uids, strict=True) if not is_valid_uid(uid)]
        if bad:
            return self._refuse(STATUS_CANNOT_UNDERSTAND, f"invalid or missing {', '.join(bad)}")
        study_uid, series_uid, sop_uid = uids
        target = self.storage / study_uid / series_uid / f"{sop_uid}.dcm"
        try:
            self._write_atomically(event, target)
        except OSError as exc:
            return self._refuse(STATUS_OUT_OF_RESOURCES, f"cannot write {target} ({exc.strerror})")
        with self._lock:
            self._stored[study_uid] += 1
        return 0x0000

    def _write_atomically(self, event: evt.Event, target: Path) -> None:
        """Write the file under .incoming, then rename it into place (same file system)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(suffix=".part", dir=self.storage / INCOMING_FOLDER)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(b"\x00" * 128 + b"DICM")
                meta = DicomBytesIO()
                write_file_meta_info(meta, event.file_meta, enforce_standard=True)
                out.write(meta.getvalue())
                out.write(_encoded_data_set(event))
            os.replace(partial, target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise

    def _refuse(self, status: int, reason: str) -> int:
        with self._lock:
            self._refused += 1
        LOGGER.warning("C-STORE refused with status 0x%04X: %s", status, reason)
        return status


def _on_conn_open(event: evt.Event) -> None:
    set_nodelay(event.assoc)


def _encoded_data_set(event: evt.Event) -> bytes:
    """The C-STORE's data set as received (already encoded in the accepted transfer syntax)."""
    request = event.request
    data = getattr(request, "DataSet", None)
    if not isinstance(data, BytesIO):
        raise OSError(errno.EINVAL, "the C-STORE request carries no data set")
    return data.getvalue()
