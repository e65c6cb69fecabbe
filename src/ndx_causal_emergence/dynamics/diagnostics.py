"""Diagnostics of "localised, stochastic" macro dynamics, for comparing conditions (docs/method.md §4).

All quantities are taken in the normalised latent coordinates of docs/method.md §3.0, where the
encoded training data span about ``[-1, 1]`` per dimension.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ._autodiff import evaluate_map
from .fixed_points import as_2d

__all__ = [
    "autocorrelation_time",
    "dynamics_diagnostics",
    "noise_to_drift_ratio",
    "occupancy_entropy",
    "occupied_extent",
]


def noise_to_drift_ratio(fn: Any, u: np.ndarray, sigma2: np.ndarray) -> float:
    """Noise-to-drift ratio ``mean_i σ_i / mean_n ‖F(u_n) - u_n‖``.

    Parameters
    ----------
    fn : callable or torch.nn.Module
        The macro map ``F`` (row-wise, ``(n, q) -> (n, q)``).
    u : np.ndarray, shape (n_samples, q)
        Points where the drift is averaged (the encoded data).
    sigma2 : np.ndarray, shape (q,)
        Per-dimension residual variances of the one-step prediction.

    Returns
    -------
    float
        Above 1: one step is dominated by noise rather than by deterministic drift.
    """
    x = as_2d(u, "u")
    s2 = np.asarray(sigma2, dtype=float).reshape(-1)
    if s2.shape != (x.shape[1],) or np.any(s2 < 0):
        raise InputError(f"sigma2 must hold {x.shape[1]} non-negative variances, got {s2.shape}.")
    drift = np.linalg.norm(evaluate_map(fn, x) - x, axis=1).mean()
    return float(np.sqrt(s2).mean() / drift) if drift > 0 else float("inf")


def occupied_extent(u: np.ndarray) -> np.ndarray:
    """Per-dimension 5-95 % range of a trajectory.

    Parameters
    ----------
    u : np.ndarray, shape (n_samples, q)

    Returns
    -------
    np.ndarray, shape (q,)
    """
    lo, hi = np.percentile(as_2d(u, "u"), [5.0, 95.0], axis=0)
    return hi - lo


def occupancy_entropy(u: np.ndarray, *, n_bins: int = 20, lower: float = -1.0, upper: float = 1.0) -> float:
    """Mean normalised entropy of the per-dimension occupancy histograms.

    Each dimension is binned into ``n_bins`` equal bins on ``[lower, upper]`` (values outside go to
    the edge bins); the Shannon entropy of the occupancy is divided by ``ln n_bins`` and averaged
    over dimensions: 1 for uniform occupancy of the range, near 0 for a trajectory confined to one bin.

    Parameters
    ----------
    u : np.ndarray, shape (n_samples, q)
    n_bins : int
    lower, upper : float
        Binned range (the normalised box by default).

    Returns
    -------
    float
    """
    x = np.clip(as_2d(u, "u"), lower, upper)
    out = []
    for col in x.T:
        counts, _ = np.histogram(col, bins=n_bins, range=(lower, upper))
        p = counts[counts > 0] / counts.sum()
        out.append(-np.sum(p * np.log(p)) / np.log(n_bins))
    return float(np.mean(out))


def autocorrelation_time(u: np.ndarray, *, dt: float = 1.0) -> float:
    """Mean over dimensions of the lag where the autocorrelation first falls below ``1/e``.

    The autocorrelation is computed by FFT; the crossing is interpolated linearly between lags.

    Parameters
    ----------
    u : np.ndarray, shape (n_frames, q)
        Contiguous trajectory.
    dt : float
        Time per frame (the result is in these units).

    Returns
    -------
    float
        ``inf`` for a dimension whose autocorrelation never falls below ``1/e``; ``0`` for a constant one.
    """
    x = as_2d(u, "u")
    x = x - x.mean(axis=0)
    n = len(x)
    spec = np.fft.rfft(x, n=2 * n, axis=0)
    acov = np.fft.irfft(spec * np.conj(spec), axis=0)[:n]
    out = []
    for c in acov.T:
        if c[0] <= 0:
            out.append(0.0)
            continue
        acf = c / c[0]
        below = np.flatnonzero(acf < np.exp(-1.0))
        if len(below) == 0:
            out.append(np.inf)
            continue
        k = below[0]
        out.append(k - 1 + (acf[k - 1] - np.exp(-1.0)) / (acf[k - 1] - acf[k]))
    return float(np.mean(out) * dt)


def dynamics_diagnostics(
    fn: Any,
    u: np.ndarray,
    sigma2: np.ndarray,
    *,
    scale: int = 0,
    fixed_points: pd.DataFrame | None = None,
    sources: Sequence[str] = ("model",),
    dt: float = 1.0,
) -> pd.DataFrame:
    """All diagnostics of one scale as a one-row DataFrame.

    Parameters
    ----------
    fn : callable or torch.nn.Module
        The macro map ``F`` of the scale.
    u : np.ndarray, shape (n_frames, q)
        Encoded (held-out) trajectory of the scale.
    sigma2 : np.ndarray, shape (q,)
        Residual variances of the scale.
    scale : int
        Scale index.
    fixed_points : pd.DataFrame, optional
        Fixed-point table (any scales and sources); only in-support points of ``scale`` are counted.
    sources : sequence of str
        Fixed-point sources that were searched at this scale (``"model"``, ``"empirical"``).
    dt : float
        Time per frame, for the autocorrelation time.

    Returns
    -------
    pd.DataFrame
        Columns ``scale, dimension, noise_to_drift_ratio, occupied_extent`` (mean over dimensions),
        ``occupancy_entropy, autocorrelation_time`` and, per source ``model`` and ``empirical``,
        ``n_fixed_points_<source>`` and ``n_stable_<source>`` (in-support points; ``NaN`` for a source
        not in ``sources`` or without ``fixed_points``).
    """
    x = as_2d(u, "u")
    row: dict[str, float] = {
        "scale": scale,
        "dimension": x.shape[1],
        "noise_to_drift_ratio": noise_to_drift_ratio(fn, x, sigma2),
        "occupied_extent": float(occupied_extent(x).mean()),
        "occupancy_entropy": occupancy_entropy(x),
        "autocorrelation_time": autocorrelation_time(x, dt=dt),
    }
    for source in ("model", "empirical"):
        if source not in sources or fixed_points is None:
            row[f"n_fixed_points_{source}"] = row[f"n_stable_{source}"] = np.nan
            continue
        fp = fixed_points[(fixed_points["scale"] == scale) & (fixed_points["source"] == source)]
        fp = fp[fp["in_support"]]
        row[f"n_fixed_points_{source}"] = len(fp)
        row[f"n_stable_{source}"] = int((fp["stability"] == "stable").sum())
    return pd.DataFrame([row])
