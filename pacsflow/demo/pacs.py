"""A throwaway PACS on 127.0.0.1 for the demo, the benchmarks and the tests.

:class:`OrthancServer` runs Debian's ``orthanc`` with a configuration of its
own; :class:`QrscpServer` runs pynetdicom's bundled ``qrscp`` application
where Orthanc is not installed. Both listen on ports of their own, accept
C-FIND and C-MOVE from the given AEs only, and delete their files when stopped.
:func:`start_demo_pacs` starts whichever is available.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE

from pacsflow.demo.ports import free_port
from pacsflow.errors import PacsflowError
from pacsflow.net.association import keep_responses_for_requests
from pacsflow.net.echo import echo
from pacsflow.net.nodes import LocalAE, PacsNode

__all__ = [
    "ORTHANC",
    "ORTHANC_DICOMWEB_PLUGIN",
    "DemoPacs",
    "OrthancServer",
    "QrscpServer",
    "start_demo_pacs",
    "stop_process",
]

ORTHANC = "/usr/sbin/Orthanc"
_START_TIMEOUT_S = 30


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    """Terminate a server process (SIGTERM), killing it if it lingers past 20 s."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=20)


ORTHANC_DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
"""Debian's orthanc-dicomweb plugin."""


class OrthancServer:
    """Orthanc, UTF-8 answers, and the given AEs allowed to query/retrieve.

    Args:
        modalities: AE title -> (host, port) of the AEs allowed to C-FIND/C-MOVE
            (and the only valid C-MOVE destinations).
        limit_find_results: Orthanc's LimitFindResults (0: no cap); it caps
            QIDO-RS answers too.
        dicomweb: load the DICOMweb plugin (QIDO-RS, WADO-RS at :attr:`dicomweb_url`).
        users: user -> password: HTTP basic authentication on the REST API and
            DICOMweb (none when empty).
    """

    def __init__(
        self,
        modalities: dict[str, tuple[str, int]] | None = None,
        limit_find_results: int = 0,
        *,
        dicomweb: bool = False,
        users: dict[str, str] | None = None,
    ) -> None:
        if not Path(ORTHANC).is_file():
            raise RuntimeError(
                f"{ORTHANC} not found: install Debian's orthanc package (make system-deps does)"
            )
        if dicomweb and not Path(ORTHANC_DICOMWEB_PLUGIN).is_file():
            raise RuntimeError(
                f"{ORTHANC_DICOMWEB_PLUGIN} not found: install Debian's orthanc-dicomweb "
                "package (make system-deps does)"
            )
        self.users = dict(users or {})
        self.ae_title = "ORTHANC"
        self.dicom_port = free_port()
        self.http_port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="pacsflow-orthanc-"))
        self.config = {
            "Name": "PACSFLOW-TEST",
            "StorageDirectory": str(self.folder / "storage"),
            "IndexDirectory": str(self.folder / "index"),
            "Plugins": [ORTHANC_DICOMWEB_PLUGIN] if dicomweb else [],
            "DicomWeb": {"Enable": dicomweb, "Root": "/dicom-web/", "EnableWado": False},
            "LuaScripts": [],
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": bool(self.users),
            "RegisteredUsers": self.users,
            "DicomAet": self.ae_title,
            "DicomPort": self.dicom_port,
            "DicomCheckCalledAet": True,
            "StrictAetComparison": True,
            "DefaultEncoding": "Utf8",
            "DicomAlwaysAllowEcho": True,
            "DicomAlwaysAllowStore": True,
            "DicomAlwaysAllowFind": False,
            "DicomAlwaysAllowMove": False,
            "DicomModalities": {
                aet: [aet, host, port] for aet, (host, port) in (modalities or {}).items()
            },
            "LimitFindResults": limit_find_results,
            "SynchronousCMove": True,
            "TcpNoDelay": True,
        }
        self._process: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None

    @property
    def base_url(self) -> str:
        """The REST API's URL."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        """The DICOMweb base URL (with ``dicomweb=True``)."""
        return f"{self.base_url}/dicom-web"

    def _auth_headers(self) -> dict[str, str]:
        if not self.users:
            return {}
        user, password = next(iter(self.users.items()))
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        return {"Authorization": f"Basic {token}"}

    def start(self) -> OrthancServer:
        """Write the configuration, start Orthanc, wait until its REST API answers."""
        config_path = self.folder / "orthanc.json"
        config_path.write_text(json.dumps(self.config, indent=2))
        env = {**os.environ, "TCP_NODELAY": "1"}  # DCMTK inside Orthanc: no Nagle delays
        self._log = (self.folder / "orthanc.log").open("wb")
        self._process = subprocess.Popen(
            [ORTHANC, "--no-jobs", str(config_path)],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            env=env,
        )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            try:
                probe = urllib.request.Request(  # noqa: S310 - loopback URL built here
                    f"{self.base_url}/system", headers=self._auth_headers()
                )
                with urllib.request.urlopen(probe, timeout=2):  # noqa: S310
                    return self
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    log = (self.folder / "orthanc.log").read_text(errors="replace")[-2000:]
                    self.stop()
                    raise RuntimeError(f"Orthanc did not start: {log}") from None
                time.sleep(0.2)

    def upload(self, dicom: bytes) -> None:
        """Store one DICOM file in Orthanc through its REST API."""
        request = urllib.request.Request(  # noqa: S310 - loopback URL built here
            f"{self.base_url}/instances",
            data=dicom,
            method="POST",
            headers={"Content-Type": "application/dicom", **self._auth_headers()},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            if response.status != 200:
                raise RuntimeError(f"Orthanc refused an instance: HTTP {response.status}")

    def upload_many(self, files: Sequence[bytes]) -> None:
        """Store DICOM files in Orthanc through its REST API."""
        for dicom in files:
            self.upload(dicom)

    def kill(self) -> None:
        """Kill Orthanc at once (SIGKILL), as a crash would; :meth:`stop` still cleans up."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=20)

    def stop(self) -> None:
        """Stop Orthanc and delete its files."""
        stop_process(self._process)
        if self._log is not None:
            self._log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


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
        with (self.folder / "qrscp.log").open("wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "pynetdicom", "qrscp", "-q", "-c", str(config_path)],
                stdout=subprocess.DEVNULL,
                stderr=log,
                cwd=self.folder,
            )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.dicom_port), timeout=1):
                    pass
                echo(LocalAE("PACSFLOW"), PacsNode(self.ae_title, "127.0.0.1", self.dicom_port))
                return self
            except (OSError, PacsflowError):
                if self._process.poll() is not None or time.monotonic() > deadline:
                    tail = (self.folder / "qrscp.log").read_text(errors="replace")[-2000:]
                    self.stop()
                    raise RuntimeError(f"qrscp did not start: {tail}") from None
                time.sleep(0.3)

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


DemoPacs = OrthancServer | QrscpServer


def start_demo_pacs(modalities: dict[str, tuple[str, int]]) -> DemoPacs:
    """Start Orthanc if it is installed, else pynetdicom's qrscp; the running server."""
    if Path(ORTHANC).is_file():
        return OrthancServer(modalities).start()
    return QrscpServer(modalities).start()
