"""The command line: help, listing, and bad input giving one-line errors with exit code 2."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from click.testing import CliRunner
from pynwb import NWBHDF5IO, TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

from ndx_causal_emergence.cli.main import cli
from ndx_causal_emergence.errors import InputError
from ndx_causal_emergence.testing.simulated import write_two_condition_nwb
from tests.conftest import PHASE_LINE


@pytest.fixture(scope="module")
def two_condition(tmp_path_factory):
    return write_two_condition_nwb(tmp_path_factory.mktemp("sim") / "two.nwb", n_frames=400)


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_help_reads_like_documentation():
    result = _invoke("--help")
    assert result.exit_code == 0
    for command in ("run", "report", "list", "demo"):
        assert command in result.output
    run_help = _invoke("run", "--help").output
    for option in (
        "--series",
        "--conditions",
        "--condition-column",
        "--ladder",
        "--coarsening",
        "--q",
        "--preset",
        "--seeds",
        "--surrogates",
        "--device",
        "--out",
        "--in-place",
        "--config",
    ):
        assert option in run_help


def test_version():
    from ndx_causal_emergence import __version__

    assert __version__ in _invoke("--version").output


def test_list_shows_series_and_conditions(two_condition):
    result = _invoke("list", str(two_condition))
    assert result.exit_code == 0, result.output
    assert "/processing/ophys/DfOverF/RoiResponseSeries" in result.output
    assert "epochs" in result.output and "stage" in result.output


def _one_line_error(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if line and not PHASE_LINE.match(line)]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle.lower() in lines[0].lower(), lines[0]


def test_missing_file(tmp_path):
    _one_line_error(_invoke("run", str(tmp_path / "nope.nwb"), "--out", str(tmp_path / "o.nwb")), "nope.nwb")


def test_not_hdf5(tmp_path):
    bad = tmp_path / "bad.nwb"
    bad.write_text("this is not HDF5")
    _one_line_error(_invoke("run", str(bad), "--out", str(tmp_path / "o.nwb")), "bad.nwb")


def test_nwb_without_time_series(tmp_path):
    path = tmp_path / "empty.nwb"
    with NWBHDF5IO(path, "w") as io:
        io.write(mock_NWBFile())
    _one_line_error(_invoke("run", str(path), "--out", str(tmp_path / "o.nwb")))


def test_unknown_series(two_condition, tmp_path):
    _one_line_error(
        _invoke("run", str(two_condition), "--series", "/processing/ophys/nothing", "--out", str(tmp_path / "o.nwb")),
        "RoiResponseSeries",  # the message names the candidates
    )


def test_intervals_without_column(two_condition, tmp_path):
    _one_line_error(
        _invoke(
            "run",
            str(two_condition),
            "--conditions",
            "epochs",
            "--condition-column",
            "nope",
            "--out",
            str(tmp_path / "o.nwb"),
        ),
        "nope",
    )


def _write_series(path, data):
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(TimeSeries(name="traces", data=data, unit="a.u.", rate=10.0))
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    return path


def test_all_nan_series(tmp_path):
    path = _write_series(tmp_path / "nan.nwb", np.full((500, 4), np.nan))
    _one_line_error(_invoke("run", str(path), "--out", str(tmp_path / "o.nwb")), "nan")


def test_too_few_frames(tmp_path):
    path = _write_series(tmp_path / "short.nwb", np.random.default_rng(0).normal(size=(20, 4)))
    _one_line_error(_invoke("run", str(path), "--out", str(tmp_path / "o.nwb")), "frames")


def test_out_and_in_place_are_exclusive(two_condition, tmp_path):
    _one_line_error(_invoke("run", str(two_condition)), "--out")


def test_bad_ladder_is_usage_error(two_condition, tmp_path):
    for option in ("--ladder", "--scales"):  # --scales: the old name
        result = _invoke("run", str(two_condition), option, "4,8", "--out", str(tmp_path / "o.nwb"))
        assert result.exit_code == 2
        assert "decreasing" in result.output


def test_ladder_options_mean_what_the_estimator_means(two_condition, tmp_path):
    """``--coarsening`` is the ladder's factor and ``--q`` its top dimension, as in ``MultiscaleNISPlus``."""
    from ndx_causal_emergence.models import MultiscaleNISPlus
    from ndx_causal_emergence.pipeline.config import AnalysisConfig

    model = MultiscaleNISPlus(**AnalysisConfig(coarsening=4, q=2).model_kwargs(seed=0))  # what `run` fits
    assert model.ladder_for(72) == [72, 18, 4, 2]
    out = str(tmp_path / "o.nwb")
    _one_line_error(_invoke("run", str(two_condition), "--ladder", "4,2,1", "--q", "2", "--out", out), "either")
    assert _invoke("run", str(two_condition), "--q", "0", "--out", out).exit_code == 2  # usage error
    # the top scale cannot be wider than the data: an error naming both, and nothing written
    result = _invoke("run", str(two_condition), "--q", "500", "--out", out)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "Error: the top scale's dimension q=500 must be between 1 and the number of channels N=16" in result.output
    assert "fit [" not in result.output and "model: ladder" not in result.output  # checked before any fit
    assert not (tmp_path / "o.nwb").exists()
    # --cut, the old name, means the same
    result = _invoke("run", str(two_condition), "--cut", "500", "--out", out)
    assert result.exit_code == 2 and "the top scale's dimension q=500" in result.output


@pytest.mark.parametrize("preset", ["sir", "fmri", "paper"])
def test_every_preset_reaches_the_fit_from_run_and_analyze(two_condition, tmp_path, preset):
    """``run --preset`` and ``analyze(preset=...)`` accept every preset: they fail only at the later ladder check."""
    from ndx_causal_emergence.pipeline.run import analyze

    out = tmp_path / "o.nwb"
    warns = pytest.warns(DeprecationWarning, match="now called") if preset == "paper" else contextlib.nullcontext()
    with warns:
        result = _invoke("run", str(two_condition), "--preset", preset, "--q", "500", "--out", str(out))
    assert result.exit_code == 2 and "--preset" not in result.output
    assert "the top scale's dimension q=500" in result.output
    with warns, pytest.raises(InputError, match="the top scale's dimension q=500"):
        analyze(str(two_condition), preset=preset, q=500)
    assert not out.exists()


def test_report_text_counts_fixed_points_per_source():
    from ndx_causal_emergence.pipeline.report import report_text

    scale = {"scale": 1, "dimension": 1, "effective_information": 0.1, "dimension_averaged_ei": 0.1,
             "causal_emergence": 0.0, "causal_power": 1.0, "nmse": 0.5}  # fmt: skip
    points = [
        {"scale": 1, "stability": "stable", "in_support": True, "source": "model"},
        {"scale": 1, "stability": "stable", "in_support": True, "source": "model"},
        {"scale": 1, "stability": "unstable", "in_support": True, "source": "model"},
        {"scale": 1, "stability": "stable", "in_support": True, "source": "empirical"},
        {"scale": 1, "stability": "stable", "in_support": False, "source": "empirical"},
    ]
    document = {"file": "results.nwb", "analyses": [{
        "name": "causal_emergence_all", "condition": "all", "emergent_complexity": 0.0,
        "emergent_complexity_normalized": 0.0, "scales": [scale], "fixed_points": points, "n_transitions": 0,
        "provenance": {},
    }]}  # fmt: skip
    line = next(x for x in report_text(document).splitlines() if "fixed points" in x)
    assert line.strip() == (
        "fixed points in the data support: scale 1 (empirical): 1 stable; scale 1 (model): 2 stable, 1 unstable"
    )
