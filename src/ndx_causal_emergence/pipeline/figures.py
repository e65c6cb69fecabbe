"""Figures of written results: emergence bars, attribution heat map, top-scale potential."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .results import ConditionResult, read_results


def condition_figures(result: ConditionResult) -> dict[str, Any]:
    """The figures of one analysis, by short name (``emergence``, ``attribution``, ``potential``)."""
    from ..dynamics.plots import plot_attribution, plot_emergence, plot_potential
    from ..dynamics.potential import drift_potential, occupancy_potential

    title = f"condition: {result.condition}"
    figures = {"emergence": plot_emergence(result.emergence, title=title)}
    if result.attribution is not None and len(result.attribution):
        figures["attribution"] = plot_attribution(result.attribution, title=title)
    top = result.macro_variables[-1] if result.macro_variables else None
    if result.models and top is not None and top.shape[1] == 1:
        scale = int(top.attrs["scale"])
        u = np.asarray(top.values)[:, 0]
        lo, hi = np.nanpercentile(u, [0.5, 99.5])
        grid = np.linspace(lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo), 400)
        _, potential = drift_potential(result.models[0].dynamics_map(scale), grid)
        fixed = None
        if result.fixed_points is not None:
            fixed = result.fixed_points[result.fixed_points["scale"] == scale]
        figures["potential"] = plot_potential(
            grid,
            potential,
            occupancy_potential(u[np.isfinite(u)], grid),
            fixed_points=fixed,
            title=f"{title}, top scale {scale} (q = 1)",
        )
    return figures


def save_figures(path: str | Path, folder: str | Path) -> list[Path]:
    """Write the PNG figures of every analysis in the NWB file ``path`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, result in read_results(path).items():
        for kind, fig in condition_figures(result).items():
            out = folder / f"{name}_{kind}.png"
            fig.savefig(out, dpi=120)
            written.append(out)
    return written
