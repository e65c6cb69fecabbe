"""prepare(): channel dropping, train-only scaling, interleaved or chronological split within a condition."""

from __future__ import annotations

import numpy as np
import pytest

from ndx_causal_emergence.data.prepare import prepare
from ndx_causal_emergence.data.recording import Recording
from ndx_causal_emergence.data.split import segment_ids
from ndx_causal_emergence.errors import ConditionError, DataError


def recording(data: np.ndarray, labels: list | None = None, rate: float = 10.0) -> Recording:
    n = data.shape[0]
    times = np.arange(n) / rate
    lab = None if labels is None else np.array(labels, dtype=object)
    return Recording(
        data=data,
        timestamps=times,
        channel_ids=np.arange(100, 100 + data.shape[1]),
        labels=lab,
        segment_ids=segment_ids(times, lab, rate=rate),
        unit="a.u.",
        rate=rate,
        series_path="/x",
        series_object_id=None,
        roi_table_path=None,
        roi_indices=None,
    )


def test_drops_constant_and_nan_channels_and_scales_on_train() -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(5.0, 2.0, (1000, 5))
    data[:, 1] = 3.0  # constant
    data[:700, 3] = np.nan  # 70 % NaN
    data[800:, 4] += 50.0  # test-block shift: must not leak into the statistics
    prep = prepare(recording(data), cycles=1)
    assert prep.dropped == [(103, "mostly NaN (70 % of frames)"), (101, "constant on the training block")]
    np.testing.assert_array_equal(prep.kept_channels, [0, 2, 4])
    np.testing.assert_array_equal(prep.channel_ids, [100, 102, 104])
    assert [prep.n_frames(b) for b in ("train", "validation", "test")] == [700, 100, 200]
    train = np.concatenate(prep.train)
    np.testing.assert_allclose(train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(prep.center, data[:700][:, [0, 2, 4]].mean(axis=0))
    np.testing.assert_allclose(prep.scale, data[:700][:, [0, 2, 4]].std(axis=0))
    assert np.mean(np.abs(train) <= 1) == pytest.approx(0.99, abs=0.002)
    assert np.concatenate(prep.test)[:, 2].mean() > 3  # the shift is visible, not normalised away
    np.testing.assert_allclose(prep.transform(data[800:]), np.concatenate(prep.test), rtol=1e-6)
    np.testing.assert_allclose(prep.transform(data[800:, [0, 2, 4]]), np.concatenate(prep.test), rtol=1e-6)
    np.testing.assert_allclose(prep.timestamps["test"][0], np.arange(800, 1000) / 10.0)
    np.testing.assert_allclose(prep.intervals, [[0.0, 70.0], [70.0, 80.0], [80.0, 100.0]])


def test_condition_selection_and_segments() -> None:
    rng = np.random.default_rng(1)
    data = rng.normal(size=(900, 3))
    labels = ["awake"] * 300 + ["anesthesia"] * 300 + [None] * 50 + ["awake"] * 250
    data[100, 0] = np.nan  # a NaN frame splits its run
    prep = prepare(recording(data, labels), condition="awake", min_frames=50, cycles=1)
    used = np.concatenate([np.concatenate(prep.frame_indices[b]) for b in ("train", "validation", "test")])
    assert set(used) == (set(range(300)) | set(range(650, 900))) - {100}
    for block in ("train", "validation", "test"):
        for idx, seg, times in zip(
            prep.frame_indices[block], getattr(prep, block), prep.timestamps[block], strict=True
        ):
            assert np.all(np.diff(idx) == 1)  # contiguous pieces only
            assert seg.shape == (idx.size, 3) and times.size == idx.size
    assert prep.train[0].shape[0] == 100 and prep.frame_indices["train"][1][0] == 101
    assert prep.condition == "awake"
    with pytest.raises(ConditionError, match="no frame has condition 'sleep'.*'awake', 'anesthesia'"):
        prepare(recording(data, labels), condition="sleep")
    with pytest.raises(ConditionError, match="no condition labels"):
        prepare(recording(data), condition="awake")


def test_interleaved_cycles_sample_the_whole_recording() -> None:
    rng = np.random.default_rng(2)
    data = rng.normal(size=(1000, 3))
    data[:, 0] += np.arange(1000) / 100.0  # a slow drift: each block must see all of it
    prep = prepare(recording(data))
    assert prep.cycles == 5
    tests = prep.frame_indices["test"]
    assert [(int(p[0]), int(p[-1])) for p in tests] == [(s + 160, s + 199) for s in range(0, 1000, 200)]
    assert [prep.n_frames(b) for b in ("train", "validation", "test")] == [700, 100, 200]
    train = np.concatenate(prep.frame_indices["train"])
    np.testing.assert_allclose(prep.center, data[train].mean(axis=0))  # statistics of the training frames only
    # short recordings get fewer cycles (each at least MIN_CYCLE_FRAMES frames)
    assert prepare(recording(data[:450])).cycles == 2
    assert prepare(recording(data[:150]), min_frames=100).cycles == 1
    with pytest.raises(ValueError, match="cycles"):
        prepare(recording(data), cycles=0)


def test_data_errors() -> None:
    with pytest.raises(DataError, match="NaN"):
        prepare(recording(np.full((200, 3), np.nan)))
    with pytest.raises(DataError, match="50 usable frames.*min_frames=100"):
        prepare(recording(np.random.default_rng(0).normal(size=(50, 3))))
    with pytest.raises(DataError, match="every channel .* dropped"):
        prepare(recording(np.ones((300, 2))))
