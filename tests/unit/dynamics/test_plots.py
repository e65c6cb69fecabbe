"""Figures render without a display and hold what they should."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from ndx_causal_emergence.dynamics.attribution import attribution_table
from ndx_causal_emergence.dynamics.fixed_points import find_fixed_points
from ndx_causal_emergence.dynamics.plots import plot_attribution, plot_drift_field, plot_emergence, plot_potential
from ndx_causal_emergence.dynamics.potential import drift_field, drift_potential
from ndx_causal_emergence.errors import InputError


def _well(y: torch.Tensor) -> torch.Tensor:
    return y + 0.1 * (y - y**3)


def test_potential_figure(tmp_path: Path) -> None:
    grid = np.linspace(-1.6, 1.6, 101)
    _, pot = drift_potential(_well, grid)
    fp = find_fixed_points(_well, grid[:, None], support="range")
    emp = np.where(np.abs(grid) < 1.2, pot, np.nan)
    fig = plot_potential(
        grid, pot, occupancy=pot * 3, empirical_potential=emp, fixed_points=fp, boundaries=[0.0], title="double well"
    )
    assert len(fig.axes) == 2
    curves = [line.get_label() for line in fig.axes[0].lines if len(line.get_xdata()) == len(grid)]
    assert curves == ["learned map F", "empirical drift"]
    # three fixed points marked on each panel (one Line2D each) besides the curve and the boundary
    assert sum(len(line.get_xdata()) == 1 and line.get_marker() == "o" for line in fig.axes[0].lines) == 3
    fig.savefig(tmp_path / "potential.png")
    assert (tmp_path / "potential.png").stat().st_size > 5000
    assert len(plot_potential(grid, pot).axes) == 1


def test_drift_field_figure(tmp_path: Path) -> None:
    y1, y2, drift = drift_field(lambda y: y + 0.1 * y * torch.tensor([1.0, -1.0], dtype=y.dtype), [-1, -1], [1, 1])
    fp = find_fixed_points(lambda y: y + 0.1 * y * torch.tensor([1.0, -1.0], dtype=y.dtype), np.zeros((5, 2)))
    fig = plot_drift_field(y1, y2, drift, fixed_points=fp, trajectory=np.random.default_rng(0).normal(size=(50, 2)))
    quiver = fig.axes[0].collections[0]
    np.testing.assert_allclose(quiver.U.ravel(), drift[..., 0].ravel())
    assert [line.get_marker() for line in fig.axes[0].lines][-1] == "X"  # the saddle
    fig.savefig(tmp_path / "field.png")
    assert (tmp_path / "field.png").stat().st_size > 5000


def test_emergence_figure(tmp_path: Path) -> None:
    table = pd.DataFrame({"scale": [0, 1, 2], "dimension": [8, 4, 1], "dimension_averaged_ei": [0.5, 0.9, 1.4],
                          "causal_emergence": [0.0, 0.4, 0.9]})  # fmt: skip
    fig = plot_emergence(table, title="J per scale")
    heights = [p.get_height() for p in fig.axes[1].patches]
    np.testing.assert_allclose(heights, [0.0, 0.4, 0.9])
    fig.savefig(tmp_path / "emergence.png")
    with pytest.raises(InputError, match="columns"):
        plot_emergence(table.drop(columns="causal_emergence"))


def test_attribution_figure(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    table = attribution_table([rng.uniform(size=(30, 4)), rng.uniform(size=(30, 1))], scales=[1, 2])
    fig = plot_attribution(table)
    image = fig.axes[0].images[0].get_array()
    assert image.shape == (30, 2)
    np.testing.assert_allclose(np.asarray(image).sum(axis=0), [1.0, 1.0])
    fig.savefig(tmp_path / "attribution.png")
    with pytest.raises(InputError, match="non-empty"):
        plot_attribution(table.iloc[:0])


def test_plot_conditions_overlays_every_condition_with_intervals_and_flags():
    from ndx_causal_emergence.dynamics.plots import plot_conditions

    def table(shift: float) -> pd.DataFrame:
        j = np.array([0.2, 0.5, 0.9]) + shift
        return pd.DataFrame({
            "scale": [0, 1, 2], "dimension": [8, 4, 1], "dimension_averaged_ei": j, "causal_emergence": j - j[0],
            "dimension_averaged_ei_ci_low": j - 0.1, "dimension_averaged_ei_ci_high": j + 0.1,
            "causal_emergence_ci_low": j - j[0] - 0.05, "causal_emergence_ci_high": j - j[0] + 0.05,
            "fit_ok": [True, False, True], "significant": [False, False, True],
        })  # fmt: skip

    fig = plot_conditions({"awake": table(0.3), "anesthesia": table(0.0)})
    ax_j, ax_d = fig.axes
    labels = [t.get_text() for t in ax_j.get_legend().get_texts()]
    assert labels[:2] == ["awake", "anesthesia"] and "fit failed" in labels and "significant ΔJ" in labels
    awake_line = ax_j.get_lines()[0]
    assert np.allclose(awake_line.get_ydata(), [1.2, 0.8, 0.5])  # sorted by dimension: d = 1, 4, 8
    assert ax_j.get_xscale() == "log" and "nats" in ax_j.get_ylabel() and "nats" in ax_d.get_ylabel()
