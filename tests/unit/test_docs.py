"""The README stays a front page and the docs site stays whole (mkdocs.yml, docs/).

``make docs`` (``mkdocs build --strict``, run by ``make test``) already fails on a broken link or
anchor, a page left out of the nav and a module mkdocstrings cannot load; these checks cover
what it does not: the README's size and links, the two set-up commands, the CLI reference
covering every command, every environment variable the code reads being documented, and every
repository path the pages name (`flows/config/env.py`, `pacsflow/net/transports/`) existing.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README_MAX_LINES = 300
SETUP_COMMANDS = (
    "make demo   # the main job end to end on the embedded default",
    "make test   # install everything",
)
ENV_NAME = re.compile(r"PACSFLOW_[A-Z0-9_]*[A-Z0-9]")
ENV_SOURCES = ("pacsflow", "tasks", "flows", "scripts", "bench", "deployments", "tests")
REPO_PATH = re.compile(
    r"`((?:pacsflow|flows|tasks|tests|bench|scripts|deployments|alembic|docs)/[\w./-]*)`"
)
"""A repository path in backticks, such as `flows/config/env.py` or `pacsflow/net/transports/`."""
BARE_MODULE = re.compile(r"`(\w+\.py)`")
"""A module named in backticks without its folder, as a folder's README names its own."""
WHEEL_ONLY_PATHS = {"pacsflow/_app/"}
"""Paths that exist in the installed wheel only (pyproject.toml's force-include), not here."""
PAGES_NAMING_PATHS = (
    "README.md",
    "tasks/README.md",
    "flows/README.md",
    "deployments/README.md",
    "bench/README.md",
)


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "cli_reference", DOCS / "hooks" / "cli_reference.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NAV_PAGE = re.compile(r"^\s*- [^:\n]+: (\S+\.md)\s*$", re.MULTILINE)
"""A page entry of mkdocs.yml's nav, ``  - Title: path.md``, however deep its section."""


def _commands(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _commands(sub)


def test_the_readme_is_a_front_page_of_at_most_300_lines() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}): move detail to docs/"
    )


def test_the_readme_gives_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in SETUP_COMMANDS:
        assert command in readme, f"README.md lost the set-up command {command.split('#')[0]!r}"


def test_the_readmes_links_into_the_docs_lead_to_pages() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert targets, "README.md links to no docs page"
    missing = [target for target in targets if not (ROOT / target).is_file()]
    assert missing == []


def test_every_docs_page_is_in_the_nav_and_every_nav_entry_is_a_page() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    in_nav = set(NAV_PAGE.findall(config.split("\nnav:", 1)[1]))
    pages = {
        str(path.relative_to(DOCS))
        for path in DOCS.rglob("*.md")
        if "hooks" not in path.relative_to(DOCS).parts
    }
    assert pages - in_nav == set(), "pages missing from mkdocs.yml's nav"
    assert in_nav - pages == set(), "nav entries without a page"


def test_the_cli_reference_documents_every_command_and_option() -> None:
    hook = _hook()
    parser = hook.build_parser()
    page = (DOCS / "reference" / "cli.md").read_text(encoding="utf-8")
    assert hook.MARKER in page
    rendered = hook.on_page_markdown(page)
    for command in _commands(parser):
        assert f"`{command.prog}`" in rendered, f"no section for {command.prog}"
        for action in command._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert f"`{flag}" in rendered, f"{command.prog} {flag} is not documented"


def test_every_environment_variable_the_code_reads_is_on_the_settings_page() -> None:
    names: set[str] = set()
    for source in ENV_SOURCES:
        for path in (ROOT / source).rglob("*"):
            if path.is_file() and path.suffix in (".py", ".sh", ".yaml") and path != Path(__file__):
                names |= set(ENV_NAME.findall(path.read_text(encoding="utf-8", errors="replace")))
    names |= set(ENV_NAME.findall((ROOT / "Makefile").read_text(encoding="utf-8")))
    # A prefix the code builds names from (PACSFLOW_DICOMWEB_...) is not a variable of its own.
    variables = {name for name in names if not any(n.startswith(name + "_") for n in names)}
    settings = (DOCS / "reference" / "settings.md").read_text(encoding="utf-8")
    undocumented = sorted(name for name in variables if f"`{name}`" not in settings)
    assert undocumented == [], "add these to docs/reference/settings.md"


def _missing_paths(text: str) -> list[str]:
    """The repository paths ``text`` names in backticks that do not exist."""
    return [
        path
        for path in REPO_PATH.findall(text)
        if path not in WHEEL_ONLY_PATHS and not (ROOT / path).exists()
    ]


def _missing_modules_beside(readme: Path) -> list[str]:
    """The bare module names (`settings.py`) a folder's README names that its folder lacks."""
    text = readme.read_text(encoding="utf-8")
    return [name for name in BARE_MODULE.findall(text) if not (readme.parent / name).exists()]


def test_every_module_a_folders_readme_names_is_in_that_folder() -> None:
    missing = {
        name: found
        for name in PAGES_NAMING_PATHS
        if name != "README.md" and (found := _missing_modules_beside(ROOT / name))
    }
    assert missing == {}, "these READMEs name modules their folder does not hold"


def test_a_module_missing_beside_a_readme_is_reported(tmp_path: Path) -> None:
    (tmp_path / "pacs.py").write_text("", encoding="utf-8")
    readme = tmp_path / "README.md"
    readme.write_text("`pacs.py` wraps the core; `settings.py` reads the rest", encoding="utf-8")
    assert _missing_modules_beside(readme) == ["settings.py"]


def test_a_path_that_does_not_exist_is_reported() -> None:
    text = "the site is in `pacsflow/site.py`, the settings in `tasks/settings_gone.py`"
    assert _missing_paths(text) == ["tasks/settings_gone.py"]


def test_every_module_path_the_docs_name_exists() -> None:
    pages = [*DOCS.rglob("*.md"), *(ROOT / name for name in PAGES_NAMING_PATHS)]
    missing = {
        str(page.relative_to(ROOT)): found
        for page in pages
        if (found := _missing_paths(page.read_text(encoding="utf-8")))
    }
    assert missing == {}, "these pages name paths that do not exist: fix or remove them"
