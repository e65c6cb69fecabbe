"""Figures of results: conditions overlaid, fit quality, and per analysis emergence, landscapes, states, attribution.

Every figure is a :class:`matplotlib.figure.Figure` (no GUI); :func:`result_figures` gives them by
name, :func:`figures_of_file` reads them from a result file and :func:`save_figures` writes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InputError
from .results import ConditionResult, read_all_results, stored_analyses, stored_layouts

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..nwb.layout import RoiLayout

__all__ = ["FIGURE_FORMATS", "condition_figures", "figures_of_file", "result_figures", "save_figures"]

#: Formats ``save_figures`` writes.
FIGURE_FORMATS = ("png", "svg")
#: Attribution method of the stored tables (docs/method.md §4).
ATTRIBUTION_METHOD = "integrated gradients"


def _grid(u: np.ndarray) -> np.ndarray:
    """Grid over the range of a 1-D macro variable (0.5-99.5th percentiles, widened by 10 %)."""
    lo, hi = np.nanpercentile(u, [0.5, 99.5])
    return np.linspace(lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo), 400)


def _scale_points(result: ConditionResult, scale: int) -> pd.DataFrame | None:
    if result.fixed_points is None:
        return None
    return result.fixed_points[result.fixed_points["scale"] == scale]


def _potential_figure(result: ConditionResult, macro: Any, title: str) -> Figure:
    """Potentials of a 1-D scale: learned map, empirical drift of the encoded frames, occupancy, basins."""
    from ..dynamics.analysis import _landscapes, state_points
    from ..dynamics.empirical import empirical_fixed_points
    from ..dynamics.plots import plot_potential
    from ..dynamics.potential import basin_boundaries

    scale = int(macro.attrs["scale"])
    u = np.asarray(macro.values)[:, 0]
    t = np.asarray(macro["time"].values, dtype=float)
    ok = np.isfinite(u)
    u, t = u[ok], t[ok]
    lag = int(empirical_fixed_points(u, timestamps=t, scale=scale).attrs["lag"])
    land = _landscapes(result.models[0].dynamics_map(scale), u, u, t, _grid(u), lag)
    fixed = _scale_points(result, scale)
    boundaries: Any = ()
    if fixed is not None and len(fixed):
        stable, unstable, _ = state_points(result.fixed_points, scale)
        boundaries = basin_boundaries(stable, unstable) if len(stable) else ()
    return plot_potential(
        land["grid"], land["potential"], land["occupancy"], empirical_potential=land["empirical_potential"],
        fixed_points=fixed, boundaries=boundaries, title=f"{title}, scale {scale} (q = 1)",
    )  # fmt: skip


def _flow_figure(result: ConditionResult, macro: Any, title: str) -> Figure:
    """Drift field of a 2-D scale over the range of its encoded frames, with the trajectory and fixed points."""
    from ..dynamics.plots import plot_drift_field
    from ..dynamics.potential import drift_field

    scale = int(macro.attrs["scale"])
    y = np.asarray(macro.values, dtype=float)
    y = y[np.isfinite(y).all(axis=1)]
    lo, hi = np.percentile(y, [0.5, 99.5], axis=0)
    lo, hi = lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo)
    y1, y2, drift = drift_field(result.models[0].dynamics_map(scale), lo, hi)
    return plot_drift_field(
        y1, y2, drift, fixed_points=_scale_points(result, scale), trajectory=y, title=f"{title}, scale {scale} (q = 2)"
    )


def _states_figure(result: ConditionResult, macro: Any, title: str) -> Figure:
    """The top scale's macro variable over time with its metastable-state transitions."""
    from ..dynamics.analysis import state_points
    from ..dynamics.plots import plot_state_timeline
    from ..dynamics.potential import TRANSITION_COLUMNS

    scale = int(macro.attrs["scale"])
    stable: Any = ()
    if result.fixed_points is not None and len(_scale_points(result, scale)):
        stable = state_points(result.fixed_points, scale)[0]
    transitions = result.transitions if result.transitions is not None else pd.DataFrame(columns=TRANSITION_COLUMNS)
    return plot_state_timeline(
        np.asarray(macro["time"].values, dtype=float), np.asarray(macro.values)[:, 0], transitions,
        stable_points=stable, title=f"{title}, top scale {scale}",
    )  # fmt: skip


def _attribution_figures(result: ConditionResult, layout: RoiLayout | None, title: str) -> dict[str, Figure]:
    """Heat map over ROI ids (or channel indices) and, when the ROI masks are known, the map on the ROI layout."""
    from ..dynamics.plots import plot_attribution, plot_attribution_map

    attribution = result.attribution
    out = {}
    if layout is None:
        labels, name = {}, "input channel (column of the series)"
    else:
        labels, name = layout.channel_labels(attribution), layout.id_name
    out["attribution"] = plot_attribution(
        attribution, title=title, channel_labels=labels, channel_name=name, method=ATTRIBUTION_METHOD
    )
    if layout is None or layout.labels is None or "roi" not in attribution:
        return out
    rows = pd.to_numeric(attribution["roi"], errors="coerce")
    known = attribution[rows.between(0, len(layout.ids) - 1)]  # a row the ROI table lacks has no place to be drawn
    if len(known):
        importance = known.pivot_table(index="roi", columns="scale", values="importance", aggfunc="sum")
        out["attribution_map"] = plot_attribution_map(
            layout.labels, importance, title=f"{title}: importance of each ROI on the field of view",
            method=ATTRIBUTION_METHOD,
        )  # fmt: skip
    return out


def condition_figures(result: ConditionResult, layout: RoiLayout | None = None) -> dict[str, Figure]:
    """The figures of one analysis, by short name.

    ``emergence`` (J and ΔJ per scale), ``attribution`` (heat map over ROI ids, or channel indices
    without an ROI table) and ``attribution_map`` (on the ROI masks, with ``layout``), and with the
    fitted models and macro variables: ``potential`` (top scale, if 1-D), ``states`` (its
    metastable-state timeline) and ``flow_scale<k>`` (each 2-D scale).
    """
    from ..dynamics.plots import plot_emergence

    title = f"condition: {result.condition}"
    figures = {"emergence": plot_emergence(result.emergence, title=title)}
    if result.attribution is not None and len(result.attribution):
        figures.update(_attribution_figures(result, layout, title))
    if not result.models or not result.macro_variables:
        return figures
    top = result.macro_variables[-1]
    if top.shape[1] == 1:
        figures["potential"] = _potential_figure(result, top, title)
        figures["states"] = _states_figure(result, top, title)
    for macro in result.macro_variables[1:]:
        if macro.shape[1] == 2:
            figures[f"flow_scale{int(macro.attrs['scale'])}"] = _flow_figure(result, macro, title)
    return figures


def result_figures(
    results: dict[str, ConditionResult], layouts: dict[str, RoiLayout] | None = None
) -> dict[str, Figure]:
    """Every figure of the analyses ``results`` (by analysis name), by name.

    ``conditions`` (J and ΔJ against d, all conditions overlaid with their intervals),
    ``fit_quality`` (one-step error of each scale beside persistence), then
    ``<analysis>_<figure>`` of :func:`condition_figures`; ``layouts`` (by analysis name, from
    :func:`~ndx_causal_emergence.nwb.layout.layout_of_table`) put the attribution on the ROIs.
    """
    from ..dynamics.plots import plot_conditions, plot_fit_quality

    if not results:
        return {}
    by_condition = {r.condition: r.emergence for r in results.values()}
    figures = {"conditions": plot_conditions(by_condition, title="J and causal emergence per scale, all conditions")}
    if all("latent_nmse" in df for df in by_condition.values()):
        figures["fit_quality"] = plot_fit_quality(by_condition, title="fit quality per scale, all conditions")
    for name, result in results.items():
        for kind, fig in condition_figures(result, (layouts or {}).get(name)).items():
            figures[f"{name}_{kind}"] = fig
    return figures


def figures_of_file(path: str | Path) -> dict[str, Figure]:
    """Every figure of the analyses in the NWB file ``path`` (see :func:`result_figures`), by name."""
    results = read_all_results(path)
    return result_figures(stored_analyses(results), stored_layouts(results))


def save_figures(path: str | Path, folder: str | Path, formats: tuple[str, ...] = ("png",)) -> list[Path]:
    """Write the figures of every analysis in the NWB file ``path`` into ``folder``; returns the files written."""
    unknown = sorted(set(formats) - set(FIGURE_FORMATS))
    if unknown:
        raise InputError(f"figure formats must be among {list(FIGURE_FORMATS)}, got {unknown}.")
    from ..safety.paths import confined_path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in figures_of_file(path).items():
        for fmt in formats:
            out = confined_path(folder, f"{name}.{fmt}")  # analysis names come from the file
            fig.savefig(out, dpi=120)
            written.append(out)
    return written
