"""Potentials, basins and metastable states of 1-D dynamics; drift field of 2-D dynamics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ndx_causal_emergence.data.synthetic import double_well_latent
from ndx_causal_emergence.dynamics.potential import (
    TRANSITION_COLUMNS,
    basin_boundaries,
    drift_field,
    drift_potential,
    metastable_states,
    occupancy_potential,
)
from ndx_causal_emergence.errors import InputError

DT = 0.05


def test_drift_potential_of_double_well_is_the_quartic() -> None:
    grid = np.linspace(-2, 2, 401)
    drift, pot = drift_potential(lambda y: y + DT * (y - y**3), grid)
    np.testing.assert_allclose(drift, DT * (grid - grid**3), atol=1e-12)
    exact = DT * (grid**4 / 4 - grid**2 / 2)
    np.testing.assert_allclose(pot, exact - exact.min(), atol=1e-5)
    assert pot.min() == 0.0


def test_occupancy_potential_has_its_minima_in_the_wells() -> None:
    u = double_well_latent(20000, seed=0)
    grid = np.linspace(-1.5, 1.5, 301)
    pot = occupancy_potential(u, grid, bandwidth=0.1)
    left, right = grid[grid < 0][np.argmin(pot[grid < 0])], grid[grid > 0][np.argmin(pot[grid > 0])]
    np.testing.assert_allclose([left, right], [-1.0, 1.0], atol=0.15)
    assert pot[np.argmin(np.abs(grid))] > 1.0 and pot.min() == 0.0


def test_basin_boundaries() -> None:
    np.testing.assert_allclose(basin_boundaries([-1.0, 1.0], [0.3]), [0.3])
    np.testing.assert_allclose(basin_boundaries([2.0, -1.0, 1.0]), [0.0, 1.5])
    assert basin_boundaries([0.0]).shape == (0,)


def _count_switches(y: np.ndarray, level: float) -> int:
    """Switches between y < -level and y > level (an independent hysteresis count)."""
    side, n = 0, 0
    for v in y:
        new = -1 if v < -level else (1 if v > level else side)
        n += side != 0 and new != side
        side = new
    return n


def test_metastable_states_follow_the_wells_with_hysteresis() -> None:
    y = double_well_latent(20000, seed=1)[:, 0]
    ts = 0.1 * np.arange(len(y))
    states, tr = metastable_states(y, ts, [1.0, -1.0], unstable_points=[0.0], core_fraction=0.5)
    assert list(tr.columns) == TRANSITION_COLUMNS
    assert len(tr) == _count_switches(y, 0.5) > 20
    assert set(states) == {0, 1}
    np.testing.assert_array_equal(tr["from_state"].to_numpy()[1:], tr["to_state"].to_numpy()[:-1])
    # a frame deep in a well is in that well's state
    assert np.all(states[y < -0.5] == 0) and np.all(states[y > 0.5] == 1)
    # dwell times are the gaps between transitions, the first is censored
    assert np.isnan(tr["dwell_time"].iloc[0])
    np.testing.assert_allclose(tr["dwell_time"].to_numpy()[1:], np.diff(tr["timestamp"].to_numpy()))
    np.testing.assert_allclose(tr["timestamp"], ts[np.flatnonzero(np.diff(states)) + 1])


def test_noise_around_a_boundary_makes_no_transition() -> None:
    rng = np.random.default_rng(0)
    u = np.concatenate([np.full(50, -1.0), 0.1 * rng.standard_normal(500), np.full(50, 1.0)])
    _, tr = metastable_states(u, None, [-1.0, 1.0], core_fraction=0.5)
    assert len(tr) == 1 and tr.iloc[0]["timestamp"] == 550
    _, tr_no_hysteresis = metastable_states(u, None, [-1.0, 1.0], core_fraction=1.0)
    assert len(tr_no_hysteresis) > 10


def test_short_visits_are_merged() -> None:
    u = np.array([-1.0] * 10 + [1.0] * 2 + [-1.0] * 10 + [1.0] * 10)
    states, tr = metastable_states(u, None, [-1.0, 1.0], min_dwell=3)
    assert tr["timestamp"].tolist() == [22.0] and tr["dwell_time"].isna().all()
    np.testing.assert_array_equal(states, [0] * 22 + [1] * 10)
    _, tr_kept = metastable_states(u, None, [-1.0, 1.0])
    assert tr_kept["timestamp"].tolist() == [10.0, 12.0, 22.0]
    np.testing.assert_allclose(tr_kept["dwell_time"], [np.nan, 2.0, 10.0])


def test_one_stable_point_means_one_state() -> None:
    states, tr = metastable_states(np.random.default_rng(0).normal(size=200), None, [0.0])
    assert len(tr) == 0 and np.all(states == 0)


def test_metastable_state_errors() -> None:
    with pytest.raises(InputError, match="at least one stable"):
        metastable_states(np.zeros(10), None, [])
    with pytest.raises(InputError, match="core_fraction"):
        metastable_states(np.zeros(10), None, [0.0], core_fraction=0.0)
    with pytest.raises(InputError, match="1-D"):
        metastable_states(np.zeros((10, 2)), None, [0.0])
    with pytest.raises(InputError, match="one value per frame"):
        metastable_states(np.zeros(10), np.arange(3), [0.0])
    with pytest.raises(InputError, match="increasing"):
        drift_potential(lambda y: y, np.array([1.0, 0.0]))


def test_drift_field_of_a_saddle() -> None:
    y1, y2, drift = drift_field(lambda y: y + 0.1 * torch.stack([y[:, 0], -y[:, 1]], 1), [-1, -2], [1, 2], n_grid=5)
    assert y1.shape == y2.shape == (5, 5) and drift.shape == (5, 5, 2)
    np.testing.assert_allclose(drift[..., 0], 0.1 * y1)
    np.testing.assert_allclose(drift[..., 1], -0.1 * y2)
    with pytest.raises(InputError, match="2-D"):
        drift_field(lambda y: y, [0.0], [1.0])
