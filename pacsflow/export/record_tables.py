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


def _table_rows(name: str, instance: dict[str, Any]) -> dict[str, Any]:
    if name == "patients":
        return dict(instance["patient"])
    if name == "studies":
        return {"patient_id": instance["patient"]["patient_id"], **instance["study"]}
    if name == "series":
        return {"study_uid": instance["study"]["study_uid"], **instance["series"]}
    return dict(instance["image"])


_KEYS = {"patients": "patient_id", "studies": "study_uid", "series": "series_uid"}


def write_record_tables(dest: Path, run: str, study_uids: list[str]) -> dict[str, int]:
    """Write ``tables/{patients,studies,series,images}.csv`` from the rows run ``run``
    saved for the (pseudonymous) ``study_uids``; rows per table. Each file is
    renamed into place whole."""
    counts: dict[str, int] = {}
    for name in ("patients", "studies", "series", "images"):

        def write(partial: Path, name: str = name) -> None:
            seen: set[str] = set()
            counts[name] = 0
            with partial.open("w", newline="", encoding="utf-8") as out:
                writer: Any = None
                for instance in _instances(dest, run, study_uids):
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


def remove_study_rows(dest: Path, run: str) -> None:
    """Delete the rows run ``run`` saved, once its tables are written."""
    shutil.rmtree(dest / ROWS / run, ignore_errors=True)
    with contextlib.suppress(OSError):  # the folder stays while another run writes rows
        (dest / ROWS).rmdir()
