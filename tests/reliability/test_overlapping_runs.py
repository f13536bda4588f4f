"""Case 4: overlapping work at once on PostgreSQL, the multi-worker database.

Two ingests of overlapping folders, and two pipelines over overlapping date
ranges on one worker (one AE title, one port, one storage folder: they share
one receiver), run as separate processes at the same time. Exact counts, no
error, and no study moved twice: the claims let one run move a study and make
the other skip it.

The pipelines are made to overlap for certain, whatever the machine's load:
the studies are found first, and the test holds their rows locked (``FOR
UPDATE``) until both runs have found and picked them and wait on their first
claim. Only then are both released, each with the same studies to move.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pacsflow.demo.synthetic import make_study, write_dataset, write_synthetic_folder
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.peers.ports import free_port
from tests.helpers import found_studies, table_counts
from tests.reliability.processes import finish, run_cli_to_end, start_cli
from tests.reliability.snapshot import orphans, snapshot

pytestmark = pytest.mark.integration

RECEIVER_PORT = free_port()
DAYS = ("20240901", "20240902", "20240903", "20240904")
STUDIES_PER_DAY, SERIES, IMAGES = 3, 2, 40


def test_two_ingests_of_overlapping_folders_at_once(
    new_db_url: Callable[[str], str], cli_env: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "corpus"
    write_synthetic_folder(root / "a", n_studies=20, series_per_study=2, images_per_series=10)
    write_synthetic_folder(root / "b", n_studies=20, series_per_study=2, images_per_series=10)
    clean, shared = new_db_url("postgresql"), new_db_url("postgresql")

    def args(url: str, folder: Path) -> list[str]:
        return [
            "--db",
            url,
            "ingest",
            str(folder),
            "--institution",
            "X",
            "--batch-size",
            "50",
            "--workers",
            "1",
            "--no-progress",
        ]

    run_cli_to_end(args(clean, root), cli_env, tmp_path, tmp_path / "clean.log")
    logs = [tmp_path / f"{i}.log" for i in range(2)]
    both = [
        start_cli(args(shared, folder), cli_env, tmp_path, log)
        for folder, log in zip((root, root / "b"), logs, strict=True)
    ]
    for process, log in zip(both, logs, strict=True):
        finish(process, log)
    assert table_counts(shared)["images"] == 800
    assert snapshot(shared) == snapshot(clean)
    assert orphans(shared) == dict.fromkeys(orphans(shared), 0)


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    server = OrthancServer(modalities={"PACSFLOW": ("127.0.0.1", RECEIVER_PORT)}).start()
    folder = tmp_path_factory.mktemp("overlap-studies")
    datasets = [
        ds
        for day in DAYS
        for _ in range(STUDIES_PER_DAY)
        for ds in make_study(n_series=SERIES, n_images=IMAGES, StudyDate=day)
    ]
    server.upload_many(
        [write_dataset(ds, folder / f"{ds.SOPInstanceUID}.dcm").read_bytes() for ds in datasets]
    )
    yield server
    server.stop()


@contextmanager
def _rows_locked(url: str) -> Iterator[Callable[[int], None]]:
    """Hold every ``studies_find`` row locked; yield a wait for N sessions blocked on them."""
    engine = create_engine(url)
    database = make_url(url).database
    blocked = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = :db AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    try:
        with engine.connect() as conn, conn.begin():
            conn.execute(text("SELECT id FROM studies_find FOR UPDATE"))

            def waiting(sessions: int) -> None:
                deadline = time.monotonic() + 300
                while True:
                    # pg_stat_activity is read once per transaction unless cleared.
                    conn.execute(text("SELECT pg_stat_clear_snapshot()"))
                    if conn.scalar(blocked, {"db": database}) >= sessions:
                        return
                    assert time.monotonic() < deadline, "the runs never reached their claims"
                    time.sleep(0.2)

            yield waiting
    finally:
        engine.dispose()


def test_two_pipelines_over_overlapping_ranges_move_each_study_once(
    orthanc: OrthancServer,
    new_db_url: Callable[[str], str],
    cli_env: dict[str, str],
    tmp_path: Path,
) -> None:
    url = new_db_url("postgresql")
    ranges = {"A": ("2024-09-01", "2024-09-03"), "B": ("2024-09-01", "2024-09-04")}
    storage = tmp_path / "storage"
    env = {
        **cli_env,
        "PACSFLOW_PACS_AET": orthanc.ae_title,
        "PACSFLOW_PACS_HOST": "127.0.0.1",
        "PACSFLOW_PACS_PORT": str(orthanc.dicom_port),
        "PACSFLOW_LOCAL_AET": "PACSFLOW",
        "PACSFLOW_LOCAL_PORT": str(RECEIVER_PORT),
        "PACSFLOW_STORAGE": str(storage),
    }
    find = ["--db", url, "find", "2024-09-01", "2024-09-04"]
    run_cli_to_end(find, env, tmp_path, tmp_path / "find.log")
    runs = []
    with _rows_locked(url) as waiting:
        for run, (first, last) in ranges.items():
            log = tmp_path / f"{run}.log"
            args = ["--db", url, "run", first, last, "--json", "--no-progress"]
            runs.append((start_cli(args, env, tmp_path, log), log))
        waiting(len(runs))
    results = [json.loads(finish(*run).splitlines()[-1]) for run in runs]

    n_studies = len(DAYS) * STUDIES_PER_DAY
    per_study = SERIES * IMAGES
    assert sum(r["studies_complete"] for r in results) == n_studies
    assert (results[0]["studies_picked"], results[1]["studies_picked"]) == (9, n_studies)
    # Each study of days 1-3 was picked by both runs and moved by one: the other skipped it.
    assert sum(r["studies_skipped"] for r in results) == 9
    assert sum(r["studies_partial"] + r["studies_failed"] for r in results) == 0
    assert sum(r["instances_moved"] for r in results) == n_studies * per_study, "moved once"
    assert table_counts(url) == {
        "studies_find": n_studies,
        "patients": 1,
        "studies": n_studies,
        "series": n_studies * SERIES,
        "images": n_studies * per_study,
        "ingest_errors": 0,
    }
    rows = found_studies(url).values()
    assert {(r.attempts, r.retrieved_on is not None, r.claimed_by) for r in rows} == {
        (1, True, None)
    }
    assert len(list(storage.glob("*/*/*.dcm"))) == n_studies * per_study
    # Both runs waited on their claims with the receiver up: one served them both.
    receiver_log = (storage / ".receiver" / "receiver.log").read_text()
    assert receiver_log.count("Receiver PACSFLOW listening") == 1, receiver_log
