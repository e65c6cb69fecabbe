r"""Systems whose causal-emergence answer is known, for calibrating the estimators.

Every system is a :class:`CalibrationSystem`: a ``(T, N)`` recording (channels in columns) with
the answer the analysis should give.

- :func:`linear_gaussian_system`: a ``d``-dimensional linear-Gaussian latent behind ``N``
  channels, embedded linearly or through an invertible nonlinearity, with observation noise.
  The latent is isotropic (damped rotations, plus one AR(1) coordinate for odd ``d``, all with
  the same radius ``r`` and unit noise), so its stationary law is ``N(0, I / (1 - r²))`` in any
  orthonormal basis and the dimension-averaged EI of §3.1, measured in the normalised
  coordinates of §3.0 (1st and 99th percentiles sent to ∓1), has the closed form of
  :func:`analytic_normalized_j`, the same for every orthonormal basis of the latent.
- :func:`independent_null`: independent AR(1) channels with one coefficient: every linear
  coarse-graining has the same dynamics as a single channel, so the true causal emergence is 0
  at every scale.
- :func:`double_well_pair`: an ``awake`` double-well latent against an ``anesthesia`` noisy
  single well behind the same channels (the paper's qualitative contrast: awake above).

Examples
--------
>>> sys_ = linear_gaussian_system(2, 16, n_frames=500, seed=0)
>>> sys_.frames.shape, sys_.true_dimension, round(sys_.true_j, 4)
((500, 16), 2, 1.2312)
>>> round(analytic_normalized_j(0.95), 4)
1.2312
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data.synthetic import double_well_latent, ou_latent
from ..errors import InputError
from ..models.training import Z99

__all__ = [
    "CalibrationSystem",
    "analytic_normalized_j",
    "double_well_pair",
    "independent_null",
    "isotropic_latent",
    "linear_gaussian_system",
]


@dataclass(frozen=True)
class CalibrationSystem:
    """A simulated recording and the answer the analysis should give.

    Attributes
    ----------
    name : str
        Short identifier (``"linear_gaussian_d2_n32_nonlinear"``, ``"null_n32"``, ...).
    frames : np.ndarray, shape (n_frames, n_channels)
        The recording, one column per channel (raw scale: the pipeline's preprocessing applies).
    true_dimension : int or None
        Dimension of the latent that generates the data (``None``: no shared latent).
    true_j : float or None
        Dimension-averaged EI (nats) of the latent dynamics at ``true_dimension``, in normalised
        coordinates (§3.0), intervention box ``L = 1``.
    true_delta_j : float or None
        The causal emergence every scale should show (0 for the null).
    latent : np.ndarray or None
        The latent trajectory, ``(n_frames, true_dimension)``.
    params : dict
        The generating parameters.
    """

    name: str
    frames: np.ndarray
    true_dimension: int | None
    true_j: float | None
    true_delta_j: float | None
    latent: np.ndarray | None
    params: dict = field(default_factory=dict)


def analytic_normalized_j(radius: float, L: float = 1.0) -> float:
    r"""J (nats) of an isotropic linear-Gaussian latent measured in normalised coordinates (§3.0, §3.5).

    For ``z' = A z + ε`` with ``A`` a radius-``r`` rotation (or ``r·I``) and ``ε ~ N(0, I)``, the
    stationary law is ``N(0, I/(1 - r²))``; normalising each coordinate by its 99th percentile
    ``z₉₉ σ`` gives noise variance ``(1 - r²)/z₉₉²`` per coordinate and

    .. math:: J = \ln 2L + \ln r - \tfrac12(1 + \ln 2\pi) - \tfrac12 \ln\frac{1 - r^2}{z_{99}^2}.

    Examples
    --------
    >>> round(analytic_normalized_j(0.9), 4)
    0.8435
    """
    if not 0.0 < radius < 1.0:
        raise InputError(f"radius must lie in (0, 1) for a stationary latent, got {radius}.")
    noise = (1.0 - radius**2) / Z99**2
    return float(np.log(2.0 * L) + np.log(radius) - 0.5 * (1.0 + np.log(2.0 * np.pi)) - 0.5 * np.log(noise))


def isotropic_latent(
    n_frames: int, dim: int, *, radius: float = 0.95, angle: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """An isotropic linear-Gaussian latent: ``dim // 2`` damped rotations (angles ``angle·(1, 2, …)``) and one AR(1).

    Every block has radius ``radius`` and unit noise, so the stationary covariance is
    ``I / (1 - radius²)``; the trajectory starts in that law.

    Returns
    -------
    latent : np.ndarray, shape (n_frames, dim)
    A : np.ndarray, shape (dim, dim)
        The transition matrix.
    """
    if n_frames < 2 or dim < 1:
        raise InputError(f"n_frames must be >= 2 and dim >= 1, got {n_frames}, {dim}.")
    A = radius * np.eye(dim)
    for b in range(dim // 2):
        th = angle * (b + 1)
        A[2 * b : 2 * b + 2, 2 * b : 2 * b + 2] = radius * np.array([[np.cos(th), -np.sin(th)],
                                                                      [np.sin(th), np.cos(th)]])  # fmt: skip
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal((n_frames, dim))
    z = np.empty((n_frames, dim))
    z[0] = eps[0] / np.sqrt(1.0 - radius**2)
    for t in range(1, n_frames):
        z[t] = A @ z[t - 1] + eps[t]
    return z, A


def _orthonormal_rows(dim: int, n_channels: int, rng: np.random.Generator) -> np.ndarray:
    """``(dim, n_channels)`` with orthonormal rows: every latent direction reaches the channels equally."""
    q, _ = np.linalg.qr(rng.standard_normal((n_channels, dim)))
    return q.T


def linear_gaussian_system(
    dim: int,
    n_channels: int,
    *,
    embedding: str = "nonlinear",
    n_frames: int = 8000,
    radius: float = 0.95,
    noise: float = 0.05,
    seed: int = 0,
) -> CalibrationSystem:
    r"""An isotropic ``dim``-D linear-Gaussian latent behind ``n_channels`` noisy channels.

    The standardised latent ``s = z √(1 - r²)`` reaches the channels through ``W`` with
    orthonormal rows scaled by ``√(N / d)`` (each channel of unit variance on average):

    - ``"linear"``: ``x = s W + noise · ε``;
    - ``"nonlinear"``: ``x = h(s W) + noise · ε`` with the invertible, saturating tuning
      ``h(a) = tanh(a) + 0.25 a`` applied per channel.

    ``true_j`` is the latent's :func:`analytic_normalized_j`. Observation noise puts the best
    encoding slightly below it: for the linear embedding the exact loss (Gaussian posterior of
    ``s`` given ``x_t``) is ``noise² d / (N + noise² d)`` of each latent's variance, a few
    hundredths of a nat at the defaults.
    """
    if embedding not in ("linear", "nonlinear"):
        raise InputError(f"embedding must be 'linear' or 'nonlinear', got {embedding!r}.")
    if n_channels < dim:
        raise InputError(f"n_channels ({n_channels}) must be >= dim ({dim}).")
    z, _ = isotropic_latent(n_frames, dim, radius=radius, seed=seed)
    rng = np.random.default_rng(seed + 7919)
    drive = (z * np.sqrt(1.0 - radius**2)) @ (_orthonormal_rows(dim, n_channels, rng) * np.sqrt(n_channels / dim))
    clean = drive if embedding == "linear" else np.tanh(drive) + 0.25 * drive
    frames = clean + noise * rng.standard_normal(clean.shape)
    return CalibrationSystem(
        name=f"linear_gaussian_d{dim}_n{n_channels}_{embedding}",
        frames=frames, true_dimension=dim, true_j=analytic_normalized_j(radius), true_delta_j=None, latent=z,
        params={"dim": dim, "n_channels": n_channels, "embedding": embedding, "n_frames": n_frames,
                "radius": radius, "noise": noise, "seed": seed},
    )  # fmt: skip


def independent_null(n_channels: int, *, n_frames: int = 8000, phi: float = 0.9, seed: int = 0) -> CalibrationSystem:
    """``n_channels`` independent AR(1) channels ``x' = φ x + ε``: no shared latent, true ΔJ = 0 at every scale."""
    if not 0.0 < phi < 1.0:
        raise InputError(f"phi must lie in (0, 1), got {phi}.")
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal((n_frames, n_channels))
    frames = np.empty((n_frames, n_channels))
    frames[0] = eps[0] / np.sqrt(1.0 - phi**2)
    for t in range(1, n_frames):
        frames[t] = phi * frames[t - 1] + eps[t]
    return CalibrationSystem(
        name=f"null_n{n_channels}", frames=frames, true_dimension=None, true_j=analytic_normalized_j(phi),
        true_delta_j=0.0, latent=None,
        params={"n_channels": n_channels, "n_frames": n_frames, "phi": phi, "seed": seed},
    )  # fmt: skip


def double_well_pair(
    n_channels: int = 48, *, n_frames: int = 3000, noise: float = 0.1, seed: int = 0
) -> dict[str, CalibrationSystem]:
    """An ``awake`` double well (two metastable states) and an ``anesthesia`` single well, behind the same channels.

    Both latents are 1-D and standardised before the embedding ``tanh(1.5 w·z + b) + noise·ε``
    shared by the two conditions; awake should show the larger causal emergence at ``d = 1``.
    """
    rng = np.random.default_rng(seed + 104729)
    w = rng.choice([-1.0, 1.0], size=n_channels) * rng.uniform(0.5, 1.0, n_channels)
    b = rng.uniform(-0.5, 0.5, n_channels)
    latents = {
        "awake": double_well_latent(n_frames, dt=0.05, noise=0.5, seed=seed),
        "anesthesia": ou_latent(n_frames, theta=0.5, sigma=1.0, dt=0.1, seed=seed + 1),
    }
    out = {}
    for label, lat in latents.items():
        s = (lat - lat.mean()) / lat.std()
        frames = np.tanh(1.5 * s * w + b) + noise * rng.standard_normal((n_frames, n_channels))
        out[label] = CalibrationSystem(
            name=f"double_well_pair_{label}", frames=frames, true_dimension=1, true_j=None, true_delta_j=None,
            latent=lat, params={"n_channels": n_channels, "n_frames": n_frames, "noise": noise, "seed": seed},
        )  # fmt: skip
    return out
