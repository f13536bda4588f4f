"""Case 1: ``kill -9`` an ingest of thousands of files part-way, then run it again.

The interrupted database must be consistent at the moment of the kill (no
half-written batch: every batch is one transaction), and after the re-run it
must equal the database of a clean single run: same rows, no duplicates, no
orphans. A few bad files ride along, so failures are recorded once per file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pacsflow.demo.synthetic import write_synthetic_folder
from tests.helpers import table_counts
from tests.reliability.processes import kill_when, run_cli_to_end, start_cli
from tests.reliability.snapshot import orphans, snapshot

pytestmark = pytest.mark.integration

N_STUDIES, SERIES, IMAGES = 100, 2, 15  # 3,000 files
N_GOOD = N_STUDIES * SERIES * IMAGES
BATCH = 100
BAD_FILES = {
    "empty.dcm": b"",
    "text.dcm": b"not a DICOM file at all\n",
    "dicm-garbage.dcm": b"\0" * 128 + b"DICM" + b"\xff" * 300,
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crash-corpus")
    written = write_synthetic_folder(
        root, n_studies=N_STUDIES, series_per_study=SERIES, images_per_series=IMAGES
    )
    assert written == N_GOOD
    for name, data in BAD_FILES.items():
        (root / name).write_bytes(data)
    return root


def _ingest_args(corpus: Path, db_url: str) -> list[str]:
    return [
        "--db",
        db_url,
        "ingest",
        str(corpus),
        "--institution",
        "CRASH",
        "--batch-size",
        str(BATCH),
        "--workers",
        "2",
        "--no-progress",
        "--allow-failures",
    ]


_CLEAN: dict[str, dict[str, Any]] = {}  # the clean run's snapshot, per dialect


def _clean_snapshot(
    dialect: str, corpus: Path, new_db_url: Callable[[str], str], env: dict[str, str], cwd: Path
) -> dict[str, Any]:
    """The database of one uninterrupted ingest of the corpus (made once per dialect)."""
    if dialect not in _CLEAN:
        url = new_db_url(dialect)
        run_cli_to_end(_ingest_args(corpus, url), env, cwd, cwd / "clean.log")
        _CLEAN[dialect] = snapshot(url)
    return _CLEAN[dialect]


@pytest.mark.parametrize(
    ("dialect", "kill_at"),
    [
        ("sqlite", 1),
        ("sqlite", N_GOOD // 3),
        ("sqlite", 2 * N_GOOD // 3),
        ("postgresql", N_GOOD // 2),
    ],
)
def test_killed_ingest_rerun_equals_a_clean_run(
    corpus: Path,
    new_db_url: Callable[[str], str],
    cli_env: dict[str, str],
    tmp_path: Path,
    dialect: str,
    kill_at: int,
) -> None:
    clean = _clean_snapshot(dialect, corpus, new_db_url, cli_env, tmp_path)
    assert len(clean["images"]) == N_GOOD
    assert len(clean["ingest_errors"]) == len(BAD_FILES)

    crashed_url, log = new_db_url(dialect), tmp_path / "cli.log"
    process = start_cli(_ingest_args(corpus, crashed_url), cli_env, tmp_path, log)
    kill_when(process, lambda: table_counts(crashed_url)["images"] >= kill_at)

    at_kill = table_counts(crashed_url)["images"]
    assert kill_at <= at_kill < N_GOOD, "the kill came too late to interrupt anything"
    assert orphans(crashed_url) == dict.fromkeys(orphans(crashed_url), 0)

    run_cli_to_end(_ingest_args(corpus, crashed_url), cli_env, tmp_path, log)
    assert snapshot(crashed_url) == clean
    assert orphans(crashed_url) == dict.fromkeys(orphans(crashed_url), 0)
