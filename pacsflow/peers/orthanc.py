"""Debian's Orthanc as a throwaway PACS on 127.0.0.1, with a configuration of its own."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from pacsflow.peers.ports import free_port
from pacsflow.peers.processes import no_nagle_env, start_process, stop_process

__all__ = ["ORTHANC", "ORTHANC_DICOMWEB_PLUGIN", "OrthancServer"]

ORTHANC = "/usr/sbin/Orthanc"
"""Debian's orthanc."""

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
        try:
            self._process = start_process(
                [ORTHANC, "--no-jobs", str(config_path)],
                name="Orthanc",
                log=self.folder / "orthanc.log",
                ready=self._answers,
                env=no_nagle_env(),  # DCMTK inside Orthanc: no Nagle delays
            )
        except RuntimeError:
            self.stop()
            raise
        return self

    def _answers(self) -> None:
        probe = urllib.request.Request(  # noqa: S310 - loopback URL built here
            f"{self.base_url}/system", headers=self._auth_headers()
        )
        with urllib.request.urlopen(probe, timeout=2):  # noqa: S310
            pass

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
        shutil.rmtree(self.folder, ignore_errors=True)
