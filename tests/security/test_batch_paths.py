"""Item 1: a hostile archive's asset paths never make a batch write outside ``--out-dir``."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from ndx_causal_emergence.errors import OutputError
from ndx_causal_emergence.safety.paths import confined_path
from ndx_causal_emergence.testing.dandi_server import DandiStandIn, point_dandi_client_at

from .conftest import invoke


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def test_traversal_assets_are_refused_and_recorded(tiny_nwb, tiny_toml, tmp_path):
    work = tmp_path / "a" / "b" / "c"
    out, outside = work / "out", tmp_path / "outside"
    outside.mkdir(parents=True)
    (out / "000123").mkdir(parents=True)
    victim = work.parent / "victim.nwb"  # what out/000123/../../../victim.nwb reaches
    victim.write_bytes(b"precious")
    (out / "000123" / "sub-link").symlink_to(outside, target_is_directory=True)
    hostile = ["../../../victim.nwb", "sub-1/../../../../x.nwb", str(outside / "abs.nwb"), "sub-link/y.nwb"]
    before = _tree(tmp_path)
    with DandiStandIn() as server, point_dandi_client_at(server):
        for path in hostile:
            server.add_asset("000123", path, tiny_nwb, verbatim_path=True)
        result = invoke("-q", "run", "DANDI:000123/draft", "--out-dir", out, "--config", tiny_toml)
    after = _tree(tmp_path)
    created = {p for p in after if not p.startswith(str(out))} - set(before)
    assert not created, created
    assert victim.read_bytes() == b"precious"
    assert not any(outside.iterdir())
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == len(hostile)
    assert (summary["status"] == "error").all()
    assert summary["error"].str.contains("refused output path").all(), summary["error"].tolist()
    assert result.exit_code == 1 and "4 of 4 inputs failed" in result.output


@pytest.mark.parametrize("relative", ["a\x00b.nwb", "../x.nwb", "/etc/x.nwb", "C:/x.nwb", "a/../../x.nwb", ""])
def test_confined_path_refuses(relative, tmp_path):
    with pytest.raises(OutputError, match="refused output path"):
        confined_path(tmp_path, relative)


def test_confined_path_keeps_nested_paths(tmp_path):
    assert confined_path(tmp_path, "000123/sub-1/x.nwb") == tmp_path / "000123" / "sub-1" / "x.nwb"
    os.symlink(tmp_path, tmp_path / "loop")
    with pytest.raises(OutputError, match="symbolic link"):
        confined_path(tmp_path, "loop/x.nwb")
