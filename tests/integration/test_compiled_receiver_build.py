"""Building the compiled receiver (``pacsflow/net/compiled_receiver/build.py``): once, cached,
and a reason instead of a binary when it cannot be built."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pacsflow.net.compiled_receiver.build import compiled_receiver


def test_it_is_built_once_then_taken_from_the_cache(tmp_path: Path) -> None:
    first = compiled_receiver(tmp_path / "bin")
    assert first.path is not None, first.reason
    assert first.path.parent == tmp_path / "bin"
    built = first.path.stat().st_mtime_ns
    again = compiled_receiver(tmp_path / "bin")
    assert again.path == first.path
    assert again.path.stat().st_mtime_ns == built, "not compiled twice"
    assert subprocess.run([first.path, "--check"], check=False).returncode == 0
    usage = subprocess.run([first.path], capture_output=True, text=True, check=False)
    assert usage.returncode == 2
    assert "usage: pacsflow-storescp" in usage.stderr
    assert [p.name for p in (tmp_path / "bin").iterdir() if p.suffix == ".tmp"] == []


def test_without_a_compiler_or_headers_it_says_why(tmp_path: Path) -> None:
    no_compiler = compiled_receiver(tmp_path / "bin", compiler="no-such-c++")
    assert (no_compiler.path, no_compiler.reason) == (None, "no C++ compiler (no-such-c++) found")
    no_headers = compiled_receiver(tmp_path / "bin", header=tmp_path / "osconfig.h")
    assert no_headers.path is None
    assert "DCMTK's development headers are not installed" in no_headers.reason


def test_a_compiler_that_fails_leaves_no_binary(tmp_path: Path) -> None:
    failed = compiled_receiver(tmp_path / "bin", compiler="false")
    assert failed.path is None
    assert failed.reason.startswith("the compiled receiver did not build")
    assert list((tmp_path / "bin").glob("pacsflow-storescp-*")) == []
