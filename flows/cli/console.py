"""What the ``pacsflow`` command shows on its console, and how it says what went wrong.

By default the console shows pacsflow's own lines only (warnings such as a
retry, then the summary or one closing error line); Prefect's records (task
and flow states, tracebacks) still go to the run's logs on the Prefect API
(the UI), and to the console too with ``-v``.
"""

from __future__ import annotations

import logging
import os
import sys

from pacsflow.errors import PacsflowError

__all__ = ["OWN_LOGGERS", "configure_console", "describe_error", "silence_stdout"]

OWN_LOGGERS = ("pacsflow", "flows", "tasks")
"""The top-level loggers whose records the console shows by default."""

INTERRUPTED = "interrupted; nothing is lost, run the same command again to resume"
"""What the console says on Ctrl-C (the exit status is then 130)."""


class _OwnLinesOnly(logging.Filter):
    """Passes the records of :data:`OWN_LOGGERS` (and their children) only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.partition(".")[0] in OWN_LOGGERS


def configure_console(command: str, verbose: bool) -> None:
    """Log to standard error: pacsflow's warnings by default, every INFO record with ``verbose``.

    Must run before Prefect is imported: Prefect reads its settings then, and
    keeps a root handler it finds instead of adding its own console handler.
    """
    # INFO, so that the run's INFO logs reach the Prefect API (the UI) even when
    # the console shows none of them.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    handler = logging.StreamHandler(sys.stderr)
    if verbose:
        handler.setLevel(logging.INFO)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    else:
        # Worker processes (ingest, export) set up Prefect's logging afresh, with
        # its console handler on the root logger: inherited through the
        # environment, this keeps their task states off the console too.
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
        handler.setLevel(logging.WARNING)
        handler.addFilter(_OwnLinesOnly())
        # %-escaped: the command name is part of the format string.
        prefix = f"pacsflow {command}: ".replace("%", "%%")
        handler.setFormatter(logging.Formatter(prefix + "%(message)s"))
        # pynetdicom logs each network failure at ERROR; pacsflow's own message
        # says the same in one line, naming the PACS. Not even formatted, then.
        logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)
    root = logging.getLogger()
    root.addHandler(handler)
    # INFO either way: pacsflow's INFO lines reach the run's logs (Prefect's API
    # handler on the pacsflow logger); the console handler above keeps its level.
    root.setLevel(logging.INFO)


_OS_ADVICE: dict[type[OSError], str] = {
    PermissionError: "give a path this user may use, or change its permissions",
    FileNotFoundError: "check the path, or create what is missing",
    NotADirectoryError: "give a folder, not a file",
    IsADirectoryError: "give a file, not a folder",
    FileExistsError: "remove it, or give another path",
}


def describe_error(exc: BaseException) -> str:
    """One line for an error that ends a command: what failed, on what, and what to do."""
    if isinstance(exc, OSError) and exc.filename is not None:
        why = exc.strerror or type(exc).__name__
        advice = next(
            (text for kind, text in _OS_ADVICE.items() if isinstance(exc, kind)),
            "check the path and the disk",
        )
        return f"{exc.filename}: {why.lower()}; {advice}"
    lines = str(exc).strip().splitlines()
    text = lines[0].strip() if lines else type(exc).__name__
    if isinstance(exc, PacsflowError | ValueError | OSError):
        return text
    return f"{type(exc).__name__}: {text}"


def silence_stdout() -> None:
    """After a broken pipe (``pacsflow ... | head``): point standard output at /dev/null.

    Python flushes standard output again at exit, which would raise (and
    print) a second ``BrokenPipeError``.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
