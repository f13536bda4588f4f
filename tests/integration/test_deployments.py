"""The deployments as users run them: a real Prefect server, a process work pool,
``prefect deploy`` from deployments/prefect.yaml, a worker, and ``run_deployment``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterDeploymentId
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlalchemy import make_url
from sqlalchemy.orm import Session

from pacsflow.cohorts.status import cohort_report
from pacsflow.database.engine import make_engine
from pacsflow.demo.synthetic import make_study, write_dataset
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.peers.ports import free_port
from tests.conftest import new_empty_pg_database
from tests.helpers import latest_artifact, table_counts
from tests.peers.prefect_ops import run_ops

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PREFECT = [sys.executable, "-m", "prefect"]
SCP_PORT = free_port()


def _prefect(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [*PREFECT, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    server = OrthancServer(modalities={"PACSFLOW": ("127.0.0.1", SCP_PORT)}).start()
    folder = tmp_path_factory.mktemp("deploy-studies")
    for ds in [*make_study(n_images=3, StudyDate="20240701"), *make_study(StudyDate="20240701")]:
        server.upload(write_dataset(ds, folder / f"{ds.SOPInstanceUID}.dcm").read_bytes())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def deployed(
    orthanc: OrthancServer, tmp_path_factory: pytest.TempPathFactory, pg_admin_url: str
) -> Iterator[tuple[dict[str, str], Path]]:
    """A Prefect server with pacsflow deployed and two workers, started by the ops script.

    The server keeps its state in PostgreSQL, as the README advises for a shared
    installation: on SQLite, writes by the server's services, the worker and
    the UI at once end in "database is locked" and HTTP 500 under load, which
    the UI shows as "Oops. Something went wrong." (seen in CI).
    """
    work = tmp_path_factory.mktemp("deployments")
    port = free_port()
    prefect_db = make_url(new_empty_pg_database(pg_admin_url)).set(drivername="postgresql+asyncpg")
    env = {
        **os.environ,
        "PACSFLOW_RUN_DIR": str(work),
        "PACSFLOW_PREFECT_PORT": str(port),
        "PACSFLOW_BIN": str(Path(sys.executable).parent),
        "PREFECT_HOME": str(work / "prefect-home"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PACSFLOW_PACS_AET": orthanc.ae_title,
        "PACSFLOW_PACS_HOST": "127.0.0.1",
        "PACSFLOW_PACS_PORT": str(orthanc.dicom_port),
        "PACSFLOW_LOCAL_PORT": str(SCP_PORT),
        "PACSFLOW_STORAGE": str(work / "storage"),
        "PACSFLOW_DB_URL": f"sqlite:///{work / 'pacsflow.sqlite'}",
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": prefect_db.render_as_string(hide_password=False),
    }
    try:
        assert f"Prefect server on http://127.0.0.1:{port}" in run_ops(env, "server")
        run_ops(env, "pool")
        run_ops(env, "deploy")
        assert "worker 1 started" in run_ops(env, "workers", "1")
        yield env, work
    finally:
        run_ops(env, "stop")


def test_deployments_list_the_flows_with_their_schedules(
    deployed: tuple[dict[str, str], Path],
) -> None:
    env, _ = deployed
    listed = _prefect(env, "deployment", "ls")
    for name in (
        "pipeline/nightly",
        "find-studies/find",
        "move-studies/night-hours",
        "cohort/cohort",
        "ingest-dir/folder",
        "init-db/migrate",
        "dump-db/csv",
        "export/copy",
        "export/pseudonymised",
    ):
        assert name in listed
    nightly = _prefect(env, "deployment", "inspect", "pipeline/nightly")
    assert "0 2 * * *" in nightly
    night_hours = _prefect(env, "deployment", "inspect", "move-studies/night-hours")
    assert "*/30 0-5 * * *" in night_hours
    with (
        temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}),
        get_client(sync_client=True) as client,
    ):
        deployment = client.read_deployment_by_name("pipeline/nightly")
        hourly = client.read_deployment_by_name("move-studies/night-hours")
    # No site setting, database URL or password: workers take them from their environment.
    assert deployment.parameters == {
        "dates": {"days_back": 1},
        "selection": {"limit": 5000},
        "retrieval": {"concurrency": 1, "until": "07:00", "fail_on_incomplete": True},
    }
    # PACS courtesy: one run of each at a time; a late nightly waits, a late half-hour is dropped.
    for scheduled, strategy in ((deployment, "ENQUEUE"), (hourly, "CANCEL_NEW")):
        assert scheduled.global_concurrency_limit is not None
        assert scheduled.global_concurrency_limit.limit == 1
        assert scheduled.concurrency_options is not None
        assert scheduled.concurrency_options.collision_strategy == strategy
    assert hourly.parameters["retrieval"]["until"] == "06:00"
    # The UI's run form is built from the parameter schema: grouped settings, each a form.
    schema = deployment.parameter_openapi_schema
    assert schema is not None
    properties = schema["properties"]
    # The form's order is each property's "position" (JSONB on PostgreSQL keeps no key order).
    assert sorted(properties, key=lambda name: properties[name]["position"]) == [
        "dates",
        "selection",
        "series",
        "retrieval",
        "site",
        "show_progress",
    ]
    fields = {
        name: set(schema["definitions"][name]["properties"])
        for name in ("DateRange", "SiteOptions", "PacsNode", "LocalAE", "Selection", "Retrieval")
    }
    assert fields["SiteOptions"] == {"pacs", "local", "storage", "db_url"}
    assert fields["PacsNode"] == {"ae_title", "host", "port", "transport", "dicomweb_url"}
    assert fields["Selection"] == {"modalities", "limit", "max_attempts", "retry_earlier"}


def test_pipeline_deployment_runs_on_the_worker(deployed: tuple[dict[str, str], Path]) -> None:
    env, work = deployed
    with temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}):
        run = cast(
            FlowRun,
            run_deployment(
                "pipeline/nightly",
                # retrieval replaces the deployment's, whose 07:00 window could end mid-test.
                parameters={
                    "dates": {"start_date": "2024-07-01"},
                    "retrieval": {"concurrency": 1, "fail_on_incomplete": True},
                },
                timeout=600,
            ),
        )
    assert run.state is not None
    assert run.state.is_completed(), (work / "worker-1.log").read_text()[-3000:]
    assert table_counts(env["PACSFLOW_DB_URL"]) == {
        "studies_find": 2,
        "patients": 1,
        "studies": 2,
        "series": 2,
        "images": 5,
        "ingest_errors": 0,
    }
    assert len(list((work / "storage").rglob("*.dcm"))) == 5
    with temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}):
        summary = latest_artifact("pipeline-summary")
    assert summary.flow_run_id == run.id
    assert "| studies complete | 2 |" in summary.data
    assert "| images added | 5 |" in summary.data


def test_the_pseudonymised_export_deployment_reads_its_key_from_a_secret_block(
    deployed: tuple[dict[str, str], Path],
) -> None:
    """The worker has no PACSFLOW_PSEUDONYM_KEY: the key comes from the Secret block."""
    from prefect.blocks.system import Secret
    from pydantic import SecretStr

    env, work = deployed
    assert "PACSFLOW_PSEUDONYM_KEY" not in env
    dest = work / "research"
    with temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}):
        Secret(value=SecretStr("a-deployment-key-kept-in-prefect")).save(
            "pacsflow-pseudonym-key", overwrite=True
        )
        run = cast(
            FlowRun,
            run_deployment("export/pseudonymised", parameters={"dest": str(dest)}, timeout=600),
        )
    assert run.state is not None
    assert run.state.is_completed(), (work / "worker-1.log").read_text()[-3000:]
    manifest = json.loads((dest / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["profile"], manifest["complete"]) == ("pseudonymised", True)
    images = table_counts(env["PACSFLOW_DB_URL"])["images"]
    assert (
        len(list((dest / "files").rglob("*.dcm"))) == images == manifest["counts"]["rows"]["images"]
    )


CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"


@contextmanager
def _deployment_page(env: dict[str, str], name: str, entrypoint: str) -> Iterator[Page]:
    """Headless Chromium (Debian's, never a downloaded one) on a deployment's page in the UI."""
    from playwright.sync_api import expect, sync_playwright

    assert Path(CHROMIUM).is_file(), "install Debian's chromium (make test does)"
    ui = env["PREFECT_API_URL"].removesuffix("/api")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        # --no-sandbox: Chromium's sandbox refuses to run as root (CI runs as root).
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{ui}/deployments")
            # The deployment's own link: a flow of the same name has a link in the list too.
            page.locator(f'a.deployment-list__name[title="{name}"]').click()
            expect(page.get_by_text(entrypoint)).to_be_visible()
            yield page
        finally:
            browser.close()


def _nightly_runs(env: dict[str, str]) -> list[FlowRun]:
    """The nightly deployment's runs, but those its schedule made."""
    with (
        temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}),
        get_client(sync_client=True) as client,
    ):
        nightly = client.read_deployment_by_name("pipeline/nightly")
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                deployment_id=FlowRunFilterDeploymentId(any_=[nightly.id])
            )
        )
    return [run for run in runs if not run.auto_scheduled]


def test_a_run_started_from_the_ui_reaches_completed(
    deployed: tuple[dict[str, str], Path],
) -> None:
    """Run, then Quick run, on the nightly deployment in the Prefect UI."""
    from playwright.sync_api import expect

    env, _ = deployed
    earlier = {run.id for run in _nightly_runs(env)}
    with _deployment_page(env, "nightly", "flows/pipeline.py:pipeline") as page:
        page.get_by_role("button", name="Run", exact=True).click()
        clicked = time.monotonic()
        page.get_by_text("Quick run").click()  # the deployment's parameters: yesterday
        expect(page.get_by_text("scheduled to start now").first).to_be_visible()
        # Open the new run by its id: it is renamed when it starts (flows/run_names.py),
        # so the name the toast shows may be gone from the list already.
        (run,) = [run for run in _nightly_runs(env) if run.id not in earlier]
        page.goto(f"{env['PREFECT_API_URL'].removesuffix('/api')}/runs/flow-run/{run.id}")
        # The state badge: exactly "Completed" (log lines also say "completed").
        badge = page.get_by_text("Completed", exact=True).first
        expect(badge).to_be_visible(timeout=300_000)
        seconds = time.monotonic() - clicked
        page.screenshot(path=ARTIFACTS / "ui-pipeline-run-completed.png", full_page=True)
    print(f"Run clicked to Completed in {seconds:.1f} s")


def test_a_cohort_run_from_the_ui_form_reaches_completed(
    deployed: tuple[dict[str, str], Path],
) -> None:
    """The cohort deployment's form takes the file's path; Submit runs it on the worker."""
    from playwright.sync_api import expect

    env, work = deployed
    cohort = work / "ui-cohort.csv"
    cohort.write_text("PatientID\nPID0001\nNOSUCHPATIENT\n")
    with _deployment_page(env, "cohort", "flows/cohort.py:cohort_flow") as page:
        page.get_by_role("button", name="Run", exact=True).click()
        page.get_by_text("Custom run").click()
        # cohort.file: "str" instead of "None" opens its text box.
        page.get_by_role("button", name="str", exact=True).first.click()
        page.locator("textarea").first.fill(str(cohort))
        # The form checks its values with the server as they change; a Submit
        # while that request was in flight ended in "Something went wrong" once.
        page.wait_for_load_state("networkidle")
        page.get_by_role("button", name="Submit", exact=True).click()
        badge = page.get_by_text("Completed", exact=True).first
        expect(badge).to_be_visible(timeout=300_000)
        page.screenshot(path=ARTIFACTS / "ui-cohort-run-completed.png", full_page=True)
    engine = make_engine(env["PACSFLOW_DB_URL"])
    try:
        with Session(engine) as session:
            report = cohort_report(session, "ui-cohort")
    finally:
        engine.dispose()
    assert [(i.row, i.status, i.studies_found) for i in report.items] == [
        (1, "retrieved", 2),
        (2, "not_found", 0),
    ]
