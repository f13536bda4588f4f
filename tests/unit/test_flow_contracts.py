"""The flows' contracts: one shared site block, at most 8 parameters, typed results."""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import pickle
import typing
from pathlib import Path
from typing import Any

import pytest
from prefect.utilities.callables import parameter_schema

from flows.cohort import cohort_flow
from flows.config import SiteOptions, open_site, resolve_retrieval, resolve_site
from flows.dump_db import dump_db
from flows.export import export_flow
from flows.find_studies import find_studies_flow
from flows.ingest_dir import ingest_dir
from flows.init_db import init_db
from flows.move_studies import move_studies_flow
from flows.options import Retrieval
from flows.pipeline import pipeline
from pacsflow.net.nodes import LocalAE, PacsNode
from pacsflow.site import RetrievalSettings, Site

FLOWS: list[Any] = [
    pipeline,
    move_studies_flow,
    find_studies_flow,
    cohort_flow,
    export_flow,
    ingest_dir,
    init_db,
    dump_db,
]
SITE_FLOWS: list[Any] = [pipeline, move_studies_flow, find_studies_flow, cohort_flow]


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.name)
def test_no_flow_takes_more_than_eight_parameters(flow: Any) -> None:
    assert len(inspect.signature(flow.fn).parameters) <= 8


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.name)
def test_flows_return_dataclasses_not_dicts(flow: Any) -> None:
    returned = typing.get_type_hints(flow.fn)["return"]
    if flow is dump_db:  # the paths of the CSV files written
        assert returned == list[str]
        return
    assert dataclasses.is_dataclass(returned), returned


@pytest.mark.parametrize("flow", SITE_FLOWS, ids=lambda f: f.name)
def test_the_pacs_flows_share_one_site_and_retrieval_block(flow: Any) -> None:
    hints = typing.get_type_hints(flow.fn)
    parameters = inspect.signature(flow.fn).parameters
    assert hints["site"] == SiteOptions | Site | None  # SkipJsonSchema is an annotation only
    assert hints["retrieval"] == Retrieval | None
    assert not {"pacs", "local", "storage", "db_url"} & set(parameters)


@pytest.mark.parametrize("flow", SITE_FLOWS, ids=lambda f: f.name)
def test_the_ui_form_of_site_is_the_options_alone(flow: Any) -> None:
    """The UI and deployments offer one form for ``site`` (SiteOptions, or nothing), not a
    choice between it and the resolved shape that the command and parent flows pass."""
    schema = parameter_schema(flow.fn).model_dump_for_openapi()
    choices = schema["properties"]["site"]["anyOf"]
    assert choices == [{"$ref": "#/definitions/SiteOptions"}, {"type": "null"}]
    assert "Site" not in schema["definitions"]


def test_a_resolved_site_is_used_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """A subflow given its parent's site reads no setting again: not even the environment."""
    site = Site(
        PacsNode("PACS", "pacs.example.org", 104),
        LocalAE("ME", 11999),
        "/data/in",
        "sqlite:///x.sqlite",
        RetrievalSettings(window_end=dt.datetime(2026, 12, 1, 6, 30, tzinfo=dt.UTC)),
    )
    assert pickle.loads(pickle.dumps(site)) == site  # noqa: S301 - our own bytes
    monkeypatch.setenv("PACSFLOW_PACS_PORT", "not-a-port")  # would fail a resolution
    monkeypatch.setenv("PACSFLOW_DICOMWEB_USER", "half")  # so would this
    assert open_site(site) is site


def test_the_window_end_is_made_absolute_once() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    started = dt.datetime(2026, 12, 1, 23, 0, tzinfo=paris)
    resolved = resolve_retrieval(Retrieval(until="06:30", concurrency=2), started)
    assert resolved.window_end == dt.datetime(2026, 12, 2, 6, 30, tzinfo=paris)
    assert resolved.concurrency == 2
    assert resolve_retrieval(None).window_end is None
    with pytest.raises(ValueError, match="concurrency must be at least 1, not 0"):
        Retrieval(concurrency=0)
    with pytest.raises(ValueError, match="not a time of day"):
        Retrieval(until="7h")


def test_the_command_resolves_the_site_once_before_its_flow(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The options are checked by resolving the site, and that site is the one the command
    passes to its flow (no second resolution)."""
    from flows.cli import main as cli

    calls: list[object] = []

    def counted(*args: Any, **kwargs: Any) -> Site:
        calls.append(args)
        return resolve_site(*args, **kwargs)

    monkeypatch.setattr("flows.cli.pacs_commands.resolve_site", counted)
    db_url = f"sqlite:///{tmp_path / 'once.sqlite'}"
    options = ["--pacs-aet", "PACS", "--pacs-host", "pacs.example.org", "--pacs-port", "104"]
    args = cli._parser().parse_args(["--db", db_url, "move", *options, "--until", "06:30"])
    cli._preflight(args, db_url)
    assert len(calls) == 1
    assert isinstance(args.site, Site)
    assert str(args.site.pacs) == "PACS@pacs.example.org:104"
    assert args.site.db_url == db_url
    assert args.site.retrieval.window_end is not None
