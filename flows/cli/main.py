"""The ``pacsflow`` command: runs the same Prefect flows as the UI and the deployments.

Exit status: 0 success; 1 the run finished but some files failed (see the
``ingest_errors`` table) or some studies were not retrieved completely (see
``studies_find.last_error``); ``--allow-failures`` accepts that; 2 bad usage;
3 the run could not be done (message on standard error).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from flows.cli.args import (
    EXIT_BROKEN_PIPE,
    EXIT_ERROR,
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CliParser,
    UsageError,
    accept_global_options_after_commands,
    non_negative,
    positive,
)
from flows.cli.cohort_commands import add_cohort_commands, check_cohort_options
from flows.cli.console import INTERRUPTED, configure_console, describe_error, silence_stdout
from flows.cli.export_command import add_export_command, check_export_options
from flows.cli.local_server import (
    current_server,
    ensure_server,
    server_folder,
    stop_server,
    using_server,
)
from flows.cli.pacs_commands import add_pacs_commands, check_pacs_options
from flows.cli.receiver_command import add_receiver_command
from flows.config import (
    DB_PASSWORD_ENV,
    DB_URL_ENV,
    DEFAULT_DB_URL,
    check_db_url,
    default_db_url,
    open_database,
)
from pacsflow.errors import PacsflowError
from tasks.credentials import connect_url
from tasks.prefect_defaults import apply_prefect_defaults

DEFAULT_BATCH_SIZE = 2000
"""Files per ingest task (pacsflow.ingest.batch's default, not imported for --help's sake)."""

LOCAL_SERVER_ENV = "PACSFLOW_LOCAL_SERVER"
"""``off`` runs each command on a temporary Prefect server of its own, as Prefect does."""

if TYPE_CHECKING:  # imported where used: pacsflow --help loads neither Prefect nor the models
    from flows.results import IngestSummary

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = CliParser(
        prog="pacsflow",
        description="Turn a PACS, or DICOM folders, into a queryable research database.",
        epilog=(
            f"The database is --db, else ${DB_URL_ENV}, else {DEFAULT_DB_URL}. "
            f"Give a password in ${DB_PASSWORD_ENV} rather than in the URL. "
            "Exit status: 0 ok, 1 some files failed or studies incomplete, 2 bad usage, 3 error."
        ),
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help="SQLAlchemy database URL, e.g. postgresql+psycopg2://user@host/pacs",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show Prefect's and pacsflow's INFO logs"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser(
        "init-db", help="create the database / migrate it to the newest schema"
    )
    init.add_argument("--echo", action="store_true", help="print the DDL applied")
    init.set_defaults(run=_init_db, runs_flow=True)

    ingest = commands.add_parser("ingest", help="index every DICOM file under a folder")
    ingest.add_argument("folder", help="the folder to walk, recursively")
    ingest.add_argument(
        "--institution",
        default=None,
        help="stored with patients and images (default unknown_YYYYMMDD)",
    )
    ingest.add_argument(
        "--batch-size",
        type=positive,
        default=DEFAULT_BATCH_SIZE,
        help=f"files per task and transaction ({DEFAULT_BATCH_SIZE})",
    )
    ingest.add_argument(
        "--workers", type=non_negative, default=0, help="worker processes (default: one per core)"
    )
    ingest.add_argument(
        "--allow-failures",
        action="store_true",
        help="exit 0 even when some files could not be stored",
    )
    ingest.add_argument("--no-progress", action="store_true", help="no progress bar")
    ingest.add_argument("--json", action="store_true", help="print the result as one JSON line")
    ingest.set_defaults(run=_ingest, runs_flow=True)

    dump = commands.add_parser("dump", help="write tables to CSV files, one per table")
    dump.add_argument("output", help="the folder for the CSV files (created if missing)")
    dump.add_argument("--tables", nargs="+", metavar="TABLE", help="only these tables")
    dump.set_defaults(run=_dump, runs_flow=True)

    server = commands.add_parser(
        "server", help="show or stop the local Prefect server the commands share"
    )
    server.add_argument("action", choices=["status", "stop"])
    server.set_defaults(run=_server, needs_db=False)

    add_pacs_commands(commands)
    add_cohort_commands(commands)
    add_receiver_command(commands)
    add_export_command(commands)
    accept_global_options_after_commands(parser)
    return parser


def _init_db(args: argparse.Namespace, db_url: str) -> int:
    from flows.init_db import init_db
    from pacsflow.database.engine import mask_url

    result = init_db(db_url=db_url, echo=args.echo)
    if result.adopted_pacsanini:
        print(result.adopted_pacsanini.text())
    print(f"{mask_url(db_url)} is at schema revision {result.revision}")
    return EXIT_OK


def _ingest(args: argparse.Namespace, db_url: str) -> int:
    from flows.ingest_dir import ingest_dir

    result = ingest_dir(
        src=args.folder,
        db_url=db_url,
        institution=args.institution,
        batch_size=args.batch_size,
        workers=args.workers,
        show_progress=not args.no_progress,
    )
    if args.json:
        print(json.dumps(result.as_dict()))
    else:
        _print_ingest_summary(result)
    if result.counts.failed and not args.allow_failures:
        return EXIT_INCOMPLETE
    return EXIT_OK


def _print_ingest_summary(result: IngestSummary) -> None:
    counts = result.counts
    print(
        f"{counts.files_seen} files in {result.seconds:.1f} s "
        f"({result.files_per_second:.0f} files/s): {counts.images_added} images added, "
        f"{counts.unchanged} unchanged, {counts.already_present} already present, "
        f"{counts.failed} failed, {counts.skipped} skipped"
    )
    for reason, count in sorted(counts.failed_by_reason.items()):
        print(f"  failed: {count} {reason} (see the ingest_errors table)")
    for reason, count in sorted(counts.skipped_by_reason.items()):
        print(f"  skipped: {count} {reason} (no instance to store)")
    if counts.conflicts:
        print(
            f"  {counts.conflicts} values differed from the patient, study or series "
            "already stored; the first was kept (see the ingest_conflicts table)"
        )


def _dump(args: argparse.Namespace, db_url: str) -> int:
    from flows.dump_db import dump_db

    for path in dump_db(output=args.output, db_url=db_url, tables=args.tables):
        print(path)
    return EXIT_OK


def _server(args: argparse.Namespace, _db_url: str) -> int:
    if args.action == "stop":
        stopped = stop_server()
        print(f"stopped the server on {stopped.url}" if stopped else "no local server runs")
        return EXIT_OK
    record = current_server()
    if record is None:
        print(f"no local server runs (the next command starts one; folder {server_folder()})")
    else:
        ui = record.url.removesuffix("/api")
        print(f"running on {ui} (keeper pid {record.pid}, folder {server_folder()})")
    return EXIT_OK


def _run_flow_command(args: argparse.Namespace, db_url: str) -> int:
    """Run the command; on the shared local Prefect server unless one is configured."""
    run: Callable[[argparse.Namespace, str], int] = args.run
    if not getattr(args, "runs_flow", False) or os.environ.get("PREFECT_API_URL"):
        return run(args, db_url)
    if os.environ.get(LOCAL_SERVER_ENV, "on").lower() in ("off", "0", "false", "no"):
        return run(args, db_url)  # a temporary server for this run only, as Prefect does
    with using_server():  # registered first: the keeper must not stop it under us
        os.environ["PREFECT_API_URL"] = ensure_server()
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        # Flow-run heartbeats serve automations on a shared server; on this one they
        # only cost each command a second, joining the heartbeat thread at its end.
        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            return run(args, db_url)


def _preflight(args: argparse.Namespace, db_url: str) -> None:
    """Refuse bad input before a flow (and a Prefect server) starts.

    Raises:
        ValueError / NotADirectoryError / PacsflowError: with a one-line reason.
    """
    if args.command == "ingest":
        from pacsflow.ingest.folders import require_folder

        require_folder(args.folder)
    if args.command == "dump" and args.tables:
        from pacsflow.database.dump import check_table_names

        check_table_names(args.tables)
    if hasattr(args, "pacs_aet"):
        args.site = check_pacs_options(args, db_url)  # resolved once, used by the command
    check_cohort_options(args)
    check_export_options(args, db_url)
    if getattr(args, "needs_db", True):
        from pacsflow.database.schema import check_server_reachable

        check_server_reachable(connect_url(db_url))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pacsflow`` command line; return the exit status."""
    try:
        status = _main(argv)
        sys.stdout.flush()  # here, so that a closed pipe is met while it can be handled
    except BrokenPipeError:  # pacsflow ... | head: the reader has what it wanted
        silence_stdout()
        return EXIT_BROKEN_PIPE
    return status


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    apply_prefect_defaults()
    configure_console(args.command, args.verbose)
    from pacsflow.dicom.reading import silence_pydicom_value_warnings

    silence_pydicom_value_warnings()
    try:
        check_db_url(args.db or default_db_url())
    except ValueError as exc:
        origin = "--db" if args.db else f"${DB_URL_ENV}"
        print(f"pacsflow {args.command}: {origin}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # Flow parameters are stored and shown by Prefect: they get the URL without its
    # password, which stays in this process (tasks.credentials), not in os.environ.
    db_url = open_database(args.db)
    try:
        _preflight(args, db_url)
        return _run_flow_command(args, db_url)
    except UsageError as exc:
        print(f"pacsflow {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"pacsflow {args.command}: {INTERRUPTED}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        raise
    except Exception as exc:  # e.g. the PACS or the database cannot be reached
        if args.verbose and not isinstance(exc, PacsflowError | ValueError | OSError):
            logging.getLogger(__name__).exception("the command failed")
        print(f"pacsflow {args.command}: {describe_error(exc)}", file=sys.stderr)
        return EXIT_ERROR
