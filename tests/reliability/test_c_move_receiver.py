"""The C-MOVE transport owns pacsflow's receiver: a run scope leases it, and each retrieval
inside the scope replaces one that died since the run began; outside a scope the caller's
storage SCP receives and no receiver is started."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest

from pacsflow.demo.synthetic import make_study, write_dataset
from pacsflow.net.nodes import LocalAE, PacsNode
from pacsflow.net.receiver_config import DEFAULT_IDLE_EXIT, idle_exit_from
from pacsflow.net.receiver_files import live_leases, running_receiver
from pacsflow.net.receiver_lease import (
    IDLE_EXIT_ENV,
    ReceiverStartError,
    ensure_receiver,
    stop_receiver,
)
from pacsflow.net.storage import StorageSCP
from pacsflow.net.storage_files import study_folder
from pacsflow.net.transports.interface import PacsLink
from pacsflow.net.transports.registry import transport_for
from pacsflow.peers.dcmtk import DcmqrscpServer
from pacsflow.peers.ports import free_port

pytestmark = pytest.mark.integration

LOCAL = LocalAE("PACSFLOW", free_port())
IMAGES = 3


@pytest.fixture(scope="module")
def one_series_study(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("c-move-receiver-study")
    return [
        write_dataset(ds, folder / f"{i}.dcm")
        for i, ds in enumerate(make_study(n_series=1, n_images=IMAGES, StudyDate="20240601"))
    ]


@pytest.fixture(scope="module")
def dcmqrscp(one_series_study: list[Path]) -> Iterator[DcmqrscpServer]:
    server = DcmqrscpServer({LOCAL.ae_title: ("127.0.0.1", LOCAL.port)}).start()
    server.load(one_series_study)
    yield server
    server.stop()


def _study_uid(one_series_study: list[Path]) -> str:
    return str(pydicom.dcmread(one_series_study[0], stop_before_pixels=True).StudyInstanceUID)


def _received(storage: Path, study_uid: str) -> int:
    return sum(1 for _ in study_folder(storage, study_uid).rglob("*.dcm"))


def test_inside_its_run_scope_c_move_replaces_a_receiver_that_died(
    dcmqrscp: DcmqrscpServer, one_series_study: list[Path], tmp_path: Path
) -> None:
    storage = (tmp_path / "storage").resolve()
    node = PacsNode(dcmqrscp.ae_title, "127.0.0.1", dcmqrscp.port)
    uid = _study_uid(one_series_study)
    transport = transport_for(node)
    with transport.run_scope(PacsLink(LOCAL, node), storage):
        first = running_receiver(storage)
        assert first is not None, "the run scope started no receiver"
        assert live_leases(storage) == 1
        stop_receiver(storage)  # it dies while the run goes on
        moved = transport.retrieve(PacsLink(LOCAL, node), storage, uid)
        second = running_receiver(storage)
        assert second is not None, "the retrieval did not replace the receiver"
        assert second.pid != first.pid
    assert live_leases(storage) == 0, "the run scope kept its lease"
    assert (moved.succeeded, moved.completed) == (True, IMAGES)
    assert _received(storage, uid) == IMAGES


def test_outside_a_run_scope_c_move_leaves_the_storage_scp_to_the_caller(
    dcmqrscp: DcmqrscpServer, one_series_study: list[Path], tmp_path: Path
) -> None:
    storage = (tmp_path / "storage").resolve()
    node = PacsNode(dcmqrscp.ae_title, "127.0.0.1", dcmqrscp.port)
    uid = _study_uid(one_series_study)
    with StorageSCP(LOCAL, storage, [dcmqrscp.ae_title]):
        moved = transport_for(node).retrieve(PacsLink(LOCAL, node), storage, uid)
    assert (moved.succeeded, moved.completed) == (True, IMAGES)
    assert _received(storage, uid) == IMAGES
    assert running_receiver(storage) is None, "a receiver was started beside the caller's SCP"


def test_the_idle_exit_is_the_callers_or_the_receiver_services_own(tmp_path: Path) -> None:
    storage = (tmp_path / "storage").resolve()
    given = ensure_receiver(LocalAE("PACSFLOW", free_port()), storage, "STORESCU", idle_exit=45)
    assert given.idle_exit == 45.0
    stop_receiver(storage)
    assert idle_exit_from({}) == DEFAULT_IDLE_EXIT
    assert idle_exit_from({IDLE_EXIT_ENV: " 7.5 "}) == 7.5


def test_a_receiver_service_with_a_malformed_idle_exit_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(
        ValueError, match=rf"^\${IDLE_EXIT_ENV} must be a number of seconds, not 'soon'$"
    ):
        idle_exit_from({IDLE_EXIT_ENV: "soon"})
    monkeypatch.setenv(IDLE_EXIT_ENV, "soon")  # the receiver started inherits it
    storage = (tmp_path / "storage").resolve()
    with pytest.raises(ReceiverStartError, match="must be a number of seconds, not 'soon'"):
        ensure_receiver(LocalAE("PACSFLOW", free_port()), storage, "STORESCU")
    assert running_receiver(storage) is None
