"""Shared fixtures: every database test runs on SQLite and on a real PostgreSQL server.

The PostgreSQL server is started once per test session on 127.0.0.1 with a
port of its own (or taken from ``PACSFLOW_TEST_PG_ADMIN_URL``) and stopped at
the end. Each test gets a fresh database cloned from a migrated template.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Short waits between retries of transient failures (the default is 2, 10, 30 s);
# read when tasks/retry.py is imported, so set before anything imports it.
os.environ.setdefault("PACSFLOW_RETRY_DELAYS", "0.2,0.2")
# Receivers started on demand by a test's runs leave soon after them.
os.environ.setdefault("PACSFLOW_RECEIVER_IDLE_EXIT", "2")

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

import flows  # noqa: F401 - applies pacsflow's Prefect defaults before Prefect loads
from pacsflow.database.engine import make_engine
from pacsflow.database.schema import initialize_database
from pacsflow.demo.synthetic import make_study, write_dataset
from pacsflow.net.receiver_lease import stop_receiver
from pacsflow.peers.pacsflow_cli import run_pacsflow
from pacsflow.peers.postgres import PostgresServer

# A shell starts a background job (``make test &``, nohup, CI runners without job
# control) with SIGINT ignored, and every child inherits that: the tests that press
# Ctrl-C on a pacsflow process would then see it ignored. A handler, unlike an
# ignored signal, is reset to the default in each child at exec, so the suite's
# processes get Ctrl-C as a foreground command does, however pytest was started.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

DIALECTS = ["sqlite", "postgresql"]
_PG_TEMPLATE = "pacsflow_template"

RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(autouse=True)
def _stop_receivers(tmp_path: Path) -> Iterator[None]:
    """Stop the receivers a test's runs started, so the next test may use the port at once."""
    yield
    for status in tmp_path.glob("**/.receiver/status.json"):
        stop_receiver(status.parent.parent)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that runs on PostgreSQL as an integration test."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "postgresql" in callspec.params.values():
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """URL of the maintenance database of a PostgreSQL server only the tests use."""
    configured = os.environ.get("PACSFLOW_TEST_PG_ADMIN_URL")
    if configured:
        yield configured
        return
    server = PostgresServer(os.environ.get("PACSFLOW_PG_BIN")).start()
    try:
        yield server.admin_url
    finally:
        server.stop()


def _pg_execute(admin_url: str, *statements: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def pg_template(pg_admin_url: str) -> str:
    """Name of a migrated PostgreSQL database that test databases are cloned from."""
    _pg_execute(pg_admin_url, f"DROP DATABASE IF EXISTS {_PG_TEMPLATE}")
    template_url = make_url(pg_admin_url).set(database=_PG_TEMPLATE)
    initialize_database(template_url)
    return _PG_TEMPLATE


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that test databases are copied from."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    initialize_database(f"sqlite:///{path}")
    return path


def _new_pg_database(admin_url: str, template: str | None) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    clause = f" TEMPLATE {template}" if template else ""
    _pg_execute(admin_url, f"CREATE DATABASE {name}{clause}")
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def new_empty_pg_database(admin_url: str) -> str:
    """A new, empty database on the tests' PostgreSQL server; its URL (psycopg2)."""
    return _new_pg_database(admin_url, None)


@pytest.fixture(params=DIALECTS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a database with no pacsflow schema (PostgreSQL: the database exists, empty)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite'}"
    admin_url: str = request.getfixturevalue("pg_admin_url")
    return new_empty_pg_database(admin_url)


@pytest.fixture
def new_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    """A factory of fresh, migrated pacsflow databases: ``new_db_url("sqlite" | "postgresql")``."""

    def make(dialect: str) -> str:
        if dialect == "sqlite":
            template: Path = request.getfixturevalue("sqlite_template")
            path = tmp_path / f"pacsflow-{uuid.uuid4().hex[:8]}.sqlite"
            shutil.copyfile(template, path)
            return f"sqlite:///{path}"
        admin_url: str = request.getfixturevalue("pg_admin_url")
        return _new_pg_database(admin_url, request.getfixturevalue("pg_template"))

    return make


@pytest.fixture(params=DIALECTS)
def db_url(request: pytest.FixtureRequest, new_db_url: Callable[[str], str]) -> str:
    """URL of a fresh, migrated pacsflow database on SQLite or PostgreSQL."""
    return new_db_url(request.param)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the fresh test database."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the fresh test database; the test decides when to commit."""
    with Session(engine, expire_on_commit=False) as sess:
        yield sess


@pytest.fixture(scope="module")
def study_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """One study of the test module, as files: 3 series of 4 images, StudyDate 2024-05-01."""
    folder = tmp_path_factory.mktemp("study")
    return [
        write_dataset(ds, folder / f"{i}.dcm")
        for i, ds in enumerate(make_study(n_series=3, n_images=4, StudyDate="20240501"))
    ]


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Path]:
    """The test's folder, whose unreadable folders are opened again afterwards for clean-up."""
    yield tmp_path
    for folder, dirs, _files in os.walk(tmp_path):
        for name in dirs:
            os.chmod(os.path.join(folder, name), 0o700)


@pytest.fixture(scope="session")
def prefect_api_url() -> Iterator[str]:
    """A temporary Prefect server for the whole session; its API URL.

    Flows called in the test process use it through the harness; CLI
    subprocesses get it as PREFECT_API_URL, so none starts a server of its own.
    """
    from prefect.client.orchestration import get_client
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        with get_client(sync_client=True) as client:
            url = str(client.api_url)
        yield url


@pytest.fixture
def cli_env(prefect_api_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a ``pacsflow`` process started by a test.

    It uses the session's Prefect server (so none starts a server of its own),
    a Prefect home in the test's folder, and no database URL from outside.
    """
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api_url,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
    }
    env.pop("PACSFLOW_DB_URL", None)
    return env


@pytest.fixture
def run_cli(cli_env: dict[str, str], tmp_path: Path) -> RunCli:
    """Run ``pacsflow ARGS`` in a fresh process against the session's Prefect server.

    Keyword arguments are added to the process's environment.
    """

    def run(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return run_pacsflow({**cli_env, **extra_env}, tmp_path, *args, timeout_s=300)

    return run
