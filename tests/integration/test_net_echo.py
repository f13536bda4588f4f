"""C-ECHO and association errors against a real Orthanc."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from pynetdicom.dimse_primitives import C_ECHO
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from pacsflow.errors import PermanentError, RetryableError
from pacsflow.net.association import open_association
from pacsflow.net.dimse_errors import AssociationRejectedError, PacsUnreachableError
from pacsflow.net.echo import QueriesRefusedError, echo
from pacsflow.net.nodes import LocalAE, PacsNode, Timeouts
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.peers.ports import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def orthanc() -> Iterator[OrthancServer]:
    server = OrthancServer(modalities={"PACSFLOW": ("127.0.0.1", free_port())}).start()
    try:
        yield server
    finally:
        server.stop()


def test_echo_reaches_orthanc(orthanc: OrthancServer) -> None:
    node = PacsNode(orthanc.ae_title, "127.0.0.1", orthanc.dicom_port)
    assert echo(LocalAE(), node) < 5.0  # PACSFLOW is a known modality: its C-FIND is accepted


def test_echo_from_an_unknown_calling_ae_says_queries_are_refused(orthanc: OrthancServer) -> None:
    """Orthanc answers any AE's C-ECHO, then aborts the C-FIND of an AE it does not know:
    echo must find that out, as a permanent error (a retry meets the same answer)."""
    node = PacsNode(orthanc.ae_title, "127.0.0.1", orthanc.dicom_port)
    with pytest.raises(QueriesRefusedError) as info:
        echo(LocalAE("STRANGER"), node)
    assert str(info.value) == (
        f"ORTHANC@127.0.0.1:{orthanc.dicom_port} answered the C-ECHO, but aborted our C-FIND: "
        "add STRANGER to the PACS's known modalities (Orthanc: DicomModalities), allowed to query"
    )
    assert isinstance(info.value, PermanentError)
    assert echo(LocalAE(), node) < 5.0  # Orthanc still answers the known AE afterwards


def test_wrong_called_ae_title_is_a_permanent_rejection(orthanc: OrthancServer) -> None:
    node = PacsNode("NOT-ORTHANC", "127.0.0.1", orthanc.dicom_port)
    # Orthanc answers A-ASSOCIATE-RJ and closes the connection at once; the
    # rejection is read from the PDU, so it is never mistaken for an abort.
    with pytest.raises(
        AssociationRejectedError,
        match=r"NOT-ORTHANC@127\.0\.0\.1:\d+ rejected the association "
        r"\(Called AE title not recognised\); check the called AE title",
    ) as info:
        echo(LocalAE(), node)
    assert isinstance(info.value, PermanentError)


# pynetdicom 3.0.4 does not close its socket when the connection is refused;
# the ResourceWarning comes from inside it, after the test's own assertions.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_pacs_down_is_unreachable_and_retryable() -> None:
    node = PacsNode("ORTHANC", "127.0.0.1", free_port())
    with pytest.raises(PacsUnreachableError, match="cannot be reached") as info:
        echo(LocalAE(), node, timeouts=Timeouts(connection=2, acse=2))
    assert isinstance(info.value, RetryableError)


@pytest.mark.parametrize(
    ("ae_title", "message"),
    [("", "1 to 16 characters"), ("X" * 17, "1 to 16 characters"), ("A\\B", r"no '\\'")],
)
def test_bad_ae_titles_are_refused_clearly(ae_title: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PacsNode(ae_title, "127.0.0.1", 104)


def test_bad_port_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="between 1 and 65535"):
        PacsNode("ORTHANC", "127.0.0.1", 0)


def test_a_response_is_left_to_the_request_that_waits_for_it(orthanc: OrthancServer) -> None:
    """pynetdicom's reactor thread must not take a DIMSE message off the queue.

    Its pause before each request can miss (a race): it then takes the
    response, and the request waits until the PACS aborts. A message queued
    while the reactor runs, as a response that arrives in that window is,
    must still be there for the request.
    """
    node = PacsNode(orthanc.ae_title, "127.0.0.1", orthanc.dicom_port)
    with open_association(LocalAE(), node, [Verification]) as assoc:
        response = C_ECHO()
        response.MessageIDBeingRespondedTo = 1
        response.Status = 0x0000
        assoc.dimse.msg_queue.put((1, response))
        deadline = time.monotonic() + 0.3  # the reactor looks every millisecond
        while time.monotonic() < deadline and not assoc.dimse.msg_queue.empty():
            time.sleep(0.01)
        assert assoc.dimse.get_msg(block=False) == (1, response)
        assert assoc.send_c_echo().Status == 0x0000  # the association still works
