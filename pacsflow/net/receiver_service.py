"""The receiver service: pacsflow's storage SCP as processes of their own, shared by runs.

One supervisor process binds pacsflow's port, holds the storage folder's lock
and publishes its status (:mod:`pacsflow.net.receiver_files`); it forks
``workers`` SCP processes that all accept connections on that one socket, so
the C-STOREs of two C-MOVEs are received on two cores, away from the flow
process that ingests and talks to Prefect. Every run on the machine (a
scheduled one, a CLI one) sends its C-MOVEs to this one AE title and port;
each instance lands in its study's folder whichever run asked for it, and
the run learns it arrived from the C-MOVE's final response (a worker answers
a C-STORE only after the file is in place).

A worker that dies is replaced; workers exit when the supervisor dies. A
receiver started on demand (``idle_exit``) exits once no live run has held a
lease for that many seconds, or at once on SIGUSR1 (a run for another storage
folder needs its port) if no live run holds one. Once it listens, it records
its port for such runs to find (:mod:`pacsflow.net.receiver_ports`). Files
are not fsynced one by one: the run syncs a study's files before marking it
retrieved.

Run it as ``python -m pacsflow.net.receiver_service`` (or ``pacsflow
receiver``); it stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from multiprocessing.process import BaseProcess
from pathlib import Path

from pacsflow.net.compiled_receiver.build import compiled_receiver
from pacsflow.net.compiled_receiver.spawner import serve_with_program
from pacsflow.net.nodes import LocalAE
from pacsflow.net.receiver_config import (
    DEFAULT_IDLE_EXIT,
    ENGINE_ENV,
    ENGINES,
    IDLE_EXIT_ENV,
    ReceiverConfig,
    ReceiverFailedError,
    ReceiverRunningError,
    default_workers,
    engine_from,
    idle_exit_from,
)
from pacsflow.net.receiver_files import (
    ReceiverStatus,
    live_leases,
    read_status,
    remove_status,
    take_lock,
    write_status,
)
from pacsflow.net.receiver_ports import default_runtime_folder, forget_port, record_port
from pacsflow.net.storage import StorageSCP, listening_socket
from pacsflow.net.storage_files import prepare_storage

LOGGER = logging.getLogger("pacsflow.net.receiver_service")  # also when run as __main__

__all__ = ["EXIT_ALREADY_RUNNING", "main", "serve"]  # its settings: receiver_config

EXIT_USAGE, EXIT_ERROR, EXIT_ALREADY_RUNNING = 2, 3, 4

_BIND_PATIENCE = 3.0
"""Seconds to keep trying a port in use: the workers of a killed receiver free it within one."""
_TICK = 0.5
_RESTARTS_PER_MINUTE = 10
"""More replacements of dead workers than this in a minute: something is broken, stop."""


def serve(config: ReceiverConfig) -> None:
    """Receive until SIGTERM or SIGINT (or ``idle_exit`` seconds without a lease).

    Raises:
        ReceiverRunningError: another receiver serves the storage folder.
        ReceiverFailedError: the receiving processes keep dying.
        OSError: the port stays in use, or the folder cannot be written.
    """
    storage = config.storage.resolve()
    prepare_storage(storage)
    program = _program(config.engine)
    lock = take_lock(storage)
    if lock is None:
        running = read_status(storage)
        where = running.describe() if running else "starting"
        raise ReceiverRunningError(f"a receiver already serves {storage}: {where}")
    stopping, giving_way = threading.Event(), threading.Event()
    previous = {
        sig: signal.signal(sig, lambda _s, _f: stopping.set())
        for sig in (signal.SIGTERM, signal.SIGINT)
    }
    previous[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, lambda _s, _f: giving_way.set())
    runtime = config.runtime or default_runtime_folder()
    workers: list[BaseProcess] = []
    recorded = False
    try:
        sock = _bind(config.local)
        workers = [
            _start_worker(config, storage, sock, lock, program) for _ in range(config.workers)
        ]
        _publish(config, storage, workers, program)
        recorded = record_port(runtime, config.local.port, storage)
        LOGGER.info(
            "Receiver %s listening on %s:%d with %d processes (%s), writing to %s",
            config.local.ae_title,
            config.local.bind_address,
            config.local.port,
            len(workers),
            _engine(program),
            storage,
        )
        _supervise(config, storage, sock, lock, workers, program, stopping, giving_way)
    finally:
        remove_status(storage, os.getpid())
        if recorded:  # while the port is still ours: no newer record can exist yet
            forget_port(runtime, config.local.port)
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
        for worker in workers:
            worker.join(10)
            if worker.is_alive():
                worker.kill()
        os.close(lock)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        LOGGER.info("Receiver %s stopped", config.local.ae_title)


def _program(engine: str) -> Path | None:
    """The compiled storage SCP for ``dcmtk`` and ``auto``, None for pynetdicom.

    Raises:
        ReceiverFailedError: ``dcmtk`` was asked for and cannot be built.
    """
    if engine == "pynetdicom":
        return None
    build = compiled_receiver()
    if build.path is None:
        if engine == "dcmtk":
            raise ReceiverFailedError(f"the compiled receiver is not available: {build.reason}")
        LOGGER.warning(
            "Receiving with pynetdicom, the slower engine: %s (install g++ and libdcmtk-dev "
            "for the compiled one)",
            build.reason,
        )
    return build.path


def _engine(program: Path | None) -> str:
    return "pynetdicom" if program is None else "dcmtk"


def _bind(local: LocalAE) -> socket.socket:
    """The listening socket; a port in use is retried briefly before giving up."""
    deadline = time.monotonic() + _BIND_PATIENCE
    while True:
        try:
            return listening_socket(local.bind_address, local.port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _publish(
    config: ReceiverConfig, storage: Path, workers: list[BaseProcess], program: Path | None
) -> None:
    write_status(
        storage,
        ReceiverStatus(
            pid=os.getpid(),
            host=socket.gethostname(),
            ae_title=config.local.ae_title,
            bind_address=config.local.bind_address,
            port=config.local.port,
            allowed_ae_titles=config.allowed_ae_titles,
            workers=tuple(w.pid or 0 for w in workers),
            idle_exit=config.idle_exit,
            engine=_engine(program),
        ),
    )


def _supervise(
    config: ReceiverConfig,
    storage: Path,
    sock: socket.socket,
    lock: int,
    workers: list[BaseProcess],
    program: Path | None,
    stopping: threading.Event,
    giving_way: threading.Event,
) -> None:
    """Replace dead workers and watch the leases until told to stop (or to give way)."""
    last_used = time.monotonic()
    restarts: list[float] = []
    while not stopping.wait(_TICK):
        replaced = False
        for i, worker in enumerate(workers):
            if not worker.is_alive():
                LOGGER.warning(
                    "Receiving process %s ended (exit code %s); starting another",
                    worker.pid,
                    worker.exitcode,
                )
                now = time.monotonic()
                restarts = [t for t in restarts if now - t < 60] + [now]
                if len(restarts) > _RESTARTS_PER_MINUTE:
                    raise ReceiverFailedError(
                        f"{len(restarts)} receiving processes ended within a minute; "
                        "see the messages above"
                    )
                workers[i] = _start_worker(config, storage, sock, lock, program)
                replaced = True
        if replaced:
            _publish(config, storage, workers, program)
        if config.idle_exit is None:
            continue  # an operator's receiver neither idles out nor gives way
        asked = giving_way.is_set()
        giving_way.clear()
        if live_leases(storage):
            last_used = time.monotonic()
        elif asked or time.monotonic() - last_used > config.idle_exit:
            # Unpublished first: a run arriving now waits for the next receiver,
            # unless its lease came in time, and then this one stays.
            remove_status(storage, os.getpid())
            if live_leases(storage):
                _publish(config, storage, workers, program)
                last_used = time.monotonic()
                continue
            if asked:
                LOGGER.info("A run for another folder needs the port, none uses this one: stopping")
            else:
                LOGGER.info("No run has used the receiver for %.0f s: stopping", config.idle_exit)
            return


def _start_worker(
    config: ReceiverConfig, storage: Path, sock: socket.socket, lock: int, program: Path | None
) -> BaseProcess:
    # fork: the worker inherits the listening socket; the supervisor runs no
    # other thread, so forking it is safe.
    context = multiprocessing.get_context("fork")
    worker = context.Process(
        target=_work,
        args=(config, storage, sock, lock, os.getpid(), program),
        name="pacsflow-receiver",
        daemon=False,
    )
    worker.start()
    return worker


def _work(
    config: ReceiverConfig,
    storage: Path,
    sock: socket.socket,
    lock: int,
    parent: int,
    program: Path | None,
) -> None:
    """One receiving process: an SCP on the shared socket until SIGTERM or the parent's death.

    With the compiled engine it runs ``program`` per accepted association
    (:mod:`pacsflow.net.compiled_receiver.spawner`); else a pynetdicom SCP.
    """
    os.close(lock)  # the lock is the supervisor's alone: it must free it when it dies
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda _s, _f: stopping.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the supervisor
    if program is not None:
        serve_with_program(config, storage, sock, program, stopping, parent)
        return
    scp = StorageSCP(
        config.local,
        storage,
        config.allowed_ae_titles,
        max_associations=config.max_associations,
        sync_each=False,
        listening=sock,
    )
    scp.start()
    try:
        while not stopping.wait(_TICK):
            if os.getppid() != parent:
                LOGGER.warning("The receiver's supervisor is gone: stopping")
                break
    finally:
        scp.stop()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pacsflow-receiver",
        description="pacsflow's storage SCP as a service: receives the C-MOVEs of every run.",
    )
    parser.add_argument("--aet", required=True, help="pacsflow's AE title (the move destination)")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument("--bind", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--storage", required=True, help="folder receiving the files")
    parser.add_argument(
        "--allow",
        action="append",
        required=True,
        metavar="AET",
        help="a calling AE title accepted (the PACS); repeat for several",
    )
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--max-associations", type=int, default=8)
    parser.add_argument(
        "--idle-exit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="exit after this many seconds without a run's lease (default: never)",
    )
    parser.add_argument(
        "--on-demand",
        action="store_true",
        help=f"started by a run: --idle-exit defaults to ${IDLE_EXIT_ENV}, else "
        f"{DEFAULT_IDLE_EXIT:.0f}",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=None,
        help=f"how to receive (default ${ENGINE_ENV}, else auto: the compiled DCMTK "
        "receiver where it builds, else pynetdicom)",
    )
    parser.add_argument(
        "--runtime",
        default=None,
        metavar="FOLDER",
        help="where receivers record their ports (default /tmp/pacsflow-<uid>)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry: exit 0 when stopped, 2 bad usage, 3 error, 4 already running."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
    )
    try:
        idle_exit = args.idle_exit
        if idle_exit is None and args.on_demand:
            idle_exit = idle_exit_from(os.environ)  # the edge of this process
        engine = args.engine or engine_from(os.environ)
        config = ReceiverConfig(
            local=LocalAE(args.aet, args.port, args.bind),
            storage=Path(args.storage),
            allowed_ae_titles=tuple(args.allow),
            workers=args.workers,
            max_associations=args.max_associations,
            idle_exit=idle_exit,
            runtime=Path(args.runtime) if args.runtime else None,
            engine=engine,
        )
    except ValueError as exc:
        print(f"pacsflow receiver: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        serve(config)
    except ReceiverRunningError as exc:
        print(f"pacsflow receiver: {exc}", file=sys.stderr)
        return EXIT_ALREADY_RUNNING
    except (OSError, ReceiverFailedError) as exc:
        print(f"pacsflow receiver: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
