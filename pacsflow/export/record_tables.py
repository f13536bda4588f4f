"""The tables of a pseudonymised export, made from the rows of its own (pseudonymised) files.

Each study's rows are saved under ``dest/.rows/<study>.jsonl`` as its files are
written, so the tables are built by streaming, whatever the export's size,
and name only pseudonyms. Surrogate keys of pacsflow's database (``id``
columns) are left out: rows join on PatientID and UIDs, as in the files.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pacsflow.database.dump import csv_value
from pacsflow.dicom.records import ImageRecord
from pacsflow.export.layout import TABLES_FOLDER, write_atomically, write_text_atomically

__all__ = ["ROWS", "remove_study_rows", "write_record_tables", "write_study_rows"]

ROWS = ".rows"


def write_study_rows(dest: Path, study_uid: str, records: Iterable[ImageRecord]) -> None:
    """Save a study's rows (one JSON line per instance) for :func:`write_record_tables`."""
    lines = [
        json.dumps(
            {"patient": r.patient, "study": r.study, "series": r.series, "image": r.image},
            default=str,
            ensure_ascii=False,
        )
        for r in records
    ]
    target = dest / ROWS / f"{study_uid}.jsonl"
    write_text_atomically("".join(line + "\n" for line in lines), target, dest)


def _instances(dest: Path, study_uids: Iterable[str]) -> Iterator[dict[str, Any]]:
    for study_uid in study_uids:
        path = dest / ROWS / f"{study_uid}.jsonl"
        if path.is_file():
            with path.open(encoding="utf-8") as rows:
                yield from (json.loads(line) for line in rows)


def _table_rows(name: str, instance: dict[str, Any]) -> dict[str, Any]:
    if name == "patients":
        return dict(instance["patient"])
    if name == "studies":
        return {"patient_id": instance["patient"]["patient_id"], **instance["study"]}
    if name == "series":
        return {"study_uid": instance["study"]["study_uid"], **instance["series"]}
    return dict(instance["image"])


_KEYS = {"patients": "patient_id", "studies": "study_uid", "series": "series_uid"}


def write_record_tables(dest: Path, study_uids: list[str]) -> dict[str, int]:
    """Write ``tables/{patients,studies,series,images}.csv`` from the saved rows of the
    (pseudonymous) ``study_uids``; rows per table. Each file is renamed into place whole."""
    counts: dict[str, int] = {}
    for name in ("patients", "studies", "series", "images"):

        def write(partial: Path, name: str = name) -> None:
            seen: set[str] = set()
            counts[name] = 0
            with partial.open("w", newline="", encoding="utf-8") as out:
                writer: Any = None
                for instance in _instances(dest, study_uids):
                    row = _table_rows(name, instance)
                    key = _KEYS.get(name)
                    if key is not None:
                        if row[key] in seen:
                            continue
                        seen.add(row[key])
                    if writer is None:
                        writer = csv.DictWriter(out, fieldnames=list(row))
                        writer.writeheader()
                    writer.writerow({column: csv_value(value) for column, value in row.items()})
                    counts[name] += 1

        write_atomically(dest / TABLES_FOLDER / f"{name}.csv", dest, write)
    return counts


def remove_study_rows(dest: Path) -> None:
    """Delete the saved rows once the tables are written."""
    shutil.rmtree(dest / ROWS, ignore_errors=True)
