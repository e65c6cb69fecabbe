"""Item 9: broken time bases are named before any fit; single and batch mode agree on one-channel files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from .conftest import FIT_LINE, invoke, one_line_error, write_recording

N = 200


def _stamps(kind: str) -> np.ndarray:
    times = np.arange(N) * 0.1
    if kind == "shuffled":
        return np.random.default_rng(1).permutation(times)
    if kind == "NaN":
        times[50:60] = np.nan
        return times
    if kind == "decreasing":
        return times[::-1].copy()
    return np.full(N, 3.0)  # constant


@pytest.mark.parametrize(
    ("kind", "words"),
    [("shuffled", "out of order"), ("NaN", "NaN"), ("decreasing", "decreasing"), ("constant", "constant")],
)
def test_broken_timestamps_are_named_before_any_fit(kind, words, tmp_path, tiny_toml):
    path = write_recording(tmp_path / f"{kind}.nwb", timestamps=_stamps(kind))
    result = invoke("run", path, "--out", tmp_path / "o.nwb", "--config", tiny_toml)
    one_line_error(result, words, "timestamps")
    assert FIT_LINE not in result.stderr


@pytest.mark.timeout(300)
def test_one_channel_file_is_refused_alike_in_single_and_batch_mode(tmp_path, tiny_toml):
    path = write_recording(tmp_path / "one.nwb", n_channels=1)
    single = invoke("run", path, "--out", tmp_path / "o.nwb", "--config", tiny_toml)
    line = one_line_error(single, "at least 2 channels")
    assert FIT_LINE not in single.stderr and not (tmp_path / "o.nwb").exists()
    batch = invoke("-q", "run", path, "--out-dir", tmp_path / "batch", "--config", tiny_toml, "--workers", "1")
    assert batch.exit_code == 1
    (error,) = pd.read_csv(tmp_path / "batch" / "summary.csv")["error"]
    reason = line.split("; ", 1)[1]  # the reason after what was found
    assert error.startswith("DataError: ") and error.endswith(reason), (error, line)
