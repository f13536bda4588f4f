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

from flows.cli.args import EXIT_INCOMPLETE, EXIT_OK, UsageError, parse_date, positive
from flows.config import (
    DEFAULT_STORAGE,
    ENV,
    SiteOptions,
    resolve_local,
    resolve_pacs,
    resolve_site,
)
from pacsflow.net.nodes import DEFAULT_LOCAL_AE_TITLE, TRANSPORTS, LocalAE
from pacsflow.retrieval.series_filter import SeriesFilter
from pacsflow.site import Site

if TYPE_CHECKING:  # imported where used: they load the database models, which --help does not need
    from flows.options import Retrieval
    from flows.results import FindSummary, MoveSummary

__all__ = [
    "add_node_options",
    "add_pacs_commands",
    "add_pick_options",
    "add_series_options",
    "check_pacs_options",
    "series_filter",
]

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
            help=f"the storage SCP's port (${ENV['local_port']}, default {LocalAE().port})",
        )
        group.add_argument(
            "--local-bind",
            help=f"the storage SCP's listen address (${ENV['local_bind_address']}, "
            f"default {LocalAE().bind_address}; the PACS must reach it)",
        )
        group.add_argument(
            "--storage",
            help=f"folder for received files (${ENV['storage']}, default ./{DEFAULT_STORAGE})",
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


def check_pacs_options(args: argparse.Namespace, db_url: str) -> Site:
    """The site the options give (else the environment), resolved once before any flow
    starts; missing or invalid settings refused.

    Raises:
        UsageError: naming the option (or environment variable) to fix.
    """
    try:
        pacs = resolve_pacs(
            args.pacs_aet,
            args.pacs_host,
            args.pacs_port,
            getattr(args, "transport", None),
            getattr(args, "dicomweb_url", None),
            source="cli",
        )
        local = resolve_local(
            args.local_aet, getattr(args, "local_port", None), getattr(args, "local_bind", None)
        )
    except ValueError as exc:  # missing, or an invalid AE title or port
        raise UsageError(str(exc)) from None
    if getattr(args, "start", None) and getattr(args, "end", None) and args.end < args.start:
        raise UsageError(f"the end date {args.end} is before the start date {args.start}")
    if hasattr(args, "series_modality"):
        series_filter(args)
    try:
        options = SiteOptions(pacs, local, getattr(args, "storage", None), db_url)
        return resolve_site(options, _retrieval(args))
    except ValueError as exc:  # DICOMweb credentials, the retrieval window
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


def _echo(args: argparse.Namespace, _db_url: str) -> int:
    from pacsflow.net.echo import echo
    from pacsflow.net.transports.registry import transport_for
    from tasks.credentials import web_access

    site: Site = args.site
    pacs = site.pacs
    seconds = echo(site.local, pacs, web=web_access())
    print(transport_for(pacs).echo_report(pacs, seconds))
    return EXIT_OK


def _find(args: argparse.Namespace, db_url: str) -> int:
    from flows.dates import DateRange
    from flows.find_studies import find_studies_flow
    from flows.summaries import UNDATED_STUDIES_HINT

    result = find_studies_flow(
        dates=DateRange(args.start, args.end), modalities=args.modality, site=args.site
    )
    if args.json:
        print(json.dumps(result.as_dict()))
    else:
        print(
            f"{result.studies_found} studies found ({result.studies_new} new) "
            f"in {result.queries} queries"
        )
        for window in result.incomplete_windows:
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
    result = move_studies_flow(
        pick=pick, series=series_filter(args), site=args.site, show_progress=not args.no_progress
    )
    return _report(args, result.as_dict(), result)


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
    result = pipeline(
        dates=DateRange(args.start, args.end),
        selection=selection,
        series=series_filter(args),
        site=args.site,
        show_progress=not args.no_progress,
    )
    return _report(args, result.as_dict(), result.move, result.find, result.seconds)


def _report(
    args: argparse.Namespace,
    json_form: dict[str, Any],
    moved: MoveSummary,
    found: FindSummary | None = None,
    seconds: float | None = None,
) -> int:
    """Print a move's (or a pipeline's, with its find) result; the exit status."""
    from flows.summaries import UNDATED_STUDIES_HINT

    if args.json:
        print(json.dumps(json_form, default=str))
    else:
        if found is not None:
            print(f"{found.studies_found} studies found ({found.studies_new} new)")
            print(f"  note: {UNDATED_STUDIES_HINT}")
        print(
            f"{moved.studies_picked} studies picked: {moved.studies_complete} complete, "
            f"{moved.studies_partial} partial, {moved.studies_failed} failed, "
            f"{moved.studies_skipped} skipped, "
            f"{moved.studies_no_matching_series} with no matching series; "
            f"{moved.images_added} images added in "
            f"{moved.seconds if seconds is None else seconds:.1f} s"
        )
        if moved.studies_not_started:
            print(
                f"  {moved.studies_not_started} studies not started: the retrieval "
                "window ended (--until); the next run takes them"
            )
        for item in moved.incomplete + moved.skipped:
            print(f"  {item.outcome}: {item.study_uid}: {item.error}")
        if moved.studies_given_up:
            print(
                f"  {moved.studies_given_up} studies given up after "
                f"{moved.max_attempts} attempts (see studies_find.last_error)"
            )
    incomplete = moved.studies_partial + moved.studies_failed
    return EXIT_INCOMPLETE if incomplete and not args.allow_failures else EXIT_OK
