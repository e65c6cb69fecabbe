"""The known answers of the calibration systems are right (checked on the simulated latents themselves)."""

from __future__ import annotations

import numpy as np
import pytest

from ndx_causal_emergence.models.training import percentile_affine
from ndx_causal_emergence.testing.calibration import (
    analytic_normalized_j,
    double_well_pair,
    independent_null,
    linear_gaussian_system,
)


def _empirical_j(latent: np.ndarray) -> float:
    """J of the least-squares linear one-step map of a trajectory, measured as the package measures (§3.0, §3.5)."""
    center, half = percentile_affine(latent)
    u = (latent - center) / half
    x0, x1 = u[:-1], u[1:]
    A, *_ = np.linalg.lstsq(x0, x1, rcond=None)
    sigma2 = ((x0 @ A - x1) ** 2).mean(axis=0)
    q = latent.shape[1]
    noise = -0.5 * q * (1 + np.log(2 * np.pi)) - 0.5 * np.log(sigma2).sum()
    return float((noise + q * np.log(2.0) + np.linalg.slogdet(A)[1]) / q)


@pytest.mark.parametrize("dim", [1, 2, 4])
def test_analytic_j_matches_the_latent_it_describes(dim: int) -> None:
    system = linear_gaussian_system(dim, 16, n_frames=100_000, seed=dim)
    assert _empirical_j(system.latent) == pytest.approx(system.true_j, abs=0.03)


def test_analytic_j_does_not_depend_on_the_orthonormal_basis() -> None:
    system = linear_gaussian_system(2, 16, n_frames=40_000, seed=5)
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(2, 2)))
    assert _empirical_j(system.latent @ q) == pytest.approx(system.true_j, abs=0.03)


def test_null_channels_are_independent_with_the_stated_dynamics() -> None:
    system = independent_null(8, n_frames=40_000, seed=1)
    corr = np.corrcoef(system.frames.T)
    assert np.abs(corr[~np.eye(8, dtype=bool)]).max() < 0.1
    assert _empirical_j(system.frames[:, :1]) == pytest.approx(analytic_normalized_j(0.9), abs=0.03)
    assert system.true_delta_j == 0.0


def test_embeddings_carry_the_latent_in_every_direction() -> None:
    for embedding in ("linear", "nonlinear"):
        system = linear_gaussian_system(2, 32, embedding=embedding, n_frames=4000, seed=0)
        fit, *_ = np.linalg.lstsq(np.c_[system.frames, np.ones(4000)], system.latent, rcond=None)
        resid = np.c_[system.frames, np.ones(4000)] @ fit - system.latent
        r2 = 1 - resid.var(axis=0) / system.latent.var(axis=0)
        assert r2.min() > 0.95, embedding


def test_double_well_pair_shares_the_channels() -> None:
    pair = double_well_pair(12, n_frames=500, seed=0)
    assert set(pair) == {"awake", "anesthesia"}
    assert all(s.frames.shape == (500, 12) for s in pair.values())
    awake = pair["awake"].latent[:, 0]
    assert (awake > 0.5).mean() > 0.1 and (awake < -0.5).mean() > 0.1  # both wells visited
