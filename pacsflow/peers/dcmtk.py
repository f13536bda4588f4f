"""DCMTK peers (Debian's ``dcmtk``): ``dcmqrscp`` as a second PACS, ``storescu`` as a sender.

Every tool runs with ``TCP_NODELAY=1``: Debian's DCMTK leaves Nagle on otherwise.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pacsflow.peers.ports import free_port
from pacsflow.peers.processes import no_nagle_env, start_process, stop_process

__all__ = ["DcmqrscpServer", "require", "storescu"]


def require(tool: str) -> str:
    """The path of a DCMTK tool on ``PATH``, or an error saying how to install it.

    The virtual environment's folder is skipped: pynetdicom installs its own
    ``storescu``, ``movescu`` and ``storescp`` there, with other options.
    """
    venv = Path(sys.prefix).resolve()
    folders = [
        folder
        for folder in os.environ.get("PATH", os.defpath).split(os.pathsep)
        if folder and not Path(folder).resolve().is_relative_to(venv)
    ]
    path = shutil.which(tool, path=os.pathsep.join(folders))
    if path is None:
        raise RuntimeError(f"{tool} not found: install Debian's dcmtk package (make test does)")
    return path


def storescu(
    files: Sequence[Path],
    port: int,
    *,
    calling: str,
    called: str,
    host: str = "127.0.0.1",
    options: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """Send ``files`` with DCMTK's storescu (and its ``options``, e.g. the transfer syntaxes
    it proposes); the completed process (check its return code)."""
    return subprocess.run(
        [require("storescu"), *options, "-aet", calling, "-aec", called, host, str(port)]
        + [str(file) for file in files],
        capture_output=True,
        text=True,
        env=no_nagle_env(),
        timeout=120,
        check=False,
    )


class DcmqrscpServer:
    """DCMTK's dcmqrscp as a PACS on 127.0.0.1, with its own port and storage area.

    Args:
        destinations: AE title -> (host, port) of the valid C-MOVE destinations.
    """

    def __init__(self, destinations: dict[str, tuple[str, int]]) -> None:
        self.ae_title = "DCMQR"
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="pacsflow-dcmqrscp-"))
        (self.folder / "storage").mkdir()
        hosts = [
            f"peer{i} = ({aet}, {host}, {port})"
            for i, (aet, (host, port)) in enumerate(sorted(destinations.items()))
        ]
        names = ", ".join(f"peer{i}" for i in range(len(hosts))) or "none"
        # No comment may end a line: dcmqrscp reads "#" as a symbolic name.
        self.config = "\n".join(
            [
                f"NetworkTCPPort = {self.port}",
                "MaxPDUSize = 65536",
                "MaxAssociations = 16",
                "HostTable BEGIN",
                *hosts,
                f"destinations = {names}",
                "HostTable END",
                "VendorTable BEGIN",
                '"Destinations" = destinations',
                "VendorTable END",
                "AETable BEGIN",
                f"{self.ae_title} {self.folder / 'storage'} RW (500, 1024mb) ANY",
                "AETable END",
                "",
            ]
        )
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> DcmqrscpServer:
        """Write the configuration, start dcmqrscp (fork mode), wait until it listens."""
        config_path = self.folder / "dcmqrscp.cfg"
        config_path.write_text(self.config)
        try:
            self._process = start_process(
                [require("dcmqrscp"), "-c", str(config_path)],
                name="dcmqrscp",
                log=self.folder / "dcmqrscp.log",
                ready=self._listens,
                env=no_nagle_env(),
                cwd=self.folder,
                poll_s=0.1,
            )
        except RuntimeError:
            self.stop()
            raise
        return self

    def _listens(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            pass

    def load(self, files: Sequence[Path]) -> None:
        """Store ``files`` in the archive with storescu."""
        done = storescu(files, self.port, calling="STORESCU", called=self.ae_title)
        if done.returncode != 0:
            raise RuntimeError(f"storescu into dcmqrscp failed: {done.stderr[-2000:]}")

    def stop(self) -> None:
        """Stop dcmqrscp (and its forked children) and delete its files."""
        stop_process(self._process)
        shutil.rmtree(self.folder, ignore_errors=True)
