"""analyze_dynamics on a stand-in model whose encoders and maps are known (no training)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ndx_causal_emergence.data.synthetic import double_well_latent
from ndx_causal_emergence.dynamics import analyze_dynamics, metastable_states, state_points
from ndx_causal_emergence.errors import InputError, NotFittedError

DT = 0.05


class _Select(torch.nn.Module):
    """The first ``d`` input channels."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.d = d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, : self.d]


class _Map(torch.nn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        if self.kind == "well":
            return y + DT * (y - y**3)
        if self.kind == "saddle":
            return y + 0.1 * y * torch.tensor([1.0, -1.0], dtype=y.dtype)
        return 0.5 * y


class _KnownModel:
    """Scales 4 -> 2 -> 1: y^(k) is the first d_k channels; F is a contraction, a saddle, a double well."""

    ladder_ = [4, 2, 1]
    sigma2_ = [np.full(4, 0.01), np.full(2, 0.01), np.full(1, 0.01)]
    kinds = ["contraction", "saddle", "well"]

    def encode(self, X: np.ndarray) -> list[np.ndarray]:
        return [np.asarray(X, dtype=float)[:, :d] for d in self.ladder_]

    def dynamics_map(self, k: int) -> torch.nn.Module:
        return _Map(self.kinds[k])

    def encoder_map(self, k: int) -> torch.nn.Module:
        return _Select(self.ladder_[k])


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    latent = double_well_latent(24000, noise=0.6, seed=3)[:, 0]
    x = np.column_stack([latent, 0.3 * rng.standard_normal((len(latent), 3))])
    return x[:16000], x[16000:]


@pytest.fixture(scope="module")
def result(data: tuple[np.ndarray, np.ndarray]):  # noqa: ANN201
    torch.set_num_threads(1)
    train, test = data
    return analyze_dynamics(_KnownModel(), train, test, 0.1 * np.arange(len(test)), min_dwell=2.0)


def test_fixed_points_of_every_scale(result) -> None:  # noqa: ANN001
    fp = result.fixed_points
    model = fp[fp["source"] == "model"]
    top = model[model["scale"] == 2]
    np.testing.assert_allclose(np.concatenate(top["location"].tolist()), [-1.0, 0.0, 1.0], atol=1e-8)
    assert top["stability"].tolist() == ["stable", "unstable", "stable"] and top["in_support"].all()
    assert model[model["scale"] == 1]["stability"].tolist() == ["saddle"]
    assert model[model["scale"] == 0]["stability"].tolist() == ["stable"]
    emp = fp[fp["source"] == "empirical"]
    assert set(emp["scale"]) == {2} and emp["stability"].tolist() == ["stable", "unstable", "stable"]
    # the empirical drift of the simulated latent agrees with its true map at the top scale only
    assert fp.loc[fp["scale"] == 2, "agrees"].all()
    assert fp.loc[fp["scale"] < 2, "agrees"].isna().all()


def test_potential_field_and_states(result, data) -> None:  # noqa: ANN001
    pot = result.potentials[2]
    grid, u = pot["grid"], pot["potential"]
    keys = {"grid", "drift", "potential", "empirical_drift", "empirical_potential", "occupancy", "boundaries"}
    assert set(pot) == keys and set(result.potentials) == {2}
    # the empirical potential of the simulated latent has its wells where the map has them
    emp = pot["empirical_potential"]
    left, right = grid < 0, grid > 0
    np.testing.assert_allclose(
        [grid[left][np.nanargmin(emp[left])], grid[right][np.nanargmin(emp[right])]], [-1.0, 1.0], atol=0.15
    )
    np.testing.assert_allclose(pot["empirical_drift"][np.abs(grid - 0.5) < 0.01], DT * (0.5 - 0.125), atol=0.01)
    np.testing.assert_allclose(grid[np.argmin(np.where(grid < 0, u, np.inf))], -1.0, atol=0.02)
    np.testing.assert_allclose(pot["boundaries"], [0.0], atol=1e-8)
    field = result.drift_fields[1]
    assert field["drift"].shape == (*field["y1"].shape, 2) and set(result.drift_fields) == {1}
    stable, unstable, source = state_points(result.fixed_points, 2)
    assert source == "model" and len(stable) == 2 and len(unstable) == 1
    test = data[1]
    states, truth = metastable_states(test[:, 0], 0.1 * np.arange(len(test)), [-1, 1], min_dwell=2.0)
    np.testing.assert_array_equal(result.states, states)
    assert len(result.transitions) == len(truth) > 5 and result.transitions.attrs["source"] == "model"


def test_potential_figure(result) -> None:  # noqa: ANN001
    fig = result.potential_figure(2, title="top")
    assert len(fig.axes) == 2 and fig.get_suptitle() == "top"
    with pytest.raises(InputError, match=r"scale 1 has no potential; 1-D scales with one: \[2\]"):
        result.potential_figure(1)


def test_diagnostics_and_attribution(result) -> None:  # noqa: ANN001
    diag = result.diagnostics.set_index("scale")
    assert diag.loc[2, "n_stable_model"] == 2 and diag.loc[2, "n_stable_empirical"] == 2
    assert diag.loc[1, "n_fixed_points_model"] == 1 and np.isnan(diag.loc[1, "n_stable_empirical"])
    att = result.attribution
    assert len(att) == 3 * 4
    top = att[att["scale"] == 2]
    np.testing.assert_allclose(top["importance"], [1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(att[att["scale"] == 1]["importance"].iloc[2:], 0.0)


def test_errors(data) -> None:  # noqa: ANN001
    train, test = data
    with pytest.raises(NotFittedError, match="fitted"):
        analyze_dynamics(object(), train, test)
    with pytest.raises(InputError, match="timestamps_test"):
        analyze_dynamics(_KnownModel(), train, test, np.arange(3))


def test_empirical_drift_of_every_frame_finds_wells_a_short_test_block_misses(data) -> None:  # noqa: ANN001
    """``X_drift`` (the pipeline passes every frame used) gives the drift the power a short held-out block lacks."""
    train, test = data
    short = test[:400]

    def empirical_stable(**drift: object) -> np.ndarray:
        fp = analyze_dynamics(_KnownModel(), train, short, scales=[2], attribution=False, **drift).fixed_points
        emp = fp[(fp["source"] == "empirical") & (fp["stability"] == "stable")]
        return np.sort(np.concatenate(emp["location"].tolist())) if len(emp) else np.zeros(0)

    assert len(empirical_stable()) < 2
    np.testing.assert_allclose(empirical_stable(X_drift=np.concatenate([train, test])), [-1.0, 1.0], atol=0.25)
    with pytest.raises(InputError, match="X_drift must have shape"):
        analyze_dynamics(_KnownModel(), train, short, X_drift=train[:, :2])
    with pytest.raises(InputError, match="timestamps_drift"):
        analyze_dynamics(_KnownModel(), train, short, X_drift=train, timestamps_drift=np.arange(3))
