"""What a receiver is made of: its configuration, its errors, its defaults.

Kept apart from the service that runs it (:mod:`pacsflow.net.receiver_service`),
which re-exports these names.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pacsflow.errors import PacsflowError
from pacsflow.net.nodes import LocalAE, validate_ae_title

__all__ = [
    "DEFAULT_IDLE_EXIT",
    "ENGINES",
    "ENGINE_ENV",
    "IDLE_EXIT_ENV",
    "ReceiverConfig",
    "ReceiverFailedError",
    "ReceiverRunningError",
    "default_workers",
    "engine_from",
    "idle_exit_from",
]

IDLE_EXIT_ENV = "PACSFLOW_RECEIVER_IDLE_EXIT"
"""Seconds a receiver started on demand (``--on-demand``) waits for the next run before it
exits, unless ``--idle-exit`` says; read by the service's entry point
(:func:`~pacsflow.net.receiver_service.main`) only."""
DEFAULT_IDLE_EXIT = 600.0


def idle_exit_from(environ: Mapping[str, str]) -> float:
    """The idle exit of a receiver started on demand: :data:`IDLE_EXIT_ENV`, else the default.

    Raises:
        ValueError: the variable is not a number.
    """
    raw = environ.get(IDLE_EXIT_ENV, "").strip()
    try:
        return float(raw) if raw else DEFAULT_IDLE_EXIT
    except ValueError:
        raise ValueError(f"${IDLE_EXIT_ENV} must be a number of seconds, not {raw!r}") from None


ENGINES = ("auto", "dcmtk", "pynetdicom")
"""How a receiver receives: ``dcmtk``, pacsflow's compiled storage SCP (built on first use
against DCMTK's headers, :mod:`pacsflow.net.compiled_receiver`); ``pynetdicom``, in Python;
``auto`` (the default), the compiled one where it builds, else pynetdicom."""
ENGINE_ENV = "PACSFLOW_RECEIVER_ENGINE"
"""The engine of a receiver whose command line names none; read by the service's entry point."""


def engine_from(environ: Mapping[str, str]) -> str:
    """The engine named by :data:`ENGINE_ENV`, else ``auto``.

    Raises:
        ValueError: the variable names no engine.
    """
    raw = environ.get(ENGINE_ENV, "").strip().lower() or "auto"
    if raw not in ENGINES:
        raise ValueError(f"${ENGINE_ENV} must be one of {', '.join(ENGINES)}, not {raw!r}")
    return raw


def default_workers() -> int:
    """One receiving process per core, at most 4."""
    return max(1, min(os.cpu_count() or 1, 4))


class ReceiverRunningError(PacsflowError):
    """Another receiver already serves this storage folder."""


class ReceiverFailedError(PacsflowError):
    """The receiving processes keep dying: the receiver gives up."""


@dataclass(frozen=True)
class ReceiverConfig:
    """A receiver: where it listens, where it writes, whom it accepts, how it lives.

    Args:
        local: pacsflow's AE title, port and bind address.
        storage: the folder receiving ``<study>/<series>/<sop>.dcm``.
        allowed_ae_titles: the calling AE titles accepted (the PACS).
        workers: receiving processes.
        max_associations: associations each worker serves at once.
        idle_exit: exit after this many seconds without a live lease; None: never.
        engine: one of :data:`ENGINES`.
        runtime: the folder recording which receiver holds which port (default
            :func:`~pacsflow.net.receiver_ports.default_runtime_folder`).
    """

    local: LocalAE
    storage: Path
    allowed_ae_titles: tuple[str, ...]
    workers: int = 1
    max_associations: int = 8
    idle_exit: float | None = None
    runtime: Path | None = None
    engine: str = "auto"

    def __post_init__(self) -> None:
        if not self.allowed_ae_titles:
            raise ValueError("the receiver needs at least one allowed calling AE title (--allow)")
        for title in self.allowed_ae_titles:
            validate_ae_title(title, "calling")
        if self.workers < 1 or self.max_associations < 1:
            raise ValueError("workers and max_associations must be at least 1")
        if self.engine not in ENGINES:
            raise ValueError(f"the engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        if self.idle_exit is not None and self.idle_exit <= 0:
            raise ValueError(f"idle_exit must be positive, not {self.idle_exit}")
