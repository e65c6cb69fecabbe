"""Item 11: umask-following outputs, dangling-link --out, a fresh download scratch, allowed redirect hosts,
and checkpoint paths never taken from files."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import stat

import h5py
import pytest

from ndx_causal_emergence.errors import OutputError
from ndx_causal_emergence.pipeline.results import read_results
from ndx_causal_emergence.testing.dandi_server import DandiStandIn

from .conftest import FIT_LINE, invoke, one_line_error


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_new_outputs_follow_the_umask(fitted, tmp_path, umask_022):
    source, results = fitted
    out = results.write(tmp_path / "shared.nwb")
    assert stat.S_IMODE(out.stat().st_mode) == 0o644  # colleagues may read it, as the umask says
    target = tmp_path / "in.nwb"
    shutil.copyfile(source, target)
    os.chmod(target, 0o640)
    moved = dataclasses.replace(results, source=dataclasses.replace(results.source, location=str(target)))
    moved.write(None, in_place=True)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # an in-place append keeps the file's mode


def test_dangling_link_out_is_not_followed(tiny_nwb, tiny_toml, tmp_path, fitted):
    victim = tmp_path / "elsewhere" / "planted.nwb"
    victim.parent.mkdir()
    link = tmp_path / "o.nwb"
    link.symlink_to(victim)
    result = invoke("run", tiny_nwb, "--out", link, "--config", tiny_toml)
    one_line_error(result, "symbolic link")
    assert FIT_LINE not in result.stderr
    with pytest.raises(OutputError, match="symbolic link"):
        fitted[1].write(link, overwrite=True)  # the library refuses it too
    assert not victim.exists()


def test_download_scratch_is_a_fresh_file(fitted, tmp_path):
    """A link planted at the scratch name an older version used must not receive the download."""
    source, results = fitted
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "streamed.nwb"
    (tmp_path / ".streamed.download.tmp.nwb").symlink_to(victim)
    with DandiStandIn() as server:
        url = server.blob_url(server.add_asset("000123", "sub-1/in.nwb", source))
        streamed = dataclasses.replace(results.source, kind="url", url=url, location=url)
        contents = [r.content(results.config.to_json()) for r in results.conditions.values()]
        from ndx_causal_emergence.nwb.write import InputLinks
        from ndx_causal_emergence.pipeline.results import _write_from_download

        links = InputLinks(results.series_object_id, results.roi_table_object_id, results.roi_indices)
        _write_from_download(streamed, out, contents, links, overwrite=False)
    assert victim.read_text() == "keep me"
    stored = read_results(out, load_models=False).conditions
    assert {r.analysis_name for r in stored.values()} == {r.analysis_name for r in results.conditions.values()}


def test_redirects_only_to_allowed_hosts(tiny_nwb, tmp_path, monkeypatch):
    monkeypatch.setenv("NDX_CE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("NDX_CE_ALLOWED_HOSTS", raising=False)
    with DandiStandIn() as archive, DandiStandIn() as other:
        asset = archive.add_asset("000123", "sub-1/tiny.nwb", tiny_nwb)
        other.add_asset("000123", "sub-1/tiny.nwb", tiny_nwb)
        archive.redirect_base = other.base_url.replace("127.0.0.1", "localhost")  # another host
        one_line_error(invoke("list", archive.blob_url(asset)), "localhost", "not an allowed host")
        assert not other.range_requests()  # no Range header went to the other host
        monkeypatch.setenv("NDX_CE_ALLOWED_HOSTS", "localhost")  # the user trusts it
        result = invoke("list", archive.blob_url(asset))
        assert result.exit_code == 0, result.output


def test_checkpoint_path_is_never_restored_from_a_file(results_file, tmp_path):
    path = shutil.copyfile(results_file, tmp_path / "planted.nwb")
    planted = tmp_path / "overwrite-me.pt"
    with h5py.File(path, "a") as f:
        model = f["processing/ophys/causal_emergence_awake/model_seed0"]
        arch = json.loads(model.attrs["architecture"])
        arch["params"]["checkpoint_path"] = str(planted)
        model.attrs["architecture"] = json.dumps(arch)
    (model,) = read_results(path)["causal_emergence_awake"].models
    assert model.get_params()["checkpoint_path"] is None
