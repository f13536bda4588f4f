"""Case 5: hostile input. Ingest never crashes nor hangs, records every failure with its
reason, and stores the good files; fuzzing finds no input the conversion cannot refuse cleanly.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pydicom.data
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pacsflow.demo.synthetic import dataset_bytes, make_dataset
from pacsflow.dicom.reading import read_header
from pacsflow.dicom.records import dcm2records
from pacsflow.dicom.values import age_to_years, parse_da, parse_int, parse_tm
from pacsflow.errors import PermanentError
from tests.conftest import RunCli
from tests.helpers import ingest_outcome
from tests.reliability.hostile_corpus import STORED, build_corpus

PYDICOM_DATA = Path(pydicom.data.__file__).parent
# Broken on purpose in pydicom's data, or a bare data set starting in group 0002.
PYDICOM_BROKEN = {"MR_truncated.dcm", "rtplan_truncated.dcm", "no_meta.dcm"}
FUZZ_EXAMPLES = int(os.environ.get("PACSFLOW_FUZZ_EXAMPLES", "400"))
# Hypothesis flags any change of the global `random` state while it draws an
# example as a strategy using `random`. Ours do not; Prefect's background
# threads, left running in this process by earlier flow tests, draw jitter
# from it at any moment, which made the fuzz tests fail now and then.
NOT_OUR_RANDOM = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies"
    ":hypothesis.errors.HypothesisDeprecationWarning"
)


def _special_files(root: Path) -> set[str]:
    """A FIFO (opening it blocks), a link to an endless device, and a symlink loop."""
    os.mkfifo(root / "fifo.dcm")
    (root / "zeros.dcm").symlink_to("/dev/zero")
    (root / "loop.dcm").symlink_to(root / "loop.dcm")
    return {"fifo.dcm", "zeros.dcm", "loop.dcm"}


@pytest.mark.integration
def test_ingest_of_a_hostile_corpus_records_every_failure_and_stores_the_rest(
    run_cli: RunCli, tmp_path: Path
) -> None:
    root = tmp_path / "hostile"
    expected = build_corpus(root)
    special = _special_files(root)
    shipped = root / "pydicom"
    shipped.mkdir()
    for folder in ("test_files", "charset_files"):
        for path in sorted((PYDICOM_DATA / folder).glob("*.dcm")):
            shutil.copyfile(path, shipped / path.name)
    n_shipped = len(list(shipped.iterdir()))
    url = f"sqlite:///{tmp_path / 'hostile.sqlite'}"

    # The CLI's own timeout (300 s) is the hang guard: the corpus takes seconds.
    result = run_cli("--db", url, "ingest", str(root), "--json", "--no-progress")
    assert result.returncode == 1, result.stderr  # 1: some files failed, nothing crashed
    counts = json.loads(result.stdout)
    assert counts["files_seen"] == len(expected) + len(special) + n_shipped

    failed, stored = ingest_outcome(url)
    assert len(failed) == counts["failed"], "one failure row per failed file"
    for name, (outcome, words) in expected.items():
        path = root / name
        if outcome == STORED:
            assert path in stored, f"{name}: {failed.get(path)}"
        else:
            assert path in failed, f"{name} was stored"
            assert words in failed[path][1], failed[path]
            assert str(path) in failed[path][1], "the reason names the file"
    for name in special:
        assert failed[root / name][0] == "InvalidDicomError", failed.get(root / name)
    assert "not a regular file" in failed[root / "fifo.dcm"][1]
    # pydicom's files parse, except the broken ones; some lack a StudyInstanceUID.
    unreadable = {
        p.name
        for p, (kind, _) in failed.items()
        if p.parent == shipped and kind == "InvalidDicomError"
    }
    assert unreadable == PYDICOM_BROKEN
    kinds = {kind for p, (kind, _) in failed.items() if p.parent == shipped}
    assert kinds <= {"InvalidDicomError", "MissingTagError", "InvalidTagError"}
    # Every file is accounted for: stored, failed, or a copy of an instance stored already.
    assert len(stored) + len(failed) + counts["already_present"] == counts["files_seen"]
    assert counts["already_present"] < n_shipped // 3
    assert all(reason for _kind, reason in failed.values())


_VALID = dataset_bytes(make_dataset())


@st.composite
def damaged_files(draw: st.DrawFn) -> bytes:
    """A valid file with a few bytes overwritten, a slice cut out or inserted, or cut short."""
    data = bytearray(_VALID)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["overwrite", "delete", "insert", "truncate"]))
        at = draw(st.integers(0, len(data)))
        if kind == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[at : at + len(chunk)] = chunk
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[at:]
    return bytes(data)


@NOT_OUR_RANDOM
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every CI run: no flaky failures
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=damaged_files())
def test_fuzzed_files_are_stored_or_refused_with_a_pacsflow_error(
    data: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("fuzz", numbered=True) / "fuzzed.dcm"
    path.write_bytes(data)
    try:
        records = dcm2records(read_header(path), institution="FUZZ", filepath=str(path))
    except PermanentError as exc:
        refusal = str(exc)
    else:
        assert records.image["image_uid"]
        json.dumps(records.image["meta"])  # the header JSON is serialisable
        return
    assert str(path) in refusal, "the reason names the file"


@NOT_OUR_RANDOM
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True)
@given(value=st.one_of(st.text(max_size=24), st.binary(max_size=24), st.none()))
def test_fuzzed_values_convert_or_give_none(value: object) -> None:
    date, time_ = parse_da(value), parse_tm(value)
    assert date is None or date.year >= 1
    assert time_ is None or 0 <= time_.hour < 24
    age = age_to_years(value)
    assert age == -1 or 0 <= age < 1000
    number = parse_int(value)
    assert number is None or isinstance(number, int)
