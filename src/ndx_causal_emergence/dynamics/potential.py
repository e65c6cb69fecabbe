"""Landscapes and metastable states of low-dimensional macro dynamics (docs/method.md §4).

- q = 1: the drift potential ``U(y) = -∫ (F(y) - y) dy`` (of the learned map or of the empirical
  drift), the occupancy quasi-potential
  ``-ln p̂(y)``, the basins of the stable points, and the encoded trajectory as a sequence of
  metastable states with dwell and transition times (the NWB ``state_transitions`` events).
- q = 2: the drift field ``F(y) - y`` on a grid, for plotting.
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
    "TRANSITION_COLUMNS",
    "basin_boundaries",
    "drift_field",
    "drift_potential",
    "metastable_states",
    "occupancy_potential",
    "potential_from_drift",
]

TRANSITION_COLUMNS = ["timestamp", "from_state", "to_state", "dwell_time"]


def potential_from_drift(grid: np.ndarray, drift: np.ndarray) -> np.ndarray:
    """Potential ``U(y) = -∫ d(s) ds`` of a 1-D drift on a grid, shifted so that ``min U = 0``.

    Trapezoidal rule over the finite stretch of ``drift`` (NaN at its ends marks where there is no
    estimate; the potential is NaN there).

    Parameters
    ----------
    grid : np.ndarray, shape (n_grid,)
        Increasing grid.
    drift : np.ndarray, shape (n_grid,)
        Drift per step at the grid points.

    Returns
    -------
    np.ndarray, shape (n_grid,)

    Raises
    ------
    InputError
        If the grid is not increasing, the shapes differ, or the drift has a gap inside its finite stretch.
    """
    g, d = np.asarray(grid, dtype=float), np.asarray(drift, dtype=float)
    if g.ndim != 1 or len(g) < 2 or np.any(np.diff(g) <= 0) or d.shape != g.shape:
        raise InputError(
            f"grid must be an increasing 1-D array of at least 2 points like drift, got {g.shape}, {d.shape}."
        )
    finite = np.flatnonzero(np.isfinite(d))
    pot = np.full(len(g), np.nan)
    if len(finite) == 0:
        return pot
    a, b = finite[0], finite[-1] + 1
    if len(finite) != b - a:
        raise InputError("drift must be finite on one contiguous stretch of the grid.")
    part = -np.concatenate([[0.0], np.cumsum(0.5 * (d[a + 1 : b] + d[a : b - 1]) * np.diff(g[a:b]))])
    pot[a:b] = part - part.min()
    return pot


def drift_potential(fn: Any, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drift and potential of a 1-D map on a grid.

    .. math::

        d(y) = F(y) - y, \\qquad U(y) = -\\int_{y_0}^{y} d(s)\\,ds

    (trapezoidal rule from the first grid point, :func:`potential_from_drift`), shifted so that
    ``min U = 0``. Stable fixed points are minima of ``U``, unstable ones maxima.

    Parameters
    ----------
    fn : callable or torch.nn.Module
        Row-wise map ``(n, 1) -> (n, 1)`` (evaluated in float64).
    grid : np.ndarray, shape (n_grid,)
        Increasing grid.

    Returns
    -------
    drift, potential : np.ndarray, shape (n_grid,)
    """
    g = np.asarray(grid, dtype=float)
    if g.ndim != 1 or len(g) < 2 or np.any(np.diff(g) <= 0):
        raise InputError(f"grid must be an increasing 1-D array of at least 2 points, got shape {g.shape}.")
    drift = evaluate_map(fn, g[:, None])[:, 0] - g
    return drift, potential_from_drift(g, drift)


def occupancy_potential(u: np.ndarray, grid: np.ndarray, *, bandwidth: float = 0.1) -> np.ndarray:
    """Occupancy quasi-potential ``-ln p̂(y)`` of a 1-D trajectory on a grid, shifted to ``min = 0``.

    Parameters
    ----------
    u : np.ndarray, shape (n_frames,) or (n_frames, 1)
        Encoded trajectory.
    grid : np.ndarray, shape (n_grid,)
        Evaluation points.
    bandwidth : float
        Gaussian KDE bandwidth.

    Returns
    -------
    np.ndarray, shape (n_grid,)
    """
    from ..measures import kde_log_density

    x = as_2d(u, "u")
    logp = np.asarray(kde_log_density(np.asarray(grid, dtype=float)[:, None], x, bandwidth))
    return logp.max() - logp


def basin_boundaries(stable: Sequence[float], unstable: Sequence[float] = ()) -> np.ndarray:
    """Boundaries between the basins of consecutive 1-D stable points.

    Between two neighbouring stable points the boundary is the unstable point between them (the
    middle one if several), or their midpoint when there is none.

    Parameters
    ----------
    stable : sequence of float
        Stable fixed points (any order).
    unstable : sequence of float
        Unstable fixed points.

    Returns
    -------
    np.ndarray, shape (n_stable - 1,)
        Increasing boundaries; basin ``i`` of the sorted stable points is
        ``(boundaries[i-1], boundaries[i]]``.

    Examples
    --------
    >>> basin_boundaries([1.0, -1.0, 3.0], [0.2])
    array([0.2, 2. ])
    """
    s = np.sort(np.asarray(stable, dtype=float))
    un = np.sort(np.asarray(unstable, dtype=float))
    out = []
    for a, b in zip(s[:-1], s[1:], strict=True):
        between = un[(un > a) & (un < b)]
        out.append(between[len(between) // 2] if len(between) else 0.5 * (a + b))
    return np.array(out)


def metastable_states(
    u: np.ndarray,
    timestamps: np.ndarray | None,
    stable_points: Sequence[float],
    *,
    unstable_points: Sequence[float] = (),
    core_fraction: float = 0.5,
    min_dwell: float = 0.0,
) -> tuple[np.ndarray, pd.DataFrame]:
    """The 1-D trajectory as a sequence of metastable states, with transitions and dwell times.

    State ``i`` is the basin of the ``i``-th stable point in increasing order (boundaries from
    :func:`basin_boundaries`). Hysteresis: the trajectory changes state only when it enters the
    *core* of another state, the part of its basin within ``core_fraction`` of the distance from
    the stable point to the basin boundary (the outer cores extend to infinity), so noise around a
    boundary creates no transitions. Visits shorter than ``min_dwell`` are then merged into the
    state before them. The first frame takes the state of its basin.

    Parameters
    ----------
    u : np.ndarray, shape (n_frames,) or (n_frames, 1)
        Encoded trajectory.
    timestamps : np.ndarray or None, shape (n_frames,)
        Frame times (``None``: frame indices).
    stable_points : sequence of float
        Stable fixed points (the states), at least one.
    unstable_points : sequence of float
        Unstable fixed points (basin boundaries).
    core_fraction : float
        Size of the cores, in ``(0, 1]`` (1: no hysteresis).
    min_dwell : float
        Shortest kept visit, in units of ``timestamps``.

    Returns
    -------
    states : np.ndarray of int, shape (n_frames,)
        State per frame.
    transitions : pd.DataFrame
        One row per transition, columns ``timestamp`` (first frame in the new state),
        ``from_state``, ``to_state`` and ``dwell_time`` (time spent in ``from_state``; NaN for the
        first visit, whose start is not observed).

    Raises
    ------
    InputError
        If ``u`` is not 1-D, no stable point is given, or ``core_fraction`` is outside ``(0, 1]``.
    """
    x = as_2d(u, "u")
    if x.shape[1] != 1:
        raise InputError(f"metastable states need a 1-D trajectory, got {x.shape[1]} dimensions.")
    x = x[:, 0]
    if len(stable_points) == 0:
        raise InputError("metastable_states needs at least one stable point; got none.")
    if not 0.0 < core_fraction <= 1.0:
        raise InputError(f"core_fraction must lie in (0, 1], got {core_fraction}.")
    ts = np.arange(len(x), dtype=float) if timestamps is None else np.asarray(timestamps, dtype=float)
    if ts.shape != x.shape:
        raise InputError(f"timestamps must have one value per frame ({len(x)}), got shape {ts.shape}.")
    s = np.sort(np.asarray(stable_points, dtype=float))
    bounds = basin_boundaries(s, unstable_points)
    lo = np.concatenate([[-np.inf], s[1:] - core_fraction * (s[1:] - bounds)])
    hi = np.concatenate([s[:-1] + core_fraction * (bounds - s[:-1]), [np.inf]])
    core = np.full(len(x), -1)
    for i in range(len(s)):
        core[(x >= lo[i]) & (x <= hi[i])] = i
    core[0] = np.searchsorted(bounds, x[0])
    entered = np.flatnonzero(core >= 0)
    states = core[entered][np.searchsorted(entered, np.arange(len(x)), side="right") - 1]
    states = _merge_short_visits(states, ts, min_dwell)
    change = np.flatnonzero(np.diff(states)) + 1
    entry_times = np.concatenate([[np.nan], ts[change]])
    transitions = pd.DataFrame(
        {
            "timestamp": ts[change],
            "from_state": states[change - 1],
            "to_state": states[change],
            "dwell_time": ts[change] - entry_times[:-1],
        },
        columns=TRANSITION_COLUMNS,
    )
    return states, transitions


def _merge_short_visits(states: np.ndarray, ts: np.ndarray, min_dwell: float) -> np.ndarray:
    """Merge visits shorter than ``min_dwell`` into the preceding visit (shortest first)."""
    states = states.copy()
    while True:
        starts = np.concatenate([[0], np.flatnonzero(np.diff(states)) + 1])
        ends = np.concatenate([starts[1:], [len(states)]])
        # the last visit is cut by the end of the recording: its length is not a dwell
        length = np.append(ts[ends[:-1]] - ts[starts[:-1]], np.inf)
        short = np.flatnonzero(length[1:] < min_dwell) + 1
        if len(short) == 0:
            return states
        k = short[np.argmin(length[short])]
        states[starts[k] : ends[k]] = states[starts[k] - 1]


def drift_field(
    fn: Any, lower: Sequence[float], upper: Sequence[float], *, n_grid: int = 21
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drift ``F(y) - y`` of a 2-D map on a regular grid.

    Parameters
    ----------
    fn : callable or torch.nn.Module
        Row-wise map ``(n, 2) -> (n, 2)``.
    lower, upper : sequence of float
        Corners of the grid, two values each.
    n_grid : int
        Points per axis.

    Returns
    -------
    y1, y2 : np.ndarray, shape (n_grid, n_grid)
        Grid coordinates (``indexing="xy"``, ready for ``quiver``).
    drift : np.ndarray, shape (n_grid, n_grid, 2)
    """
    if len(lower) != 2 or len(upper) != 2:
        raise InputError(f"drift_field needs 2-D corners, got {lower} and {upper}.")
    y1, y2 = np.meshgrid(np.linspace(lower[0], upper[0], n_grid), np.linspace(lower[1], upper[1], n_grid))
    pts = np.column_stack([y1.ravel(), y2.ravel()])
    return y1, y2, (evaluate_map(fn, pts) - pts).reshape(n_grid, n_grid, 2)
