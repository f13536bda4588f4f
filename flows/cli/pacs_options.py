"""The options the PACS commands share (echo, find, move, run, cohort run): the PACS and
pacsflow's AE, the series filter, and how a run picks and moves studies.

The PACS and pacsflow's own AE come from options, else from environment
variables (:data:`flows.config.ENV`), so a scheduled job needs no long command line.
"""

from __future__ import annotations

import argparse

from flows.cli.args import UsageError, positive
from flows.config import DEFAULT_STORAGE, ENV
from pacsflow.net.nodes import DEFAULT_LOCAL_AE_TITLE, TRANSPORTS, LocalAE
from pacsflow.retrieval.series_filter import SeriesFilter

__all__ = [
    "add_node_options",
    "add_output_options",
    "add_pick_options",
    "add_series_options",
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


def add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
