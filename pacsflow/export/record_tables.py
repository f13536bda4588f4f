"""The tables of a pseudonymised export, made from the rows of its own (pseudonymised) files.

Each study's rows are saved under ``dest/.rows/<run>/<study>.jsonl`` as its
files are written, so the tables are built by streaming, whatever the
export's size, and name only pseudonyms. Each run has a folder of its own
(named for its process, see :func:`new_rows_run`): two runs into one folder
at once each build their tables from their own rows. Surrogate keys of pacsflow's database (``id``
columns) are left out: rows join on PatientID and UIDs, as in the files.
"""

from __future__ import annotations

import contextlib
import csv
import json
import secrets
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pacsflow.database.dump import csv_value
from pacsflow.dicom.records import ImageRecord
from pacsflow.export.layout import ROWS, TABLES_FOLDER, write_atomically, write_text_atomically
from pacsflow.export.tables import EXPORTED_TABLES
from pacsflow.liveness import owner_tag

__all__ = ["new_rows_run", "remove_study_rows", "write_record_tables", "write_study_rows"]


def new_rows_run() -> str:
    """A name for one run's rows folder: ``host:pid:token`` of the process running the flow,
    so that the folder of a run that died can be recognised and deleted."""
    return f"{owner_tag()}:{secrets.token_hex(4)}"


def write_study_rows(dest: Path, run: str, study_uid: str, records: Iterable[ImageRecord]) -> None:
    """Save a study's rows (one JSON line per instance) for :func:`write_record_tables`."""
    lines = [
        json.dumps(
            {"patient": r.patient, "study": r.study, "series": r.series, "image": r.image},
            default=str,
            ensure_ascii=False,
        )
        for r in records
    ]
    target = dest / ROWS / run / f"{study_uid}.jsonl"
    write_text_atomically("".join(line + "\n" for line in lines), target, dest)


def _instances(dest: Path, run: str, study_uids: Iterable[str]) -> Iterator[dict[str, Any]]:
    for study_uid in study_uids:
        path = dest / ROWS / run / f"{study_uid}.jsonl"
        if path.is_file():
            with path.open(encoding="utf-8") as rows:
                yield from (json.loads(line) for line in rows)


_KEYS = {"patients": "patient_id", "studies": "study_uid", "series": "series_uid"}


def _parent_rows(instance: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """An instance's rows of the patients, studies and series tables."""
    return {
        "patients": dict(instance["patient"]),
        "studies": {"patient_id": instance["patient"]["patient_id"], **instance["study"]},
        "series": {"study_uid": instance["study"]["study_uid"], **instance["series"]},
    }


def _write_csv(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write ``rows`` (columns: the first row's keys) to ``path``; how many."""
    count = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer: Any = None
        for row in rows:
            if writer is None:
                writer = csv.DictWriter(out, fieldnames=list(row))
                writer.writeheader()
            writer.writerow({column: csv_value(value) for column, value in row.items()})
            count += 1
    return count


def write_record_tables(dest: Path, run: str, study_uids: list[str]) -> dict[str, int]:
    """Write ``tables/{patients,studies,series,images}.csv`` from the rows run ``run``
    saved for the (pseudonymous) ``study_uids``; rows per table. Each file is
    renamed into place whole.

    The saved rows are read once: images are streamed to their table while the
    (few) distinct patients, studies and series are kept for theirs.
    """
    parents: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in _KEYS}
    counts: dict[str, int] = {}

    def images() -> Iterator[dict[str, Any]]:
        for instance in _instances(dest, run, study_uids):
            for name, row in _parent_rows(instance).items():
                parents[name].setdefault(row[_KEYS[name]], row)
            yield instance["image"]

    def write_images(partial: Path) -> None:
        counts["images"] = _write_csv(partial, images())

    write_atomically(dest / TABLES_FOLDER / "images.csv", dest, write_images)
    for name in _KEYS:

        def write(partial: Path, name: str = name) -> None:
            counts[name] = _write_csv(partial, parents[name].values())

        write_atomically(dest / TABLES_FOLDER / f"{name}.csv", dest, write)
    return {name: counts[name] for name in EXPORTED_TABLES}


def remove_study_rows(dest: Path, run: str) -> None:
    """Delete the rows run ``run`` saved, once its tables are written."""
    shutil.rmtree(dest / ROWS / run, ignore_errors=True)
    with contextlib.suppress(OSError):  # the folder stays while another run writes rows
        (dest / ROWS).rmdir()
