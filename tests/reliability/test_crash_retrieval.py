"""Case 2: ``kill -9`` the pipeline in the middle of a C-MOVE, then run it again.

The re-run must retrieve the interrupted study completely (its claim, left by
the dead process, is taken over at once), must not move the studies completed
before the crash again, and must ingest no partial file: received files are
written under ``.incoming`` and renamed, and the partial files of the dead
run are deleted when the next storage SCP starts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pacsflow.demo.synthetic import make_study, write_dataset
from pacsflow.liveness import owner_tag
from pacsflow.net.storage_files import INCOMING_FOLDER
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.peers.ports import free_port
from tests.helpers import found_studies, table_counts
from tests.reliability.processes import kill_when, run_cli_to_end, start_cli

pytestmark = pytest.mark.integration

SCP_PORT = free_port()
BIG_SERIES, BIG_IMAGES = 2, 150  # the study the kill interrupts
SMALL = {"20240801": 2, "20240803": 1}  # studies of 2 series x 2 images per day


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OrthancServer, str]]:
    server = OrthancServer(modalities={"PACSFLOW": ("127.0.0.1", SCP_PORT)}).start()
    folder = tmp_path_factory.mktemp("crash-studies")
    files = []
    for day, count in SMALL.items():
        for _ in range(count):
            files += make_study(n_series=2, n_images=2, StudyDate=day)
    big = make_study(n_series=BIG_SERIES, n_images=BIG_IMAGES, StudyDate="20240802")
    files += big
    server.upload_many(
        [write_dataset(ds, folder / f"{ds.SOPInstanceUID}.dcm").read_bytes() for ds in files]
    )
    yield server, big[0].StudyInstanceUID
    server.stop()


def test_pipeline_killed_mid_move_resumes_on_rerun(
    orthanc: tuple[OrthancServer, str], cli_env: dict[str, str], tmp_path: Path
) -> None:
    server, big_uid = orthanc
    url = f"sqlite:///{tmp_path / 'crash.sqlite'}"
    storage = tmp_path / "storage"
    env = {
        **cli_env,
        "PACSFLOW_PACS_AET": server.ae_title,
        "PACSFLOW_PACS_HOST": "127.0.0.1",
        "PACSFLOW_PACS_PORT": str(server.dicom_port),
        "PACSFLOW_LOCAL_PORT": str(SCP_PORT),
        "PACSFLOW_STORAGE": str(storage),
    }
    args = ["--db", url, "run", "2024-08-01", "2024-08-03", "--json", "--no-progress"]
    log = tmp_path / "cli.log"
    process = start_cli(args, env, tmp_path, log)
    big_folder = storage / big_uid
    kill_when(process, lambda: big_folder.is_dir() and sum(1 for _ in big_folder.rglob("*")) > 60)

    big_total = BIG_SERIES * BIG_IMAGES
    received = len(list(big_folder.rglob("*.dcm")))
    assert 0 < received < big_total, "the kill did not land in the middle of the C-MOVE"
    before = found_studies(url)
    first_day = [uid for uid, row in before.items() if row.study_date.day == 1]  # type: ignore[union-attr]
    assert len(first_day) == 2
    # Transfers run one at a time, oldest first: day 1 arrived whole before the big
    # study started. Its ingest runs beside the next transfer, so the kill may have
    # come before or after it was recorded; either way its files are kept.
    for uid in first_day:
        assert len(list((storage / uid).rglob("*.dcm"))) == 4
        assert before[uid].attempts == (1 if before[uid].retrieved_on else 0)
    not_ingested = [uid for uid in first_day if before[uid].retrieved_on is None]
    assert before[big_uid].retrieved_on is None
    assert before[big_uid].claimed_by is not None, "the dead run's claim is left behind"
    assert table_counts(url)["images"] == 4 * (2 - len(not_ingested)), "nothing of big yet"
    whole_series = sum(
        1 for series in big_folder.iterdir() if len(list(series.glob("*.dcm"))) == BIG_IMAGES
    )

    # A partial file of a dead receiver, and one of a live receiver sharing the folder.
    incoming = storage / INCOMING_FOLDER
    dead_part = incoming / f"{before[big_uid].claimed_by.rsplit(':', 1)[0]}:x.part"  # type: ignore[union-attr]
    dead_part.write_bytes(b"\0" * 128 + b"DICM half a file")
    live_part = incoming / f"{owner_tag()}:y.part"
    live_part.write_bytes(b"still being written")

    rerun = json.loads(run_cli_to_end(args, env, tmp_path, log).splitlines()[-1])
    picked = 2 + len(not_ingested)
    assert (rerun["studies_picked"], rerun["studies_complete"]) == (picked, picked)
    assert rerun["studies_skipped"] == 0
    # Only what is not on disk is moved: day 3, and the big study's unfinished series.
    assert rerun["instances_moved"] == 4 + BIG_IMAGES * (BIG_SERIES - whole_series)

    after = found_studies(url)
    assert all(row.retrieved_on is not None for row in after.values())
    assert {uid: row.attempts for uid, row in after.items()} == dict.fromkeys(after, 1)
    assert all(row.claimed_by is None for row in after.values())
    n_images = big_total + 4 * sum(SMALL.values())
    assert table_counts(url) == {
        "studies_find": 1 + sum(SMALL.values()),
        "patients": 1,
        "studies": 1 + sum(SMALL.values()),
        "series": BIG_SERIES + 2 * sum(SMALL.values()),
        "images": n_images,
        "ingest_errors": 0,
    }
    assert len(list(storage.glob("*/*/*.dcm"))) == n_images
    assert not dead_part.exists(), "the dead receiver's partial file is deleted"
    assert live_part.exists(), "a live receiver's partial file is left alone"
