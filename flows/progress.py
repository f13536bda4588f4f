"""Progress reporting for long flows: a Prefect progress artifact, and a bar on a terminal."""

from __future__ import annotations

import sys
from typing import cast
from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

__all__ = ["FlowProgress"]


class FlowProgress:
    """Reports ``done`` out of ``total`` to the Prefect UI and, if asked, to the terminal.

    Args:
        total: how many units (files, studies) the flow will handle.
        key: the artifact key (lowercase letters, digits and dashes).
        description: what is counted, shown with the bar and the artifact.
        show_bar: draw a progress bar on standard error when it is a terminal.
    """

    def __init__(self, total: int, *, key: str, description: str, show_bar: bool) -> None:
        self.total = total
        self.done = 0
        self.description = description
        # Called from a synchronous flow, so the result is the id, not a coroutine.
        self._artifact = cast(UUID, create_progress_artifact(0.0, key=key, description=description))
        self._bar: Progress | None = None
        self._bar_task = None
        if show_bar and sys.stderr.isatty():
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                transient=False,
            )
            self._bar_task = self._bar.add_task(description, total=total)

    def __enter__(self) -> FlowProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def advance(self, units: int) -> None:
        """Count ``units`` more as done."""
        self.done += units
        percent = 100.0 * self.done / self.total if self.total else 100.0
        update_progress_artifact(self._artifact, min(percent, 100.0))
        if self._bar is not None and self._bar_task is not None:
            self._bar.update(self._bar_task, completed=self.done)

    def __exit__(self, *_exc_info: object) -> None:
        if self._bar is not None:
            self._bar.stop()
