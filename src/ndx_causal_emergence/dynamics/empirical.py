"""Empirical fixed points: roots of the kernel-smoothed drift of an encoded trajectory (docs/method.md §4).

One-step drifts of a slow latent are small against its noise and a learned map can come out close
to the identity, so the fixed points of the learned map are checked against those of the data:
the roots of ``E[u_{t+τ} - u_t | u_t]``, with τ chosen so that the drift stands above its standard
error (``source == "empirical"`` in the fixed-point table).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from .fixed_points import as_2d, fixed_point_table, support_mask

__all__ = ["conditional_drift", "empirical_fixed_points"]


def _segment_ids(n: int, timestamps: np.ndarray | None) -> np.ndarray:
    """Segment label per frame: a new segment starts after a gap longer than 1.5 median steps."""
    if timestamps is None:
        return np.zeros(n, dtype=int)
    ts = np.asarray(timestamps, dtype=float)
    if ts.shape != (n,):
        raise InputError(f"timestamps must have one value per frame ({n}), got shape {ts.shape}.")
    dt = np.diff(ts)
    return np.concatenate([[0], np.cumsum(dt > 1.5 * np.median(dt))])


def _pairs(x: np.ndarray, lag: int, timestamps: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Starts ``u_t`` and increments ``u_{t+lag} - u_t`` of the pairs that do not span a gap."""
    seg = _segment_ids(len(x), timestamps)
    ok = seg[lag:] == seg[:-lag]
    return x[:-lag][ok], (x[lag:] - x[:-lag])[ok]


def conditional_drift(
    u: np.ndarray,
    grid: np.ndarray,
    *,
    lag: int = 1,
    bandwidth: float = 0.1,
    timestamps: np.ndarray | None = None,
    chunk: int = 20000,
) -> tuple[np.ndarray, np.ndarray]:
    """Kernel-smoothed conditional mean drift ``E[u_{t+lag} - u_t | u_t = g]`` of a 1-D trajectory.

    Nadaraya-Watson with a Gaussian kernel. The standard error is the local spread of the increments
    over the kernel's effective sample size, inflated by ``lag`` because increments over overlapping
    windows share ``lag - 1`` of their steps.

    Parameters
    ----------
    u : np.ndarray, shape (n_frames,) or (n_frames, 1)
        Encoded trajectory (contiguous frames; gaps marked by ``timestamps``).
    grid : np.ndarray, shape (n_grid,)
        Where to evaluate the drift.
    lag : int
        Lag τ in frames.
    bandwidth : float
        Kernel bandwidth.
    timestamps : np.ndarray, optional
        Frame times; pairs spanning a gap (> 1.5 median steps) are dropped.
    chunk : int
        Frames per block of the kernel sums (memory bound).

    Returns
    -------
    drift, standard_error : np.ndarray, shape (n_grid,)
        NaN where no pair has weight.
    """
    x = as_2d(u, "u")
    if x.shape[1] != 1:
        raise InputError(f"conditional_drift needs a 1-D trajectory, got {x.shape[1]} dimensions.")
    x = x[:, 0]
    if not 1 <= lag < len(x):
        raise InputError(f"lag must be in [1, {len(x) - 1}], got {lag}.")
    start, incr = _pairs(x, lag, timestamps)
    g = np.asarray(grid, dtype=float)[:, None]
    sums = np.zeros((4, len(g)))
    for i in range(0, len(start), chunk):
        w = np.exp(-0.5 * ((g - start[None, i : i + chunk]) / bandwidth) ** 2)
        d = incr[i : i + chunk]
        sums += np.stack([w.sum(1), w @ d, w @ d**2, (w**2).sum(1)])
    sw, swd, swd2, sw2 = sums
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = swd / sw
        var = np.maximum(swd2 / sw - mean**2, 0.0)
        se = np.sqrt(var * sw2 / sw**2 * lag)
    return mean, se


def _signed_roots(
    grid: np.ndarray, drift: np.ndarray, se: np.ndarray, significant: np.ndarray
) -> list[tuple[float, str, float]]:
    """Roots between significant drifts of opposite sign: (location, stability, slope).

    Between two consecutive significant grid points ``a < b`` of opposite drift sign, the location is
    the zero of the least-squares line through the drift on ``[a, b]`` weighted by ``1/se²`` (clipped to
    the bracket), and the slope is the secant ``(d_b - d_a) / (g_b - g_a)``, whose sign always matches
    the stability (negative: stable).
    """
    idx = np.flatnonzero(significant)
    out = []
    for a, b in zip(idx[:-1], idx[1:], strict=True):
        if np.sign(drift[a]) == np.sign(drift[b]):
            continue
        g, d, w = grid[a : b + 1], drift[a : b + 1], 1.0 / se[a : b + 1]
        intercept, line_slope = np.linalg.lstsq(np.column_stack([w, w * g]), w * d, rcond=None)[0]
        loc = np.clip(-intercept / line_slope, grid[a], grid[b]) if line_slope != 0 else 0.5 * (grid[a] + grid[b])
        slope = (drift[b] - drift[a]) / (grid[b] - grid[a])
        out.append((float(loc), "stable" if drift[a] > 0 else "unstable", float(slope)))
    return out


def empirical_fixed_points(
    u: np.ndarray,
    *,
    reference: np.ndarray | None = None,
    timestamps: np.ndarray | None = None,
    scale: int = 0,
    lags: Sequence[int] = (1, 2, 4, 8, 16, 32, 64),
    bandwidth: float = 0.1,
    z: float = 3.0,
    min_significant_fraction: float = 0.5,
    n_grid: int = 201,
    support: str = "auto",
) -> pd.DataFrame:
    """Fixed points of the empirical drift of a 1-D encoded trajectory (``source == "empirical"``).

    The drift ``d_τ(u) = E[u_{t+τ} - u_t | u_t = u]`` (:func:`conditional_drift`) is evaluated on a
    grid over the 1st-99th percentile range of ``u``. The lag τ is the smallest of ``lags`` at which
    the drift exceeds ``z`` standard errors on at least ``min_significant_fraction`` of the grid (else
    the lag with the largest such fraction). Fixed points are the zero crossings between significant
    drifts of opposite sign: ``+ → −`` is stable, ``− → +`` unstable; insignificant stretches never
    create a point, so noise does not. Each point is located by a weighted linear fit of the drift
    across its bracket. The eigenvalue reported is ``1 + s/τ``, with ``s`` the slope of
    the drift between the two significant grid points that bracket the root (a per-frame linearisation;
    its sign always matches the stability; with noisy encodings ``|s|`` is biased up by regression to
    the mean at small τ).

    Parameters
    ----------
    u : np.ndarray, shape (n_frames,) or (n_frames, 1)
        Encoded trajectory (normalised coordinates), in time order.
    reference : np.ndarray, optional
        Encoded training data for the support flag (default ``u``).
    timestamps : np.ndarray, optional
        Frame times (pairs across gaps are dropped).
    scale : int
        Scale index written to the table.
    lags : sequence of int
        Candidate lags in frames (those ``>= n_frames / 4`` are skipped).
    bandwidth : float
        Kernel bandwidth (normalised units).
    z : float
        Significance threshold in standard errors.
    min_significant_fraction : float
        Fraction of the grid that must be significant for a lag to be chosen.
    n_grid : int
        Grid size.
    support : str
        ``method`` of :func:`support_mask`.

    Returns
    -------
    pd.DataFrame
        Columns :data:`FIXED_POINT_COLUMNS`; ``attrs["lag"]`` holds the chosen τ and
        ``attrs["significant_fraction"]`` its significant share of the grid.

    Raises
    ------
    InputError
        If ``u`` is not a finite 1-D trajectory or no lag is usable.
    """
    x = as_2d(u, "u")
    if x.shape[1] != 1:
        raise InputError(f"empirical fixed points need a 1-D trajectory, got {x.shape[1]} dimensions.")
    usable = [lag for lag in lags if 1 <= lag < len(x) / 4]
    if not usable:
        raise InputError(f"no usable lag among {list(lags)} for a trajectory of {len(x)} frames.")
    lo, hi = np.percentile(x[:, 0], [1.0, 99.0])
    grid = np.linspace(lo, hi, n_grid)
    tried = []
    for lag in usable:
        drift, se = conditional_drift(x, grid, lag=lag, bandwidth=bandwidth, timestamps=timestamps)
        tried.append((float(np.mean(np.abs(drift) >= z * se)), lag, drift, se))
        if tried[-1][0] >= min_significant_fraction:
            break
    frac, lag, drift, se = tried[-1] if tried[-1][0] >= min_significant_fraction else max(tried, key=lambda t: t[0])
    found = _signed_roots(grid, drift, se, np.abs(drift) >= z * se)
    locs = np.array([[loc] for loc, _, _ in found]).reshape(-1, 1)
    inside = support_mask(locs, x if reference is None else reference, method=support, bandwidth=bandwidth)
    rows = []
    for (loc, stability, slope), ins in zip(found, inside, strict=True):
        rows.append(
            {
                "scale": scale,
                "location": [loc],
                "eigenvalues_real": [1.0 + slope / lag],
                "eigenvalues_imag": [0.0],
                "stability": stability,
                "in_support": bool(ins),
                "source": "empirical",
            }
        )
    table = fixed_point_table(rows)
    table.attrs.update(lag=int(lag), significant_fraction=frac)
    return table
