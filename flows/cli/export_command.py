"""``pacsflow export``: copy selected studies (files and tables) to a folder.

Before anything starts, the options, the key, DEST and the cohort are checked:
each refusal is one line and exit 2, and DEST is left as it was.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from flows.cli.args import EXIT_INCOMPLETE, EXIT_OK, UsageError, parse_date, positive

__all__ = ["add_export_command", "check_export_options"]


def add_export_command(commands: Any) -> None:
    """Add ``export`` to the ``pacsflow`` sub-commands."""
    export = commands.add_parser(
        "export",
        help="copy selected studies (files, tables, manifest) to a folder",
        description="Copy the selected ingested studies to DEST: files/<study>/<series>/"
        "<sop>.dcm, tables/*.csv and manifest.json. A re-run writes only what is missing. "
        "Without --pseudonymise the copy is plain: it holds the patient data as pacsflow "
        "stores it. With it, files, tables and header JSON are pseudonymised (DICOM PS3.15 "
        "Annex E Basic Profile, dates shifted per patient) with keyed pseudonyms: set "
        "PACSFLOW_PSEUDONYM_KEY (or give --key-block).",
    )
    export.add_argument(
        "dest", help="the export folder (created if missing; not when no study is selected)"
    )
    export.add_argument("--cohort", metavar="NAME", help="only the studies of this cohort")
    export.add_argument("--from", dest="start", type=parse_date, help="only studies from this day")
    export.add_argument("--to", dest="end", type=parse_date, help="only studies up to this day")
    export.add_argument(
        "--modality", action="append", default=[], help="only studies with a series of it"
    )
    export.add_argument("--workers", type=positive, default=2, help="studies written at once (2)")
    export.add_argument(
        "--pseudonymise", action="store_true", help="pseudonymise files, tables and header JSON"
    )
    export.add_argument(
        "--retain-patient-characteristics",
        action="store_true",
        help="keep age, sex, size and weight (Annex E option; with --pseudonymise)",
    )
    export.add_argument(
        "--exclude-burned-in",
        action="store_true",
        help="leave out files whose pixels may hold text, instead of listing them for review",
    )
    export.add_argument(
        "--key-block",
        metavar="NAME",
        help="a Prefect Secret block holding the key (default: $PACSFLOW_PSEUDONYM_KEY)",
    )
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


def check_export_options(args: argparse.Namespace, db_url: str) -> None:
    """Refuse a bad selection, a missing key, a DEST it cannot write or an unknown cohort
    before anything starts.

    Raises:
        UsageError: naming the problem.
        DatabaseUnreachableError: ``--cohort`` is given and the database cannot be reached.
    """
    if args.command != "export":
        return
    try:
        _selection(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _check_pseudonym_options(args)
    from pacsflow.export.layout import UnwritableDestinationError, check_destination

    try:
        check_destination(Path(args.dest).resolve())
    except UnwritableDestinationError as exc:
        raise UsageError(str(exc)) from None
    if args.cohort is not None:
        _check_cohort(db_url, args.cohort)


def _check_pseudonym_options(args: argparse.Namespace) -> None:
    options = (args.retain_patient_characteristics, args.exclude_burned_in, args.key_block)
    if not args.pseudonymise:
        if any(options):
            raise UsageError(
                "--retain-patient-characteristics, --exclude-burned-in and --key-block "
                "go with --pseudonymise"
            )
        return
    if args.key_block is None:
        from flows.config import pseudonym_key_from_env
        from pacsflow.export.pseudonym_key import MissingPseudonymKeyError

        try:
            pseudonym_key_from_env()
        except MissingPseudonymKeyError as exc:
            raise UsageError(str(exc)) from None


def _check_cohort(db_url: str, name: str) -> None:
    """Refuse a cohort the database does not hold (a typo would export nothing)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from pacsflow.database.schema import check_server_reachable
    from pacsflow.export.selection import UnknownCohortError, check_cohort
    from tasks.credentials import connect_url
    from tasks.engines import engine_for

    url = connect_url(db_url)
    check_server_reachable(url)
    sqlite_file = make_url(url).database if make_url(url).get_backend_name() == "sqlite" else None
    try:
        if sqlite_file and sqlite_file != ":memory:" and not Path(sqlite_file).is_file():
            raise UnknownCohortError.named(name)  # and no empty database file is created
        check_cohort(engine_for(db_url), name)
    except UnknownCohortError as exc:
        raise UsageError(str(exc)) from None
    except SQLAlchemyError:
        # E.g. a PostgreSQL database that does not exist yet (the export creates it):
        # the export itself selects before it writes anything.
        return


def _export(args: argparse.Namespace, db_url: str) -> int:
    from flows.export import export_flow
    from flows.options import Pseudonymisation

    pseudonymise = (
        Pseudonymisation(
            key_block=args.key_block,
            retain_patient_characteristics=args.retain_patient_characteristics,
            exclude_burned_in=args.exclude_burned_in,
        )
        if args.pseudonymise
        else None
    )
    result = export_flow(
        dest=args.dest,
        selection=_selection(args),
        workers=args.workers,
        db_url=db_url,
        show_progress=not args.no_progress,
        pseudonymise=pseudonymise,
    )
    if args.json:
        print(json.dumps(result.as_dict()))
    elif result.manifest is None:
        print(f"no ingested study matches the selection: nothing exported to {args.dest}")
    else:
        kind = "pseudonymised" if args.pseudonymise else "copied"
        print(
            f"{result.studies} studies exported: {result.files_copied} files {kind}, "
            f"{result.files_kept} already there, {result.files_missing} unreadable; "
            f"{sum(result.rows.values())} table rows; manifest {result.manifest}"
        )
        if result.files_to_review or result.files_excluded:
            print(
                f"Pixel text: {result.files_to_review} files to review (listed in the "
                f"manifest), {result.files_excluded} left out"
            )
    return EXIT_INCOMPLETE if result.files_missing and not args.allow_failures else EXIT_OK
