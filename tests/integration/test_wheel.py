"""The built wheel carries the migrations (initialize_database works outside the checkout)
and the compiled receiver's source (it builds from the installed package)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_initialize_database_from_the_installed_wheel(tmp_path: Path) -> None:
    wheel_dir = tmp_path / "wheel"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheel_dir),
            str(REPO),
        ],
        check=True,
    )
    (wheel,) = wheel_dir.glob("pacsflow-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert "pacsflow/_migrations/env.py" in names
        assert any(n.startswith("pacsflow/_migrations/versions/0001_") for n in names)
        assert "pacsflow/net/compiled_receiver/storescp.cc" in names  # built on first use
        archive.extractall(site)
    db = tmp_path / "fromwheel.sqlite"
    script = (
        "import pacsflow, sys\n"
        f"assert pacsflow.__file__.startswith({str(site)!r}), pacsflow.__file__\n"
        "from pacsflow.db import initialize_database\n"
        "from pacsflow.database.schema import current_revision, head_revision, migrations_dir\n"
        f"assert str(migrations_dir()).startswith({str(site)!r})\n"
        f"initialize_database('sqlite:///{db}')\n"
        f"assert current_revision('sqlite:///{db}') == head_revision()\n"
        "from pathlib import Path\n"
        "from pacsflow.net.compiled_receiver.build import compiled_receiver\n"
        f"assert compiled_receiver(Path({str(tmp_path / 'bin')!r})).path\n"
    )
    subprocess.run(
        [sys.executable, "-c", script],
        check=True,
        cwd=tmp_path,  # not the checkout: its alembic/ folder is out of reach
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
    )
    assert db.stat().st_size > 0
