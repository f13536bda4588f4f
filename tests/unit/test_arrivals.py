"""Rows made on arrival: what they keep, and what they leave to the ingest."""

from __future__ import annotations

from pathlib import Path

from pacsflow.database.engine import to_json_text
from pacsflow.demo.synthetic import dataset_bytes, make_dataset, make_realistic_ct
from pacsflow.dicom.reading import read_header_json
from pacsflow.ingest.arrivals import Arrivals, naming_uids_of, parse_arrival, sop_class_of


def _arrived(tmp_path: Path, data: bytes) -> tuple[Path, Arrivals]:
    path = tmp_path / "a.dcm"
    path.write_bytes(data)
    arrivals = Arrivals("SITE")
    parsed = parse_arrival(data, len(data))
    assert parsed is not None
    arrivals.add(path, parsed)
    return path, arrivals


def test_the_rows_made_on_arrival_are_those_of_reading_the_file(tmp_path: Path) -> None:
    ds = make_realistic_ct()
    data = dataset_bytes(ds)
    path, arrivals = _arrived(tmp_path, data)
    record = arrivals.records()[str(path)]
    parsed = parse_arrival(data, len(data))
    assert parsed is not None
    assert naming_uids_of(parsed) == [ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID]
    assert sop_class_of(parsed) == ds.SOPClassUID
    assert record.image["image_uid"] == ds.SOPInstanceUID
    assert record.image["file_size"] == len(data)
    assert record.patient["institution"] == "SITE"
    # The header stored is the one the ingest would store by reading the file.
    assert str(record.image["meta"]) == to_json_text(read_header_json(path).header)


def test_a_header_without_its_uid_is_left_to_the_ingest(tmp_path: Path) -> None:
    ds = make_dataset()
    del ds.SOPInstanceUID
    _, arrivals = _arrived(tmp_path, dataset_bytes(ds))
    assert len(arrivals) == 0  # the ingest reads it and records why it cannot be stored


def test_a_multi_valued_uid_names_no_file() -> None:
    ds = make_dataset()
    ds.SeriesInstanceUID = ["1.2.3", "1.2.4"]
    data = dataset_bytes(ds)
    parsed = parse_arrival(data, len(data))
    assert parsed is not None
    assert naming_uids_of(parsed)[1] == ""  # refused, as pydicom's naming refuses it


def test_bytes_the_fast_path_does_not_answer_for_are_named_as_before() -> None:
    ds = make_dataset()
    data = dataset_bytes(ds)
    assert parse_arrival(data[:200], len(data)) is None  # cut inside the header
    assert parse_arrival(b"not dicom at all", 16) is None
