"""The export's ``manifest.json``: what was exported, when, how; counts, never patient data."""

from __future__ import annotations

import datetime as dt
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pacsflow.export.layout import MANIFEST, write_text_atomically

__all__ = ["read_manifest", "write_manifest"]


def _pacsflow_version() -> str:
    try:
        return version("pacsflow")
    except PackageNotFoundError:
        return "unknown"


def write_manifest(dest: Path, selection: dict[str, Any], counts: dict[str, Any]) -> Path:
    """Write ``dest/manifest.json``: the profile (``plain``: an unchanged copy), the
    selection, the counts and the time, with the pacsflow version that wrote it."""
    manifest = {
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "pacsflow_version": _pacsflow_version(),
        "profile": "plain",
        "selection": selection,
        "counts": counts,
        "layout": {
            "files": "files/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm",
            "tables": "tables/patients.csv, studies.csv, series.csv, images.csv",
        },
    }
    target = dest / MANIFEST
    write_text_atomically(json.dumps(manifest, indent=2) + "\n", target, dest)
    return target


def read_manifest(dest: Path) -> dict[str, Any]:
    """The manifest of the export in ``dest``."""
    loaded: dict[str, Any] = json.loads((dest / MANIFEST).read_text(encoding="utf-8"))
    return loaded
