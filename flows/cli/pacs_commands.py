"""The PACS commands of ``pacsflow``: echo, find, move and run (the pipeline).

The PACS and pacsflow's own AE come from options, else from environment
variables (``PACSFLOW_PACS_AET``, ``PACSFLOW_PACS_HOST``, ``PACSFLOW_PACS_PORT``,
``PACSFLOW_LOCAL_AET``, ``PACSFLOW_LOCAL_PORT``, ``PACSFLOW_LOCAL_BIND``,
``PACSFLOW_STORAGE``), so a scheduled job needs no long command line.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from flows.cli.args import UsageError, parse_date, positive
from pacsflow.net.nodes import DEFAULT_LOCAL_AE_TITLE, TRANSPORTS, LocalAE, PacsNode
from pacsflow.retrieval.series_filter import SeriesFilter
from pacsflow.retrieval.window import parse_until
from tasks.settings import ENV, resolve_local, resolve_pacs, resolve_storage, web_access

if TYPE_CHECKING:  # imported where used: they load the database models, which --help does not need
    from flows.options import Retrieval

__all__ = [
    "add_node_options",
    "add_pacs_commands",
    "add_pick_options",
    "add_series_options",
    "check_pacs_options",
    "series_filter",
    "site",
]

EXIT_OK, EXIT_INCOMPLETE = 0, 1

DEFAULT_MAX_ATTEMPTS = 10
"""pacsflow.retrieval.attempts' default, not imported for --help's sake (a test checks)."""


def add_node_options(parser: argparse.ArgumentParser, *, storage: bool) -> None:
    group = parser.add_argument_group("PACS and local AE (options, else environment)")
    group.add_argument("--pacs-aet", help=f"the PACS's AE title (${ENV['pacs_ae_title']})")
    group.add_argument("--pacs-host", help=f"the PACS's host (${ENV['pacs_host']})")
    group.add_argument("--pacs-port", type=int, help=f"the PACS's DICOM port (${ENV['pacs_port']})")
    group.add_argument(
        "--transport",
        choices=TRANSPORTS,
        help=f"how studies are found and retrieved (${ENV['transport']}, default c-move): "
        "c-move (the PACS sends to pacsflow's storage SCP), c-get (no inbound port), "
        "dicomweb (QIDO-RS and WADO-RS over HTTP(S))",
    )
    group.add_argument(
        "--dicomweb-url",
        metavar="URL",
        help=f"the PACS's DICOMweb base URL (${ENV['dicomweb_url']}); credentials from "
        "$PACSFLOW_DICOMWEB_TOKEN or $PACSFLOW_DICOMWEB_USER/_PASSWORD",
    )
    group.add_argument(
        "--local-aet",
        help=f"pacsflow's AE title (${ENV['local_ae_title']}, default {DEFAULT_LOCAL_AE_TITLE})",
    )
    if storage:
        group.add_argument(
            "--local-port",
            type=int,
            help=f"the storage SCP's port (${ENV['local_port']}, default 11112)",
        )
        group.add_argument(
            "--local-bind",
            help=f"the storage SCP's listen address (${ENV['local_bind_address']}, "
            "default 127.0.0.1; the PACS must reach it)",
        )
        group.add_argument(
            "--storage",
            help=f"folder for received files (${ENV['storage']}, default ./pacsflow-storage)",
        )


def add_series_options(parser: argparse.ArgumentParser) -> None:
    """The series filter: which series of each study to retrieve (default: all)."""
    group = parser.add_argument_group(
        "series filter (default: whole studies; a series-level C-FIND chooses, "
        "a SERIES-level C-MOVE retrieves)"
    )
    group.add_argument(
        "--series-modality",
        action="append",
        default=[],
        metavar="M",
        help="keep series of this Modality (repeatable)",
    )
    group.add_argument(
        "--series-description",
        action="append",
        default=[],
        metavar="REGEX",
        help="keep series whose SeriesDescription matches (case-insensitive; repeatable)",
    )
    group.add_argument(
        "--exclude-series-description",
        action="append",
        default=[],
        metavar="REGEX",
        help="drop series whose SeriesDescription matches, e.g. 'scout|localizer'",
    )
    group.add_argument(
        "--series-number",
        action="append",
        type=int,
        default=[],
        metavar="N",
        help="keep series with this SeriesNumber (repeatable)",
    )


def series_filter(args: argparse.Namespace) -> SeriesFilter:
    """The series filter the options give.

    Raises:
        UsageError: a modality or regular expression is invalid.
    """
    try:
        return SeriesFilter(
            modalities=args.series_modality,
            include_descriptions=args.series_description,
            exclude_descriptions=args.exclude_series_description,
            series_numbers=args.series_number,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def add_pick_options(parser: argparse.ArgumentParser, incomplete: str = "studies") -> None:
    """How many studies a run moves, how, and what counts as failure (``incomplete`` ones)."""
    parser.add_argument("--limit", type=positive, help="move at most this many studies")
    parser.add_argument(
        "--max-attempts",
        type=positive,
        default=DEFAULT_MAX_ATTEMPTS,
        help=f"give up on a study after this many tries ({DEFAULT_MAX_ATTEMPTS})",
    )
    parser.add_argument("--concurrency", type=positive, default=1, help="studies moved at once (1)")
    parser.add_argument(
        "--until",
        metavar="HH:MM",
        help="start no study after this time (local; the next such time): the PACS is "
        "spared outside its window, studies in flight finish, the rest wait for the next run",
    )
    parser.add_argument(
        "--ingest-workers",
        type=int,
        choices=range(9),
        default=0,
        metavar="N",
        help="ingest studies in N processes while the next ones arrive (default 0: in threads "
        "beside the transfers)",
    )
    parser.add_argument("--institution", help="stored with images (default: the PACS AE title)")
    parser.add_argument(
        "--allow-failures",
        action="store_true",
        help=f"exit 0 even when {incomplete} are incomplete",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")


def add_pacs_commands(commands: Any) -> None:
    """Add ``echo``, ``find``, ``move`` and ``run`` to the ``pacsflow`` sub-commands."""
    echo = commands.add_parser(
        "echo", help="C-ECHO the PACS, then a C-FIND: is it there, does it accept our queries?"
    )
    add_node_options(echo, storage=False)
    echo.set_defaults(run=_echo, needs_db=False)

    find = commands.add_parser("find", help="C-FIND the studies of a date range")
    _add_range_arguments(find)
    find.add_argument(
        "--cap", type=positive, default=1000, help="answers at which the PACS stops (1000)"
    )
    add_node_options(find, storage=False)
    _add_output_options(find)
    find.set_defaults(run=_find, runs_flow=True)

    move = commands.add_parser("move", help="retrieve the found studies not retrieved yet")
    move.add_argument("--from", dest="start", type=parse_date, help="only studies from this day")
    move.add_argument("--to", dest="end", type=parse_date, help="only studies up to this day")
    move.add_argument("--modality", action="append", default=[], help="only these modalities")
    add_pick_options(move)
    add_series_options(move)
    add_node_options(move, storage=True)
    _add_output_options(move)
    move.set_defaults(run=_move, runs_flow=True)

    run = commands.add_parser("run", help="the pipeline: find, then move, a date range")
    _add_range_arguments(run)
    run.add_argument(
        "--cap", type=positive, default=1000, help="answers at which the PACS stops (1000)"
    )
    run.add_argument(
        "--only-range",
        action="store_true",
        help="move only studies of the range (default: also retry earlier incomplete ones)",
    )
    add_pick_options(run)
    add_series_options(run)
    add_node_options(run, storage=True)
    _add_output_options(run)
    run.set_defaults(run=_run, runs_flow=True)


def _add_range_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("start", type=parse_date, help="first study date (YYYY-MM-DD, yesterday)")
    parser.add_argument("end", type=parse_date, nargs="?", help="last study date (default: start)")
    parser.add_argument(
        "--modality", action="append", default=[], help="only studies with this modality"
    )


def _pacs(args: argparse.Namespace) -> PacsNode:
    return resolve_pacs(
        args.pacs_aet,
        args.pacs_host,
        args.pacs_port,
        getattr(args, "transport", None),
        getattr(args, "dicomweb_url", None),
        source="cli",
    )


def _local(args: argparse.Namespace) -> LocalAE:
    return resolve_local(
        args.local_aet, getattr(args, "local_port", None), getattr(args, "local_bind", None)
    )


def check_pacs_options(args: argparse.Namespace) -> None:
    """Refuse missing or invalid PACS and local AE settings before any flow starts.

    Raises:
        UsageError: naming the option (or environment variable) to fix.
    """
    try:
        _pacs(args)
        _local(args)
        web_access()
    except ValueError as exc:  # missing, or an invalid AE title or port
        raise UsageError(str(exc)) from None
    if getattr(args, "start", None) and getattr(args, "end", None) and args.end < args.start:
        raise UsageError(f"the end date {args.end} is before the start date {args.start}")
    if hasattr(args, "series_modality"):
        series_filter(args)
    if getattr(args, "until", None):
        try:
            parse_until(args.until)
        except ValueError as exc:
            raise UsageError(str(exc)) from None


def _retrieval(args: argparse.Namespace) -> Retrieval:
    from flows.options import Retrieval

    return Retrieval(
        concurrency=getattr(args, "concurrency", 1),
        result_cap=getattr(args, "cap", 1000),
        institution=getattr(args, "institution", None),
        ingest_workers=getattr(args, "ingest_workers", 0),
        until=getattr(args, "until", None),
    )


def site(args: argparse.Namespace, db_url: str) -> dict[str, Any]:
    """What ``move``, ``run`` and ``cohort run`` pass alike: PACS, AE, storage, retrieval, db."""
    return {
        "pacs": _pacs(args),
        "local": _local(args),
        "storage": resolve_storage(args.storage),
        "retrieval": _retrieval(args),
        "db_url": db_url,
        "show_progress": not args.no_progress,
    }


def _echo(args: argparse.Namespace, _db_url: str) -> int:
    from pacsflow.net.echo import echo
    from pacsflow.net.transports.registry import transport_for

    pacs = _pacs(args)
    seconds = echo(_local(args), pacs, web=web_access())
    print(transport_for(pacs).echo_report(pacs, seconds))
    return EXIT_OK


def _find(args: argparse.Namespace, db_url: str) -> int:
    from flows.dates import DateRange
    from flows.find_studies import find_studies_flow
    from flows.summaries import UNDATED_STUDIES_HINT

    result: dict[str, Any] = find_studies_flow(
        dates=DateRange(args.start, args.end),
        pacs=_pacs(args),
        local=_local(args),
        modalities=args.modality,
        result_cap=args.cap,
        db_url=db_url,
    )
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['studies_found']} studies found ({result['studies_new']} new) "
            f"in {result['queries']} queries"
        )
        for window in result["incomplete_windows"]:
            print(f"  still capped, studies may be missing: {window}")
        print(f"  note: {UNDATED_STUDIES_HINT}")
    return EXIT_OK


def _move(args: argparse.Namespace, db_url: str) -> int:
    from flows.move_studies import move_studies_flow
    from pacsflow.retrieval.attempts import StudyPick

    pick = StudyPick(
        limit=args.limit,
        modalities=args.modality or [],
        start_date=args.start,
        end_date=args.end,
        max_attempts=args.max_attempts,
    )
    result: dict[str, Any] = move_studies_flow(
        pick=pick, series=series_filter(args), **site(args, db_url)
    )
    return _report(args, result)


def _run(args: argparse.Namespace, db_url: str) -> int:
    from flows.dates import DateRange
    from flows.options import Selection
    from flows.pipeline import pipeline

    selection = Selection(
        modalities=args.modality or [],
        limit=args.limit,
        max_attempts=args.max_attempts,
        retry_earlier=not args.only_range,
    )
    result: dict[str, Any] = pipeline(
        dates=DateRange(args.start, args.end),
        selection=selection,
        series=series_filter(args),
        **site(args, db_url),
    )
    return _report(args, result)


def _report(args: argparse.Namespace, result: dict[str, Any]) -> int:
    from flows.summaries import UNDATED_STUDIES_HINT

    if args.json:
        print(json.dumps(result, default=str))
    else:
        if "studies_found" in result:
            print(f"{result['studies_found']} studies found ({result['studies_new']} new)")
            print(f"  note: {UNDATED_STUDIES_HINT}")
        print(
            f"{result['studies_picked']} studies picked: {result['studies_complete']} complete, "
            f"{result['studies_partial']} partial, {result['studies_failed']} failed, "
            f"{result['studies_skipped']} skipped, "
            f"{result['studies_no_matching_series']} with no matching series; "
            f"{result['images_added']} images added in {result['seconds']:.1f} s"
        )
        if result["studies_not_started"]:
            print(
                f"  {result['studies_not_started']} studies not started: the retrieval "
                "window ended (--until); the next run takes them"
            )
        for item in result["incomplete"] + result["skipped"]:
            print(f"  {item['outcome']}: {item['study_uid']}: {item['error']}")
        if result["studies_given_up"]:
            print(
                f"  {result['studies_given_up']} studies given up after "
                f"{result['max_attempts']} attempts (see studies_find.last_error)"
            )
    incomplete = result["studies_partial"] + result["studies_failed"]
    return EXIT_INCOMPLETE if incomplete and not args.allow_failures else EXIT_OK
