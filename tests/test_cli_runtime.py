"""The command line's runtime: a line per phase on stderr (none with -q), threads and timings in provenance,
and ``--max-time`` stopping a long fit on time with a valid result."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from ndx_causal_emergence.cli.main import cli
from ndx_causal_emergence.pipeline.results import read_results
from ndx_causal_emergence.testing.simulated import write_two_condition_nwb

#: Every phase of `run` on an unlabelled recording, in order (the ladder 8, 4, 2, 1 has four scales).
PHASES = ["read", "fit [seed 0]", "polish maps", "observed reference [seed 0]", "validation noise",
          "measures [EI, NMSE]", "intervals [seed 0]", "fixed points", "attribution", "diagnostics",
          "macro variables", "write"]  # fmt: skip


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return write_two_condition_nwb(tmp_path_factory.mktemp("sim") / "small.nwb", n_channels=8, n_frames=200)


def _config(path, **model_params) -> str:
    lines = ["n_monte_carlo = 200", "[model_params]"] + [f"{k} = {v}" for k, v in model_params.items()]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _runtime(out) -> dict:
    (analysis,) = read_results(out, load_models=False).conditions.values()
    return json.loads(analysis.provenance["environment"])["runtime"]


def test_a_line_per_phase_and_the_plan_before_the_fit(small, tmp_path):
    out = tmp_path / "o.nwb"
    config = _config(tmp_path / "c.toml", max_steps=40, eval_every=20)
    result = CliRunner().invoke(cli, ["run", str(small), "--config", config, "--threads", "1", "--out", str(out)],
                                catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    phase_lines = [line for line in lines if any(line.startswith(p + ":") for p in PHASES)]
    assert [next(p for p in PHASES if line.startswith(p + ":")) for line in phase_lines] == PHASES
    plan = next(i for i, line in enumerate(lines) if line.startswith("model: ladder [8, 4, 2, 1], "))
    assert "parameters, up to 40 steps, 1 thread" in lines[plan]
    assert "ms/step on this machine -> about" in lines[plan + 1]  # the estimate, before the fit's own line
    assert plan + 1 < lines.index(phase_lines[1])
    runtime = _runtime(out)
    assert runtime["threads"]["threads"] == 1 and runtime["threads"]["requested"] == 1
    assert [p["phase"] for p in runtime["phases"]] == [p.split(" [")[0] for p in PHASES[:-1]]  # written before "write"
    assert runtime["fit_estimates"][0]["planned_steps"] == 40


def test_max_time_stops_a_long_fit_within_ten_percent_with_a_valid_result(small, tmp_path):
    budget = 15.0
    out = tmp_path / "o.nwb"
    config = _config(tmp_path / "c.toml", max_steps=10**6, eval_every=50, patience=10**6)
    result = CliRunner().invoke(cli, ["-q", "run", str(small), "--config", config, "--max-time", str(budget),
                                      "--out", str(out)], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # -q: no phase lines
    runtime = _runtime(out)
    fitting = sum(p["wall_s"] for p in runtime["phases"] if p["phase"] in ("fit", "polish maps", "observed reference"))
    assert 0.9 * budget <= fitting <= 1.1 * budget, runtime["phases"]
    assert runtime["time_budget"]["max_time_s"] == budget
    assert [s["loop"] for s in runtime["time_budget"]["stopped"]] == ["model", "observed reference"]
    assert all(0 < s["steps"] < 10**6 for s in runtime["time_budget"]["stopped"])
    (analysis,) = read_results(out).conditions.values()
    assert analysis.parameters["max_time"] == budget
    table = analysis.emergence
    assert list(table["dimension"]) == [8, 4, 2, 1]
    assert np.isfinite(table[["dimension_averaged_ei", "causal_emergence", "nmse"]].to_numpy()).all()
    assert analysis.models[0].history_["stopped_by_time"] == [True]


def test_no_attribution_skips_the_phase_and_changes_nothing_else(small, tmp_path):
    """``--no-attribution``: every phase but the attribution, no attribution table or coverage columns in the file,
    and the same J, ΔJ and fixed points as the run with it."""
    config = _config(tmp_path / "c.toml", max_steps=40, eval_every=20)
    runs = {}
    for flag in ("--attribution", "--no-attribution"):
        out = tmp_path / f"{flag}.nwb"
        result = CliRunner().invoke(cli, ["run", str(small), "--config", config, "--threads", "1", flag,
                                          "--out", str(out)], catch_exceptions=False)  # fmt: skip
        assert result.exit_code == 0, result.output
        (runs[flag],) = read_results(out, load_models=False).conditions.values()
    skipped = [p for p in PHASES if p != "attribution"]
    lines = [line for line in result.stderr.splitlines() if any(line.startswith(p + ":") for p in PHASES)]
    assert [next(p for p in PHASES if line.startswith(p + ":")) for line in lines] == skipped
    assert [p["phase"] for p in _runtime(out)["phases"]] == [p.split(" [")[0] for p in skipped[:-1]]
    with_it, without = runs["--attribution"], runs["--no-attribution"]
    assert with_it.attribution is not None and without.attribution is None
    assert with_it.parameters["attribution"] is True and without.parameters["attribution"] is False
    coverage = ["coverage", "coverage_top_fraction", "coverage_extent"]
    assert set(coverage) <= set(with_it.emergence.columns) and not set(coverage) & set(without.emergence.columns)
    pd.testing.assert_frame_equal(with_it.emergence.drop(columns=coverage), without.emergence)
    pd.testing.assert_frame_equal(with_it.fixed_points, without.fixed_points)
