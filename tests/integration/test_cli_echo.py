"""``pacsflow echo`` answers "does the PACS accept us?": it also sends a C-FIND (or QIDO-RS)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.config import MissingSettingError, SiteOptions
from flows.dates import DateRange
from flows.find_studies import find_studies_flow
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.peers.ports import free_port
from tests.conftest import RunCli
from tests.helpers import pacs_env

pytestmark = pytest.mark.integration

_PACS_ENV = ("PACSFLOW_PACS_AET", "PACSFLOW_PACS_HOST", "PACSFLOW_PACS_PORT")


@pytest.fixture(scope="module")
def orthanc() -> Iterator[OrthancServer]:
    server = OrthancServer(modalities={"PACSFLOW": ("127.0.0.1", free_port())}, dicomweb=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_cli_echo_from_a_known_ae_says_queries_are_accepted(
    run_cli: RunCli, orthanc: OrthancServer
) -> None:
    done = run_cli("echo", **pacs_env(orthanc))
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(
        rf"ORTHANC@127\.0\.0\.1:{orthanc.dicom_port} answered the C-ECHO in \d+\.\d ms; "
        r"C-FIND accepted\n",
        done.stdout,
    ), done.stdout


def test_cli_echo_from_a_stranger_fails_naming_its_ae_title(
    run_cli: RunCli, orthanc: OrthancServer
) -> None:
    """Orthanc answers STRANGER's C-ECHO, then aborts its C-FIND: echo must say so."""
    done = run_cli("echo", "--local-aet", "STRANGER", **pacs_env(orthanc))
    assert done.returncode == 3, done.stdout
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"pacsflow echo: ORTHANC@127.0.0.1:{orthanc.dicom_port} answered the C-ECHO, but "
        "aborted our C-FIND: add STRANGER to the PACS's known modalities "
        "(Orthanc: DicomModalities), allowed to query"
    ]


def test_cli_echo_over_dicomweb_checks_a_qido_query(
    run_cli: RunCli, orthanc: OrthancServer
) -> None:
    env = {"PACSFLOW_TRANSPORT": "dicomweb", "PACSFLOW_PACS_DICOMWEB_URL": orthanc.dicomweb_url}
    done = run_cli("echo", **env)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(
        rf"{re.escape(orthanc.dicomweb_url)} answered a QIDO-RS query in \d+\.\d ms; "
        r"queries accepted\n",
        done.stdout,
    ), done.stdout
    # Orthanc's REST root is there, but serves no QIDO-RS: echo must not say yes.
    wrong = run_cli("echo", **{**env, "PACSFLOW_PACS_DICOMWEB_URL": orthanc.base_url})
    assert wrong.returncode == 3, wrong.stdout
    assert "accepted" not in wrong.stdout
    assert wrong.stderr.startswith(f"pacsflow echo: {orthanc.base_url}")


def test_cli_missing_pacs_ae_title_names_the_option(run_cli: RunCli) -> None:
    done = run_cli("echo", PACSFLOW_PACS_AET="", PACSFLOW_PACS_HOST="", PACSFLOW_PACS_PORT="")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "pacsflow echo: no PACS AE title: give --pacs-aet or set $PACSFLOW_PACS_AET"
    ]


@pytest.mark.usefixtures("prefect_api_url")
def test_flow_missing_pacs_ae_title_names_the_parameter(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _PACS_ENV:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(MissingSettingError) as info:
        find_studies_flow(
            dates=DateRange(dt.date(2024, 6, 1)), site=SiteOptions(db_url="sqlite:///unused.sqlite")
        )
    assert str(info.value) == (
        "no PACS AE title: give the flow parameter site.pacs.ae_title "
        "or set $PACSFLOW_PACS_AET where the flow runs"
    )


def test_cli_move_from_a_stranger_stops_at_its_echo(
    run_cli: RunCli, orthanc: OrthancServer, tmp_path: Path
) -> None:
    """The flows' echo checks the C-FIND too: a refusal is permanent, the run ends at once."""
    done = run_cli(
        "--db", f"sqlite:///{tmp_path / 'move.sqlite'}", "move", "--local-aet", "STRANGER",
        "--local-port", str(free_port()), **pacs_env(orthanc),
    )  # fmt: skip
    assert done.returncode == 3, done.stdout
    assert "add STRANGER to the PACS's known modalities" in done.stderr.strip().splitlines()[-1]
