"""Case 6: pacsflow's storage SCP under hostile senders (DCMTK's storescu, pynetdicom).

Unknown calling AE titles are rejected; instances whose UIDs could escape the
storage folder are refused with a failure status and nothing is written
anywhere; a flood of associations is bounded without losing what the
accepted ones send.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage  # type: ignore[attr-defined]

from pacsflow.demo.synthetic import make_study, write_dataset
from pacsflow.net.association import keep_responses_for_requests
from pacsflow.net.nodes import LocalAE
from pacsflow.net.storage import STATUS_CANNOT_UNDERSTAND, StorageSCP
from pacsflow.net.storage_files import INCOMING_FOLDER, study_folder, sync_study_folder
from pacsflow.peers.dcmtk import storescu
from pacsflow.peers.ports import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def scp(tmp_path: Path) -> Iterator[StorageSCP]:
    local = LocalAE("PACSFLOW", free_port())
    with StorageSCP(local, tmp_path / "storage", ["STORESCU"], max_associations=2) as server:
        yield server


def _files(folder: Path, datasets: list[Dataset]) -> list[Path]:
    return [write_dataset(ds, folder / f"{i}.dcm") for i, ds in enumerate(datasets)]


def _stored_files(storage: Path) -> list[Path]:
    return sorted(p for p in storage.rglob("*") if p.is_file())


def test_storescu_files_land_under_study_series_sop(scp: StorageSCP, tmp_path: Path) -> None:
    study = make_study(n_series=2, n_images=3)
    files = _files(tmp_path / "send", study)
    done = storescu(files, scp.local.port, calling="STORESCU", called="PACSFLOW")
    assert done.returncode == 0, done.stderr
    expected = sorted(
        scp.storage / ds.StudyInstanceUID / ds.SeriesInstanceUID / f"{ds.SOPInstanceUID}.dcm"
        for ds in study
    )
    assert _stored_files(scp.storage) == expected
    sent = {ds.SOPInstanceUID: ds for ds in study}
    for path in expected:
        stored = pydicom.dcmread(path)
        assert stored == sent[path.stem]  # every element, pixel data included
        meta = stored.file_meta
        assert meta.MediaStorageSOPInstanceUID == path.stem
        assert meta.MediaStorageSOPClassUID == sent[path.stem].SOPClassUID
        assert meta.TransferSyntaxUID in ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")
        assert meta.SourceApplicationEntityTitle == "STORESCU"
    assert scp.stored_count(study[0].StudyInstanceUID) == 6
    assert not any((scp.storage / INCOMING_FOLDER).iterdir())  # no partial file left


def test_each_file_is_on_disk_before_its_name_and_the_study_folders_are_synced(
    scp: StorageSCP, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A power cut must not undo a file the database vouches for: content, then name."""
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        events.append(("replace", str(src)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    study = make_study(n_series=2, n_images=2)
    files = _files(tmp_path / "send", study)
    done = storescu(files, scp.local.port, calling="STORESCU", called="PACSFLOW")
    assert done.returncode == 0, done.stderr
    sync_study_folder(scp.storage, study[0].StudyInstanceUID)

    renamed = [path for kind, path in events if kind == "replace"]
    assert len(renamed) == 4
    for path in renamed:
        assert events.index(("fsync", path)) < events.index(("replace", path))
    folder = study_folder(scp.storage, study[0].StudyInstanceUID)
    synced = {Path(path) for kind, path in events if kind == "fsync"}
    assert {folder, *folder.iterdir()} <= synced


def test_calling_ae_not_allowed_is_rejected(scp: StorageSCP, tmp_path: Path) -> None:
    files = _files(tmp_path / "send", make_study(n_images=2))
    done = storescu(files, scp.local.port, calling="INTRUDER", called="PACSFLOW")
    assert done.returncode != 0
    assert "reject" in (done.stderr + done.stdout).lower()
    assert _stored_files(scp.storage) == []


def _send(port: int, datasets: list[Dataset]) -> list[int]:
    """C-STORE each data set from a pynetdicom SCU; the statuses."""
    ae = AE(ae_title="STORESCU")
    ae.add_requested_context(CTImageStorage)
    assoc = ae.associate("127.0.0.1", port, ae_title="PACSFLOW")
    assert assoc.is_established
    keep_responses_for_requests(assoc)  # C-STOREs in a row: pynetdicom's reactor race
    try:
        return [int(assoc.send_c_store(ds).Status) for ds in datasets]
    finally:
        assoc.release()
        ae.shutdown()


# An absolute path no other process uses: a fixed one such as /tmp/x may exist already.
_ABSOLUTE = f"/tmp/pacsflow-escape-{os.getpid()}"


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("SOPInstanceUID", "1.2.3/../../escaped"),
        ("SOPInstanceUID", "1.2.abc"),
        ("SeriesInstanceUID", ".."),
        pytest.param("StudyInstanceUID", _ABSOLUTE, id="StudyInstanceUID-absolute"),
        ("StudyInstanceUID", None),
    ],
)
def test_invalid_uid_is_refused_and_nothing_written(
    scp: StorageSCP, tmp_path: Path, keyword: str, value: str | None
) -> None:
    good, bad = make_study(n_images=2)
    for ds in (good, bad):
        write_dataset(ds, tmp_path / "send" / "x.dcm")  # gives each its file meta
    outside_before = _files_outside(tmp_path, scp.storage)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns of the invalid UID: that is the point
        if value is None:
            delattr(bad, keyword)
        else:
            setattr(bad, keyword, value)
        statuses = _send(scp.local.port, [good, bad])
    assert statuses == [0x0000, STATUS_CANNOT_UNDERSTAND]
    assert [p.name for p in _stored_files(scp.storage)] == [f"{good.SOPInstanceUID}.dcm"]
    assert _files_outside(tmp_path, scp.storage) == outside_before
    assert not list(tmp_path.glob("escaped*"))
    assert not Path(_ABSOLUTE).exists()
    assert scp.refused == 1


def _files_outside(root: Path, storage: Path) -> set[Path]:
    """Every file under ``root`` but outside ``storage``."""
    return {p for p in root.rglob("*") if p.is_file() and storage not in p.parents}


def test_a_flood_of_associations_is_bounded_without_losing_images(scp: StorageSCP) -> None:
    ae = AE(ae_title="STORESCU")
    ae.add_requested_context(CTImageStorage)
    study = make_study(n_images=6)
    for ds in study:
        write_dataset(ds, scp.storage.parent / "meta.dcm")
    held = [ae.associate("127.0.0.1", scp.local.port, ae_title="PACSFLOW") for _ in range(20)]
    try:
        accepted = [a for a in held if a.is_established]
        assert len(accepted) == 2  # max_associations=2
        assert all(a.is_rejected for a in held if not a.is_established)
        statuses = [int(accepted[i % 2].send_c_store(ds).Status) for i, ds in enumerate(study)]
    finally:
        for assoc in held:
            if assoc.is_established:
                assoc.release()
        ae.shutdown()
    assert statuses == [0] * 6
    assert len(_stored_files(study_folder(scp.storage, study[0].StudyInstanceUID))) == 6


def test_a_port_in_use_is_a_clear_error(scp: StorageSCP, tmp_path: Path) -> None:
    second = StorageSCP(scp.local, tmp_path / "other", ["STORESCU"])
    with pytest.raises(OSError, match=rf"cannot listen on 127\.0\.0\.1:{scp.local.port}.*port"):
        second.start()
