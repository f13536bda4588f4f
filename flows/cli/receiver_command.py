"""``pacsflow receiver``: run, show or stop the receiver service that C-MOVE runs share.

Runs start a receiver on demand (it exits after an idle time); an operator
who wants one always up runs ``pacsflow receiver`` under a service manager,
or ``scripts/prefect-ops.sh receiver``. The command replaces itself with the
service process (:mod:`pacsflow.net.receiver_service`), so signals reach it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from flows.cli.args import UsageError, positive
from flows.config import DEFAULT_STORAGE, ENV, resolve_callers, resolve_local, resolve_storage
from pacsflow.net.nodes import DEFAULT_LOCAL_AE_TITLE, LocalAE
from pacsflow.net.receiver_config import ENGINE_ENV, ENGINES

__all__ = ["add_receiver_command"]


def add_receiver_command(commands: Any) -> None:
    """Add ``receiver`` to the ``pacsflow`` sub-commands."""
    receiver = commands.add_parser(
        "receiver",
        help="run (or show, stop) the storage SCP service that C-MOVE runs share",
        description="pacsflow's storage SCP in processes of its own, serving every run "
        "that retrieves by C-MOVE into the storage folder. Runs start one on demand "
        "when none serves the folder; this command runs one in the foreground until "
        "SIGTERM or Ctrl-C.",
    )
    receiver.add_argument(
        "action", nargs="?", choices=["run", "status", "stop"], default="run", help="(run)"
    )
    receiver.add_argument(
        "--local-aet",
        help=f"pacsflow's AE title (${ENV['local_ae_title']}, default {DEFAULT_LOCAL_AE_TITLE})",
    )
    receiver.add_argument(
        "--local-port",
        type=int,
        help=f"port to listen on (${ENV['local_port']}, default {LocalAE().port})",
    )
    receiver.add_argument(
        "--local-bind",
        help=f"address to listen on (${ENV['local_bind_address']}, {LocalAE().bind_address})",
    )
    receiver.add_argument(
        "--storage", help=f"folder for received files (${ENV['storage']}, ./{DEFAULT_STORAGE})"
    )
    receiver.add_argument(
        "--allow",
        action="append",
        metavar="AET",
        help=f"a calling AE title accepted; repeat for several (default ${ENV['pacs_ae_title']})",
    )
    receiver.add_argument(
        "--workers",
        type=positive,
        help="receiving processes (default: one per core, at most 4)",
    )
    receiver.add_argument(
        "--idle-exit",
        type=positive,
        metavar="SECONDS",
        help="stop when no run has used it for this long (default: never)",
    )
    receiver.add_argument(
        "--engine",
        choices=ENGINES,
        help="how to receive: dcmtk, pacsflow's compiled storage SCP (needs g++ and "
        "libdcmtk-dev; built on first use); pynetdicom, in Python; auto: dcmtk where it "
        f"builds, else pynetdicom (default ${ENGINE_ENV}, else auto)",
    )
    receiver.set_defaults(run=_receiver, needs_db=False)


def _receiver(args: argparse.Namespace, _db_url: str) -> int:
    # Imported here: they load pynetdicom, which ``pacsflow --help`` does not need.
    from pacsflow.net.receiver_config import default_workers
    from pacsflow.net.receiver_files import running_receiver
    from pacsflow.net.receiver_lease import stop_receiver
    from pacsflow.net.receiver_ports import default_runtime_folder, port_holder

    storage = Path(resolve_storage(args.storage)).resolve()
    if args.action == "stop":
        stopped = stop_receiver(storage)
        print(f"stopped the receiver {stopped.describe()}" if stopped else _none_runs(storage))
        return 0
    running = running_receiver(storage)
    if args.action == "status":
        if running is None:
            print(_none_runs(storage))
        else:
            print(
                f"receiver {running.describe()} serves {storage}; accepts "
                f"{', '.join(running.allowed_ae_titles)}; {len(running.workers)} processes; "
                f"engine {running.engine}"
            )
        return 0
    if running is not None:
        print(f"a receiver already serves {storage}: {running.describe()}", file=sys.stderr)
        return 3
    try:
        local = resolve_local(args.local_aet, args.local_port, args.local_bind)
        allowed = resolve_callers(args.allow)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    holder = port_holder(default_runtime_folder(), local.port)
    if holder is not None and holder.storage != storage:
        print(
            f"port {local.port} is held by pacsflow's receiver for {holder.storage} "
            f"(pid {holder.pid}): stop it (pacsflow receiver stop --storage {holder.storage}) "
            "or use another --local-port",
            file=sys.stderr,
        )
        return 3
    workers = args.workers or default_workers()
    command = [sys.executable, "-m", "pacsflow.net.receiver_service",
               "--aet", local.ae_title, "--port", str(local.port), "--bind", local.bind_address,
               "--storage", str(storage), "--workers", str(workers)]  # fmt: skip
    for title in allowed:
        command += ["--allow", title]
    if args.idle_exit:
        command += ["--idle-exit", str(args.idle_exit)]
    if args.engine:
        command += ["--engine", args.engine]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)  # noqa: S606 - this interpreter, our own module


def _none_runs(storage: Path) -> str:
    return f"no receiver serves {storage} (a C-MOVE run starts one when needed)"
