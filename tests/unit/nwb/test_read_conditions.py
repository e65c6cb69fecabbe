"""Per-frame condition labels from intervals tables and core EventsTables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ndx_causal_emergence.errors import ConditionError
from ndx_causal_emergence.nwb.discover import list_condition_tables
from ndx_causal_emergence.nwb.read import open_nwb, read_recording

from .read_helpers import add_stage_epochs, add_stage_events, ophys_file, write

# 600 frames at 10 Hz = 0–60 s; a 5 s hole between anesthesia and recovery; the last 5 s unlabelled
SPANS = [(0.0, 20.0, "awake"), (20.0, 40.0, "anesthesia"), (45.0, 55.0, "recovery")]


@pytest.fixture
def epochs_path(tmp_path: Path) -> Path:
    nwbfile = ophys_file()
    add_stage_epochs(nwbfile, SPANS)
    return write(nwbfile, tmp_path / "epochs.nwb")


def expected_labels(times: np.ndarray) -> np.ndarray:
    labels = np.full(times.shape, None, dtype=object)
    for start, stop, stage in SPANS:
        labels[(times >= start) & (times < stop)] = stage
    return labels


def test_epochs_stage_column(epochs_path: Path) -> None:
    rec = read_recording(epochs_path, conditions="epochs", condition_column="stage")
    np.testing.assert_array_equal(rec.labels, expected_labels(rec.timestamps))
    assert rec.conditions() == ["awake", "anesthesia", "recovery"]
    assert sum(lab is None for lab in rec.labels) == 50 + 50  # 40–45 s and 55–60 s
    # segments: awake | anesthesia | hole | recovery | tail — never joined across a change
    starts = np.flatnonzero(np.diff(rec.segment_ids)) + 1
    np.testing.assert_array_equal(starts, [200, 400, 450, 550])
    for seg in np.unique(rec.segment_ids):
        assert len(set(rec.labels[rec.segment_ids == seg])) == 1


def test_default_column_and_tags(epochs_path: Path) -> None:
    by_default = read_recording(epochs_path, conditions="/intervals/epochs")  # the only non-tags text column
    np.testing.assert_array_equal(by_default.labels, expected_labels(by_default.timestamps))
    by_tags = read_recording(epochs_path, conditions="epochs", condition_column="tags")
    np.testing.assert_array_equal(by_tags.labels, by_default.labels)


def test_missing_column_and_table(epochs_path: Path) -> None:
    with pytest.raises(ConditionError, match="no column 'state'.*stage") as info:
        read_recording(epochs_path, conditions="epochs", condition_column="state")
    assert "\n" not in str(info.value)
    with pytest.raises(ConditionError, match="no intervals or events table 'trials'.*/intervals/epochs"):
        read_recording(epochs_path, conditions="trials")
    with pytest.raises(ConditionError, match="without conditions"):
        read_recording(epochs_path, condition_column="stage")


def test_no_frame_labelled(tmp_path: Path) -> None:
    nwbfile = ophys_file()
    add_stage_epochs(nwbfile, [(100.0, 200.0, "awake")])
    with pytest.raises(ConditionError, match="no frame"):
        read_recording(write(nwbfile, tmp_path / "late.nwb"), conditions="epochs")


def test_conflicting_overlap(tmp_path: Path) -> None:
    nwbfile = ophys_file()
    add_stage_epochs(nwbfile, [(0.0, 30.0, "awake"), (25.0, 50.0, "anesthesia")])
    with pytest.raises(ConditionError, match="overlap with different labels"):
        read_recording(write(nwbfile, tmp_path / "overlap.nwb"), conditions="epochs")


def test_core_events_table_marks_condition_starts(tmp_path: Path) -> None:
    nwbfile = ophys_file()
    add_stage_events(nwbfile, [(20.0, "anesthesia"), (5.0, "awake"), (40.0, "recovery")])  # unsorted on purpose
    path = write(nwbfile, tmp_path / "events.nwb")
    with open_nwb(path) as opened:
        table = list_condition_tables(opened.nwbfile)
    row = table.set_index("path").loc["/events/stage_changes"]
    assert row["kind"] == "events" and row["columns"] == ["stage"]
    rec = read_recording(path, conditions="stage_changes")
    t = rec.timestamps
    expected = np.where(t < 5, None, np.where(t < 20, "awake", np.where(t < 40, "anesthesia", "recovery")))
    np.testing.assert_array_equal(rec.labels, expected.astype(object))
    np.testing.assert_array_equal(np.flatnonzero(np.diff(rec.segment_ids)) + 1, [50, 200, 400])


def test_events_with_durations(tmp_path: Path) -> None:
    nwbfile = ophys_file()
    add_stage_events(nwbfile, [(0.0, "awake"), (30.0, "anesthesia")], durations=[10.0, float("nan")])
    rec = read_recording(write(nwbfile, tmp_path / "dur.nwb"), conditions="stage_changes")
    t = rec.timestamps
    assert all(rec.labels[t < 10] == "awake")
    assert all(lab is None for lab in rec.labels[(t >= 10) & (t < 30)])  # after the duration: unlabelled
    assert all(rec.labels[t >= 30] == "anesthesia")  # no duration: until the end


def test_real_trials_table(real_data: Path) -> None:
    path = real_data / "dandi_units_nwb" / "sub_anm00239123_ses_20170627T093549_ecephys_and_ogen.nwb"
    with open_nwb(path) as opened:
        tables = list_condition_tables(opened.nwbfile)
        trials = opened.nwbfile.trials.to_dataframe()
    assert "type" in tables.set_index("path").loc["/intervals/trials", "columns"]
    with pytest.raises(ConditionError, match="several label columns"):
        read_recording(path, conditions="trials")
    rec = read_recording(path, conditions="trials", condition_column="type", bin_width=0.1)
    assert set(rec.conditions()) == set(trials["type"])
    # a bin is labelled with the trial it falls in
    row = trials.iloc[len(trials) // 2]
    inside = (rec.timestamps >= row["start_time"]) & (rec.timestamps < row["stop_time"])
    assert inside.any() and set(rec.labels[inside]) == {row["type"]}
