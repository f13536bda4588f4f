"""C-GET of a study stored compressed: the PACS sends the instances as stored, untranscoded.

Debian's Orthanc 1.10 cannot transcode JPEG 2000 or JPEG-LS: given only
uncompressed storage contexts, its C-GET fails those instances ("Cannot
transcode"). pacsflow proposes one context per (SOP class, transfer syntax),
compressed ones included, and stores what arrives as it arrives.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from sqlalchemy import select
from sqlalchemy.orm import Session

from pacsflow.database.engine import make_engine
from pacsflow.database.models import StudyFind
from pacsflow.demo.synthetic import make_find_answer
from pacsflow.net.get import StorageNotNegotiatedError, get_study
from pacsflow.net.get_contexts import (
    STORAGE_SYNTAXES,
    image_kinds,
    plan_storage_contexts,
    study_kinds,
)
from pacsflow.net.nodes import LocalAE, PacsNode
from pacsflow.net.storage_files import prepare_storage, study_folder
from pacsflow.net.transports.interface import PacsLink
from pacsflow.net.transports.registry import transport_for
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.peers.ports import free_port
from pacsflow.retrieval.one_study import RetrievalRequest, retrieve_study
from tests.helpers import record_found

pytestmark = pytest.mark.integration

LOCAL = LocalAE("PACSFLOW", free_port())
MR = "1.2.840.10008.5.1.4.1.1.4"
SC = "1.2.840.10008.5.1.4.1.1.7"
#: pydicom's test files: two SOP classes, each in two syntaxes Orthanc 1.10 cannot transcode.
COMPRESSED = {
    "MR_small_jp2klossless.dcm": "1.2.840.10008.1.2.4.90",  # JPEG 2000 lossless, MR
    "JPEG2000.dcm": "1.2.840.10008.1.2.4.91",  # JPEG 2000, secondary capture
    "MR_small_jpeg_ls_lossless.dcm": "1.2.840.10008.1.2.4.80",  # JPEG-LS lossless, MR
    "JPEGLSNearLossless_16.dcm": "1.2.840.10008.1.2.4.81",  # JPEG-LS near-lossless, SC
}


@pytest.fixture(scope="module")
def stored() -> dict[str, pydicom.Dataset]:
    """The study's instances by SOPInstanceUID: new UIDs, pixel data and syntax untouched."""
    study_uid = generate_uid()
    series_uid = generate_uid()
    instances: dict[str, pydicom.Dataset] = {}
    for name, syntax in COMPRESSED.items():
        path = get_testdata_file(name)
        assert path is not None, name
        ds = pydicom.dcmread(path)
        assert ds.file_meta.TransferSyntaxUID == syntax
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        instances[str(ds.SOPInstanceUID)] = ds
    return instances


@pytest.fixture(scope="module")
def orthanc(stored: dict[str, pydicom.Dataset]) -> Iterator[OrthancServer]:
    server = OrthancServer(modalities={LOCAL.ae_title: ("127.0.0.1", LOCAL.port)}).start()
    for ds in stored.values():
        out = io.BytesIO()
        ds.save_as(out, enforce_file_format=True)  # the encapsulated pixel data kept as is
        server.upload(out.getvalue())
    yield server
    server.stop()


def test_a_study_stored_in_jpeg_2000_and_jpeg_ls_arrives_untranscoded(
    orthanc: OrthancServer, stored: dict[str, pydicom.Dataset], db_url: str, tmp_path: Path
) -> None:
    study_uid = str(next(iter(stored.values())).StudyInstanceUID)
    record_found(db_url, [make_find_answer(study_uid, NumberOfStudyRelatedInstances=4)])
    node = PacsNode(orthanc.ae_title, "127.0.0.1", orthanc.dicom_port, "c-get")
    request = RetrievalRequest(LOCAL, node, tmp_path / "storage", "ORTHANC")
    log_file = orthanc.folder / "orthanc.log"
    log_start = log_file.stat().st_size
    engine = make_engine(db_url)
    try:
        outcome = retrieve_study(engine, request, study_uid)
        with Session(engine) as session:
            row = session.scalars(select(StudyFind)).one()
    finally:
        engine.dispose()
    with log_file.open("rb") as log:  # what Orthanc logged during this retrieval
        log.seek(log_start)
        assert b"Cannot transcode" not in log.read()
    assert (outcome.outcome, outcome.error) == ("complete", None)
    assert (outcome.received, outcome.images_added) == (4, 4)
    files = sorted(study_folder(request.storage, study_uid).rglob("*.dcm"))
    assert len(files) == 4
    for file in files:
        got = pydicom.dcmread(file)
        sent = stored[str(got.SOPInstanceUID)]
        assert got.file_meta.TransferSyntaxUID == sent.file_meta.TransferSyntaxUID
        assert got.SOPClassUID == sent.SOPClassUID
        assert got.PixelData == sent.PixelData  # the encapsulated fragments, byte for byte
    assert row.retrieved_on is not None


def test_what_orthanc_tells_of_the_study_s_classes_and_syntaxes(
    orthanc: OrthancServer, stored: dict[str, pydicom.Dataset]
) -> None:
    study_uid = str(next(iter(stored.values())).StudyInstanceUID)
    node = PacsNode(orthanc.ae_title, "127.0.0.1", orthanc.dicom_port, "c-get")
    with transport_for(node).query_channel(PacsLink(LOCAL, node)) as ask:
        by_study = study_kinds(ask, study_uid)
        by_image = image_kinds(ask, study_uid, [])
    assert by_study == {(MR, None): 0, (SC, None): 0}  # SOPClassesInStudy
    # Orthanc 1.10 answers (0008,3002) Available Transfer Syntax UID empty.
    assert by_image == {(MR, None): 2, (SC, None): 2}


def test_contexts_are_one_per_class_and_syntax_and_what_does_not_fit_is_told() -> None:
    told = {(MR, "1.2.840.10008.1.2.4.90"): 3, (SC, None): 1}
    plan = plan_storage_contexts(told)
    pairs = [(str(c.abstract_syntax), [str(s) for s in c.transfer_syntax]) for c in plan.contexts]
    assert all(len(syntaxes) == 1 for _, syntaxes in pairs)
    assert pairs[0] == (MR, ["1.2.840.10008.1.2.4.90"])  # what the PACS said comes first
    assert [s for c, (s,) in pairs if c == SC] == list(STORAGE_SYNTAXES)
    assert plan.left_out == {}
    # 130 SOP classes: one context each is all that fits; the three left out are named.
    crowded: dict[tuple[str, str | None], int] = {(f"1.2.3.{i}", None): 1 for i in range(130)}
    crowded[("1.2.3.7", None)] = 50  # the class with most instances is never the one left out
    plan = plan_storage_contexts(crowded)
    assert len(plan.contexts) == 127
    assert len(plan.left_out) == 3
    assert ("1.2.3.7", None) not in plan.left_out
    assert "128 presentation contexts" in plan.left_out_message()


def test_instances_whose_classes_did_not_fit_fail_with_an_error_naming_them(
    orthanc: OrthancServer, stored: dict[str, pydicom.Dataset], tmp_path: Path
) -> None:
    """A study of 129 SOP classes (127 of them crowding out MR and SC, which hold fewer)."""
    study_uid = str(next(iter(stored.values())).StudyInstanceUID)
    node = PacsNode(orthanc.ae_title, "127.0.0.1", orthanc.dicom_port, "c-get")
    kinds: dict[tuple[str, str | None], int] = {
        (f"1.2.826.0.1.3680043.10.1.{i}", None): 10 for i in range(127)
    }
    kinds |= {(MR, None): 2, (SC, None): 2}
    prepare_storage(tmp_path)
    with pytest.raises(StorageNotNegotiatedError) as caught:
        get_study(LOCAL, node, study_uid, tmp_path, kinds=kinds)
    message = str(caught.value)
    assert f"{MR} in any transfer syntax" in message
    assert f"{SC} in any transfer syntax" in message
    assert "128 presentation contexts" in message
    assert "C-MOVE or DICOMweb" in message
