"""``--db`` and ``--verbose`` work before the command and after it, as users type them."""

from __future__ import annotations

import pytest

from flows.cli.main import _parser

URL = "sqlite:///elsewhere.sqlite"


@pytest.mark.parametrize(
    "argv",
    [
        ["--db", URL, "init-db"],
        ["init-db", "--db", URL],
        ["dump", "out", "--db", URL],
        ["cohort", "status", "study-1", "--db", URL],
        ["receiver", "status", "--db", URL],
        ["find", "2024-06-01", "--db", URL],
    ],
)
def test_the_database_option_is_read_wherever_it_is_given(argv: list[str]) -> None:
    assert _parser().parse_args(argv).db == URL


def test_a_command_without_the_option_keeps_the_one_given_before_it() -> None:
    args = _parser().parse_args(["-v", "--db", URL, "cohort", "list"])
    assert (args.db, args.verbose) == (URL, True)


def test_verbose_after_the_command() -> None:
    args = _parser().parse_args(["ingest", "folder", "-v"])
    assert (args.db, args.verbose) == (None, True)
