"""The wheel as a user installs it: no top-level ``flows`` or ``tasks``; it runs with no checkout.

The wheel is built from the repository and installed into a fresh virtual
environment (``--no-deps``: the project venv's site-packages lend it the
dependencies through a ``.pth`` line, which adds the folder without running
the project's editable ``.pth`` that points at the checkout). Every command
runs in a temporary folder with a bare environment, so the repository is out
of reach: the ``pacsflow`` command, its local Prefect server, ``prefect
deploy`` of the shipped deployments/prefect.yaml and a process worker all use
the installed files only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings

from pacsflow.demo.synthetic import make_study, write_dataset
from pacsflow.peers.processes import stop_process
from tests.helpers import table_counts

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
APP_PACKAGES = ("flows", "tasks")


@dataclass(frozen=True)
class Installed:
    """The fresh venv with the wheel installed, and the bare environment its commands get."""

    venv: Path
    env: dict[str, str]
    work: Path

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def pacsflow(self, *args: str) -> str:
        """``pacsflow ARGS`` (the venv's console script) outside the checkout; its output."""
        return self.run(str(self.venv / "bin" / "pacsflow"), *args)

    def run(self, *command: str, cwd: Path | None = None, **extra_env: str) -> str:
        """Run COMMAND in the bare environment (plus EXTRA_ENV), outside the checkout."""
        done = subprocess.run(
            command,
            cwd=cwd or self.work,
            env={**self.env, **extra_env},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"{command}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
        return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(folder), str(REPO)],
        check=True,
    )  # fmt: skip
    (built,) = folder.glob("pacsflow-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("installed")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    purelib = subprocess.run(
        [str(venv / "bin" / "python"), "-c", where], check=True, capture_output=True, text=True
    ).stdout.strip()
    (Path(purelib) / "_pacsflow_test_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--no-deps", "--no-index", "-q", str(wheel)],
        check=True,
    )  # fmt: skip
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(work),
        "PREFECT_HOME": str(work / "prefect-home"),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    return Installed(venv=venv, env=env, work=work)


def test_the_wheel_ships_flows_and_tasks_under_pacsflow_unchanged(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        top_level = {name.split("/", 1)[0] for name in names}
        assert top_level == {"pacsflow", "pacsflow-0.1.0.dist-info"}, top_level
        for package in APP_PACKAGES:
            sources = sorted((REPO / package).rglob("*.py"))
            assert sources
            for source in sources:
                shipped = f"pacsflow/_app/{source.relative_to(REPO).as_posix()}"
                assert archive.read(shipped) == source.read_bytes(), shipped
        assert (
            archive.read("pacsflow/_app/deployments/prefect.yaml")
            == (REPO / "deployments" / "prefect.yaml").read_bytes()
        )
        entry_points = archive.read("pacsflow-0.1.0.dist-info/entry_points.txt").decode()
    assert "pacsflow = pacsflow.launcher:main" in entry_points


def test_the_installed_wheel_runs_the_cli_and_a_deployment_on_a_worker(
    installed: Installed,
) -> None:
    # The checkout is out of reach, and the top-level names stay free for other projects.
    probe = installed.run(
        installed.python,
        "-c",
        "import importlib.util, json, sys\n"
        "print([importlib.util.find_spec(n) for n in ('flows', 'tasks')])\n"
        "print(json.dumps(sys.path))\n"
        "import pacsflow.launcher as launcher\n"
        "print(launcher.app_directory())\n",
    )
    specs, path, app = probe.splitlines()
    assert specs == "[None, None]"
    assert REPO not in [Path(entry).resolve() for entry in json.loads(path) if entry]
    app_dir = Path(app)
    assert app_dir.is_relative_to(installed.venv.resolve())
    assert (app_dir / "flows" / "pipeline.py").is_file()

    assert "init-db" in installed.pacsflow("--help")
    studies = installed.work / "studies"
    studies.mkdir()
    for ds in make_study(n_images=2):
        write_dataset(ds, studies / f"{ds.SOPInstanceUID}.dcm")
    cli_db = f"sqlite:///{installed.work / 'cli.sqlite'}"
    try:
        # No PREFECT_API_URL: the command starts its local server (a keeper process).
        installed.pacsflow("--db", cli_db, "init-db")
        assert "2 images added" in installed.pacsflow("--db", cli_db, "ingest", str(studies))
        assert table_counts(cli_db)["images"] == 2
        record = json.loads(
            (installed.work / "prefect-home" / "pacsflow-server" / "server.json").read_text()
        )
        _deploy_and_run_on_a_worker(installed, str(record["url"]), app_dir, studies)
    finally:  # stops the local server, if it started; a failure above stays the one reported
        subprocess.run(
            [str(installed.venv / "bin" / "pacsflow"), "server", "stop"],
            env=installed.env, capture_output=True, timeout=120, check=False,
        )  # fmt: skip


def _deploy_and_run_on_a_worker(
    installed: Installed, api_url: str, app_dir: Path, studies: Path
) -> None:
    python = installed.python
    installed.run(python, "-m", "prefect", "work-pool", "create", "pacsflow", "--type", "process",
                  PREFECT_API_URL=api_url)  # fmt: skip
    # Every deployment of the shipped file loads its flow from the installed package.
    installed.run(python, "-m", "prefect", "--no-prompt", "deploy", "--all", "--prefect-file",
                  "deployments/prefect.yaml", cwd=app_dir, PREFECT_API_URL=api_url)  # fmt: skip
    worker_db = f"sqlite:///{installed.work / 'worker.sqlite'}"
    env = {**installed.env, "PREFECT_API_URL": api_url, "PACSFLOW_DB_URL": worker_db}
    log = installed.work / "worker.log"
    with _worker(python, env, installed.work, log):
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            run = cast(
                FlowRun,
                run_deployment("ingest-dir/folder", parameters={"src": str(studies)}, timeout=300),
            )
        assert run.state is not None
        assert run.state.is_completed(), log.read_text()[-3000:]
    assert "Executing deployment step: app_working_directory" in log.read_text()
    assert table_counts(worker_db)["images"] == 2


@contextmanager
def _worker(python: str, env: dict[str, str], cwd: Path, log: Path) -> Iterator[None]:
    """``prefect worker start --pool pacsflow`` from the venv, stopped on exit."""
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [python, "-m", "prefect", "worker", "start", "--pool", "pacsflow", "--name", "wheel"],
            cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        yield
    finally:
        stop_process(worker, timeout_s=30)
