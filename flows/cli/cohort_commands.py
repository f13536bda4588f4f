"""``pacsflow cohort run|status|list``: retrieve what a cohort file names, and report by row.

``run`` checks the whole file before anything starts (a bad file exits 2 with
one line naming the row), then runs the ``cohort`` flow. ``status`` and
``list`` read the database only: no Prefect server, an answer in a second.
Items are named by row number (data rows count from 1); their keys are
patient data and are never printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flows.cli.args import EXIT_INCOMPLETE, EXIT_OK, UsageError
from flows.cli.pacs_options import (
    add_node_options,
    add_pick_options,
    add_series_options,
    series_filter,
)

if TYPE_CHECKING:  # imported where used: pacsflow --help loads neither pydicom nor these
    from sqlalchemy import Engine

    from pacsflow.cohorts.cohort_file import CohortSource
    from pacsflow.cohorts.status import CohortReport

__all__ = ["add_cohort_commands", "check_cohort_options"]


def add_cohort_commands(commands: Any) -> None:
    """Add ``cohort run``, ``cohort status`` and ``cohort list`` to the sub-commands."""
    cohort = commands.add_parser(
        "cohort", help="retrieve a list of accession numbers, patients or studies (a CSV file)"
    )
    actions = cohort.add_subparsers(dest="cohort_command", required=True, metavar="ACTION")

    run = actions.add_parser(
        "run",
        help="find and retrieve the studies of a cohort file",
        description="Columns (a header row; case, spaces, _ - . # ignored; usual spellings "
        "such as 'Accession Number', 'MRN', 'Study UID' accepted): AccessionNumber, PatientID "
        "and/or StudyInstanceUID (each row needs one), optionally StudyDate (YYYYMMDD, "
        "YYYY-MM-DD or YYYYMMDD-YYYYMMDD) and ModalitiesInStudy; other columns are ignored "
        "and a repeated row is counted once (both said on standard error). Exit 0 when every "
        "item was found and retrieved, 1 when one was not, 2 bad usage or file, 3 when the "
        "run failed.",
    )
    run.add_argument("file", help="the cohort file (CSV)")
    run.add_argument("--name", help="the cohort's name (default: the file's name without .csv)")
    add_series_options(run)
    add_pick_options(run, incomplete="items")
    run.add_argument("--json", action="store_true", help="print the result as one JSON line")
    add_node_options(run, storage=True)
    run.set_defaults(run=_run, runs_flow=True)

    status = actions.add_parser("status", help="each item of a cohort, by row")
    status.add_argument("name", help="the cohort's name (pacsflow cohort list)")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(run=_status)

    listing = actions.add_parser("list", help="the recorded cohorts")
    listing.add_argument("--json", action="store_true", help="print one JSON array")
    listing.set_defaults(run=_list)


def _source(args: argparse.Namespace) -> CohortSource:
    from pacsflow.cohorts.cohort_file import CohortSource

    try:
        return CohortSource(file=args.file, name=args.name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def check_cohort_options(args: argparse.Namespace) -> None:
    """Refuse a bad cohort file, name or series filter before anything starts.

    A good file's notes (ignored columns, repeated rows counted once) are
    printed on standard error, one line each.

    Raises:
        UsageError: with one line naming the row and the problem.
    """
    if getattr(args, "cohort_command", None) != "run":
        return
    from pacsflow.cohorts.cohort_file import CohortFileError, load_cohort_file

    _source(args)
    series_filter(args)
    try:
        checked = load_cohort_file(args.file)
    except CohortFileError as exc:
        raise UsageError(str(exc)) from None
    for note in checked.notes:  # on standard error: --json keeps standard output
        print(f"pacsflow cohort run: {args.file}: {note}", file=sys.stderr)


def _run(args: argparse.Namespace, db_url: str) -> int:
    from flows.cohort import cohort_flow
    from flows.options import CohortSelection
    from pacsflow.cohorts.bookkeeping import CohortMismatchError
    from pacsflow.cohorts.cohort_file import CohortFileError, CohortSource

    source = _source(args)
    try:
        result = cohort_flow(
            cohort=CohortSource(file=str(_absolute(args.file)), name=source.cohort_name),
            series=series_filter(args),
            selection=CohortSelection(limit=args.limit, max_attempts=args.max_attempts),
            site=args.site,
            show_progress=not args.no_progress,
        )
    except (CohortMismatchError, CohortFileError) as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(result.as_dict(), default=str))
    else:
        moved = result.move
        _print_report(result.report)
        print(
            f"{result.report.studies_found} studies found ({result.found.studies_new} new), "
            f"{moved.studies_picked} picked: {moved.studies_complete} complete, "
            f"{moved.studies_no_matching_series} with no matching series, "
            f"{moved.studies_partial} partial, {moved.studies_failed} failed; "
            f"{moved.images_added} images added in {result.seconds:.1f} s"
        )
        if moved.studies_not_started:
            print(
                f"  {moved.studies_not_started} studies not started: the retrieval "
                "window ended (--until); a re-run takes them"
            )
    return EXIT_OK if result.done or args.allow_failures else EXIT_INCOMPLETE


def _absolute(path: str) -> str:
    return str(Path(path).resolve())


def _engine(db_url: str) -> Engine:
    """The database's engine, once it is known to be at the newest schema."""
    from pacsflow.database.schema import current_revision, head_revision
    from tasks.credentials import connect_url
    from tasks.engines import engine_for

    revision = current_revision(connect_url(db_url))
    if revision != head_revision():
        raise UsageError(
            f"the database is at schema revision {revision or '(none)'}, not "
            f"{head_revision()}: run pacsflow init-db first"
        )
    return engine_for(db_url)


def _report(db_url: str, name: str) -> CohortReport:
    from pacsflow.cohorts.bookkeeping import UnknownCohortError
    from pacsflow.cohorts.status import cohort_report
    from pacsflow.database.session import session_scope

    try:
        with session_scope(_engine(db_url)) as session:
            return cohort_report(session, name)
    except UnknownCohortError as exc:
        raise UsageError(str(exc)) from None


def _status(args: argparse.Namespace, db_url: str) -> int:
    report = _report(db_url, args.name)
    if args.json:
        print(json.dumps(report.as_dict(), default=str))
        return EXIT_OK
    _print_report(report)
    return EXIT_OK


def _print_report(report: CohortReport) -> None:
    counts = report.counts()
    print(
        f"cohort {report.name}: {counts['items_total']} items, "
        f"{counts['items_retrieved']} retrieved, {counts['items_partial']} partial, "
        f"{counts['items_pending']} pending, {counts['items_not_found']} not found "
        f"(series: {report.series_filter})"
    )
    print(f"{'row':>6}  {'status':<10} {'found':>6} {'retrieved':>9}  note")
    for item in report.items:
        note = item.error or (
            f"{item.studies_without_matching_series} without matching series"
            if item.studies_without_matching_series
            else ""
        )
        line = (
            f"{item.row:>6}  {item.status:<10} {item.studies_found:>6} "
            f"{item.studies_retrieved:>9}  {note}"
        )
        print(line.rstrip())


def _list(args: argparse.Namespace, db_url: str) -> int:
    from pacsflow.cohorts.status import list_cohorts
    from pacsflow.database.session import session_scope

    with session_scope(_engine(db_url)) as session:
        cohorts = list_cohorts(session)
    if args.json:
        print(json.dumps([asdict(c) for c in cohorts], default=str))
        return EXIT_OK
    if not cohorts:
        print("no cohorts yet (pacsflow cohort run FILE.csv records one)")
    for c in cohorts:
        last = f"{c.last_run_on:%Y-%m-%d %H:%M}" if c.last_run_on else "never"
        print(
            f"{c.name}: {c.items_retrieved}/{c.items} items retrieved, last run {last} UTC, "
            f"series: {c.series_filter}"
        )
    return EXIT_OK
