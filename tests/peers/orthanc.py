"""A throwaway Orthanc PACS on 127.0.0.1 (Debian's ``orthanc`` package), with its own ports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import BinaryIO

from tests.peers.ports import free_port

ORTHANC = "/usr/sbin/Orthanc"
_START_TIMEOUT_S = 30


class OrthancServer:
    """Orthanc with no plugins, UTF-8 answers, and the given AEs allowed to query/retrieve.

    Args:
        modalities: AE title -> (host, port) of the AEs allowed to C-FIND/C-MOVE
            (and the only valid C-MOVE destinations).
        limit_find_results: Orthanc's LimitFindResults (0: no cap).
    """

    def __init__(
        self, modalities: dict[str, tuple[str, int]] | None = None, limit_find_results: int = 0
    ) -> None:
        if not Path(ORTHANC).is_file():
            raise RuntimeError(
                f"{ORTHANC} not found: install Debian's orthanc package (make test does)"
            )
        self.ae_title = "ORTHANC"
        self.dicom_port = free_port()
        self.http_port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="pacsflow-orthanc-"))
        self.config = {
            "Name": "PACSFLOW-TEST",
            "StorageDirectory": str(self.folder / "storage"),
            "IndexDirectory": str(self.folder / "index"),
            "Plugins": [],
            "LuaScripts": [],
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
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
                with urllib.request.urlopen(f"{self.base_url}/system", timeout=2):  # noqa: S310
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
            headers={"Content-Type": "application/dicom"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            if response.status != 200:
                raise RuntimeError(f"Orthanc refused an instance: HTTP {response.status}")

    def stop(self) -> None:
        """Stop Orthanc and delete its files."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
        if self._log is not None:
            self._log.close()
        shutil.rmtree(self.folder, ignore_errors=True)
