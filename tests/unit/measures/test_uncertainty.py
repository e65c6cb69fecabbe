"""Summaries over seeds, circular-shift surrogates and surrogate p-values (docs/method.md §3.4)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ndx_causal_emergence.errors import InputError
from ndx_causal_emergence.measures import circular_shift_surrogate, summarize, surrogate_p_value


def test_summarize() -> None:
    values = np.arange(1.0, 101.0)
    s = summarize(values)
    assert s["mean"] == pytest.approx(50.5)
    assert s["sd"] == pytest.approx(np.std(values, ddof=1))
    assert (s["ci_low"], s["ci_high"]) == pytest.approx((3.475, 97.525))
    assert s["n"] == 100
    one = summarize([2.0])
    assert one["mean"] == one["ci_low"] == one["ci_high"] == 2.0 and math.isnan(one["sd"])
    with pytest.raises(InputError, match="finite"):
        summarize([1.0, float("nan")])


def test_circular_shift_keeps_each_column_and_breaks_alignment() -> None:
    rng = np.random.default_rng(0)
    t = 400
    common = np.cumsum(rng.normal(size=t))
    x = np.column_stack([common + 0.1 * rng.normal(size=t) for _ in range(6)])
    s = circular_shift_surrogate(x, np.random.default_rng(1))
    assert s.shape == x.shape
    for i in range(6):
        # each column is a circular shift of itself: same values, same lag-1 autocorrelation (but for the seam)
        shift = int(np.flatnonzero([np.array_equal(np.roll(x[:, i], k), s[:, i]) for k in range(t)])[0])
        assert 0 <= shift < t
    assert np.corrcoef(x.T)[np.triu_indices(6, 1)].min() > 0.9
    assert np.abs(np.corrcoef(s.T)[np.triu_indices(6, 1)]).mean() < np.corrcoef(x.T)[np.triu_indices(6, 1)].mean()
    np.testing.assert_array_equal(circular_shift_surrogate(x, 5), circular_shift_surrogate(x, 5))
    with pytest.raises(InputError, match=r"shape \(n_samples, n_dims\)"):
        circular_shift_surrogate(np.zeros(5), 0)


def test_surrogate_p_value() -> None:
    assert surrogate_p_value(1.0, [0.0, 0.5, 2.0]) == pytest.approx(0.5)
    assert surrogate_p_value(10.0, np.zeros(99)) == pytest.approx(0.01)
    assert surrogate_p_value(0.0, np.zeros(9)) == pytest.approx(1.0)  # ties count against the observation
    with pytest.raises(InputError, match="observed must be finite"):
        surrogate_p_value(float("nan"), [1.0])
    with pytest.raises(InputError, match="empty"):
        surrogate_p_value(1.0, [])
