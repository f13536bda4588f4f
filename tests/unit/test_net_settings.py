"""PACS and local AE settings: arguments first, then the environment, then defaults."""

from __future__ import annotations

import pytest

from flows.config import (
    MissingSettingError,
    resolve_callers,
    resolve_local,
    resolve_pacs,
    resolve_storage,
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "PACSFLOW_PACS_AET",
        "PACSFLOW_PACS_HOST",
        "PACSFLOW_PACS_PORT",
        "PACSFLOW_LOCAL_AET",
        "PACSFLOW_LOCAL_PORT",
        "PACSFLOW_LOCAL_BIND",
        "PACSFLOW_STORAGE",
    ):
        monkeypatch.delenv(name, raising=False)


def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACSFLOW_PACS_AET", "FROMENV")
    monkeypatch.setenv("PACSFLOW_PACS_HOST", "pacs.example.org")
    monkeypatch.setenv("PACSFLOW_PACS_PORT", "104")
    assert str(resolve_pacs(None, None, None)) == "FROMENV@pacs.example.org:104"
    assert str(resolve_pacs("GIVEN", None, 4242)) == "GIVEN@pacs.example.org:4242"


def test_local_defaults_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    local = resolve_local(None, None, None)
    assert (local.ae_title, local.port, local.bind_address) == ("PACSFLOW", 11112, "127.0.0.1")
    assert resolve_storage(None) == "pacsflow-storage"
    monkeypatch.setenv("PACSFLOW_LOCAL_PORT", "11999")
    monkeypatch.setenv("PACSFLOW_STORAGE", "/data/in")
    assert resolve_local(None, None, None).port == 11999
    assert resolve_storage(None) == "/data/in"


def test_missing_or_bad_settings_name_their_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = (
        r"no PACS AE title: give the flow parameter site\.pacs\.ae_title or set \$PACSFLOW_PACS_AET"
    )
    with pytest.raises(MissingSettingError, match=missing):
        resolve_pacs(None, "h", 104)
    monkeypatch.setenv("PACSFLOW_PACS_PORT", "one-oh-four")
    with pytest.raises(MissingSettingError, match=r"'one-oh-four' \(\$PACSFLOW_PACS_PORT\)"):
        resolve_pacs("PACS", "h", None)
    with pytest.raises(ValueError, match="1 to 16 characters"):
        resolve_pacs("A" * 17, "h", 104)


def test_a_receiver_accepts_the_given_callers_else_the_pacs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(MissingSettingError, match=r"give --allow AET or set \$PACSFLOW_PACS_AET"):
        resolve_callers([])
    monkeypatch.setenv("PACSFLOW_PACS_AET", "ORTHANC")
    assert resolve_callers([]) == ["ORTHANC"]
    assert resolve_callers(["STORESCU"]) == ["STORESCU"]
