"""The transport registry: every name answers with a module's transport implementing the interface,
an unknown one is refused in one line, and no caller compares transport names."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pacsflow.net.nodes import LocalAE, PacsNode
from pacsflow.net.transports import registry
from pacsflow.net.transports.interface import PacsLink, PacsTransport, SiteNeeds
from pacsflow.net.transports.registry import (
    DEFAULT_TRANSPORT,
    TRANSPORTS,
    UnknownTransportError,
    transport_for,
)

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pacsflow", "tasks", "flows", "bench")
TRANSPORTS_PACKAGE = Path("pacsflow", "net", "transports")


def _node(name: str) -> PacsNode:
    return PacsNode("PACS", "127.0.0.1", 4242, name, "https://pacs.example/dicom-web")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", TRANSPORTS)
def test_every_name_answers_with_a_module_s_transport_implementing_the_interface(
    name: str,
) -> None:
    transport = transport_for(name)
    assert isinstance(transport, PacsTransport)
    module = sys.modules[type(transport).__module__]
    assert module.__name__.startswith("pacsflow.net.transports.")
    assert module.transport is transport
    assert transport.name == name
    assert transport_for(_node(name)) is transport
    assert isinstance(transport.needs, SiteNeeds)
    assert transport.label
    assert transport.query_label
    transport.check_node(_node(name))


@pytest.mark.parametrize("name", [n for n in TRANSPORTS if not transport_for(n).needs.receiver])
def test_a_transport_without_a_receiver_holds_nothing_for_a_run(name: str, tmp_path: Path) -> None:
    with transport_for(name).run_scope(
        PacsLink(LocalAE(), _node(name)), tmp_path / "storage"
    ) as held:
        assert held is None
    assert not (tmp_path / "storage").exists()


def test_the_registry_holds_a_module_for_each_name_and_no_other() -> None:
    # registry._by_name is where mypy checks each module against the protocol.
    assert sorted(registry._by_name()) == sorted(TRANSPORTS)
    assert DEFAULT_TRANSPORT in TRANSPORTS
    assert PacsNode("PACS", "127.0.0.1", 4242).transport == DEFAULT_TRANSPORT


def test_each_transport_says_what_it_is_in_messages_and_needs_of_the_site() -> None:
    by_name = {name: transport_for(name) for name in TRANSPORTS}
    assert {name: t.label for name, t in by_name.items()} == {
        "c-move": "C-MOVE",
        "c-get": "C-GET",
        "dicomweb": "WADO-RS retrieval",
    }
    assert [name for name, t in by_name.items() if t.needs.receiver] == ["c-move"]
    assert [name for name, t in by_name.items() if t.needs.web_url] == ["dicomweb"]
    assert str(_node("c-get")) == "PACS@127.0.0.1:4242"
    assert str(_node("dicomweb")) == "https://pacs.example/dicom-web"
    assert transport_for("dicomweb").echo_report(_node("dicomweb"), 0.0123) == (
        "https://pacs.example/dicom-web answered a QIDO-RS query in 12.3 ms; queries accepted"
    )
    with pytest.raises(ValueError, match=r"^the dicomweb transport needs the PACS's DICOMweb URL$"):
        PacsNode("PACS", "127.0.0.1", 4242, "dicomweb")


@pytest.mark.parametrize("name", ["carrier-pigeon", "C-MOVE", ""])
def test_an_unknown_transport_is_refused_in_one_line(name: str) -> None:
    with pytest.raises(UnknownTransportError) as refused:
        transport_for(name)
    message = str(refused.value)
    assert message == f"transport {name!r} is not one of c-move, c-get, dicomweb"
    assert "\n" not in message
    with pytest.raises(ValueError, match="is not one of c-move, c-get, dicomweb"):
        PacsNode("PACS", "127.0.0.1", 4242, name)  # type: ignore[arg-type]


def transport_name_comparisons(root: Path) -> Iterator[str]:
    """``path:line`` of each comparison with, or mapping keyed by, a transport name, in the
    source tree outside ``pacsflow/net/transports``."""
    names = set(TRANSPORTS)

    def named(node: ast.AST) -> bool:
        if isinstance(node, ast.Constant):
            return node.value in names
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return any(named(element) for element in node.elts)
        return False

    for source in SOURCES:
        for path in sorted((root / source).rglob("*.py")):
            if path.is_relative_to(root / TRANSPORTS_PACKAGE):
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                found = (
                    (
                        isinstance(node, ast.Compare)
                        and any(map(named, [node.left, *node.comparators]))
                    )
                    or (
                        isinstance(node, ast.Dict)
                        and any(k is not None and named(k) for k in node.keys)
                    )
                    or (isinstance(node, ast.MatchValue) and named(node.value))
                )
                if found:
                    yield f"{path.relative_to(root)}:{getattr(node, 'lineno', '?')}"


def test_no_module_outside_the_transports_compares_a_transport_name() -> None:
    found = list(transport_name_comparisons(ROOT))
    assert found == [], (
        "these compare a transport's name; ask the transport (transport_for(pacs)) instead: "
        + ", ".join(found)
    )
