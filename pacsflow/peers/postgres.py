"""A throwaway PostgreSQL server on 127.0.0.1, from Debian's binaries.

initdb refuses to run as root, so as root the cluster is created and run by
the ``postgres`` system user (the Debian package creates it) in a temporary
folder that user owns.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from pacsflow.peers.ports import free_port

_START_TIMEOUT_S = 60


def postgres_bin_dir(configured: str | None = None) -> Path:
    """The folder with initdb and pg_ctl: ``configured`` if given, else the newest Debian install.

    Args:
        configured: a folder the caller was given (the tests and benchmarks read
            ``PACSFLOW_PG_BIN``).
    """
    candidates = [configured] if configured else sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    for folder in reversed(candidates):
        if folder and (Path(folder) / "initdb").is_file():
            return Path(folder)
    raise RuntimeError(
        "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin; "
        "install Debian's postgresql package (make test does) or set PACSFLOW_PG_BIN"
    )


class PostgresServer:
    """One PostgreSQL cluster with trust authentication on 127.0.0.1:``port``.

    Args:
        bin_dir: the folder with initdb and pg_ctl, if the caller was given one
            (else the newest Debian install, see :func:`postgres_bin_dir`).
    """

    def __init__(self, bin_dir: str | None = None) -> None:
        self.bin_dir = postgres_bin_dir(bin_dir)
        self.port = free_port()
        self.user = "pacsflow"
        self.data_dir = Path(tempfile.mkdtemp(prefix="pacsflow-pg-"))
        self._as_root = os.geteuid() == 0

    @property
    def admin_url(self) -> str:
        """URL of the ``postgres`` maintenance database."""
        return self.url("postgres")

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/{database}"

    def _run(self, args: Sequence[str]) -> None:
        command = list(args)
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr.strip()}")

    def start(self) -> PostgresServer:
        """Create the cluster and start the server; wait until it accepts connections."""
        if self._as_root:
            shutil.chown(self.data_dir, user="postgres", group="postgres")
        pgdata = self.data_dir / "data"
        self._run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(pgdata),
                "-U",
                self.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ]
        )
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data_dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            [
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(pgdata),
                "-o",
                options,
                "-l",
                str(self.data_dir / "server.log"),
                "-w",
                "-t",
                str(_START_TIMEOUT_S),
                "start",
            ]
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        import psycopg2

        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            try:
                psycopg2.connect(
                    host="127.0.0.1", port=self.port, user=self.user, dbname="postgres"
                ).close()
                return
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        """Stop the server and delete its files."""
        try:
            self._run(
                [
                    str(self.bin_dir / "pg_ctl"),
                    "-D",
                    str(self.data_dir / "data"),
                    "-m",
                    "fast",
                    "stop",
                ]
            )
        finally:
            shutil.rmtree(self.data_dir, ignore_errors=True)
