"""The process pool of the CPU-bound tasks: started once, Prefect-free, robust to lost workers."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pacsflow.database.engine import make_engine
from pacsflow.database.models import Image
from pacsflow.demo.synthetic import write_synthetic_folder
from pacsflow.ingest.folders import iter_dicom_candidates
from pacsflow.pool_worker import worker_facts
from tasks.credentials import connect_url
from tasks.database import init_db_task
from tasks.retry import TRANSIENT_RETRIES
from tasks.worker_pool import WorkerLostError, in_pool
from tests.integration import pool_helpers

REPO = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (read from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _wait_gone(pids: set[int], timeout_s: float = 60.0) -> set[int]:
    """The processes of ``pids`` still alive once they all ended or ``timeout_s`` passed."""
    deadline = time.monotonic() + timeout_s
    while (left := {p for p in pids if _alive(p)}) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


_scripts: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_script_outlives_its_test() -> Iterator[None]:
    """Kill and reap what a failed test's scripts left running: never another test's problem."""
    yield
    while _scripts:
        process = _scripts.pop()
        below = _descendants(process.pid) if process.poll() is None else set()
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
        for pid in below:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _script(body: str) -> subprocess.Popen[str]:
    """A Python process whose main script imports Prefect (as the CLI does), then runs ``body``.

    The test's teardown kills it (and its workers) if it still runs.
    """
    code = "import prefect, sys, time\n" + textwrap.dedent(body)
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"pool_script_{os.getpid()}_{time.time_ns()}.py"
    path.write_text(code)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, str(path)], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO
    )
    _scripts.append(process)
    return process


def _finish(process: subprocess.Popen[str]) -> int:
    """Wait for ``process`` to end (at most a minute); its exit code."""
    code = process.wait(60)
    if process.stdout is not None:
        process.stdout.close()
    return code


def _line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, f"the script ended early (code {process.wait()})"
    return line.strip()


def test_workers_never_load_prefect_are_reused_and_end_with_the_process() -> None:
    process = _script("""
        from tasks.worker_pool import in_pool
        from pacsflow.pool_worker import worker_facts
        first = [in_pool(2, worker_facts) for _ in range(4)]
        again = [in_pool(2, worker_facts) for _ in range(4)]
        print(repr(first + again), flush=True)
        print("done", flush=True)
        time.sleep(0.5)
    """)
    facts = eval(_line(process))  # noqa: S307 - our own script's repr of dicts
    assert {(f["prefect"], f["flows"], f["tasks"]) for f in facts} == {(False, False, False)}
    pids = {f["pid"] for f in facts}
    assert 1 <= len(pids) <= 2  # one pool of two, reused by the later calls
    assert _line(process) == "done"
    below = _descendants(process.pid)
    assert pids <= below
    assert len(below) <= 4  # the workers, the fork server, the resource tracker
    assert _finish(process) == 0
    assert _wait_gone(below) == set()


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_no_worker_outlives_an_interrupted_or_killed_process(how: signal.Signals) -> None:
    process = _script("""
        from tasks.worker_pool import in_pool, pool_for_run
        from pacsflow.pool_worker import worker_facts
        with pool_for_run(2):
            print(in_pool(2, worker_facts)["pid"], flush=True)
            in_pool(2, time.sleep, 600)  # a batch that would hold the exit for 10 minutes
    """)
    worker = int(_line(process))
    deadline = time.monotonic() + 60
    while len(below := _descendants(process.pid)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)  # until the second worker, running the sleep, is there
    assert worker in below
    process.send_signal(how)
    _finish(process)  # far sooner than the sleep: the interrupted run ended its workers
    assert _wait_gone(below) == set()


def test_a_ctrl_c_the_kernel_gives_another_thread_still_ends_the_workers() -> None:
    """SIGINT handled by a thread other than the main one, as Linux may choose under load.

    Python runs the handler in the main thread only, when it next wakes: a main
    thread blocked on the batch's result for good would never see it.
    """
    process = _script("""
        from tasks.worker_pool import in_pool, pool_for_run
        from pacsflow.pool_worker import worker_facts
        with pool_for_run(2):
            print(in_pool(2, worker_facts)["pid"], flush=True)
            in_pool(2, time.sleep, 600)
    """)
    worker = int(_line(process))
    tasks = Path(f"/proc/{process.pid}/task")
    others = [int(tid.name) for tid in tasks.iterdir() if int(tid.name) != process.pid]
    assert others  # the pool's own threads
    below = _descendants(process.pid)
    assert worker in below
    os.kill(others[0], signal.SIGINT)  # a thread's id: Linux gives that thread the signal
    _finish(process)
    assert _wait_gone(below) == set()


@task(name="flaky-batch", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def _flaky_batch(db_url: str, paths: list[str], marker: str) -> int:
    url = connect_url(db_url)
    return in_pool(2, pool_helpers.ingest_then_die_once, url, paths, marker).images_added


@flow(name="flaky-pool")
def _flaky_flow(db_url: str, paths: list[str], marker: str) -> int:
    init_db_task(db_url)
    return _flaky_batch(db_url, paths, marker)


@pytest.mark.usefixtures("prefect_api_url")
def test_a_worker_killed_mid_batch_fails_retryably_and_the_retry_loses_nothing(
    db_url: str, tmp_path: Path
) -> None:
    write_synthetic_folder(tmp_path / "src", n_studies=2, series_per_study=2, images_per_series=5)
    paths = sorted(str(p) for p in iter_dicom_candidates(tmp_path / "src"))
    marker = tmp_path / "killed"

    added = _flaky_flow(db_url, paths, str(marker))

    killed = int(marker.read_text())
    assert not _alive(killed)
    assert added == len(paths) - len(paths) // 2  # the first half was in before the kill
    engine = make_engine(db_url)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Image)) == len(paths)
    engine.dispose()
    assert in_pool(2, worker_facts)["pid"] != killed  # a new pool serves later calls


def test_a_lost_worker_is_a_retryable_error_and_the_next_call_gets_a_new_pool(
    tmp_path: Path,
) -> None:
    before = in_pool(2, worker_facts)["pid"]
    with pytest.raises(WorkerLostError, match="worker process ended"):
        in_pool(2, os.kill, before, signal.SIGKILL)  # a worker kills a worker of its pool
    assert in_pool(2, worker_facts)["pid"] != before


def test_worker_logs_come_back_to_the_caller_and_odd_errors_keep_their_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="pacsflow"):
        pid = in_pool(2, pool_helpers.warn, "hello")
    assert pid != os.getpid()
    assert "from the worker: hello" in caplog.text
    with pytest.raises(RuntimeError, match="UnpicklableError: one and two") as raised:
        in_pool(2, pool_helpers.raise_unpicklable)
    assert "in raise_unpicklable" in str(raised.value.__cause__)  # the worker's traceback
    assert in_pool(2, worker_facts)["prefect"] is False  # the pool survived the odd error
