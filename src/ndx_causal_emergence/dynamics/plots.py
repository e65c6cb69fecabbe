"""Figures of the dynamics analysis (matplotlib, no GUI: each function returns a Figure).

The figures are built on :class:`matplotlib.figure.Figure` directly, never through ``pyplot``, so
nothing pops up and no global state changes; save them with ``fig.savefig(path)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import InputError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_attribution", "plot_drift_field", "plot_emergence", "plot_potential"]

_MARKERS = {"stable": ("o", "black"), "unstable": ("o", "white"), "saddle": ("X", "tab:red")}


def _mark_points(
    ax: Axes, fixed_points: pd.DataFrame | None, heights: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
) -> None:
    """Draw in-support fixed points, one legend entry per kind.

    1-D points sit on the curve ``heights[source]`` (a ``(grid, values)`` pair; NaN values fall back to
    the model curve); 2-D points at their location.
    """
    if fixed_points is None or not len(fixed_points):
        return
    seen = set()
    for row in fixed_points.itertuples(index=False):
        if not row.in_support:
            continue
        marker, face = _MARKERS[row.stability]
        loc = np.asarray(row.location, dtype=float)
        source = getattr(row, "source", "model")
        if heights is None:
            x, y = loc[0], loc[1]
        else:
            x = loc[0]
            y = np.interp(x, *heights.get(source, heights["model"]))
            y = y if np.isfinite(y) else np.interp(x, *heights["model"])
        label = f"{row.stability} ({source})"
        ax.plot(x, y, marker=marker if source == "model" else "D", ms=9 if source == "model" else 6,
                mfc=face, mec="black", ls="none", zorder=5, label=None if label in seen else label)  # fmt: skip
        seen.add(label)


def plot_potential(
    grid: np.ndarray,
    potential: np.ndarray,
    occupancy: np.ndarray | None = None,
    *,
    empirical_potential: np.ndarray | None = None,
    fixed_points: pd.DataFrame | None = None,
    boundaries: Sequence[float] = (),
    title: str | None = None,
) -> Figure:
    """Drift potentials ``U(y)`` (learned map, empirical drift) and occupancy ``-ln p̂`` of a 1-D scale.

    Parameters
    ----------
    grid, potential : np.ndarray, shape (n_grid,)
        From :func:`~ndx_causal_emergence.dynamics.potential.drift_potential`.
    occupancy : np.ndarray, shape (n_grid,), optional
        From :func:`~ndx_causal_emergence.dynamics.potential.occupancy_potential` (lower panel).
    empirical_potential : np.ndarray, shape (n_grid,), optional
        Potential of the empirical drift (NaN where there is no estimate), drawn dashed in the upper panel.
    fixed_points : pd.DataFrame, optional
        Fixed points of the scale (in-support ones are drawn; model points as circles on the learned
        potential, empirical ones as diamonds on the empirical potential; filled stable, open unstable).
    boundaries : sequence of float
        Basin boundaries, drawn as dashed lines and alternating shading.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    g = np.asarray(grid, dtype=float)
    n_panels = 1 if occupancy is None else 2
    fig = Figure(figsize=(6.0, 2.6 * n_panels + 0.4), layout="constrained")
    axes = fig.subplots(n_panels, 1, sharex=True, squeeze=False)[:, 0]
    edges = np.concatenate([[g[0]], np.sort(np.asarray(boundaries, dtype=float)), [g[-1]]])
    for ax in axes:
        for i, (a, b) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
            ax.axvspan(a, b, color=f"C{i % 10}", alpha=0.08, lw=0)
        for b in edges[1:-1]:
            ax.axvline(b, color="grey", ls="--", lw=1)
    heights = {"model": (g, np.asarray(potential, dtype=float))}
    axes[0].plot(g, potential, color="C0", label="learned map F")
    if empirical_potential is not None:
        heights["empirical"] = (g, np.asarray(empirical_potential, dtype=float))
        axes[0].plot(g, empirical_potential, color="C2", ls="--", label="empirical drift")
    axes[0].set_ylabel(r"drift potential $-\int (F(y) - y)\,dy$", fontsize=8)
    _mark_points(axes[0], fixed_points, heights)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=3, fontsize=7)
    if occupancy is not None:
        occ = (g, np.asarray(occupancy, dtype=float))
        axes[1].plot(g, occupancy, color="C1")
        axes[1].set_ylabel(r"occupancy $-\ln \hat p(y)$", fontsize=8)
        _mark_points(axes[1], fixed_points, {"model": occ, "empirical": occ})
    axes[-1].set_xlabel("macro variable y (normalised)")
    if title:
        fig.suptitle(title)
    return fig


def plot_drift_field(
    y1: np.ndarray,
    y2: np.ndarray,
    drift: np.ndarray,
    *,
    fixed_points: pd.DataFrame | None = None,
    trajectory: np.ndarray | None = None,
    title: str | None = None,
) -> Figure:
    """Drift field ``F(y) - y`` of a 2-D scale, with fixed points and optionally a trajectory.

    Parameters
    ----------
    y1, y2, drift : np.ndarray
        From :func:`~ndx_causal_emergence.dynamics.potential.drift_field`.
    fixed_points : pd.DataFrame, optional
        Fixed points of the scale (in-support ones are drawn).
    trajectory : np.ndarray, shape (n_frames, 2), optional
        Encoded trajectory drawn faintly underneath.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0, 4.6), layout="constrained")
    ax = fig.subplots()
    if trajectory is not None:
        ax.plot(trajectory[:, 0], trajectory[:, 1], color="grey", lw=0.4, alpha=0.5)
    speed = np.linalg.norm(drift, axis=-1)
    ax.quiver(y1, y2, drift[..., 0], drift[..., 1], speed, cmap="viridis")
    _mark_points(ax, fixed_points)
    ax.set(xlabel="$y_1$", ylabel="$y_2$", xlim=(y1.min(), y1.max()), ylim=(y2.min(), y2.max()))
    if title:
        ax.set_title(title)
    return fig


def plot_emergence(emergence: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Bars of the dimension-averaged EI ``J`` and the causal emergence ``ΔJ`` per scale.

    Parameters
    ----------
    emergence : pd.DataFrame
        One row per scale with ``scale, dimension, dimension_averaged_ei, causal_emergence`` (nats).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    need = {"scale", "dimension", "dimension_averaged_ei", "causal_emergence"}
    if not need <= set(emergence.columns):
        raise InputError(f"emergence needs columns {sorted(need)}, got {list(emergence.columns)}.")
    df = emergence.sort_values("scale")
    labels = [f"{s}\n(q={d})" for s, d in zip(df["scale"], df["dimension"], strict=True)]
    fig = Figure(figsize=(7.0, 3.0), layout="constrained")
    ax_j, ax_d = fig.subplots(1, 2)
    ax_j.bar(labels, df["dimension_averaged_ei"], color="C0")
    ax_j.set(ylabel="J (nats per dimension)", xlabel="scale")
    dj = df["causal_emergence"].to_numpy(dtype=float)
    ax_d.bar(labels, dj, color=np.where(dj >= 0, "C2", "C3"))
    ax_d.axhline(0.0, color="black", lw=0.8)
    ax_d.set(ylabel=r"$\Delta J = J_k - J_0$ (nats)", xlabel="scale")
    if title:
        fig.suptitle(title)
    return fig


def plot_conditions(emergence: dict[str, pd.DataFrame], *, title: str | None = None) -> Figure:
    """J and ΔJ against the scale's dimension d, every condition overlaid, with their 95 % intervals.

    Filled markers: the scale passes the fit gate (``fit_ok``); open markers: it does not (its J
    and ΔJ are not interpretable). A star above a ΔJ point marks significant emergence.

    Parameters
    ----------
    emergence : dict of str to pd.DataFrame
        Per condition, the scale table (``dimension, dimension_averaged_ei, causal_emergence``;
        ``*_ci_low``/``*_ci_high``, ``fit_ok`` and ``significant`` when present).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.0, 3.2), layout="constrained")
    ax_j, ax_d = fig.subplots(1, 2, sharex=True)
    for i, (condition, df) in enumerate(emergence.items()):
        df = df.sort_values("dimension")
        d = df["dimension"].to_numpy(dtype=float)
        ok = df["fit_ok"].to_numpy(dtype=bool) if "fit_ok" in df else np.ones(len(df), dtype=bool)
        color = f"C{i % 10}"
        for ax, col in ((ax_j, "dimension_averaged_ei"), (ax_d, "causal_emergence")):
            y = df[col].to_numpy(dtype=float)
            ax.plot(d, y, color=color, lw=1.2, label=condition if ax is ax_j else None)
            if f"{col}_ci_low" in df:
                err = np.abs(np.vstack([y - df[f"{col}_ci_low"].to_numpy(dtype=float),
                                        df[f"{col}_ci_high"].to_numpy(dtype=float) - y]))  # fmt: skip
                ax.errorbar(d, y, yerr=err, fmt="none", ecolor=color, elinewidth=1, capsize=2)
            ax.plot(d[ok], y[ok], "o", color=color)
            ax.plot(d[~ok], y[~ok], "o", mfc="white", mec=color)
        if "significant" in df:
            sig = df["significant"].to_numpy(dtype=bool)
            top = df.get("causal_emergence_ci_high", df["causal_emergence"]).to_numpy(dtype=float)
            ax_d.plot(d[sig], top[sig], "*", color=color, ms=9, ls="none")
    ax_d.axhline(0.0, color="black", lw=0.8)
    ax_j.set(xscale="log", ylabel="J (nats per dimension)", xlabel="scale dimension d")
    ax_d.set(xscale="log", ylabel=r"$\Delta J = J_d - J_{micro}$ (nats)", xlabel="scale dimension d")
    ax_j.plot([], [], "o", color="gray", label="fit ok")
    ax_j.plot([], [], "o", mfc="white", mec="gray", label="fit failed")
    ax_j.plot([], [], "*", color="gray", ms=9, label="significant ΔJ")
    ax_j.legend(fontsize="small", frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def plot_attribution(attribution: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Heat map of the channel importance per scale (channels by scales).

    Parameters
    ----------
    attribution : pd.DataFrame
        Attribution table (``scale, channel, importance``), e.g. from
        :func:`~ndx_causal_emergence.dynamics.attribution.attribution_table`.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    if not {"scale", "channel", "importance"} <= set(attribution.columns) or not len(attribution):
        raise InputError("attribution must be a non-empty table with columns scale, channel, importance.")
    table = attribution.pivot(index="channel", columns="scale", values="importance")
    fig = Figure(figsize=(1.2 + 0.6 * table.shape[1], 1.5 + 0.12 * table.shape[0]), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(table.to_numpy(), aspect="auto", cmap="magma", interpolation="nearest")
    ax.set_xticks(range(table.shape[1]), [str(s) for s in table.columns])
    step = max(1, table.shape[0] // 20)
    ax.set_yticks(range(0, table.shape[0], step), [str(c) for c in table.index[::step]])
    ax.set(xlabel="scale", ylabel="input channel")
    fig.colorbar(image, ax=ax, label="importance (share of the scale)")
    if title:
        ax.set_title(title)
    return fig
