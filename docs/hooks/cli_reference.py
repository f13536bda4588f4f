"""MkDocs hook: renders the ``pacsflow`` command's reference from its argparse parser.

A page holding the marker ``<!-- pacsflow-cli-reference -->`` gets, in its place, every
command's usage, description and options, read from the parser the command itself uses
(``flows.cli.main``), so the reference cannot drift from the command. Building the parser
never imports Prefect.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MARKER = "<!-- pacsflow-cli-reference -->"
PARSER_MODULE = "flows.cli.main"
PARSER_BUILDERS = ("build_parser", "parser", "_parser")
"""Names the parser builder may have in the CLI module; the first one found is used."""

_REPO = Path(__file__).resolve().parents[2]


def build_parser() -> argparse.ArgumentParser:
    """The ``pacsflow`` command's parser, from the CLI module's builder function."""
    if str(_REPO) not in sys.path:
        sys.path.insert(0, str(_REPO))
    module = importlib.import_module(PARSER_MODULE)
    for name in PARSER_BUILDERS:
        builder = getattr(module, name, None)
        if callable(builder):
            parser = builder()
            if isinstance(parser, argparse.ArgumentParser):
                return parser
    raise RuntimeError(f"{PARSER_MODULE} has none of {PARSER_BUILDERS}: name its parser builder")


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, str, Any]]:
    """(name, help, sub-parser) of each sub-command, in the order the parser declares them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, helps.get(name) or "", sub


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _flags(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    metavar = ""
    if action.nargs != 0:
        default_metavar = action.dest.upper()
        if action.choices is not None and action.metavar is None:
            default_metavar = "{" + ",".join(str(c) for c in action.choices) + "}"
        metavar = " " + str(action.metavar or default_metavar)
        if action.nargs in ("+", "*"):
            metavar += " ..."
    return ", ".join(f"`{flag}{metavar}`" for flag in action.option_strings)


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    formatter = parser._get_formatter()
    text = formatter._expand_help(action) if action.help else ""
    if action.choices is not None and not action.option_strings:
        choices = ", ".join(f"`{choice}`" for choice in action.choices)
        text = f"{text} (one of: {choices})".strip()
    if action.required and action.option_strings:
        text += " (required)"
    return _escape(" ".join(text.split()))


def _options_table(parser: argparse.ArgumentParser) -> list[str]:
    rows = [
        action
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction | argparse._HelpAction)
        and action.help is not argparse.SUPPRESS
    ]
    if not rows:
        return []
    lines = ["| argument | meaning |", "|---|---|"]
    lines += [f"| {_flags(action)} | {_help(parser, action)} |" for action in rows]
    return [*lines, ""]


USAGE_WIDTH = 72
"""Usage lines wrap at this width, whatever the terminal the site is built in."""


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(prog=parser.prog, width=USAGE_WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups, "")
    return formatter.format_help().strip("\n")


def _command(parser: argparse.ArgumentParser, help_text: str, level: int) -> list[str]:
    lines = [f"{'#' * level} `{parser.prog}`", ""]
    if help_text:
        sentence = help_text[:1].upper() + help_text[1:]
        lines += [_escape(sentence if sentence[-1] in ".?!" else sentence + "."), ""]
    lines += ["```text", _usage(parser), "```", ""]
    if parser.description:
        lines += [_escape(" ".join(parser.description.split())), ""]
    lines += _options_table(parser)
    if parser.epilog:
        lines += [_escape(" ".join(parser.epilog.split())), ""]
    subcommands = list(_subcommands(parser))
    if subcommands:
        lines += ["| command | what it does |", "|---|---|"]
        lines += [
            f"| [`{sub.prog}`](#{_anchor(sub.prog)}) | {_escape(h)} |" for _n, h, sub in subcommands
        ]
        lines.append("")
    for _name, sub_help, sub in subcommands:
        lines += _command(sub, sub_help, min(level + 1, 4))
    return lines


def _anchor(prog: str) -> str:
    """The id MkDocs' toc extension gives the heading `` `PROG` ``."""
    return prog.replace(" ", "-")


def render() -> str:
    """The whole CLI reference as Markdown."""
    parser = build_parser()
    return "\n".join(_command(parser, "", 2))


def on_page_markdown(markdown: str, **_kwargs: Any) -> str:
    """MkDocs event: replaces the marker with the reference, on the page that holds it."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render())
