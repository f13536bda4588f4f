"""The DICOMweb pieces that need no server: multipart reading, QIDO-RS parameters, settings."""

from __future__ import annotations

import io

import pytest
from pydicom.dataset import Dataset

from flows.config import MissingSettingError, resolve_pacs, resolve_web_access
from pacsflow.net.dicomweb.client import DicomWebClient
from pacsflow.net.dicomweb.multipart import (
    MultipartCutShortError,
    MultipartError,
    boundary_of,
    parts,
)
from pacsflow.net.dicomweb.qido import _parameters, _resource
from pacsflow.net.nodes import PacsNode

BOUNDARY = "b0und4ry"


class _Trickle(io.RawIOBase):
    """A body read a few bytes at a time, as a slow network delivers it."""

    def __init__(self, data: bytes, step: int = 7) -> None:
        self._data, self._step, self._at = data, step, 0

    def read(self, amount: int = -1, /) -> bytes:
        chunk = self._data[self._at : self._at + min(self._step, amount)]
        self._at += len(chunk)
        return chunk


def _body(contents: list[bytes], *, lengths: bool, close: bool = True) -> bytes:
    out = b"preamble to ignore\r\n"
    for content in contents:
        out += f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n".encode()
        if lengths:
            out += f"Content-Length: {len(content)}\r\n".encode()
        out += b"\r\n" + content + b"\r\n"
    return out + (f"--{BOUNDARY}--\r\n".encode() if close else b"")


def _read(body: bytes) -> list[bytes]:
    return [b"".join(content) for _, content in parts(_Trickle(body), BOUNDARY)]


@pytest.mark.parametrize("lengths", [True, False])
def test_parts_come_out_whole_with_or_without_content_length(lengths: bool) -> None:
    contents = [b"A" * 3000, b"\r\n--not-the-boundary\r\n" + bytes(range(256)), b""]
    assert _read(_body(contents, lengths=lengths)) == contents


@pytest.mark.parametrize("lengths", [True, False])
def test_a_body_without_its_closing_boundary_is_cut_short(lengths: bool) -> None:
    body = _body([b"first", b"second"], lengths=lengths, close=False)
    with pytest.raises(MultipartCutShortError):
        _read(body)
    with pytest.raises(MultipartCutShortError):  # cut inside the second part
        _read(body[: body.index(b"second") + 3])


def test_a_part_longer_than_its_content_length_is_malformed() -> None:
    body = _body([b"12345"], lengths=True).replace(b"Content-Length: 5", b"Content-Length: 3")
    with pytest.raises(MultipartError, match="longer than its Content-Length"):
        _read(body)


def test_the_boundary_comes_from_the_content_type() -> None:
    assert boundary_of('multipart/related; type="application/dicom"; boundary=abc') == "abc"
    with pytest.raises(MultipartError, match="expected a multipart/related body"):
        boundary_of("application/json")


def test_qido_parameters_and_resources_follow_the_identifier() -> None:
    client = DicomWebClient("https://pacs.example.org/dicom-web/")
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyDate = "20240101-20240131"
    query.AccessionNumber = "A12*"
    query.ModalitiesInStudy = ["CT", "MR"]
    query.PatientName = ""
    path, in_path = _resource(client, query)
    assert (path, in_path) == ("/dicom-web/studies", set())
    params, alternatives = _parameters(query, in_path)
    assert ("StudyDate", "20240101-20240131") in params
    assert ("AccessionNumber", "A12*") in params
    assert ("includefield", "PatientName") in params
    assert alternatives == ["CT", "MR"]  # asked once per modality

    series = Dataset()
    series.QueryRetrieveLevel = "IMAGE"
    series.StudyInstanceUID = "1.2.3"
    series.SeriesInstanceUID = "1.2.3.4"
    series.SOPInstanceUID = ""
    path, in_path = _resource(client, series)
    assert path == "/dicom-web/studies/1.2.3/series/1.2.3.4/instances"
    assert _parameters(series, in_path) == ([("includefield", "SOPInstanceUID")], [])


def test_a_dicomweb_pacs_needs_its_url_only(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PACSFLOW_PACS_AET", "PACSFLOW_PACS_HOST", "PACSFLOW_PACS_PORT"):
        monkeypatch.delenv(name, raising=False)
    node = resolve_pacs(None, None, None, "dicomweb", "https://pacs.example.org/dicom-web/")
    assert node == PacsNode(
        "DICOMWEB", "pacs.example.org", 443, "dicomweb", "https://pacs.example.org/dicom-web"
    )
    assert str(node) == "https://pacs.example.org/dicom-web"
    with pytest.raises(MissingSettingError, match="PACSFLOW_PACS_DICOMWEB_URL"):
        resolve_pacs(None, None, None, "dicomweb", None)
    with pytest.raises(MissingSettingError, match="not one of c-move, c-get, dicomweb"):
        resolve_pacs("PACS", "h", 104, "c-find")
    with pytest.raises(ValueError, match="must be http:// or https://"):
        resolve_pacs(None, None, None, "dicomweb", "ftp://pacs")


def test_dicomweb_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TOKEN", "USER", "PASSWORD", "CA_BUNDLE"):
        monkeypatch.delenv(f"PACSFLOW_DICOMWEB_{name}", raising=False)
    assert dict(resolve_web_access().headers) == {}
    monkeypatch.setenv("PACSFLOW_DICOMWEB_USER", "reader")
    with pytest.raises(MissingSettingError, match="both"):
        resolve_web_access()
    monkeypatch.setenv("PACSFLOW_DICOMWEB_PASSWORD", "s3cret")
    access = resolve_web_access()
    assert access.headers["Authorization"] == "Basic cmVhZGVyOnMzY3JldA=="
    assert "s3cret" not in repr(access)
    assert "cmVhZGVy" not in repr(access)
    monkeypatch.setenv("PACSFLOW_DICOMWEB_TOKEN", "tok")
    assert resolve_web_access().headers["Authorization"] == "Bearer tok"
    monkeypatch.setenv("PACSFLOW_DICOMWEB_CA_BUNDLE", "/no/such/ca.pem")
    with pytest.raises(MissingSettingError, match="names no file"):
        resolve_web_access()
