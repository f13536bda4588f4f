"""Fixtures of the reliability suite: the environment of ``pacsflow`` processes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def cli_env(prefect_api_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a ``pacsflow`` process started by a test (see ``run_cli``)."""
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api_url,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
    }
    env.pop("PACSFLOW_DB_URL", None)
    return env
