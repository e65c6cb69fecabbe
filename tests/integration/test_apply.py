"""A stored model applied to raw frames: the written model reproduces its macro variables; `apply` writes another
recording's, readable without the package; mismatched channels are refused before any data are read.

Real data: the neuroconv ophys test file of ``tests/data`` (15 ROIs x 250 frames of fluorescence), a fit of
the smallest size (seconds), and recordings made from it with pynwb.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner
from pynwb import NWBHDF5IO, validate
from pynwb.ophys import Fluorescence, PlaneSegmentation
from pynwb.testing.mock.file import mock_NWBFile
from pynwb.testing.mock.ophys import mock_ImagingPlane

import ndx_causal_emergence as ce
from ndx_causal_emergence.cli.main import cli
from ndx_causal_emergence.demo import demo_file
from ndx_causal_emergence.errors import ChannelMismatchError, InputError
from tests.conftest import PHASE_LINE, WITHOUT_THIS_PACKAGE

SERIES = "/processing/ophys/Fluorescence/RoiResponseSeries"
ANALYSIS = "causal_emergence_all"
TINY = {"series": SERIES, "device": "cpu", "n_monte_carlo": 50, "n_bootstrap": 100, "ladder": (15, 4, 1),
        "model_params": {"max_steps": 20, "hidden_width": 8, "dynamics_width": 8, "n_coupling_layers": 2,
                         "eval_every": 10, "weight_refresh": 10, "batch_size": 32, "observed_reference": False,
                         "polish_steps": 0}}  # fmt: skip


@pytest.fixture(scope="module")
def source(real_data):
    return real_data / "neuroconv_ophys_segmentation" / "nwb_test.nwb"


@pytest.fixture(scope="module")
def fitted(source, tmp_path_factory):
    results = ce.analyze(str(source), **TINY)
    return results, results.write(tmp_path_factory.mktemp("apply") / "results.nwb")


def _raw_frames(source) -> np.ndarray:
    with NWBHDF5IO(str(source), "r") as io:
        return np.asarray(io.read().processing["ophys"]["Fluorescence"]["RoiResponseSeries"].data[:])


def _recording(path, data: np.ndarray, roi_ids, starting_time: float):
    """An NWB file with one RoiResponseSeries of ``data`` over ROIs with ids ``roi_ids``, at 10 Hz."""
    nwbfile = mock_NWBFile(identifier=path.stem)
    plane = PlaneSegmentation(name="PlaneSegmentation", description="ROIs", imaging_plane=mock_ImagingPlane(
        nwbfile=nwbfile))  # fmt: skip
    for i, roi in enumerate(roi_ids):
        plane.add_roi(id=int(roi), pixel_mask=[(i, 0, 1.0)])
    ophys = nwbfile.create_processing_module("ophys", "ophys")
    ophys.add(plane)
    rois = plane.create_roi_table_region(region=list(range(len(roi_ids))), description="all ROIs")
    fluorescence = Fluorescence(name="Fluorescence")
    ophys.add(fluorescence)
    fluorescence.create_roi_response_series(name="RoiResponseSeries", data=data, rois=rois, unit="n.a.", rate=10.0,
                                            starting_time=starting_time)  # fmt: skip
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    return path


def _invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_rebuilt_model_maps_raw_frames_to_exactly_the_stored_macro_variables(fitted, source):
    """The stored macro variables (float32, as the fit returns them) bit for bit.

    The file holds the weights (float32) and every fitted statistic (float64: preprocessing, latent centres and
    ranges) at the precision of the fit, and macro variables are encoded in float64. What remains is the order
    in which BLAS sums a matrix product, which depends on the batch's shape: the fit encoded each
    train/validation/test block on its own, ``transform`` encodes the whole series.
    """
    results, out = fitted
    in_memory = results.conditions["all"]
    loaded = ce.read_results(out)[ANALYSIS]
    rebuilt = loaded.transform(str(source))
    assert [da.sizes["time"] for da in rebuilt] == [250] * 3  # every frame of the series
    for k, (new, fitted_k, stored) in enumerate(zip(rebuilt, in_memory.macro_variables, loaded.macro_variables,
                                                    strict=True)):  # fmt: skip
        at = np.searchsorted(new["time"].to_numpy(), fitted_k["time"].to_numpy())
        assert np.array_equal(new["time"].to_numpy()[at], fitted_k["time"].to_numpy()), k
        assert new.dtype == np.float64 and stored.dtype == fitted_k.dtype == np.float32
        assert np.array_equal(stored.to_numpy(), fitted_k.to_numpy()), k  # the file holds what the fit returned
        np.testing.assert_allclose(new.to_numpy()[at], fitted_k.to_numpy(), rtol=2.0**-24, atol=1e-14)  # rounding
        assert np.array_equal(new.to_numpy()[at].astype(np.float32), stored.to_numpy()), k
    # the in-memory results map the same way, without the file
    assert all(np.array_equal(a, b) for a, b in zip(results.transform(str(source)), rebuilt, strict=True))


def test_a_model_stored_without_preprocessing_says_so(fitted, source):
    results, _ = fitted
    model = results.conditions["all"].models[0]
    arch, tensors = model.to_stored()
    del arch["preprocessing"]
    old = type(model).from_stored(arch, {k: v for k, v in tensors.items() if not k.startswith("preprocessing.")})
    condition = results.conditions["all"]
    condition = type(condition)(**{**condition.__dict__, "models": [old]})
    with pytest.raises(InputError, match="stored without its preprocessing"):
        condition.transform(str(source))
    with pytest.raises(InputError, match=r"analysis= one of \['causal_emergence_all'\]; got 'nope'"):
        results.transform(str(source), analysis="nope")


READER = WITHOUT_THIS_PACKAGE + textwrap.dedent(
    """
    import json
    import numpy as np
    import pynapple as nap
    from pynwb import NWBHDF5IO
    data = nap.load_file(sys.argv[1])
    frames = {key: data[key] for key in data.keys() if key.startswith("scale")}
    with NWBHDF5IO(sys.argv[1], "r", load_namespaces=True) as io:
        applied = io.read().processing["ophys"][sys.argv[2]]
        prov = applied.analysis_provenance
        link = {k: getattr(prov, k) for k in ("model_file", "model_analysis", "model_name", "model_object_id",
                                              "model_digest", "input_path")}
        link["model_condition"] = applied.model_condition
    print(json.dumps({"types": sorted({type(f).__name__ for f in frames.values()}), "link": link,
                      "t": {k: np.asarray(f.t).tolist() for k, f in frames.items()},
                      "values": {k: np.asarray(f.values).tolist() for k, f in frames.items()}}))
    """
)


def test_apply_writes_macro_variables_pynapple_reads_without_the_package(fitted, source, tmp_path):
    """A time-shifted subset of the recording (frames 50-249, starting at 100 s) gets the macro variables the fit
    stored for those frames, in a file pynapple reads in a process that cannot import this package."""
    results, out = fitted
    other = _recording(tmp_path / "later.nwb", _raw_frames(source)[50:], range(15), starting_time=100.0)
    applied = tmp_path / "later_applied.nwb"
    result = _invoke("apply", out, other, "--analysis", ANALYSIS, "--out", applied)
    assert result.exit_code == 0, result.output
    assert "read:" in result.output  # the phase a mismatch never reaches
    assert validate(path=str(applied)) == []
    proc = subprocess.run([sys.executable, "-c", READER, str(applied), f"{ANALYSIS}_applied"], capture_output=True,
                          text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    read = json.loads(proc.stdout)
    assert read["types"] == ["TsdFrame"]
    stored = ce.read_results(out, load_models=False)[ANALYSIS]
    for k, expected in enumerate(stored.macro_variables):
        np.testing.assert_allclose(read["t"][f"scale{k}"], 100.0 + np.arange(200) / 10.0, rtol=0, atol=1e-9)
        assert np.array_equal(np.asarray(read["values"][f"scale{k}"]), expected.to_numpy()[50:].astype(np.float64))
    model_id = stored.stored_models[0][1]
    assert read["link"] == {
        "model_file": "results.nwb", "model_analysis": ANALYSIS, "model_name": "model_seed0",
        "model_object_id": model_id, "model_digest": read["link"]["model_digest"], "input_path": SERIES,
        "model_condition": "all",
    }  # fmt: skip
    assert read["link"]["model_digest"].startswith("sha256:") and len(read["link"]["model_digest"]) == 7 + 64
    # another series of the same ROIs, chosen with --series; an existing --out needs --overwrite
    deconvolved = "/processing/ophys/Fluorescence/Deconvolved"
    assert _invoke("apply", out, source, "--analysis", ANALYSIS, "--out", applied).exit_code == 2
    result = _invoke("apply", out, source, "--analysis", ANALYSIS, "--series", deconvolved, "--out", applied,
                     "--overwrite", "--name", "deconvolved_under_fluorescence_model")  # fmt: skip
    assert result.exit_code == 0, result.output
    with NWBHDF5IO(str(applied), "r") as io:
        written = io.read().processing["ophys"]["deconvolved_under_fluorescence_model"]
        assert written.analysis_provenance.input_path == deconvolved
        assert written.macro_variable_series["scale2"].data.shape == (250, 1)


def _one_line_error(result, *needles: str) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if line and not PHASE_LINE.match(line)]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "read:" not in result.output  # refused before the data were read
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_mismatched_recordings_are_refused_naming_the_mismatch(fitted, source, tmp_path):
    results, out = fitted
    target = tmp_path / "never.nwb"
    _one_line_error(
        _invoke(
            "apply",
            out,
            demo_file(),
            "--analysis",
            ANALYSIS,
            "--series",
            "/processing/ophys/DfOverF/RoiResponseSeries",
            "--out",
            target,
        ),  # fmt: skip
        "channel count mismatch",
        "has 72 channels",
        "fitted on 15",
    )
    renumbered = _recording(tmp_path / "renumbered.nwb", _raw_frames(source), range(100, 115), starting_time=0.0)
    _one_line_error(
        _invoke("apply", out, renumbered, "--analysis", ANALYSIS, "--out", target),
        "ROI id mismatch",
        "15 of 15",
        "position 0: 100, model 0",
    )
    _one_line_error(
        _invoke("apply", out, source, "--analysis", "nope", "--out", target), "no analysis 'nope'", ANALYSIS
    )
    assert not target.exists()
    with pytest.raises(ChannelMismatchError, match="ROI id mismatch"):
        results.transform(str(renumbered))
