"""Empirical fixed points from the kernel-smoothed drift of simulated trajectories with known drift."""

from __future__ import annotations

import numpy as np
import pytest

from ndx_causal_emergence.data.synthetic import double_well_latent, ou_latent
from ndx_causal_emergence.dynamics.empirical import conditional_drift, empirical_fixed_points
from ndx_causal_emergence.dynamics.fixed_points import FIXED_POINT_COLUMNS
from ndx_causal_emergence.errors import InputError


def test_double_well_has_two_stable_points_and_a_barrier() -> None:
    fp = empirical_fixed_points(double_well_latent(20000, seed=0), scale=2)
    assert list(fp.columns) == FIXED_POINT_COLUMNS
    assert list(fp["stability"]) == ["stable", "unstable", "stable"]
    np.testing.assert_allclose(np.concatenate(fp["location"]), [-1.0, 0.0, 1.0], atol=0.1)
    # per-frame slope of the drift y - y^3 (dt = 0.05): 1 - 2 dt at the wells, 1 + dt at the barrier
    np.testing.assert_allclose(np.concatenate(fp["eigenvalues_real"]), [0.9, 1.05, 0.9], atol=0.05)
    assert fp["in_support"].all() and (fp["source"] == "empirical").all() and (fp["scale"] == 2).all()
    assert fp.attrs["lag"] >= 1 and fp.attrs["significant_fraction"] >= 0.5


def test_ou_has_one_stable_point() -> None:
    fp = empirical_fixed_points(ou_latent(20000, sigma=1.0, seed=0))
    assert list(fp["stability"]) == ["stable"]
    np.testing.assert_allclose(fp.iloc[0]["location"], [0.0], atol=0.15)
    np.testing.assert_allclose(fp.iloc[0]["eigenvalues_real"], [np.exp(-0.5 * 0.1)], atol=0.02)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_driftless_random_walk_has_no_fixed_point(seed: int) -> None:
    walk = np.cumsum(np.random.default_rng(seed).normal(0.0, 0.05, 20000))
    assert len(empirical_fixed_points(walk)) == 0


def test_conditional_drift_matches_ou_drift_within_its_standard_error() -> None:
    a = np.exp(-0.5 * 0.1)
    u = ou_latent(40000, sigma=1.0, seed=3)
    grid = np.linspace(-1.5, 1.5, 31)
    for lag in (1, 5):
        drift, se = conditional_drift(u, grid, lag=lag, bandwidth=0.1)
        z = (drift - (a**lag - 1.0) * grid) / se
        # the kernel bias is small against the noise at this bandwidth: z is about standard normal
        assert np.mean(np.abs(z) < 3.0) >= 0.9


def test_pairs_across_gaps_are_dropped() -> None:
    rng = np.random.default_rng(0)
    u = np.concatenate([rng.normal(0, 0.3, 300), 3.0 + rng.normal(0, 0.3, 300)])
    ts = np.concatenate([np.arange(300), 1000 + np.arange(300)]) * 0.1
    grid = np.array([u[299]])
    drift, _ = conditional_drift(u, grid, lag=2, bandwidth=0.2, timestamps=ts)
    keep = np.array([t for t in range(len(u) - 2) if t + 2 < 300 or t >= 300])
    w = np.exp(-0.5 * ((u[keep] - grid[0]) / 0.2) ** 2)
    np.testing.assert_allclose(drift, [np.sum(w * (u[keep + 2] - u[keep])) / w.sum()])
    drift_all, _ = conditional_drift(u, grid, lag=2, bandwidth=0.2)
    assert abs(drift_all[0] - drift[0]) > 1e-3


def test_errors() -> None:
    with pytest.raises(InputError, match="1-D"):
        empirical_fixed_points(np.zeros((100, 2)))
    with pytest.raises(InputError, match="no usable lag"):
        empirical_fixed_points(np.zeros(10), lags=(8,))
    with pytest.raises(InputError, match="one value per frame"):
        conditional_drift(np.zeros(10), np.zeros(3), timestamps=np.arange(5))
