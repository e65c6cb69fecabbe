"""Coverage C_d end to end: ROI centroids from the masks, per scale in the NWB emergence table and `report --json`."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from pynwb import NWBHDF5IO
from pynwb.ophys import DfOverF, PlaneSegmentation
from pynwb.testing.mock.file import mock_NWBFile
from pynwb.testing.mock.ophys import mock_ImagingPlane

import ndx_causal_emergence as ce
from ndx_causal_emergence.cli.main import cli
from ndx_causal_emergence.dynamics.attribution import coverage_table
from ndx_causal_emergence.nwb.read import read_recording

#: ROI i is a 2 x 2 pixel square at (4 i, 10 + i): centroid (4 i + 0.5, 10.5 + i).
N_ROIS = 6
CENTROIDS = np.array([[4 * i + 0.5, 10.5 + i] for i in range(N_ROIS)])
TINY = {"device": "cpu", "n_monte_carlo": 50, "n_bootstrap": 100, "ladder": (6, 3, 1), "model_params": {
    "max_steps": 20, "hidden_width": 8, "dynamics_width": 8, "n_coupling_layers": 2, "eval_every": 10,
    "weight_refresh": 10, "batch_size": 32, "observed_reference": False, "polish_steps": 0}}  # fmt: skip


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("coverage")
    nwbfile = mock_NWBFile(identifier="coverage")
    plane = PlaneSegmentation(name="PlaneSegmentation", description="squares", imaging_plane=mock_ImagingPlane(
        nwbfile=nwbfile))  # fmt: skip
    for i in range(N_ROIS):
        plane.add_roi(pixel_mask=[(4 * i + dx, 10 + i + dy, 1.0) for dx in (0, 1) for dy in (0, 1)])
    ophys = nwbfile.create_processing_module("ophys", "ophys")
    ophys.add(plane)
    rois = plane.create_roi_table_region(region=list(range(N_ROIS)), description="all ROIs")
    dff = DfOverF(name="DfOverF")
    ophys.add(dff)
    data = np.random.default_rng(0).standard_normal((300, N_ROIS)).cumsum(axis=0).astype(np.float32)
    dff.create_roi_response_series(name="RoiResponseSeries", data=data, rois=rois, unit="dF/F", rate=10.0)
    source = folder / "in.nwb"
    with NWBHDF5IO(source, "w") as io:
        io.write(nwbfile)
    results = ce.analyze(str(source), **TINY)
    return source, results, results.write(folder / "out.nwb")


def test_centroids_come_from_the_masks(written):
    source, _, _ = written
    np.testing.assert_allclose(read_recording(str(source)).roi_centroids, CENTROIDS)


def test_coverage_per_scale_in_the_file_readable_without_the_package(written):
    _, results, out = written
    condition = results.conditions["all"]
    expected = coverage_table(condition.attribution, centroids=CENTROIDS)
    assert np.isfinite(expected[["coverage", "coverage_top_fraction", "coverage_extent"]].to_numpy()).all()
    with h5py.File(out, "r") as f:  # plain HDF5: no pynwb, no extension classes
        table = f[f"processing/ophys/{condition.analysis_name}/emergence"]
        stored = {name: table[name][()] for name in ("scale", "coverage", "coverage_top_fraction", "coverage_extent")}
    np.testing.assert_array_equal(stored["scale"], expected["scale"])
    for name in ("coverage", "coverage_top_fraction", "coverage_extent"):
        np.testing.assert_allclose(stored[name], expected[name], rtol=1e-12)
    assert ((stored["coverage"] > 1 / N_ROIS) & (stored["coverage"] <= 1)).all()


def test_report_json_has_coverage(written):
    _, results, out = written
    result = CliRunner().invoke(cli, ["report", str(out), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    scales = document["analyses"][0]["scales"]
    stored = results.conditions["all"].emergence
    assert [s["coverage"] for s in scales] == pytest.approx(stored["coverage"].tolist())
    assert [s["coverage_extent"] for s in scales] == pytest.approx(stored["coverage_extent"].tolist())
