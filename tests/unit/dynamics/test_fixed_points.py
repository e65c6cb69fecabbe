"""Fixed points of maps with known structure, found from random starts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ndx_causal_emergence.dynamics.fixed_points import (
    FIXED_POINT_COLUMNS,
    classify_stability,
    compare_fixed_points,
    find_fixed_points,
    fixed_point_table,
    support_mask,
)
from ndx_causal_emergence.errors import InputError

DT = 0.1


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _random_starts(q: int, n: int = 300, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-2.0, 2.0, (n, q))


def test_double_well_1d() -> None:
    fp = find_fixed_points(lambda y: y + DT * (y - y**3), _random_starts(1), max_grid_dim=0, scale=3)
    assert list(fp.columns) == FIXED_POINT_COLUMNS
    np.testing.assert_allclose(np.concatenate(fp["location"]), [-1.0, 0.0, 1.0], atol=1e-6)
    assert list(fp["stability"]) == ["stable", "unstable", "stable"]
    # F'(y) = 1 + dt (1 - 3 y^2): 1 - 2 dt at +-1, 1 + dt at 0
    np.testing.assert_allclose(np.concatenate(fp["eigenvalues_real"]), [1 - 2 * DT, 1 + DT, 1 - 2 * DT], atol=1e-4)
    np.testing.assert_allclose(np.concatenate(fp["eigenvalues_imag"]), 0.0, atol=1e-12)
    assert (fp["scale"] == 3).all() and (fp["source"] == "model").all()


def test_saddle_2d() -> None:
    fp = find_fixed_points(lambda y: y + DT * torch.stack([y[:, 0], -y[:, 1]], dim=1), _random_starts(2))
    assert len(fp) == 1
    row = fp.iloc[0]
    np.testing.assert_allclose(row["location"], [0.0, 0.0], atol=1e-8)
    np.testing.assert_allclose(row["eigenvalues_real"], [1 - DT, 1 + DT], atol=1e-4)
    assert row["stability"] == "saddle"


def test_contraction_with_rotation_has_one_stable_point() -> None:
    a = torch.tensor([[0.5, 0.2], [-0.1, 0.7]], dtype=torch.float64)
    b = torch.tensor([0.3, -0.2], dtype=torch.float64)
    fp = find_fixed_points(lambda y: y @ a.T + b, _random_starts(2))
    assert len(fp) == 1 and fp.iloc[0]["stability"] == "stable"
    expected = np.linalg.solve(np.eye(2) - a.numpy(), b.numpy())
    np.testing.assert_allclose(fp.iloc[0]["location"], expected, atol=1e-8)
    eig = np.linalg.eigvals(a.numpy())
    np.testing.assert_allclose(sorted(fp.iloc[0]["eigenvalues_imag"]), sorted(eig.imag), atol=1e-4)
    np.testing.assert_allclose(fp.iloc[0]["eigenvalues_real"], eig.real, atol=1e-4)


def test_expansion_is_unstable() -> None:
    fp = find_fixed_points(lambda y: 1.5 * y - 0.3, _random_starts(1))
    assert len(fp) == 1 and fp.iloc[0]["stability"] == "unstable"
    np.testing.assert_allclose(fp.iloc[0]["location"], [0.6], atol=1e-8)


def test_high_dimension_uses_data_starts_only() -> None:
    q = 24
    center = np.linspace(-0.5, 0.5, q)
    fp = find_fixed_points(lambda y: 0.5 * y + 0.5 * torch.as_tensor(center), _random_starts(q, n=50))
    assert len(fp) == 1 and fp.iloc[0]["stability"] == "stable"
    np.testing.assert_allclose(fp.iloc[0]["location"], center, atol=1e-8)
    np.testing.assert_allclose(fp.iloc[0]["eigenvalues_real"], 0.5, atol=1e-4)


class _WellModule(torch.nn.Module):
    """A float32 module with its own (analytic) Jacobian, as the package's dynamics modules have."""

    def __init__(self) -> None:
        super().__init__()
        self.dt = torch.nn.Parameter(torch.tensor([DT]))
        self.calls = 0

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return y + self.dt * (y - y**3)

    def batched_jacobian(self, y: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return (1.0 + self.dt * (1.0 - 3.0 * y**2)).unsqueeze(-1)


def test_module_is_cast_to_float64_and_its_jacobian_used() -> None:
    module = _WellModule()
    fp = find_fixed_points(module, _random_starts(1))
    np.testing.assert_allclose(np.concatenate(fp["location"]), [-1.0, 0.0, 1.0], atol=1e-8)
    assert module.dt.dtype == torch.float32  # the caller's module is left as it was


def test_map_without_roots_gives_an_empty_table() -> None:
    fp = find_fixed_points(lambda y: y + 0.1, _random_starts(1))
    assert len(fp) == 0 and list(fp.columns) == FIXED_POINT_COLUMNS


def test_bad_data_is_rejected() -> None:
    with pytest.raises(InputError, match="finite"):
        find_fixed_points(lambda y: y, np.array([[np.nan]]))


def test_classify_stability() -> None:
    assert classify_stability(np.array([0.5 + 0.5j, 0.5 - 0.5j])) == "stable"
    assert classify_stability(np.array([1.2, -1.5])) == "unstable"
    assert classify_stability(np.array([0.2, 1.0])) == "saddle"


def test_support_range_and_kde() -> None:
    rng = np.random.default_rng(0)
    ref = np.concatenate([rng.normal(-1, 0.1, 1000), rng.normal(1, 0.1, 1000)])[:, None]
    pts = np.array([[-1.0], [0.0], [1.0], [3.0]])
    np.testing.assert_array_equal(support_mask(pts, ref, method="range"), [True, True, True, False])
    # the density between the two clusters is far below the density of almost every data point
    np.testing.assert_array_equal(support_mask(pts, ref, method="kde"), [True, False, True, False])
    with pytest.raises(InputError, match="method"):
        support_mask(pts, ref, method="box")


def _row(scale: int, loc: float, stability: str, source: str) -> dict:
    return {
        "scale": scale,
        "location": [loc],
        "eigenvalues_real": [0.0],
        "eigenvalues_imag": [0.0],
        "stability": stability,
        "in_support": True,
        "source": source,
    }


def test_compare_fixed_points_marks_agreement() -> None:
    model = fixed_point_table(
        [_row(1, -0.9, "stable", "model"), _row(1, 0.0, "stable", "model"), _row(0, 0.0, "stable", "model")]
    )
    empirical = fixed_point_table([_row(1, -1.0, "stable", "empirical"), _row(1, 0.05, "unstable", "empirical")])
    both = compare_fixed_points(model, empirical, empirical_scales=[1])
    assert list(both.columns) == [*FIXED_POINT_COLUMNS, "agrees"]
    assert both["agrees"].tolist() == [True, False, pd.NA, True, False]


def test_random_state_is_the_old_name_of_seed() -> None:
    """``seed`` is the package's one word for a random seed; the dynamics' old ``random_state`` still works, warned."""
    fn = lambda y: y + DT * (y - y**3)  # noqa: E731
    starts = _random_starts(1, seed=1)
    expected = find_fixed_points(fn, starts, max_grid_dim=0, seed=7)
    with pytest.warns(FutureWarning, match="'random_state' is now 'seed'"):
        old = find_fixed_points(fn, starts, max_grid_dim=0, random_state=7)
    pd.testing.assert_frame_equal(old, expected)
    with pytest.raises(TypeError, match="both 'random_state' and its new name 'seed'"):
        find_fixed_points(fn, starts, seed=1, random_state=1)
