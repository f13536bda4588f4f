"""One port, two storage folders: the receiver for one folder gives way to a run for another.

A receiver started on demand for folder A that no run leases leaves when a
run for folder B needs its port; one a live run leases stays, and the run
for B fails with one line naming A and the run using it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pacsflow.demo.synthetic import make_study, write_dataset
from pacsflow.net.nodes import LocalAE
from pacsflow.net.receiver_files import new_lease, running_receiver
from pacsflow.net.receiver_lease import (
    IDLE_EXIT_ENV,
    ReceiverLease,
    ReceiverPortBusyError,
    ensure_receiver,
)
from pacsflow.net.receiver_ports import port_holder
from pacsflow.peers.dcmtk import storescu
from pacsflow.peers.ports import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _no_idle_exit_meanwhile(monkeypatch: pytest.MonkeyPatch) -> None:
    """The idle receiver must still run when the second run arrives, whatever the test's pace."""
    monkeypatch.setenv(IDLE_EXIT_ENV, "600")


def _send(tmp_path: Path, port: int, name: str) -> list[str]:
    study = make_study(n_images=2)
    files = [write_dataset(ds, tmp_path / name / f"{i}.dcm") for i, ds in enumerate(study)]
    done = storescu(files, port, calling="STORESCU", called="PACSFLOW")
    assert done.returncode == 0, done.stderr
    return sorted(ds.SOPInstanceUID for ds in study)


def _stored(storage: Path) -> list[str]:
    return sorted(p.stem for p in storage.glob("*/*/*.dcm"))


def test_an_idle_receiver_for_another_folder_gives_way_and_keeps_its_files(
    tmp_path: Path,
) -> None:
    port, runtime = free_port(), tmp_path / "runtime"
    local = LocalAE("PACSFLOW", port)
    folder_a, folder_b = (tmp_path / "storage-a").resolve(), (tmp_path / "storage-b").resolve()
    first = ensure_receiver(local, folder_a, "STORESCU", runtime=runtime)  # as a run does
    sent_a = _send(tmp_path, port, "a")

    with ReceiverLease(local, folder_b, "STORESCU", runtime=runtime) as second:
        assert second.port == port
        assert second.pid != first.pid
        assert running_receiver(folder_a) is None, "the idle receiver for A gave way"
        sent_b = _send(tmp_path, port, "b")
    assert _stored(folder_a) == sent_a, "A's files are intact"
    assert _stored(folder_b) == sent_b
    holder = port_holder(runtime, port)
    assert holder is not None
    assert (holder.storage, holder.pid) == (folder_b, second.pid)


def test_a_receiver_a_run_leases_keeps_the_port_and_the_other_run_is_told_whose_it_is(
    tmp_path: Path,
) -> None:
    port, runtime = free_port(), tmp_path / "runtime"
    local = LocalAE("PACSFLOW", port)
    folder_a, folder_b = (tmp_path / "storage-a").resolve(), (tmp_path / "storage-b").resolve()
    first = ensure_receiver(local, folder_a, "STORESCU", runtime=runtime)
    lease = new_lease(folder_a)  # a live run (this process) uses it
    with (
        pytest.raises(ReceiverPortBusyError) as refused,
        ReceiverLease(local, folder_b, "STORESCU", runtime=runtime),
    ):
        pass
    assert str(refused.value) == (
        f"port {port} is held by pacsflow's receiver for {folder_a}, in use by a run "
        f"(pid {os.getpid()}); use another --local-port or wait"
    )
    assert running_receiver(folder_a) == first, "the leased receiver stays"
    sent_a = _send(tmp_path, port, "a")
    assert _stored(folder_a) == sent_a, "and keeps receiving for its run"
    assert running_receiver(folder_b) is None
    assert list(folder_b.glob(".receiver/leases/*")) == [], "no lease left behind"
    lease.unlink()
    # Once the run is done, the next run for B gets the port.
    assert ensure_receiver(local, folder_b, "STORESCU", runtime=runtime).port == port
