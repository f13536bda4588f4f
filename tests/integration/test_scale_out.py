"""Scale-out: two workers on one pool, one PostgreSQL database, two pipeline runs at once.

Each worker has its own storage SCP (its own AE title and port, both known to
the PACS) and its own storage folder, as two worker machines would.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings

from pacsflow.demo.synthetic import make_study, write_dataset
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.peers.ports import free_port
from tests.conftest import _new_pg_database
from tests.helpers import found_studies, table_counts
from tests.peers.prefect_ops import run_ops

pytestmark = pytest.mark.integration

DAYS = ("20240801", "20240802")
STUDIES_PER_DAY, IMAGES = 3, 4
WORKERS = {"PACSFLOW1": free_port(), "PACSFLOW2": free_port()}


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    server = OrthancServer(
        modalities={aet: ("127.0.0.1", port) for aet, port in WORKERS.items()}
    ).start()
    folder = tmp_path_factory.mktemp("scale-out-studies")
    for day in DAYS:
        for _ in range(STUDIES_PER_DAY):
            for ds in make_study(n_images=IMAGES, StudyDate=day):
                path = write_dataset(ds, folder / f"{ds.SOPInstanceUID}.dcm")
                server.upload(path.read_bytes())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def two_workers(
    orthanc: OrthancServer, pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str, Path]]:
    """Server, pool, deployments and two workers; the API URL, the database URL, the folder."""
    work = tmp_path_factory.mktemp("scale-out")
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    db_url = _new_pg_database(pg_admin_url, None)
    base = {
        **os.environ,
        "PACSFLOW_PREFECT_PORT": str(port),
        "PACSFLOW_BIN": str(Path(sys.executable).parent),
        "PREFECT_HOME": str(work / "prefect-home"),
        "PREFECT_API_URL": api_url,
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PACSFLOW_WORKER_LIMIT": "1",
        "PACSFLOW_PACS_AET": orthanc.ae_title,
        "PACSFLOW_PACS_HOST": "127.0.0.1",
        "PACSFLOW_PACS_PORT": str(orthanc.dicom_port),
        "PACSFLOW_DB_URL": db_url,
    }
    envs = [
        {
            **base,
            "PACSFLOW_RUN_DIR": str(work / aet),
            "PACSFLOW_WORKER_PREFIX": aet.lower(),
            "PACSFLOW_LOCAL_AET": aet,
            "PACSFLOW_LOCAL_PORT": str(scp_port),
            "PACSFLOW_STORAGE": str(work / aet / "storage"),
        }
        for aet, scp_port in WORKERS.items()
    ]
    try:
        run_ops(envs[0], "server")
        run_ops(envs[0], "pool")
        run_ops(envs[0], "deploy")
        for env in envs:
            run_ops(env, "workers", "1")
        yield api_url, db_url, work
    finally:
        for env in reversed(envs):  # workers first; the first run folder holds the server
            run_ops(env, "stop")


def _wait(api_url: str, run_ids: list[UUID], timeout_s: float = 600) -> list[FlowRun]:
    deadline = time.monotonic() + timeout_s
    with (
        temporary_settings(updates={PREFECT_API_URL: api_url}),
        get_client(sync_client=True) as client,
    ):
        while True:
            runs = [client.read_flow_run(run_id) for run_id in run_ids]
            if all(r.state is not None and r.state.is_final() for r in runs):
                return runs
            assert time.monotonic() < deadline, [str(r.state) for r in runs]
            time.sleep(1)


def _iso(day: str) -> str:
    return f"{day[:4]}-{day[4:6]}-{day[6:]}"


def test_two_workers_run_two_pipelines_without_retrieving_a_study_twice(
    two_workers: tuple[str, str, Path],
) -> None:
    api_url, db_url, work = two_workers
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        started = [
            cast(
                FlowRun,
                run_deployment(
                    "pipeline/nightly",
                    # Disjoint ranges, each keeping to its own: no earlier retries.
                    parameters={
                        "dates": {"start_date": _iso(day)},
                        "selection": {"retry_earlier": False},
                    },
                    timeout=0,
                ),
            )
            for day in DAYS
        ]
    runs = _wait(api_url, [run.id for run in started])
    logs = "".join(p.read_text() for p in work.glob("*/worker-1.log"))
    assert all(r.state is not None and r.state.is_completed() for r in runs), logs[-3000:]

    n_studies = len(DAYS) * STUDIES_PER_DAY
    assert table_counts(db_url) == {
        "studies_find": n_studies,
        "patients": 1,
        "studies": n_studies,
        "series": n_studies,
        "images": n_studies * IMAGES,
        "ingest_errors": 0,
    }
    rows = list(found_studies(db_url).values())
    assert [r.attempts for r in rows] == [1] * n_studies  # each study moved once
    assert all(r.retrieved_on is not None for r in rows)
    received = {
        aet: sorted(p.name for p in (work / aet / "storage").rglob("*.dcm")) for aet in WORKERS
    }
    all_files = [name for names in received.values() for name in names]
    assert len(all_files) == len(set(all_files)) == n_studies * IMAGES  # no file twice
    print({aet: len(names) for aet, names in received.items()})
