"""The reader on every real data set of tests/data (ophys ones converted with ndx_causal_emergence.convert)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from ndx_causal_emergence import convert
from ndx_causal_emergence.data.prepare import prepare
from ndx_causal_emergence.nwb.read import read_recording


def test_suite2p_cells(real_data: Path, tmp_path: Path) -> None:
    folder = real_data / "pynapple_suite2p_plane0"
    rec = read_recording(convert.suite2p_to_nwb(folder, tmp_path / "s2p.nwb", rate=30.0))
    cells = np.flatnonzero(np.load(folder / "iscell.npy")[:, 0] > 0)
    assert rec.series_path == "/processing/ophys/Fluorescence/RoiResponseSeries"  # not Neuropil / Deconvolved
    assert rec.data.shape == (300, cells.size) == (300, 20)  # tests/data keeps the first 300 frames
    np.testing.assert_array_equal(rec.data, np.load(folder / "F.npy")[cells].T)
    np.testing.assert_allclose(rec.timestamps, np.arange(300) / 30.0)
    assert rec.roi_table_path == "/processing/ophys/ImageSegmentation/PlaneSegmentation"


def test_caiman_dff(real_data: Path, tmp_path: Path) -> None:
    source = real_data / "neuroconv_ophys_segmentation" / "caiman_analysis.hdf5"
    rec = read_recording(convert.caiman_to_nwb(source, tmp_path / "caiman.nwb"))
    assert rec.series_path == "/processing/ophys/DfOverF/RoiResponseSeries"
    assert rec.data.shape == (1000, 72) and rec.rate == 30.0
    np.testing.assert_allclose(rec.timestamps[[0, 1, -1]], [0.0, 1 / 30, 999 / 30])
    with h5py.File(source, "r") as h5:
        np.testing.assert_allclose(rec.data, h5["estimates/F_dff"][:].T.astype(np.float32))


def test_extract_traces(real_data: Path, tmp_path: Path) -> None:
    source = real_data / "neuroconv_ophys_segmentation" / "2014_04_01_p203_m19_check01_extractAnalysis.mat"
    rec = read_recording(convert.extract_to_nwb(source, tmp_path / "extract.nwb"))
    assert rec.series_path == "/processing/ophys/Fluorescence/RoiResponseSeries"
    assert rec.data.shape == (750, 55)
    np.testing.assert_array_equal(rec.timestamps, np.arange(750.0))  # no rate stored: time in frames
    with h5py.File(source, "r") as h5:
        np.testing.assert_array_equal(rec.data, h5["extractAnalysisOutput/traces"][:])


def test_triplett_zebrafish(real_data: Path, tmp_path: Path) -> None:
    folder = real_data / "triplett2018_zebrafish_tectum"
    rec = read_recording(convert.triplett_to_nwb(folder, tmp_path / "zf.nwb", rate=4.0))
    assert rec.series_path == "/processing/ophys/DfOverF/RoiResponseSeries"
    assert rec.data.shape == (600, 114) and rec.rate == 4.0  # tests/data keeps the first 600 frames
    activity = np.loadtxt(folder / "zf_20151104-f1_activity_matrix.csv", delimiter=",", dtype=np.float32)
    np.testing.assert_array_equal(rec.data, activity.T)
    with h5py.File(tmp_path / "zf.nwb", "r") as h5:
        assemblies = [s.decode() for s in h5["processing/ophys/ImageSegmentation/PlaneSegmentation/assemblies"][:]]
    assert len({cell for cell, groups in enumerate(assemblies) if groups}) == 77  # README: 77 distinct cells


def test_roiextractors_file_as_is(real_data: Path) -> None:
    rec = read_recording(real_data / "neuroconv_ophys_segmentation" / "nwb_test.nwb")
    assert rec.series_path == "/processing/ophys/Fluorescence/RoiResponseSeries"
    assert rec.data.shape == (250, 15) and rec.rate == 10.0
    np.testing.assert_allclose(rec.timestamps, np.arange(250) / 10.0)
    assert rec.source.identifier == "9a593bca-60bf-4657-8e83-3ae66ce7a123"
    np.testing.assert_array_equal(rec.roi_indices, np.arange(15))


def test_dandi_000207_units_binned(real_data: Path) -> None:
    path = real_data / "dandi_units_nwb" / "sub-4_ses-4_ecephys+image.nwb"
    rec = read_recording(path, bin_width=0.1)
    assert rec.series_path == "/units" and rec.n_channels == 35
    assert rec.data.sum() == 214_278  # every spike counted once (README: 214,278 spikes)
    assert rec.rate == pytest.approx(10.0)
    assert rec.timestamps[-1] - rec.timestamps[0] == pytest.approx(0.1 * (rec.n_frames - 1))
    assert 2700 < rec.n_frames * 0.1 < 2830  # README: 0–2821 s
    prepared = prepare(rec)
    assert prepared.n_features == 35 and not prepared.dropped
