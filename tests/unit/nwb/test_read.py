"""nwb.read / nwb.discover: series choice, lazy slicing, errors."""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import numpy as np
import pytest
from pynwb import NWBHDF5IO, TimeSeries
from pynwb.misc import Units

from ndx_causal_emergence.errors import DataError, InputError, SeriesNotFoundError, SourceError
from ndx_causal_emergence.nwb.discover import find_series, list_series, object_path
from ndx_causal_emergence.nwb.read import iter_series_chunks, open_nwb, read_recording

from .read_helpers import ophys_file, write


@pytest.fixture
def ophys_path(tmp_path: Path) -> Path:
    return write(ophys_file(), tmp_path / "ophys.nwb")


def test_default_prefers_dff(ophys_path: Path) -> None:
    rec = read_recording(ophys_path)
    assert rec.series_path == "/processing/ophys/DfOverF/RoiResponseSeries"
    assert rec.unit == "dF/F"
    assert rec.data.shape == (600, 6)
    assert rec.rate == 10.0
    np.testing.assert_allclose(rec.timestamps, np.arange(600) / 10.0)
    np.testing.assert_array_equal(rec.channel_ids, np.arange(10, 16))
    np.testing.assert_array_equal(rec.roi_indices, np.arange(6))
    assert rec.roi_table_path == "/processing/ophys/ImageSegmentation/PlaneSegmentation"
    assert rec.labels is None
    assert set(rec.segment_ids) == {0}
    assert rec.source.kind == "local" and rec.source.identifier == "ophys-0"
    expected = np.random.default_rng(0).standard_normal((600, 6)).astype(np.float32)
    np.testing.assert_array_equal(rec.data, expected)
    with open_nwb(ophys_path) as opened:
        series = opened.nwbfile.processing["ophys"]["DfOverF"]["RoiResponseSeries"]
        assert rec.series_object_id == series.object_id
        assert isinstance(opened.io, NWBHDF5IO) and not opened.streamed


def test_fluorescence_when_no_dff(tmp_path: Path) -> None:
    rec = read_recording(write(ophys_file(dff=False), tmp_path / "f.nwb"))
    assert rec.series_path == "/processing/ophys/Fluorescence/RoiResponseSeries"
    assert rec.data.min() > 90


def test_series_by_path_and_name(ophys_path: Path) -> None:
    rec = read_recording(ophys_path, series="processing/ophys/Fluorescence/RoiResponseSeries")
    assert rec.series_path.endswith("Fluorescence/RoiResponseSeries")
    assert read_recording(ophys_path, series="Fluorescence/RoiResponseSeries").series_path == rec.series_path
    with pytest.raises(SeriesNotFoundError, match="ambiguous.*DfOverF.*Fluorescence"):
        read_recording(ophys_path, series="RoiResponseSeries")
    with pytest.raises(SeriesNotFoundError, match="no series 'nope'.*DfOverF/RoiResponseSeries"):
        read_recording(ophys_path, series="nope")


def test_list_series(ophys_path: Path) -> None:
    with open_nwb(ophys_path) as opened:
        table = list_series(opened.nwbfile)
    assert list(table["path"]) == [
        "/processing/ophys/DfOverF/RoiResponseSeries",
        "/processing/ophys/Fluorescence/RoiResponseSeries",
    ]
    assert list(table["container"]) == ["DfOverF", "Fluorescence"]
    assert table["shape"].iloc[0] == (600, 6)
    assert {"path", "neurodata_type", "shape", "rate", "unit", "description"} <= set(table.columns)


def test_in_memory_nwbfile_and_paths() -> None:
    nwbfile = ophys_file(n_frames=50)
    rec = read_recording(nwbfile)
    assert rec.source.kind == "memory" and rec.data.shape == (50, 6)
    assert object_path(nwbfile.processing["ophys"]["DfOverF"]) == "/processing/ophys/DfOverF"
    nwbfile.add_acquisition(TimeSeries(name="listed", data=[[1, 2], [3, 4], [5, 6]], unit="a.u.", rate=1.0))
    listed = read_recording(nwbfile, series="listed")
    np.testing.assert_array_equal(listed.data, [[1, 2], [3, 4], [5, 6]])
    assert listed.series_path == "/acquisition/listed"


def test_generic_timeseries_and_units_fallback(tmp_path: Path) -> None:
    nwbfile = ophys_file(dff=False, fluorescence=False)
    nwbfile.add_acquisition(TimeSeries(name="lfp_like", data=np.ones((20, 3)), unit="V", rate=5.0))
    nwbfile.add_acquisition(TimeSeries(name="speed", data=np.ones(20), unit="m/s", rate=5.0))  # 1-D: not listed
    nwbfile.add_unit(spike_times=[0.05, 0.25, 0.26, 1.0])
    nwbfile.add_unit(spike_times=[0.5])
    path = write(nwbfile, tmp_path / "g.nwb")
    assert read_recording(path).series_path == "/acquisition/lfp_like"
    rec = read_recording(path, series="units", bin_width=0.1)
    assert rec.series_path == "/units" and rec.roi_table_path == "/units"
    # bins start at the first spike (0.05 s): [0.05,0.15) [0.15,0.25) [0.25,0.35) ...
    assert rec.data.shape == (10, 2)
    np.testing.assert_array_equal(rec.data[:, 0], [1, 0, 2, 0, 0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(rec.data[:, 1], [0, 0, 0, 0, 1, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(rec.timestamps, 0.05 + (np.arange(10) + 0.5) * 0.1)
    assert rec.rate == pytest.approx(10.0)


def test_units_only_and_obs_intervals(tmp_path: Path) -> None:
    nwbfile = ophys_file(dff=False, fluorescence=False)
    nwbfile.add_unit(spike_times=[0.1, 0.2, 1.5], obs_intervals=[[0.0, 1.0]])
    nwbfile.add_unit(spike_times=[0.3, 1.7], obs_intervals=[[0.0, 2.0]])
    rec = read_recording(write(nwbfile, tmp_path / "u.nwb"), bin_width=0.5, time_range=(0.0, 2.0))
    assert rec.series_path == "/units" and rec.data.shape == (4, 2)
    # unit 0 was observed only until 1 s: its later bins are NaN, not 0
    np.testing.assert_array_equal(rec.data[:, 0], [2, 0, np.nan, np.nan])
    np.testing.assert_array_equal(rec.data[:, 1], [1, 0, 0, 1])


def test_electrical_series_not_default(tmp_path: Path) -> None:
    from pynwb.testing.mock.ecephys import mock_ElectricalSeries

    nwbfile = ophys_file(dff=False, fluorescence=False)
    mock_ElectricalSeries(nwbfile=nwbfile)
    nwbfile.add_unit(spike_times=[0.1, 0.2])
    with open_nwb(nwbfile) as opened:
        assert isinstance(find_series(opened.nwbfile), Units)


def test_time_range_and_channels_match_full_read(ophys_path: Path) -> None:
    full = read_recording(ophys_path)
    part = read_recording(ophys_path, time_range=(10.0, 20.05), channels=[4, 1])
    np.testing.assert_array_equal(part.data, full.data[100:201][:, [4, 1]])
    np.testing.assert_allclose(part.timestamps, full.timestamps[100:201])
    np.testing.assert_array_equal(part.channel_ids, [14, 11])
    np.testing.assert_array_equal(part.roi_indices, [4, 1])
    with pytest.raises(InputError, match="distinct column indices in 0..5"):
        read_recording(ophys_path, channels=[0, 6])


def test_timestamps_gap_breaks_segments(tmp_path: Path) -> None:
    stamps = np.concatenate([np.arange(100) * 0.1, 20 + np.arange(100) * 0.1])
    rec = read_recording(write(ophys_file(n_frames=200, timestamps=stamps), tmp_path / "gap.nwb"))
    assert rec.rate is None  # irregular: no single rate
    np.testing.assert_array_equal(rec.segment_ids, np.repeat([0, 1], 100))
    part = read_recording(tmp_path / "gap.nwb", time_range=(5.0, 21.0))
    np.testing.assert_allclose(part.timestamps[[0, -1]], [5.0, 20.9])


def test_conversion_and_offset_applied(tmp_path: Path) -> None:
    nwbfile = ophys_file(dff=False, fluorescence=False)
    nwbfile.add_acquisition(
        TimeSeries(
            name="scaled",
            data=np.arange(12, dtype=np.int16).reshape(6, 2),
            unit="V",
            rate=1.0,
            conversion=0.5,
            offset=-1.0,
        )
    )
    rec = read_recording(write(nwbfile, tmp_path / "c.nwb"))
    np.testing.assert_allclose(rec.data, np.arange(12).reshape(6, 2) * 0.5 - 1.0)
    assert rec.data.dtype == np.float64


class _CountingFile(io.FileIO):
    """A local file that counts the bytes h5py reads from it."""

    bytes_read = 0

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = super().readinto(buffer)
        type(self).bytes_read += n or 0
        return n


def test_slice_reads_only_needed_chunks(tmp_path: Path) -> None:
    from ndx_causal_emergence.testing import write_long_ophys_nwb

    path = write_long_ophys_nwb(tmp_path / "long.nwb", n_frames=40_000, n_rois=50, chunk_frames=500)  # 8 MB
    size = path.stat().st_size
    _CountingFile.bytes_read = 0
    with _CountingFile(path, "r") as handle, h5py.File(handle, "r") as h5, NWBHDF5IO(file=h5, mode="r") as nwbio:
        series = nwbio.read().processing["ophys"]["DfOverF"]["RoiResponseSeries"]
        opened_bytes = _CountingFile.bytes_read
        blocks = list(iter_series_chunks(series, frames=slice(10_250, 10_650)))
        sliced_bytes = _CountingFile.bytes_read - opened_bytes
        expected = np.asarray(h5["processing/ophys/DfOverF/RoiResponseSeries/data"][10_250:10_650])
    got = np.concatenate([b for _, b in blocks])
    np.testing.assert_array_equal(got, expected)
    # 400 frames span 2 chunks of 500 frames × 50 ROIs × 4 bytes = 200 kB; the whole file is 8 MB
    assert sliced_bytes <= 2 * 500 * 50 * 4 + 16_384
    assert sliced_bytes < 0.03 * size


def test_blocks_follow_chunks(tmp_path: Path) -> None:
    from ndx_causal_emergence.testing import write_long_ophys_nwb

    path = write_long_ophys_nwb(tmp_path / "long.nwb", n_frames=5_000, n_rois=8, chunk_frames=300)
    with open_nwb(path) as opened:
        series = opened.nwbfile.processing["ophys"]["DfOverF"]["RoiResponseSeries"]
        blocks = list(iter_series_chunks(series, frames=slice(100, 4_000), max_block_bytes=600 * 8 * 4))
        whole = np.asarray(series.data[100:4_000])
    offsets = [o for o, _ in blocks]
    # every block but the first starts on a chunk boundary and holds at most two chunks
    assert all((100 + o) % 300 == 0 for o in offsets[1:])
    assert all(b.shape[0] <= 600 for _, b in blocks)
    np.testing.assert_array_equal(np.concatenate([b for _, b in blocks]), whole)


@pytest.mark.parametrize("kind", ["missing", "text", "hdf5", "folder"])
def test_bad_sources(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "input.nwb"
    if kind == "text":
        path.write_text("not hdf5")
    elif kind == "hdf5":
        with h5py.File(path, "w") as h5:
            h5["x"] = 1
    elif kind == "folder":
        path.mkdir()
    match = {
        "missing": "no such file",
        "text": "not an HDF5 file",
        "hdf5": "HDF5 but not NWB",
        "folder": "is a folder",
    }[kind]
    with pytest.raises(SourceError, match=match) as info:
        read_recording(path)
    assert "\n" not in str(info.value)


def test_file_without_series(tmp_path: Path) -> None:
    path = write(ophys_file(dff=False, fluorescence=False), tmp_path / "empty.nwb")
    with pytest.raises(SeriesNotFoundError, match="no analysable series"):
        read_recording(path)


def test_all_nan_series_is_a_data_error(tmp_path: Path) -> None:
    from ndx_causal_emergence.data.prepare import prepare

    nwbfile = ophys_file(dff=False, fluorescence=False)
    nwbfile.add_acquisition(TimeSeries(name="blank", data=np.full((300, 4), np.nan), unit="a.u.", rate=10.0))
    rec = read_recording(write(nwbfile, tmp_path / "nan.nwb"))
    with pytest.raises(DataError, match="all values .* NaN"):
        prepare(rec)
