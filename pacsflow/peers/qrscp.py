"""pynetdicom's bundled ``qrscp`` as a throwaway PACS, for machines without Orthanc."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path

from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE

from pacsflow.errors import PacsflowError
from pacsflow.net.association import keep_responses_for_requests
from pacsflow.net.echo import echo
from pacsflow.net.nodes import LocalAE, PacsNode
from pacsflow.peers.ports import free_port
from pacsflow.peers.processes import start_process, stop_process

__all__ = ["QrscpServer"]


class QrscpServer:
    """pynetdicom's bundled ``qrscp`` application, for machines without Orthanc.

    It answers C-ECHO, C-FIND and C-MOVE, and stores what it is sent by C-STORE;
    it does not return NumberOfStudyRelatedInstances (pacsflow then counts the
    instances by an image-level C-FIND).

    Args:
        modalities: AE title -> (host, port) of the valid C-MOVE destinations.
    """

    def __init__(self, modalities: dict[str, tuple[str, int]] | None = None) -> None:
        self.ae_title = "QRSCP"
        self.dicom_port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="pacsflow-qrscp-"))
        lines = [
            "[DEFAULT]",
            f"ae_title: {self.ae_title}",
            f"port: {self.dicom_port}",
            "max_pdu: 16382",
            "acse_timeout: 30",
            "dimse_timeout: 30",
            "network_timeout: 30",
            "bind_address: 127.0.0.1",
            f"instance_location: {self.folder / 'instances'}",
            f"database_location: {self.folder / 'instances.sqlite'}",
            # Identifiers hold patient names and IDs: never logged.
            "log_identifier: False",
        ]
        for aet, (host, port) in (modalities or {}).items():
            lines += [f"[{aet}]", f"address: {host}", f"port: {port}"]
        self.config = "\n".join(lines) + "\n"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> QrscpServer:
        """Start qrscp in a child process, wait until it answers a C-ECHO."""
        config_path = self.folder / "qrscp.ini"
        config_path.write_text(self.config)
        try:
            self._process = start_process(
                [sys.executable, "-m", "pynetdicom", "qrscp", "-q", "-c", str(config_path)],
                name="qrscp",
                log=self.folder / "qrscp.log",
                ready=self._answers,
                retry_on=(OSError, PacsflowError),
                cwd=self.folder,
                poll_s=0.3,
            )
        except RuntimeError:
            self.stop()
            raise
        return self

    def _answers(self) -> None:
        with socket.create_connection(("127.0.0.1", self.dicom_port), timeout=1):
            pass
        echo(LocalAE("PACSFLOW"), PacsNode(self.ae_title, "127.0.0.1", self.dicom_port))

    def upload(self, dicom: bytes) -> None:
        """Store one DICOM file in qrscp by C-STORE."""
        self.upload_many([dicom])

    def upload_many(self, files: Sequence[bytes]) -> None:
        """Store DICOM files in qrscp by C-STORE, on one association."""
        datasets = [dcmread(BytesIO(data)) for data in files]
        ae = AE(ae_title="PACSFLOW")
        for syntax in sorted({str(ds.SOPClassUID) for ds in datasets}):
            ae.add_requested_context(syntax, ExplicitVRLittleEndian)
        assoc = ae.associate("127.0.0.1", self.dicom_port, ae_title=self.ae_title)
        if not assoc.is_established:
            raise RuntimeError("qrscp refused the association to load studies")
        # C-STOREs in a row hit pynetdicom's reactor race as C-FINDs do: a response
        # taken by the association's own thread ("Received unexpected C-STORE
        # service message") left the demo waiting 30 s, then failing.
        keep_responses_for_requests(assoc)
        try:
            for ds in datasets:
                status = assoc.send_c_store(ds)
                if not status or int(status.Status) != 0:
                    raise RuntimeError(f"qrscp refused {ds.SOPInstanceUID}")
        finally:
            assoc.release()
            ae.shutdown()

    def stop(self) -> None:
        """Stop qrscp and delete its files."""
        stop_process(self._process)
        shutil.rmtree(self.folder, ignore_errors=True)
