"""The installed pacsflow's door to its flows and tasks (the ``pacsflow`` command's entry point).

The wheel carries the ``flows`` and ``tasks`` packages in ``pacsflow/_app/``,
a folder that is not on ``sys.path``: these common names never clash with
another project's ``flows`` or ``tasks`` in site-packages. This module puts
that folder on ``sys.path`` in pacsflow's own processes only, so the flows
import ``flows.x`` and ``tasks.y`` there as they do in the repository:

- ``pacsflow ...``: the console script runs :func:`main`;
- ``python -m pacsflow.launcher MODULE [ARG ...]``: runs a module of the
  flows (``flows.cli.server_keeper``) as ``__main__``, for the processes the
  command starts;
- the pull step ``pacsflow.launcher.app_working_directory`` of
  ``deployments/prefect.yaml``: a worker's flow run loads its entrypoint
  (``flows/pipeline.py:pipeline``) from that folder.

From a checkout, ``flows/`` and ``tasks/`` sit at the repository root, which
the editable install (``pip install -e .``) already puts on ``sys.path``:
the same calls then use the repository root and change nothing.

Nothing is imported from the flows when this module is imported, and
Prefect never: the core stays a library.
"""

from __future__ import annotations

import importlib
import runpy
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["APP_PACKAGES", "app_directory", "app_working_directory", "expose_app", "main"]

APP_PACKAGES = ("flows", "tasks")
"""The application's packages, shipped in ``pacsflow/_app/`` by the wheel."""

_PACKAGE_DIR = Path(__file__).resolve().parent
_INSTALLED_APP = _PACKAGE_DIR / "_app"


def app_directory() -> Path:
    """The folder holding the ``flows`` and ``tasks`` packages.

    Returns:
        ``pacsflow/_app`` in an installed wheel; the repository root in a checkout.
    """
    if (_INSTALLED_APP / "flows" / "__init__.py").is_file():
        return _INSTALLED_APP
    return _PACKAGE_DIR.parent


def expose_app() -> Path:
    """Make ``flows`` and ``tasks`` importable in this process; return their folder.

    The folder goes first on ``sys.path`` unless it is there already (a checkout).

    Raises:
        ImportError: a ``flows`` or ``tasks`` package of another project is
            imported in this process already.
    """
    directory = app_directory()
    if not any(_same_dir(entry, directory) for entry in sys.path):
        sys.path.insert(0, str(directory))
    for name in APP_PACKAGES:
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None) if module is not None else None
        if module is not None and not (origin and Path(origin).resolve().is_relative_to(directory)):
            raise ImportError(
                f"Another package named {name!r} ({origin or module}) is imported in this "
                f"process; run pacsflow's flows in a process of their own."
            )
    return directory


def app_working_directory() -> dict[str, str]:
    """Prefect pull step: expose the flows and work in their folder.

    Prefect changes into the returned ``directory`` and loads the deployment's
    entrypoint (``flows/<file>.py:<flow>``) relative to it, in the flow run's
    process, where the flows stay importable for the whole run.

    Returns:
        ``{"directory": <the folder of the flows and tasks packages>}``.
    """
    return {"directory": str(expose_app())}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pacsflow`` command line; return its exit status."""
    expose_app()
    cli = importlib.import_module("flows.cli.main")
    status: int = cli.main(argv)
    return status


def _run_module(argv: Sequence[str]) -> None:
    """``python -m pacsflow.launcher MODULE [ARG ...]``: run MODULE of the flows as ``__main__``."""
    if not argv or argv[0].startswith("-"):
        raise SystemExit("usage: python -m pacsflow.launcher MODULE [ARG ...]")
    expose_app()
    sys.argv = list(argv)
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)


def _same_dir(entry: str, directory: Path) -> bool:
    try:
        return Path(entry or ".").resolve() == directory
    except OSError:
        return False


if __name__ == "__main__":
    _run_module(sys.argv[1:])
