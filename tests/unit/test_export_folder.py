"""An export folder shared by runs: its binding to one set of settings, each run's own rows."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from pacsflow.demo.synthetic import make_dataset
from pacsflow.dicom.records import dcm2records
from pacsflow.export.layout import (
    PARTIAL,
    ROWS,
    new_part,
    prepare_destination,
    remove_partial_folder,
    write_text_atomically,
)
from pacsflow.export.manifest import ExportMismatchError, read_manifest, start_manifest
from pacsflow.export.record_tables import (
    new_rows_run,
    remove_study_rows,
    write_record_tables,
    write_study_rows,
)


def _start(dest: Path, barrier: threading.Barrier, refused: list[str], key: str) -> None:
    barrier.wait()
    try:
        start_manifest(dest, {}, {"profile": "pseudonymised", "key": key})
    except ExportMismatchError:
        refused.append(key)


def test_two_exports_starting_at_once_with_other_settings_bind_the_folder_to_one(
    tmp_path: Path,
) -> None:
    for attempt in range(20):
        dest = tmp_path / str(attempt)
        prepare_destination(dest)
        barrier = threading.Barrier(2)
        refused: list[str] = []
        threads = [
            threading.Thread(target=_start, args=(dest, barrier, refused, key)) for key in "ab"
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(refused) == 1, attempt
        bound = read_manifest(dest)["settings"]["key"]
        assert refused[0] != bound
        assert not any((dest / ".partial").iterdir())


def test_each_run_builds_its_tables_from_its_own_rows_and_dead_runs_rows_go(
    tmp_path: Path,
) -> None:
    prepare_destination(tmp_path)
    record = dcm2records(make_dataset(), filepath="files/x.dcm")
    first, second = new_rows_run(), f"{new_rows_run()}-other"
    for run in (first, second):
        write_study_rows(tmp_path, run, "1.2.3", [record])
    write_record_tables(tmp_path, first, ["1.2.3"])
    remove_study_rows(tmp_path, first)
    assert (tmp_path / ROWS / second / "1.2.3.jsonl").is_file(), "the other run's rows stay"
    assert write_record_tables(tmp_path, second, ["1.2.3"])["images"] == 1

    dead = tmp_path / ROWS / f"{os.uname().nodename}:999999999:cafe"
    dead.mkdir()
    prepare_destination(tmp_path)
    assert not dead.exists()
    assert (tmp_path / ROWS / second).is_dir(), "a live run's rows are kept"
    remove_study_rows(tmp_path, second)
    assert not (tmp_path / ROWS).exists()


def test_a_plain_export_into_a_pseudonymised_folder_is_refused(tmp_path: Path) -> None:
    prepare_destination(tmp_path)
    start_manifest(tmp_path, {}, {"profile": "pseudonymised", "key_fingerprint": "ab"})
    with pytest.raises(ExportMismatchError, match="differing: key_fingerprint, profile"):
        start_manifest(tmp_path, {}, {"profile": "plain"})


def test_a_run_that_writes_after_another_removed_the_empty_partial_folder_creates_it_again(
    tmp_path: Path,
) -> None:
    prepare_destination(tmp_path)
    remove_partial_folder(tmp_path)  # another run into the folder finished
    assert not (tmp_path / PARTIAL).exists()
    write_text_atomically("a\n", tmp_path / "tables" / "x.csv", tmp_path)
    assert (tmp_path / "tables" / "x.csv").read_text() == "a\n"
    held = new_part(tmp_path)  # a file being written keeps the folder
    remove_partial_folder(tmp_path)
    assert held.exists()
    held.unlink()
    remove_partial_folder(tmp_path)
    assert not (tmp_path / PARTIAL).exists()
