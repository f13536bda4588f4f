"""``pacsflow export``: copy selected studies (files and tables) to a folder."""

from __future__ import annotations

import argparse
import json
from typing import Any

from flows.cli.args import UsageError, parse_date, positive

__all__ = ["add_export_command", "check_export_options"]


def add_export_command(commands: Any) -> None:
    """Add ``export`` to the ``pacsflow`` sub-commands."""
    export = commands.add_parser(
        "export",
        help="copy selected studies (files, tables, manifest) to a folder",
        description="Copy the selected ingested studies to DEST: files/<study>/<series>/"
        "<sop>.dcm, tables/*.csv and manifest.json. A re-run copies only what is missing. "
        "The copy is plain: it holds the patient data as pacsflow stores it.",
    )
    export.add_argument("dest", help="the export folder (created if missing)")
    export.add_argument("--cohort", metavar="NAME", help="only the studies of this cohort")
    export.add_argument("--from", dest="start", type=parse_date, help="only studies from this day")
    export.add_argument("--to", dest="end", type=parse_date, help="only studies up to this day")
    export.add_argument(
        "--modality", action="append", default=[], help="only studies with a series of it"
    )
    export.add_argument("--workers", type=positive, default=2, help="studies copied at once (2)")
    export.add_argument(
        "--allow-failures", action="store_true", help="exit 0 even when some files were unreadable"
    )
    export.add_argument("--no-progress", action="store_true", help="no progress bar")
    export.add_argument("--json", action="store_true", help="print the result as one JSON line")
    export.set_defaults(run=_export, runs_flow=True)


def _selection(args: argparse.Namespace) -> Any:
    from pacsflow.export.selection import ExportSelection

    return ExportSelection(
        cohort=args.cohort, start=args.start, end=args.end, modalities=tuple(args.modality)
    )


def check_export_options(args: argparse.Namespace) -> None:
    """Refuse a bad selection before anything starts.

    Raises:
        UsageError: naming the problem.
    """
    if args.command != "export":
        return
    try:
        _selection(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _export(args: argparse.Namespace, db_url: str) -> int:
    from flows.export import export_flow

    result: dict[str, Any] = export_flow(
        dest=args.dest,
        selection=_selection(args),
        workers=args.workers,
        db_url=db_url,
        show_progress=not args.no_progress,
    )
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['studies']} studies exported: {result['files_copied']} files copied, "
            f"{result['files_kept']} already there, {result['files_missing']} unreadable; "
            f"{sum(result['rows'].values())} table rows; manifest {result['manifest']}"
        )
    return 1 if result["files_missing"] and not args.allow_failures else 0
