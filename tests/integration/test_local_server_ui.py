"""The Prefect UI of the CLI's local server, in headless Chromium: it reaches its own API
(the server runs on a port of its own, not 4200) and lists the CLI's flow runs.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings

from pacsflow.peers.pacsflow_cli import run_pacsflow
from tests.helpers import without_prefect_server
from tests.peers.chromium import chromium_page

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A shell with no Prefect server configured; the local server is stopped afterwards."""
    environment = without_prefect_server(tmp_path)
    yield environment
    stop = run_pacsflow(environment, tmp_path, "server", "stop")
    assert stop.returncode == 0, stop.stderr


def test_the_ui_of_the_local_server_lists_the_cli_runs(env: dict[str, str], tmp_path: Path) -> None:
    from playwright.sync_api import expect

    done = run_pacsflow(env, tmp_path, "--db", f"sqlite:///{tmp_path / 'db.sqlite'}", "init-db")
    assert done.returncode == 0, done.stderr
    status = run_pacsflow(env, tmp_path, "server", "status").stdout
    ui = status.split("running on ", 1)[1].split()[0]
    with urllib.request.urlopen(f"{ui}/ui-settings", timeout=10) as answer:  # noqa: S310
        assert json.load(answer)["api_url"] == f"{ui}/api"
    with (
        temporary_settings(updates={PREFECT_API_URL: f"{ui}/api"}),
        get_client(sync_client=True) as client,
    ):
        (run,) = client.read_flow_runs()
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(f"{ui}/runs") as page:
        # The UI read the CLI's run from its API: the run's own link is listed.
        expect(page.get_by_role("link", name=run.name, exact=True).first).to_be_visible(
            timeout=60_000
        )
        page.wait_for_load_state("networkidle")
        page.screenshot(path=ARTIFACTS / "ui-local-server-runs.png", full_page=True)
        text = page.locator("body").inner_text()
    assert "Can't connect" not in text
    assert "Something went wrong" not in text
