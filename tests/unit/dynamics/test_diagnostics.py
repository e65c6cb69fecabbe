"""Diagnostics against analytic values."""

from __future__ import annotations

import numpy as np
import pytest

from ndx_causal_emergence.data.synthetic import ou_latent
from ndx_causal_emergence.dynamics.diagnostics import (
    autocorrelation_time,
    dynamics_diagnostics,
    noise_to_drift_ratio,
    occupancy_entropy,
    occupied_extent,
)
from ndx_causal_emergence.dynamics.fixed_points import fixed_point_table
from ndx_causal_emergence.errors import InputError


def test_noise_to_drift_ratio_of_a_linear_map() -> None:
    u = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    # drift -0.5 u: norms 0.5, 0.5, 1.0 (mean 2/3); noise sd mean (0.1 + 0.3) / 2
    np.testing.assert_allclose(noise_to_drift_ratio(lambda y: 0.5 * y, u, [0.01, 0.09]), 0.2 / (2 / 3))
    assert noise_to_drift_ratio(lambda y: y, u, [0.01, 0.01]) == np.inf
    with pytest.raises(InputError, match="sigma2"):
        noise_to_drift_ratio(lambda y: y, u, [0.1])


def test_extent_and_entropy() -> None:
    rng = np.random.default_rng(0)
    uniform = rng.uniform(-1, 1, (100000, 2))
    np.testing.assert_allclose(occupied_extent(uniform), [1.8, 1.8], atol=0.02)
    assert occupancy_entropy(uniform) == pytest.approx(1.0, abs=1e-3)
    assert occupancy_entropy(np.full((100, 1), 0.33)) == 0.0
    narrow = rng.normal(0, 0.1, (100000, 1))
    assert occupancy_entropy(narrow) < 0.6


@pytest.mark.parametrize("theta", [0.2, 1.0])
def test_autocorrelation_time_of_ou(theta: float) -> None:
    # AR(1) with a = exp(-theta dt): the autocorrelation a^k falls to 1/e at k dt = 1 / theta
    u = ou_latent(200000, theta=theta, dt=0.1, seed=0)
    assert autocorrelation_time(u, dt=0.1) == pytest.approx(1.0 / theta, rel=0.1)
    assert autocorrelation_time(np.ones((50, 1))) == 0.0


def test_dynamics_diagnostics_row() -> None:
    u = ou_latent(2000, seed=0)
    fp = fixed_point_table(
        [
            {
                "scale": 1,
                "location": [0.0],
                "eigenvalues_real": [0.9],
                "eigenvalues_imag": [0.0],
                "stability": "stable",
                "in_support": True,
                "source": "model",
            },
            {
                "scale": 1,
                "location": [5.0],
                "eigenvalues_real": [1.2],
                "eigenvalues_imag": [0.0],
                "stability": "unstable",
                "in_support": False,
                "source": "model",
            },
            {
                "scale": 0,
                "location": [0.0],
                "eigenvalues_real": [0.9],
                "eigenvalues_imag": [0.0],
                "stability": "stable",
                "in_support": True,
                "source": "model",
            },
        ]
    )
    row = dynamics_diagnostics(lambda y: 0.9 * y, u, [0.04], scale=1, fixed_points=fp, sources=("model", "empirical"))
    assert len(row) == 1
    r = row.iloc[0]
    assert r["scale"] == 1 and r["dimension"] == 1
    assert r["n_fixed_points_model"] == 1 and r["n_stable_model"] == 1
    assert r["n_fixed_points_empirical"] == 0
    np.testing.assert_allclose(r["noise_to_drift_ratio"], 0.2 / np.mean(np.abs(0.1 * u)))
    only_model = dynamics_diagnostics(lambda y: 0.9 * y, u, [0.04], scale=1, fixed_points=fp).iloc[0]
    assert np.isnan(only_model["n_fixed_points_empirical"])
