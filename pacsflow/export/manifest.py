"""The export's ``manifest.json``: what was exported, when, how; counts, never patient data.

The manifest is written when an export starts (``complete: false``) and again
when it ends. Its ``settings`` (plain or pseudonymised; the key's fingerprint,
the profile's options) bind the folder: an export with other settings into it
is refused, so one folder never mixes plain and pseudonymised files, or
pseudonyms of two keys.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pacsflow.errors import PermanentError
from pacsflow.export.layout import MANIFEST, new_part, write_text_atomically

__all__ = [
    "ExportMismatchError",
    "plain_settings",
    "read_manifest",
    "start_manifest",
    "write_manifest",
]


class ExportMismatchError(PermanentError):
    """The export folder was made with other settings (plain or pseudonymised, key, options)."""


def plain_settings() -> dict[str, Any]:
    """The settings of a plain copy."""
    return {"profile": "plain"}


def _pacsflow_version() -> str:
    try:
        return version("pacsflow")
    except PackageNotFoundError:
        return "unknown"


def write_manifest(
    dest: Path,
    selection: dict[str, Any],
    counts: dict[str, Any],
    *,
    settings: dict[str, Any] | None = None,
    complete: bool = True,
    pixel_review: list[str] | None = None,
    excluded: list[str] | None = None,
) -> Path:
    """Write ``dest/manifest.json``: the settings (``profile`` ``plain`` is an unchanged
    copy, ``pseudonymised`` names the Annex E options and the key's fingerprint),
    the selection, the counts, the files whose pixels need review and those left
    out, the time and the pacsflow version that wrote it."""
    text = _manifest_text(
        selection, counts, settings or plain_settings(), complete, pixel_review, excluded
    )
    target = dest / MANIFEST
    write_text_atomically(text, target, dest)
    return target


def _manifest_text(
    selection: dict[str, Any],
    counts: dict[str, Any],
    settings: dict[str, Any],
    complete: bool,
    pixel_review: list[str] | None,
    excluded: list[str] | None,
) -> str:
    manifest = {
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "pacsflow_version": _pacsflow_version(),
        "complete": complete,
        "profile": settings["profile"],
        "settings": settings,
        "selection": selection,
        "counts": counts,
        "pixel_review": sorted(pixel_review or []),
        "excluded_burned_in": sorted(excluded or []),
        "layout": {
            "files": "files/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm",
            "tables": "tables/patients.csv, studies.csv, series.csv, images.csv",
        },
    }
    return json.dumps(manifest, indent=2) + "\n"


def read_manifest(dest: Path) -> dict[str, Any]:
    """The manifest of the export in ``dest``."""
    loaded: dict[str, Any] = json.loads((dest / MANIFEST).read_text(encoding="utf-8"))
    return loaded


def start_manifest(dest: Path, selection: dict[str, Any], settings: dict[str, Any]) -> None:
    """Bind ``dest`` to ``settings``, or check that it is bound to them already.

    Raises:
        ExportMismatchError: ``dest`` holds an export made with other settings.
    """
    # Created only if absent (a hard link fails on an existing name), so of two
    # exports starting at once into a new folder with other settings, one is refused.
    partial = new_part(dest)
    try:
        partial.write_text(_manifest_text(selection, {}, settings, False, None, None), "utf-8")
        os.link(partial, dest / MANIFEST)
        return
    except FileExistsError:
        pass
    finally:
        partial.unlink(missing_ok=True)
    existing = read_manifest(dest)
    bound = existing.get("settings") or {"profile": existing.get("profile")}
    if bound != settings:
        raise ExportMismatchError(
            f"{dest} holds a {bound.get('profile')} export made with other settings "
            f"({_difference(bound, settings)}); export into another folder"
        )


def _difference(bound: dict[str, Any], wanted: dict[str, Any]) -> str:
    names = sorted(k for k in bound.keys() | wanted.keys() if bound.get(k) != wanted.get(k))
    return "differing: " + ", ".join(names)
