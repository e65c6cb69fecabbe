"""Figures of the analysis (matplotlib, no GUI: each function returns a Figure).

The figures are built on :class:`matplotlib.figure.Figure` directly, never through ``pyplot``, so
nothing pops up and no global state changes; save them with ``fig.savefig(path)``. All share one
style (:mod:`.style`: Okabe–Ito colours, every axis labelled with its unit, every symbol in a legend).
Macro variables are in the model's normalised coordinates (dimensionless), times in seconds,
information in nats.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import InputError
from .style import OKABE_ITO, SEQUENTIAL_CMAP, palette, shorten, styled

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "plot_attribution",
    "plot_attribution_map",
    "plot_conditions",
    "plot_drift_field",
    "plot_emergence",
    "plot_fit_quality",
    "plot_potential",
    "plot_state_timeline",
]

_MARKERS = {"stable": ("o", "black"), "unstable": ("o", "white"), "saddle": ("X", OKABE_ITO[3])}
_SOURCES = {"model": "learned map", "empirical": "empirical drift"}
#: Most tick labels on a channel axis (20 or 2000 channels stay readable).
_MAX_TICKS = 40
#: Most pixels along a side of a drawn field of view (larger ones are subsampled).
_MAX_MAP_PIXELS = 1024


def _figure(width: float, height: float) -> Figure:
    """A new figure (constrained layout), its height bounded so that many channels still fit a page."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, min(height, 10.0)), layout="constrained")


def _dimension_axis(ax: Axes, dimensions: Sequence[float]) -> None:
    """Log axis of scale dimensions, ticked at the dimensions themselves."""
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    ticks = sorted({int(d) for d in dimensions})
    ax.set_xticks(ticks, [str(d) for d in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("scale dimension d")


def _unique_legend(fig: Figure, axes: Sequence[Axes], **options: object) -> None:
    """One figure legend holding every labelled symbol of ``axes`` once."""
    handles: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    if handles:
        fig.legend(list(handles.values()), list(handles), **options)


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
        label = f"{row.stability} point ({_SOURCES.get(source, source)})"
        # empirical points smaller and on top, so that a point of one source never hides the other's
        model = source == "model"
        ax.plot(x, y, marker=marker if model else "D", ms=9 if model else 5, mfc=face, mec="black",
                mew=1.0, ls="none", zorder=5 if model else 6, label=None if label in seen else label)  # fmt: skip
        seen.add(label)


@styled
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
    g = np.asarray(grid, dtype=float)
    n_panels = 1 if occupancy is None else 2
    fig = _figure(6.0, 2.6 * n_panels + 0.8)
    axes = fig.subplots(n_panels, 1, sharex=True, squeeze=False)[:, 0]
    edges = np.concatenate([[g[0]], np.sort(np.asarray(boundaries, dtype=float)), [g[-1]]])
    for ax in axes:
        if len(edges) > 2:
            for i, (a, b) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
                ax.axvspan(a, b, color=palette(i), alpha=0.10, lw=0,
                           label="basin of a stable point (shaded)" if i == 0 else None)  # fmt: skip
        for b in edges[1:-1]:
            ax.axvline(b, color="grey", ls="--", lw=1, label="basin boundary")
    heights = {"model": (g, np.asarray(potential, dtype=float))}
    axes[0].plot(g, potential, color=palette(0), label="learned map F")
    if empirical_potential is not None:
        heights["empirical"] = (g, np.asarray(empirical_potential, dtype=float))
        axes[0].plot(g, empirical_potential, color=palette(2), ls="--", label="empirical drift")
    axes[0].set_ylabel("drift potential U(y)\n" r"$-\int (F(y) - y)\,dy$ (y² per step)")
    _mark_points(axes[0], fixed_points, heights)
    if occupancy is not None:
        occ = (g, np.asarray(occupancy, dtype=float))
        axes[1].plot(g, occupancy, color=palette(1), label=r"occupancy $-\ln \hat p(y)$ (encoded data)")
        axes[1].set_ylabel(r"occupancy $-\ln \hat p(y)$ (nats)")
        _mark_points(axes[1], fixed_points, {"model": occ, "empirical": occ})
    axes[-1].set_xlabel("macro variable y (normalised, dimensionless)")
    _unique_legend(fig, axes, loc="outside lower center", ncols=3)
    if title:
        fig.suptitle(shorten(title))
    return fig


@styled
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
    fig = _figure(5.4, 5.2)
    ax = fig.subplots()
    if trajectory is not None:
        ax.plot(trajectory[:, 0], trajectory[:, 1], color="grey", lw=0.4, alpha=0.5, label="encoded trajectory")
    speed = np.linalg.norm(drift, axis=-1)
    arrows = ax.quiver(y1, y2, drift[..., 0], drift[..., 1], speed, cmap=SEQUENTIAL_CMAP)
    fig.colorbar(arrows, ax=ax, label="drift speed |F(y) − y| (y per step)", shrink=0.8)
    _mark_points(ax, fixed_points)
    ax.set(xlabel="$y_1$ (normalised)", ylabel="$y_2$ (normalised)", xlim=(y1.min(), y1.max()),
           ylim=(y2.min(), y2.max()))  # fmt: skip
    _unique_legend(fig, [ax], loc="outside lower center", ncols=2)
    if title:
        ax.set_title(shorten(title))
    return fig


@styled
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
    need = {"scale", "dimension", "dimension_averaged_ei", "causal_emergence"}
    if not need <= set(emergence.columns):
        raise InputError(f"emergence needs columns {sorted(need)}, got {list(emergence.columns)}.")
    df = emergence.sort_values("scale")
    labels = [f"{s}\n(q={d})" for s, d in zip(df["scale"], df["dimension"], strict=True)]
    fig = _figure(7.0, 3.0)
    ax_j, ax_d = fig.subplots(1, 2)
    ax_j.bar(labels, df["dimension_averaged_ei"], color=palette(0))
    ax_j.set(ylabel="J (nats per dimension)", xlabel="scale (dimension q)")
    dj = df["causal_emergence"].to_numpy(dtype=float)
    ax_d.bar(labels, dj, color=np.where(dj >= 0, palette(2), palette(3)))
    ax_d.axhline(0.0, color="black", lw=0.8)
    ax_d.set(ylabel=r"$\Delta J = J_k - J_0$ (nats)", xlabel="scale (dimension q)")
    if title:
        fig.suptitle(shorten(title))
    return fig


@styled
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
    fig = _figure(8.0, 3.4)
    ax_j, ax_d = fig.subplots(1, 2, sharex=True)
    for i, (condition, df) in enumerate(emergence.items()):
        df = df.sort_values("dimension")
        d = df["dimension"].to_numpy(dtype=float)
        ok = df["fit_ok"].to_numpy(dtype=bool) if "fit_ok" in df else np.ones(len(df), dtype=bool)
        color = palette(i)
        for ax, col in ((ax_j, "dimension_averaged_ei"), (ax_d, "causal_emergence")):
            y = df[col].to_numpy(dtype=float)
            ax.plot(d, y, color=color, lw=1.2, label=shorten(condition, 40) if ax is ax_j else None)
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
    dims = [d for df in emergence.values() for d in df["dimension"]]
    for ax in (ax_j, ax_d):
        _dimension_axis(ax, dims)
    ax_j.set_ylabel("J (nats per dimension)")
    ax_d.set_ylabel(r"$\Delta J = J_d - J_{micro}$ (nats)")
    ax_j.plot([], [], "o", color="gray", label="fit ok")
    ax_j.plot([], [], "o", mfc="white", mec="gray", label="fit failed")
    ax_j.plot([], [], "*", color="gray", ms=9, label="significant ΔJ")
    if any("dimension_averaged_ei_ci_low" in df for df in emergence.values()):
        ax_j.errorbar([], [], yerr=[], fmt="none", ecolor="gray", capsize=2, label="95 % interval")
    ax_j.legend()
    if title:
        fig.suptitle(shorten(title))
    return fig


def _channel_ticks(n: int) -> tuple[range, int]:
    """Tick positions along a channel axis of ``n`` channels: at most ``_MAX_TICKS`` labels."""
    step = max(1, -(-n // _MAX_TICKS))
    return range(0, n, step), step


@styled
def plot_attribution(
    attribution: pd.DataFrame,
    *,
    title: str | None = None,
    channel_labels: dict[int, str] | None = None,
    channel_name: str = "input channel",
    method: str = "integrated gradients",
) -> Figure:
    """Heat map of the channel importance per scale (channels by scales).

    Parameters
    ----------
    attribution : pd.DataFrame
        Attribution table (``scale, channel, importance``), e.g. from
        :func:`~ndx_causal_emergence.dynamics.attribution.attribution_table`.
    title : str, optional
    channel_labels : dict of int to str, optional
        Label of each channel (e.g. its ROI id); default the channel index.
    channel_name : str
        What a channel is, for the axis label (e.g. ``"ROI id"``).
    method : str
        Attribution method, named in the colour bar.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not {"scale", "channel", "importance"} <= set(attribution.columns) or not len(attribution):
        raise InputError("attribution must be a non-empty table with columns scale, channel, importance.")
    table = attribution.pivot(index="channel", columns="scale", values="importance")
    fig = _figure(2.2 + 0.6 * table.shape[1], 1.6 + 0.12 * table.shape[0])
    ax = fig.subplots()
    image = ax.imshow(table.to_numpy(), aspect="auto", cmap=SEQUENTIAL_CMAP, interpolation="nearest")
    ax.set_xticks(range(table.shape[1]), [str(s) for s in table.columns])
    ticks, step = _channel_ticks(table.shape[0])
    labels = [str((channel_labels or {}).get(int(c), c)) for c in table.index]
    ax.set_yticks(list(ticks), labels[::step])
    ax.set(xlabel="scale", ylabel=channel_name)
    fig.colorbar(image, ax=ax, label=f"importance ({method};\nshare of the scale, dimensionless)")
    if title:
        ax.set_title(shorten(title))
    return fig


@styled
def plot_attribution_map(
    labels: np.ndarray,
    importance: pd.DataFrame,
    *,
    title: str | None = None,
    method: str = "integrated gradients",
    pixel_unit: str = "pixels",
) -> Figure:
    """The importance of each ROI per scale drawn on the ROIs' own layout (their masks in the field of view).

    Parameters
    ----------
    labels : np.ndarray of int, shape (height, width)
        Row of the ROI table that each pixel belongs to (``-1``: none), e.g. from
        :func:`~ndx_causal_emergence.nwb.layout.layout_of_table`.
    importance : pd.DataFrame
        Importance (share of the scale) indexed by ROI table row, one column per scale.
    title : str, optional
    method : str
        Attribution method, named in the colour bar.
    pixel_unit : str
        Unit of the image axes.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per scale; ROIs without attribution (dropped channels, unused ROIs) are outlined grey.
    """
    lab = np.asarray(labels)
    if lab.ndim != 2 or not importance.shape[1]:
        raise InputError(f"labels must be a 2-D image and importance have a column per scale, got {lab.shape}.")
    extent = (-0.5, lab.shape[1] - 0.5, lab.shape[0] - 0.5, -0.5)  # axes in the field of view's own pixels
    lab = lab[:: -(-max(lab.shape) // _MAX_MAP_PIXELS), :: -(-max(lab.shape) // _MAX_MAP_PIXELS)]
    n = importance.shape[1]
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    aspect = lab.shape[0] / max(lab.shape[1], 1)
    fig = _figure(1.0 + 2.8 * ncols, 0.9 + 2.8 * nrows * aspect)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    vmax = float(np.nanmax(importance.to_numpy(dtype=float))) or 1.0
    inside = lab >= 0
    image = None
    rows = importance.index.to_numpy(dtype=int)
    size = max(int(lab.max()), int(rows.max(initial=-1))) + 2  # the last entry stays NaN: pixels of no ROI
    for ax, scale in zip(axes, importance.columns, strict=False):
        values = np.full(size, np.nan)
        values[rows] = importance[scale].to_numpy(dtype=float)
        shown = values[np.where(inside, lab, size - 1)]
        ax.imshow(np.where(inside, 1.0, np.nan), cmap="Greys", vmin=0.0, vmax=4.0, interpolation="nearest",
                  extent=extent)  # fmt: skip
        image = ax.imshow(shown, cmap=SEQUENTIAL_CMAP, vmin=0.0, vmax=vmax, interpolation="nearest", extent=extent)
        ax.set_title(f"scale {scale}")
        ax.set(xlabel=f"x ({pixel_unit})", ylabel=f"y ({pixel_unit})")
    for ax in axes[n:]:
        ax.set_axis_off()
    assert image is not None
    fig.colorbar(image, ax=list(axes[:n]), label=f"importance ({method};\nshare of the scale)", shrink=0.8)
    if title:
        fig.suptitle(shorten(title))
    return fig


@styled
def plot_fit_quality(emergence: dict[str, pd.DataFrame], *, title: str | None = None) -> Figure:
    """One-step prediction error of each scale's latent map beside persistence, every condition overlaid.

    Parameters
    ----------
    emergence : dict of str to pd.DataFrame
        Per condition, the scale table with ``dimension, latent_nmse, latent_nmse_persistence`` (and
        ``fit_ok``): the error of ``F`` on the held-out latents over their variance, and the same
        for ``y_t+1 = y_t``.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Filled markers: the scale passes the fit gate (beats persistence and the mean).
    """
    need = {"dimension", "latent_nmse", "latent_nmse_persistence"}
    for condition, df in emergence.items():
        if not need <= set(df.columns):
            raise InputError(f"fit quality of {condition!r} needs columns {sorted(need)}, got {list(df.columns)}.")
    fig = _figure(6.0, 3.4)
    ax = fig.subplots()
    for i, (condition, df) in enumerate(emergence.items()):
        df = df.sort_values("dimension")
        d = df["dimension"].to_numpy(dtype=float)
        ok = df["fit_ok"].to_numpy(dtype=bool) if "fit_ok" in df else np.ones(len(df), dtype=bool)
        color = palette(i)
        model = df["latent_nmse"].to_numpy(dtype=float)
        ax.plot(d, model, color=color, lw=1.2, label=f"{shorten(condition, 40)}: learned map F")
        ax.plot(d, df["latent_nmse_persistence"].to_numpy(dtype=float), color=color, lw=1.0, ls=":",
                marker="s", ms=4, label=f"{shorten(condition, 40)}: persistence")  # fmt: skip
        ax.plot(d[ok], model[ok], "o", color=color)
        ax.plot(d[~ok], model[~ok], "o", mfc="white", mec=color)
    ax.axhline(1.0, color="black", lw=0.8, ls="--", label="the mean (NMSE = 1)")
    ax.plot([], [], "o", color="gray", label="fit ok")
    ax.plot([], [], "o", mfc="white", mec="gray", label="fit failed")
    _dimension_axis(ax, [d for df in emergence.values() for d in df["dimension"]])
    ax.set_ylabel("one-step NMSE of the latents\n(test block, dimensionless)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if title:
        ax.set_title(shorten(title))
    return fig


@styled
def plot_state_timeline(
    time: np.ndarray,
    trajectory: np.ndarray,
    transitions: pd.DataFrame,
    *,
    stable_points: Sequence[float] = (),
    title: str | None = None,
) -> Figure:
    """The top scale's 1-D macro variable over time, with the metastable-state transitions.

    Parameters
    ----------
    time : np.ndarray, shape (n_frames,)
        Frame times (s).
    trajectory : np.ndarray, shape (n_frames,)
        The macro variable (normalised).
    transitions : pd.DataFrame
        ``timestamp, from_state, to_state`` (state ``i``: basin of the ``i``-th stable point in
        increasing order), e.g. ``ConditionResult.transitions``.
    stable_points : sequence of float
        The stable points whose basins are the states (drawn as horizontal lines).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    t = np.asarray(time, dtype=float)
    u = np.asarray(trajectory, dtype=float).reshape(-1)
    if t.shape != u.shape:
        raise InputError(f"time and trajectory must have one value per frame, got {t.shape} and {u.shape}.")
    fig = _figure(8.0, 3.0)
    ax = fig.subplots()
    ax.plot(t, u, color="grey", lw=0.6, label="macro variable y")
    for i, point in enumerate(sorted(stable_points)):
        ax.axhline(point, color=palette(i), lw=1.2, ls="--", label=f"stable point of state {i}")
    into = pd.to_numeric(transitions["to_state"], errors="coerce").to_numpy()
    when = pd.to_numeric(transitions["timestamp"], errors="coerce").to_numpy(dtype=float)
    for state in np.unique(into[np.isfinite(into)]).astype(int):  # one collection per state: fast for many
        ax.vlines(when[into == state], 0.0, 1.0, transform=ax.get_xaxis_transform(), colors=palette(state), lw=0.9,
                  alpha=0.8, label=f"transition into state {state}")  # fmt: skip
    ax.set(xlabel="time (s)", ylabel="macro variable y\n(normalised, dimensionless)")
    counted = f"{len(transitions)} transition{'s' if len(transitions) != 1 else ''} on the test block"
    ax.set_title(shorten(f"{title}: {counted}" if title else counted))
    _unique_legend(fig, [ax], loc="outside right upper")
    return fig
