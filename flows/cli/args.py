"""Argument types of the ``pacsflow`` command: checked at parse time, with clear messages."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import NoReturn

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_ERROR",
    "EXIT_INCOMPLETE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CliParser",
    "UsageError",
    "non_negative",
    "parse_date",
    "positive",
]

EXIT_OK = 0
EXIT_INCOMPLETE = 1
"""The run finished, but some files failed or some studies (cohort items) are incomplete."""
EXIT_USAGE = 2
EXIT_ERROR = 3
"""The run could not be done (the PACS or the database cannot be reached, ...)."""
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command ended by Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader (e.g. head) stopped reading


class UsageError(ValueError):
    """A required option is missing or invalid: the command exits with the usage status."""


class CliParser(argparse.ArgumentParser):
    """An argument parser that reports bad usage in one line, not after the whole usage text.

    Sub-command parsers are of the same class (argparse makes them so).
    """

    def error(self, message: str) -> NoReturn:
        """Print ``PROG: MESSAGE (see PROG --help)`` and exit with the usage status, 2."""
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def accept_global_options_after_commands(parser: argparse.ArgumentParser) -> None:
    """Let every (sub-)command take ``--db`` and ``-v/--verbose`` too, as users type them
    after the command (``pacsflow init-db --db URL``), not only before it.

    The copies default to "absent" (``argparse.SUPPRESS``), so a command without them
    keeps what was given before the command.
    """
    for action in parser._actions:  # argparse has no public way to reach sub-parsers
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for command in {id(p): p for p in action.choices.values()}.values():
            command.add_argument(
                "--db",
                metavar="URL",
                default=argparse.SUPPRESS,
                help="the database URL (as pacsflow --db URL COMMAND)",
            )
            command.add_argument(
                "-v",
                "--verbose",
                action="store_true",
                default=argparse.SUPPRESS,
                help="show Prefect's and pacsflow's INFO logs (as pacsflow -v COMMAND)",
            )
            accept_global_options_after_commands(command)


def positive(text: str) -> int:
    """An integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def non_negative(text: str) -> int:
    """An integer of at least 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def parse_date(text: str) -> dt.date:
    """A date given as YYYY-MM-DD, YYYYMMDD, ``today`` or ``yesterday``."""
    lowered = text.strip().lower()
    if lowered in ("today", "yesterday"):
        return dt.date.today() - dt.timedelta(days=1 if lowered == "yesterday" else 0)
    for pattern in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return dt.datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a date: give YYYY-MM-DD, YYYYMMDD, today or yesterday"
    )
