"""Every tutorial runs (as users run them, training shorter), and each is a valid jupytext percent-format notebook.

What the tests check (the tutorial's code runs end to end; the outputs it makes: conditions, scales,
files, figures, provenance) does not depend on how long the models train, so ``analyze`` runs with
at most :data:`STEPS` training and polishing steps here; the tutorials themselves keep their settings.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import jupytext
import pytest

import ndx_causal_emergence
from ndx_causal_emergence.testing.dandi_server import DandiStandIn, point_dandi_client_at

TUTORIALS = sorted((Path(__file__).resolve().parents[1] / "tutorials").glob("*.py"))
STEPS = 60


@pytest.fixture(autouse=True)
def short_training(monkeypatch):
    """``ndx_causal_emergence.analyze`` (as the tutorials call it) with at most STEPS training and polishing steps."""
    analyze = ndx_causal_emergence.analyze

    def shorter(*args, model_params=None, **kwargs):
        params = dict(model_params or {})
        params.update({key: min(params.get(key, STEPS), STEPS) for key in ("max_steps", "polish_steps")})
        return analyze(*args, model_params=params, **kwargs)

    monkeypatch.setattr(ndx_causal_emergence, "analyze", shorter)


def test_tutorials_exist():
    assert [p.name for p in TUTORIALS] == [
        "01_analyze_local_nwb.py",
        "02_analyze_dandi_asset.py",
        "03_read_results.py",
        "04_official_protocol.py",
    ]


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.stem)
def test_is_percent_notebook(path):
    notebook = jupytext.read(path)
    kinds = {cell.cell_type for cell in notebook.cells}
    assert kinds == {"markdown", "code"}


def test_local_nwb_tutorial(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    ns = runpy.run_path(str(TUTORIALS[0]))
    results = ns["results"]
    assert set(results.conditions) == {"awake", "anesthesia"}
    assert ns["out"].exists()


def test_dandi_tutorial_against_standin(monkeypatch, tmp_path, real_data):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NDX_CE_CACHE_DIR", str(tmp_path / "cache"))  # a cold cache: the bytes must travel
    with DandiStandIn() as server, point_dandi_client_at(server):
        server.add_real_units_assets(real_data / "dandi_units_nwb")
        ns = runpy.run_path(str(TUTORIALS[1]))
        assert len(server.range_requests()) > 0  # the asset was streamed, not downloaded whole
    prov = ns["prov"]
    assert prov["dandiset_id"] == "000207"
    assert prov["asset_path"] == "sub-4/sub-4_ses-4_ecephys+image.nwb"
    assert ns["res"].emergence["dimension"].tolist() == [35, 8, 2, 1]


def test_read_results_tutorial(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    ns = runpy.run_path(str(TUTORIALS[2]))
    assert {"emergence", "attribution"} <= set(ns["figures"])
    assert ns["top"].shape[1] == 1


def test_official_protocol_tutorial(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    ns = runpy.run_path(str(TUTORIALS[3]))
    assert set(ns["analyses"]) == {"default", "wang2025"}
    for protocol, results in ns["analyses"].items():
        assert set(results.conditions) == {"awake", "anesthesia"}
        assert sorted(ns["ranking"][protocol]) == ["anesthesia", "awake"]
    assert ns["official"].conditions["awake"].models[0].get_params()["ei_domain"] == "box"
