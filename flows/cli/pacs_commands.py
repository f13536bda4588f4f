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
from flows.cli.pacs_options import (
    add_node_options,
    add_output_options,
    add_pick_options,
    add_series_options,
    series_filter,
)
from flows.config import (
    SiteOptions,
    resolve_local,
    resolve_pacs,
    resolve_site,
)
from pacsflow.site import Site

if TYPE_CHECKING:  # imported where used: they load the database models, which --help does not need
    from flows.options import Retrieval
    from flows.results import FindSummary, MoveSummary

__all__ = ["add_pacs_commands", "check_pacs_options"]


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
    add_output_options(find)
    find.set_defaults(run=_find, runs_flow=True)

    move = commands.add_parser("move", help="retrieve the found studies not retrieved yet")
    move.add_argument("--from", dest="start", type=parse_date, help="only studies from this day")
    move.add_argument("--to", dest="end", type=parse_date, help="only studies up to this day")
    move.add_argument("--modality", action="append", default=[], help="only these modalities")
    add_pick_options(move)
    add_series_options(move)
    add_node_options(move, storage=True)
    add_output_options(move)
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
    add_output_options(run)
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
