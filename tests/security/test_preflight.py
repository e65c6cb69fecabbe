"""Item 8: checks that need no results answer in under 5 s, before any fit starts."""

from __future__ import annotations

import os
import time

import pytest

from .conftest import FIT_LINE, invoke, one_line_error, write_recording


def _case(name: str, tiny_nwb, tmp_path):
    """(arguments after ``run``, words of the error) of one too-late check."""
    if name == "existing --out":
        out = tmp_path / "done.nwb"
        out.write_bytes(b"an earlier result")
        return [tiny_nwb, "--out", out], ["exists", "--overwrite"]
    if name == "missing folder":
        return [tiny_nwb, "--out", tmp_path / "no" / "such" / "o.nwb"], ["does not exist"]
    if name == "--out is the input":
        return [tiny_nwb, "--out", tiny_nwb, "--overwrite"], ["input"]
    if name == "read-only --in-place":
        target = tmp_path / "ro.nwb"
        target.write_bytes(tiny_nwb.read_bytes())
        os.chmod(target, 0o444)
        return [target, "--in-place"], ["read-only"]
    clash = write_recording(tmp_path / "clash.nwb", labels=("x y", "x/y"))
    return [clash, "--conditions", "epochs", "--condition-column", "stage", "--out", tmp_path / "o.nwb"], ["x/y"]


@pytest.mark.parametrize(
    "name", ["existing --out", "missing folder", "--out is the input", "read-only --in-place", "label clash"]
)
def test_answers_before_any_fit(name, tiny_nwb, tiny_toml, tmp_path):
    args, words = _case(name, tiny_nwb, tmp_path)
    before = tiny_nwb.read_bytes()
    start = time.perf_counter()
    result = invoke("run", *args, "--config", tiny_toml)
    elapsed = time.perf_counter() - start
    assert FIT_LINE not in result.stderr, result.stderr
    one_line_error(result, *words)
    assert elapsed < 5.0, elapsed
    assert tiny_nwb.read_bytes() == before
