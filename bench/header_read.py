"""Benchmark: header read + JSON per file, pydicom's route against the one-pass reader.

Run from the repository root: ``nice -n 10 .venv/bin/python -m bench.header_read``
(``--files 400 --rounds 3``). In one process it writes four corpora of
synthetic files and, for each round, runs every method over every corpus
(interleaved, so that the machine's load hits them alike):

  pydicom   read_header (dcmread with stop_before_pixels, pacsflow's checks)
            + dataset_to_json + json.dumps: the ingest's header path before
            issue 26;
  one-pass  read_header_json (pacsflow.dicom.fast_header, pydicom for the
            files it hands over) + dumps_json (orjson): the ingest's path now.

Corpora: ``small`` (make_dataset, ~40 elements), ``ct`` (make_realistic_ct,
~257 elements with GE private blocks, explicit VR LE), ``ct implicit`` (the same
in implicit VR LE), ``ct utf-8`` (the same with ISO_IR 192). Figures are files
per CPU second of this one process (so per core), median of the rounds; the
ratio is that of the two methods in the same rounds. ``fallbacks`` counts the
files the one-pass reader handed to pydicom.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import ImplicitVRLittleEndian

from pacsflow.database.engine import dumps_json
from pacsflow.demo.synthetic import dataset_bytes, make_dataset, make_realistic_ct
from pacsflow.dicom.header_json import dataset_to_json
from pacsflow.dicom.reading import read_header, read_header_json, silence_pydicom_value_warnings

__all__ = ["HeaderRow", "header_rows", "main"]


@dataclass(frozen=True)
class HeaderRow:
    """One corpus: files/s per core of each method, their ratio, and the fallbacks."""

    corpus: str
    files: int
    pydicom_rate: float
    fast_rate: float
    fallbacks: int

    @property
    def ratio(self) -> float:
        return self.fast_rate / self.pydicom_rate if self.pydicom_rate else 0.0


def _implicit(ds: Dataset) -> bytes:
    dataset_bytes(ds)  # gives it its file meta
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    out = io.BytesIO()
    ds.save_as(out, implicit_vr=True, little_endian=True, enforce_file_format=True)
    return out.getvalue()


CORPORA: dict[str, Callable[[int], bytes]] = {
    "small": lambda i: dataset_bytes(make_dataset(PatientID=f"P{i // 60:05d}")),
    "ct": lambda i: dataset_bytes(make_realistic_ct(PatientID=f"P{i // 60:05d}")),
    "ct implicit": lambda i: _implicit(make_realistic_ct(PatientID=f"P{i // 60:05d}")),
    "ct utf-8": lambda i: dataset_bytes(
        make_realistic_ct(PatientID=f"P{i // 60:05d}", SpecificCharacterSet="ISO_IR 192")
    ),
}


def _pydicom_route(path: Path) -> str:
    return json.dumps(dataset_to_json(read_header(path)))


def _one_pass(path: Path) -> str:
    return dumps_json(read_header_json(path).header)


def _rate(method: Callable[[Path], str], paths: list[Path]) -> float:
    started = time.process_time()
    for path in paths:
        method(path)
    return len(paths) / max(time.process_time() - started, 1e-9)


def header_rows(n_files: int = 400, rounds: int = 3, folder: Path | None = None) -> list[HeaderRow]:
    """Measure both methods on each corpus, interleaved; one row per corpus.

    Args:
        n_files: files per corpus.
        rounds: each round runs every method once over every corpus.
        folder: where to write the corpora (a temporary folder by default).
    """
    silence_pydicom_value_warnings()
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        corpora: dict[str, list[Path]] = {}
        for name, make in CORPORA.items():
            root = Path(tmp) / name.replace(" ", "_")
            root.mkdir()
            corpora[name] = [root / f"{i:05d}.dcm" for i in range(n_files)]
            for i, path in enumerate(corpora[name]):
                path.write_bytes(make(i))
        rates: dict[tuple[str, str], list[float]] = {}
        for _ in range(rounds):
            for name, paths in corpora.items():
                for label, method in (("pydicom", _pydicom_route), ("fast", _one_pass)):
                    rates.setdefault((name, label), []).append(_rate(method, paths))
        return [
            HeaderRow(
                corpus=name,
                files=n_files,
                pydicom_rate=statistics.median(rates[name, "pydicom"]),
                fast_rate=statistics.median(rates[name, "fast"]),
                fallbacks=sum(1 for p in paths if not read_header_json(p).fast),
            )
            for name, paths in corpora.items()
        ]


def main(argv: list[str] | None = None) -> None:
    """Print the table (``python -m bench.header_read``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=400, help="files per corpus")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    for line in table_lines(header_rows(args.files, args.rounds), args.rounds):
        print(line)


def table_lines(rows: list[HeaderRow], rounds: int = 3) -> list[str]:
    """The rows as the printed table (also used by ``bench.ingest``)."""
    lines = [
        f"header read + JSON, files/s per core (median of {rounds} interleaved rounds)",
        f"{'corpus':<12} {'pydicom + json':>15} {'one-pass + orjson':>18} {'ratio':>7} fallbacks",
    ]
    lines += [
        f"{row.corpus:<12} {row.pydicom_rate:>15,.0f} {row.fast_rate:>18,.0f} "
        f"{row.ratio:>6.2f}x {row.fallbacks:>5}/{row.files}"
        for row in rows
    ]
    return lines


if __name__ == "__main__":
    main()
