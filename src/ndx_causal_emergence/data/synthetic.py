"""Seeded synthetic data for tests, tutorials and benchmarks (numpy only).

- :func:`sir_data`: the NIS+ SIR benchmark (Yang et al. 2024, arXiv:2308.09952): Euler SIR
  trajectories observed twice with correlated Gaussian noise (docs/method.md §5).
- :func:`double_well_latent`, :func:`ou_latent`: slow 1-D (or q-D) latent processes with known
  fixed points (double well: stable at ±1, unstable at 0; Ornstein-Uhlenbeck: stable at 0).
- :func:`embed_nonlinear`: a latent behind many noisy, nonlinearly tuned channels.

Examples
--------
>>> from ndx_causal_emergence.data.synthetic import ou_latent, embed_nonlinear
>>> y = ou_latent(500, seed=1)
>>> x = embed_nonlinear(y, 12, seed=1)
>>> y.shape, x.shape
((500, 1), (500, 12))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

__all__ = ["SIRData", "double_well_latent", "embed_nonlinear", "ou_latent", "sir_data"]


@dataclass(frozen=True)
class SIRData:
    """Observed and true SIR trajectories.

    Attributes
    ----------
    observed : np.ndarray, shape (n_trajectories, n_steps + 1, 4)
        Micro states ``(S + a_0, I + b_0, S + a_1, I + b_1)``.
    latent : np.ndarray, shape (n_trajectories, n_steps + 1, 2)
        True ``(S, I)``.
    """

    observed: np.ndarray
    latent: np.ndarray

    @property
    def n_pairs(self) -> int:
        """Number of one-step transition pairs."""
        return self.observed.shape[0] * (self.observed.shape[1] - 1)

    def frames(self) -> tuple[np.ndarray, np.ndarray]:
        """All trajectories stacked as ``(frames (T, 4), segment labels (T,))`` for ``fit(..., segments=)``."""
        n_traj, n_frames, n_obs = self.observed.shape
        return self.observed.reshape(-1, n_obs), np.repeat(np.arange(n_traj), n_frames)


def _triangle_points(rng: np.random.Generator, n: int, s_low: float, s_high: float) -> np.ndarray:
    """``n`` points uniform on ``{S in [s_low, s_high), I in [0, 1), S + I <= 1}`` (rejection sampling)."""
    out = np.empty((0, 2))
    while len(out) < n:
        cand = np.column_stack([rng.uniform(s_low, s_high, 2 * n + 16), rng.uniform(0.0, 1.0, 2 * n + 16)])
        out = np.vstack([out, cand[cand.sum(axis=1) <= 1.0]])
    return out[:n]


def sir_data(
    region_sizes: tuple[int, ...] = (5000, 3000, 1000),
    *,
    n_steps: int = 7,
    sigma: float = 0.03,
    rho: float = -0.5,
    beta: float = 1.0,
    gamma: float = 0.5,
    dt: float = 0.01,
    seed: int = 0,
) -> SIRData:
    """Noisy observations of Euler SIR trajectories, the NIS+ benchmark (docs/method.md §5).

    Initial ``(S, I)`` are uniform on the triangle ``S + I <= 1``; ``region_sizes[j]`` of them have
    ``S`` in the j-th of ``len(region_sizes)`` equal slices of ``[0, 1)`` (the published training set
    is ``(5000, 3000, 1000)`` with 7 steps: 63,000 pairs; ``(n,)`` draws ``n`` points from the whole
    triangle). Each state is stepped ``n_steps`` times by

    .. math::

        S' = S - dt\\,\\beta S I, \\qquad I' = I + dt\\,(\\beta S' I - \\gamma I)

    (the official code's update, which uses the new ``S`` in the ``I`` step) and observed as
    ``(S + a_0, I + b_0, S + a_1, I + b_1)`` with ``(a_0, a_1)`` and ``(b_0, b_1)`` independent
    bivariate normals of standard deviation ``sigma`` and correlation ``rho``.

    Parameters
    ----------
    region_sizes : tuple of int
        Number of trajectories per slice of ``S``.
    n_steps : int
        Euler steps per trajectory (pairs per trajectory).
    sigma, rho : float
        Observation noise standard deviation and correlation between the two copies.
    beta, gamma, dt : float
        Infection rate, recovery rate and Euler step.
    seed : int
        Seed of the generator.

    Returns
    -------
    SIRData
        Observed ``(n_trajectories, n_steps + 1, 4)`` and true ``(n_trajectories, n_steps + 1, 2)``.

    Raises
    ------
    InputError
        If sizes or steps are not positive, or ``|rho| > 1``.

    References
    ----------
    Yang, M. et al. (2024). Finding emergence in data by maximizing effective information.
    National Science Review. arXiv:2308.09952.
    """
    if not region_sizes or min(region_sizes) < 1 or n_steps < 1:
        raise InputError(f"region_sizes must be positive and n_steps >= 1, got {region_sizes}, {n_steps}.")
    if not -1.0 <= rho <= 1.0 or sigma < 0:
        raise InputError(f"rho must lie in [-1, 1] and sigma >= 0, got rho={rho}, sigma={sigma}.")
    rng = np.random.default_rng(seed)
    frac = 1.0 / len(region_sizes)
    starts = np.vstack([_triangle_points(rng, n, j * frac, (j + 1) * frac) for j, n in enumerate(region_sizes)])
    starts = starts[rng.permutation(len(starts))]
    latent = np.empty((len(starts), n_steps + 1, 2))
    latent[:, 0] = starts
    s, i = starts[:, 0].copy(), starts[:, 1].copy()
    for k in range(1, n_steps + 1):
        s = s - dt * beta * s * i
        i = i + dt * (beta * s * i - gamma * i)
        latent[:, k, 0], latent[:, k, 1] = s, i
    cov = sigma**2 * np.array([[1.0, rho], [rho, 1.0]])
    noise_s = rng.multivariate_normal(np.zeros(2), cov, size=latent.shape[:2])
    noise_i = rng.multivariate_normal(np.zeros(2), cov, size=latent.shape[:2])
    observed = np.stack(
        [
            latent[..., 0] + noise_s[..., 0],
            latent[..., 1] + noise_i[..., 0],
            latent[..., 0] + noise_s[..., 1],
            latent[..., 1] + noise_i[..., 1],
        ],
        axis=-1,
    )
    return SIRData(observed=observed, latent=latent)


def double_well_latent(
    n_frames: int,
    *,
    n_dims: int = 1,
    dt: float = 0.05,
    noise: float = 0.5,
    seed: int = 0,
) -> np.ndarray:
    """A Langevin particle in the double well ``U(y) = y^4/4 - y^2/2`` (Euler-Maruyama).

    .. math::

        y_{t+1} = y_t + dt\\,(y_t - y_t^3) + \\text{noise}\\,\\sqrt{dt}\\,\\varepsilon_t,
        \\qquad \\varepsilon_t \\sim \\mathcal{N}(0, I)

    The drift has stable fixed points at ``y = ±1`` and an unstable one at ``y = 0`` (per
    dimension; dimensions are independent). The start is drawn from ``{-1, +1}``.

    Parameters
    ----------
    n_frames : int
        Length of the trajectory.
    n_dims : int
        Number of independent wells.
    dt, noise : float
        Time step and noise amplitude (``noise = 0.5, dt = 0.05``: a switch every few hundred frames).
    seed : int
        Seed of the generator.

    Returns
    -------
    np.ndarray, shape (n_frames, n_dims)
    """
    if n_frames < 2 or n_dims < 1:
        raise InputError(f"n_frames must be >= 2 and n_dims >= 1, got {n_frames}, {n_dims}.")
    rng = np.random.default_rng(seed)
    kicks = noise * np.sqrt(dt) * rng.standard_normal((n_frames, n_dims))
    y = np.empty((n_frames, n_dims))
    y[0] = rng.choice([-1.0, 1.0], size=n_dims)
    for t in range(1, n_frames):
        prev = y[t - 1]
        y[t] = prev + dt * (prev - prev**3) + kicks[t]
    return y


def ou_latent(
    n_frames: int,
    *,
    n_dims: int = 1,
    theta: float = 0.5,
    sigma: float = 0.5,
    dt: float = 0.1,
    seed: int = 0,
) -> np.ndarray:
    """An Ornstein-Uhlenbeck process sampled exactly at step ``dt`` (stable fixed point at 0).

    .. math::

        y_{t+1} = a\\,y_t + \\sigma\\sqrt{(1 - a^2) / (2\\theta)}\\,\\varepsilon_t, \\qquad a = e^{-\\theta dt}

    started from its stationary law ``N(0, sigma^2 / (2 theta))``.

    Parameters
    ----------
    n_frames : int
        Length of the trajectory.
    n_dims : int
        Number of independent components.
    theta, sigma, dt : float
        Mean-reversion rate, noise amplitude and sampling step.
    seed : int
        Seed of the generator.

    Returns
    -------
    np.ndarray, shape (n_frames, n_dims)
    """
    if n_frames < 2 or n_dims < 1 or theta <= 0:
        raise InputError(f"n_frames must be >= 2, n_dims >= 1, theta > 0; got {n_frames}, {n_dims}, {theta}.")
    rng = np.random.default_rng(seed)
    a = np.exp(-theta * dt)
    sd_stat = sigma / np.sqrt(2.0 * theta)
    eps = rng.standard_normal((n_frames, n_dims))
    y = np.empty((n_frames, n_dims))
    y[0] = sd_stat * eps[0]
    step_sd = sd_stat * np.sqrt(1.0 - a**2)
    for t in range(1, n_frames):
        y[t] = a * y[t - 1] + step_sd * eps[t]
    return y


def embed_nonlinear(
    latent: np.ndarray,
    n_channels: int,
    *,
    noise: float = 0.1,
    gain: float = 1.5,
    seed: int = 0,
) -> np.ndarray:
    """Observe a latent through ``n_channels`` noisy, nonlinearly tuned channels.

    Channel ``c`` is ``tanh(gain * (w_c . z_t) + b_c) + noise * eps``, with ``z`` the latent
    standardised per dimension, ``w_c`` random unit vectors and ``b_c ~ U(-0.5, 0.5)``. The
    result is roughly in ``[-1, 1]`` (the preprocessed scale of docs/method.md §1).

    Parameters
    ----------
    latent : np.ndarray, shape (n_frames, n_dims)
        The latent trajectory (1-D arrays are taken as one dimension).
    n_channels : int
        Number of observed channels.
    noise : float
        Standard deviation of the independent channel noise.
    gain : float
        Slope of the tuning curves.
    seed : int
        Seed of the generator.

    Returns
    -------
    np.ndarray, shape (n_frames, n_channels)

    Raises
    ------
    InputError
        If ``latent`` is not finite or ``n_channels < 1``.
    """
    z = np.asarray(latent, dtype=float)
    if z.ndim == 1:
        z = z[:, None]
    if z.ndim != 2 or not np.isfinite(z).all() or n_channels < 1:
        raise InputError(f"latent must be a finite (n_frames, n_dims) array and n_channels >= 1; got {z.shape}.")
    rng = np.random.default_rng(seed)
    sd = z.std(axis=0)
    z = (z - z.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    w = rng.standard_normal((z.shape[1], n_channels))
    w /= np.linalg.norm(w, axis=0, keepdims=True)
    b = rng.uniform(-0.5, 0.5, n_channels)
    return np.tanh(gain * z @ w + b) + noise * rng.standard_normal((len(z), n_channels))
