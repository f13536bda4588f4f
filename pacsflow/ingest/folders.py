"""Walking a folder into batches of paths, streaming, in sorted order.

Files are listed one directory at a time, so memory does not grow with the
folder. A folder that cannot be listed is yielded in its place: the batch
that holds it records the failure rather than its files going missing.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

__all__ = ["batched", "count_candidates", "iter_dicom_candidates", "plan_batches", "require_folder"]

T = TypeVar("T")


def require_folder(root: str | os.PathLike[str]) -> Path:
    """``root`` as a Path, checked to be a folder before any work starts.

    Raises:
        NotADirectoryError: ``root`` is not a folder.
    """
    top = Path(root)
    if not top.is_dir():
        raise NotADirectoryError(f"{top}: not a folder; give the folder that holds the DICOM files")
    return top


def iter_dicom_candidates(root: str | os.PathLike[str]) -> Iterator[str]:
    """Every file under ``root`` in sorted order, and every folder that cannot be listed.

    The walk streams one directory listing at a time. A folder it cannot
    list (permissions, removed meanwhile) is yielded itself, in its place, so
    that the batch holding it records the failure (:class:`UnreadableFolderError`)
    instead of its files going missing without a trace.

    Raises:
        NotADirectoryError: ``root`` is not a folder.
    """
    return _walk(require_folder(root))  # checked now, not at the first next()


def _walk(top: Path) -> Iterator[str]:
    unlisted: list[str] = []

    def remember(error: OSError) -> None:
        unlisted.append(os.fspath(error.filename if error.filename is not None else top))

    for folder, dirs, files in os.walk(top, onerror=remember):
        yield from unlisted
        unlisted.clear()
        dirs.sort()
        for name in sorted(files):
            yield os.path.join(folder, name)
    yield from unlisted


def count_candidates(root: str | os.PathLike[str]) -> int:
    """How many files :func:`iter_dicom_candidates` yields (for progress reporting)."""
    return sum(1 for _ in iter_dicom_candidates(root))


def plan_batches(
    paths: Iterable[T], *, total: int, batch_size: int, workers: int
) -> Iterator[list[T]]:
    """Batches of ``batch_size``, then smaller ones for the last files.

    Large batches keep per-task overhead low; but when the last large batch
    runs, the other workers would sit idle for its whole length. So the files
    that remain once fewer than ``workers`` full batches are left are cut into
    batches a quarter of the size.
    """
    tail_size = max(1, batch_size // 4)
    tail_starts = max(0, total - workers * batch_size)
    items = iter(paths)
    done = 0
    while True:
        size = batch_size if done + batch_size <= tail_starts else tail_size
        batch = list(itertools.islice(items, size))
        if not batch:
            return
        done += len(batch)
        yield batch


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last one shorter)."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, not {size}")
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
