"""The CLI's local Prefect server: started once, reused, shared by concurrent first calls,
replaced when stale, stopped when idle or asked. Each test has a Prefect home of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName
from prefect.settings import PREFECT_API_URL, temporary_settings

from pacsflow.liveness import process_alive
from pacsflow.peers.pacsflow_cli import run_pacsflow
from pacsflow.peers.ports import free_port
from tests.helpers import without_prefect_server

pytestmark = pytest.mark.integration


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A shell with no Prefect server configured; the local server is stopped afterwards."""
    environment = without_prefect_server(tmp_path)
    yield environment
    run_pacsflow(environment, tmp_path, "server", "stop")
    assert _keepers(tmp_path) == [], "a keeper outlived `pacsflow server stop`"


def _folder(tmp_path: Path) -> Path:
    return tmp_path / "prefect-home" / "pacsflow-server"


def _record(tmp_path: Path) -> dict[str, object]:
    record: dict[str, object] = json.loads((_folder(tmp_path) / "server.json").read_text())
    return record


def _keepers(tmp_path: Path) -> list[int]:
    """The live keeper processes of this test's server folder."""
    folder = str(_folder(tmp_path)).encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"flows.cli.server_keeper" in cmdline and folder in cmdline:
            found.append(int(proc.name))
    return found


def _init_db_runs(api_url: str) -> int:
    with (
        temporary_settings(updates={PREFECT_API_URL: api_url}),
        get_client(sync_client=True) as client,
    ):
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["init-db"])))
    return len(runs)


def test_later_commands_reuse_the_server_and_stop_ends_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    first = run_pacsflow(env, tmp_path, "--db", db, "init-db")
    assert first.returncode == 0, first.stderr
    record = _record(tmp_path)
    again = run_pacsflow(env, tmp_path, "--db", db, "init-db")
    assert again.returncode == 0, again.stderr
    assert _record(tmp_path) == record, "the second command started a server of its own"
    # The runs stay visible as flow runs on that server (and in its UI).
    assert _init_db_runs(str(record["url"])) == 2
    status = run_pacsflow(env, tmp_path, "server", "status")
    assert f"running on http://127.0.0.1:{record['port']}" in status.stdout
    stop = run_pacsflow(env, tmp_path, "server", "stop")
    assert "stopped the server" in stop.stdout
    assert not process_alive(int(str(record["pid"])))
    assert "no local server runs" in run_pacsflow(env, tmp_path, "server", "status").stdout


def test_concurrent_first_calls_share_one_server(env: dict[str, str], tmp_path: Path) -> None:
    commands = [
        [sys.executable, "-m", "flows.cli", "--db", f"sqlite:///{tmp_path / str(i)}", "init-db"]
        for i in range(2)
    ]
    calls = [
        subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        for command in commands
    ]
    for call in calls:
        _out, err = call.communicate(timeout=300)
        assert call.returncode == 0, err
    assert len(_keepers(tmp_path)) == 1
    assert _init_db_runs(str(_record(tmp_path)["url"])) == 2


def test_a_stale_record_is_replaced(env: dict[str, str], tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    port = free_port()
    folder = _folder(tmp_path)
    folder.mkdir(parents=True)
    stale = {"pid": gone.pid, "port": port, "url": f"http://127.0.0.1:{port}/api", "started": 0}
    (folder / "server.json").write_text(json.dumps(stale))
    done = run_pacsflow(env, tmp_path, "--db", f"sqlite:///{tmp_path / 'db.sqlite'}", "init-db")
    assert done.returncode == 0, done.stderr
    record = _record(tmp_path)
    assert record["pid"] != gone.pid
    assert process_alive(int(str(record["pid"])))


def test_the_server_stops_after_the_idle_time(env: dict[str, str], tmp_path: Path) -> None:
    env["PACSFLOW_SERVER_IDLE_SECONDS"] = "2"
    done = run_pacsflow(env, tmp_path, "--db", f"sqlite:///{tmp_path / 'db.sqlite'}", "init-db")
    assert done.returncode == 0, done.stderr
    keeper = int(str(_record(tmp_path)["pid"]))
    deadline = time.monotonic() + 90
    while process_alive(keeper) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not process_alive(keeper), "the idle server was not stopped"
    assert not (_folder(tmp_path) / "server.json").exists()
    assert _keepers(tmp_path) == []
