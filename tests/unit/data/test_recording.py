"""Recording: shape checks, conditions order, xarray view."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ndx_causal_emergence.data.recording import Recording, SourceInfo


def make(labels: list | None = None, n: int = 6) -> Recording:
    return Recording(
        data=np.arange(n * 2, dtype=float).reshape(n, 2),
        timestamps=np.arange(n) * 0.5,
        channel_ids=np.array([7, 9]),
        labels=None if labels is None else np.array(labels, dtype=object),
        segment_ids=np.zeros(n, dtype=int),
        unit="dF/F",
        rate=2.0,
        series_path="/processing/ophys/DfOverF/rrs",
        series_object_id="abc",
        roi_table_path=None,
        roi_indices=None,
        source=SourceInfo(location="x.nwb", identifier="id-1"),
    )


def test_conditions_in_order_of_first_appearance() -> None:
    rec = make(["b", None, "a", "b", "", "c"])
    assert rec.conditions() == ["b", "a", "c"]
    assert make().conditions() == []


def test_frozen_and_shape_checked() -> None:
    rec = make()
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.unit = "V"  # type: ignore[misc]
    with pytest.raises(ValueError, match="timestamps has shape"):
        dataclasses.replace(rec, timestamps=np.arange(5.0))
    with pytest.raises(ValueError, match="labels has shape"):
        dataclasses.replace(rec, labels=np.array(["a"], dtype=object))


def test_to_xarray() -> None:
    rec = make(["a", "a", None, "b", "b", "b"])
    arr = rec.to_xarray()
    assert arr.dims == ("time", "channel")
    np.testing.assert_array_equal(arr["channel"], [7, 9])
    np.testing.assert_array_equal(arr["time"], rec.timestamps)
    assert list(arr["condition"].values) == ["a", "a", "", "b", "b", "b"]
    assert arr.attrs["unit"] == "dF/F" and arr.attrs["rate"] == 2.0
    assert arr.attrs["series_path"] == rec.series_path and arr.attrs["object_id"] == "abc"
    np.testing.assert_array_equal(arr.sel(channel=9).values, rec.data[:, 1])
    assert SourceInfo(location="x").to_dict()["kind"] == "local"
