"""Integrated gradients: completeness, and recovery of the channels that carry a latent."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ndx_causal_emergence.dynamics.attribution import ATTRIBUTION_COLUMNS, attribution_table, integrated_gradients
from ndx_causal_emergence.errors import InputError


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    import pandas as pd

    return float(pd.Series(a).corr(pd.Series(b), method="spearman"))


def test_completeness() -> None:
    rng = np.random.default_rng(0)
    w = torch.as_tensor(rng.normal(size=(6, 3)))
    fn = lambda x: torch.tanh(x @ w) ** 2 + x[:, :3]  # noqa: E731
    x = rng.normal(size=(1, 6))
    base = rng.normal(size=6)
    ig = integrated_gradients(fn, x, baseline=base, signed=True, n_steps=256)
    expected = (fn(torch.as_tensor(x)) - fn(torch.as_tensor(base[None]))).numpy()[0]
    np.testing.assert_allclose(ig.sum(axis=0), expected, atol=1e-4)
    # a batch size that splits the samples gives the same mean
    xs = rng.normal(size=(10, 6))
    np.testing.assert_allclose(
        integrated_gradients(fn, xs, batch_size=40), integrated_gradients(fn, xs, batch_size=10_000), rtol=1e-12
    )


def test_wide_maps_are_attributed_in_batches_of_bounded_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """A map whose Jacobians are large takes fewer path points per evaluation, with the same result."""
    from ndx_causal_emergence.measures import ei

    rng = np.random.default_rng(1)
    w = torch.as_tensor(rng.normal(size=(6, 4)))
    fn = lambda x: torch.tanh(x @ w)  # noqa: E731
    xs = rng.normal(size=(10, 6))
    whole = integrated_gradients(fn, xs, n_steps=8)
    rows_seen: list[int] = []
    real = ei.batched_jacobian

    def counting(f, y):  # noqa: ANN001, ANN202
        rows_seen.append(len(y))
        return real(f, y)

    monkeypatch.setattr(ei, "batched_jacobian", counting)
    monkeypatch.setattr(ei, "MAX_JACOBIAN_ENTRIES", 3 * 8 * 6 * 4)  # three samples' paths
    np.testing.assert_allclose(integrated_gradients(fn, xs, n_steps=8), whole, rtol=1e-12)
    assert rows_seen == [24, 24, 24, 8]


def test_linear_map_attribution_is_exact() -> None:
    rng = np.random.default_rng(1)
    w = rng.normal(size=(4, 2))
    x = rng.normal(size=(50, 4))
    ig = integrated_gradients(lambda v: v @ torch.as_tensor(w), x, baseline="mean", n_steps=1)
    np.testing.assert_allclose(ig, np.abs(w[:, None, :] * (x - x.mean(0)).T[:, :, None]).mean(axis=1))


def test_attribution_recovers_the_channels_that_carry_the_latent() -> None:
    rng = np.random.default_rng(2)
    n_channels, n_frames = 30, 4000
    loading = np.zeros(n_channels)
    carriers = rng.choice(n_channels, 10, replace=False)
    loading[carriers] = rng.uniform(0.3, 1.5, 10) * rng.choice([-1, 1], 10)
    latent = np.sin(np.linspace(0, 60, n_frames)) + 0.3 * rng.normal(size=n_frames)
    x = np.tanh(latent[:, None] * loading[None, :]) + 0.3 * rng.normal(size=(n_frames, n_channels))
    # a known differentiable encoder: tanh of the leading principal component of the centred data
    mean = x.mean(axis=0)
    pc = np.linalg.svd(x - mean, full_matrices=False)[2][0]
    encoder = lambda v: torch.tanh((v - torch.as_tensor(mean)) @ torch.as_tensor(pc[:, None]))  # noqa: E731
    attr = integrated_gradients(encoder, x, baseline=mean)
    table = attribution_table([attr])
    assert _spearman(table["importance"].to_numpy(), np.abs(loading)) >= 0.8
    assert set(np.argsort(-attr[:, 0])[:10]) == set(carriers)


def test_attribution_table() -> None:
    a0, a1 = np.array([[1.0, 3.0], [0.0, 4.0]]), np.array([[2.0], [2.0]])
    table = attribution_table([a0, a1], scales=[3, 5])
    assert list(table.columns) == ATTRIBUTION_COLUMNS
    assert table["scale"].tolist() == [3, 3, 5, 5] and table["channel"].tolist() == [0, 1, 0, 1]
    np.testing.assert_allclose(table["importance"], [0.5, 0.5, 0.5, 0.5])
    assert table["attribution"].tolist() == [[1.0, 3.0], [0.0, 4.0], [2.0], [2.0]]
    with pytest.raises(InputError, match="scales"):
        attribution_table([a0], scales=[0, 1])


def test_errors() -> None:
    fn = lambda v: v  # noqa: E731
    with pytest.raises(InputError, match="one per channel"):
        integrated_gradients(fn, np.zeros((3, 2)), baseline=np.zeros(3))
    with pytest.raises(InputError, match="baseline"):
        integrated_gradients(fn, np.zeros((3, 2)), baseline="median")
    with pytest.raises(InputError, match="n_steps"):
        integrated_gradients(fn, np.zeros((3, 2)), n_steps=0)


def test_float32_agrees_with_float64() -> None:
    torch.manual_seed(0)
    encoder = torch.nn.Sequential(torch.nn.Linear(12, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3))
    x = np.random.default_rng(0).normal(size=(64, 12))
    wide, single = (integrated_gradients(encoder, x, baseline="mean", n_steps=16, precision=p)
                    for p in ("float64", "float32"))  # fmt: skip
    np.testing.assert_allclose(single, wide, rtol=1e-4, atol=1e-6 * np.abs(wide).max())
    assert not np.array_equal(single, wide)  # the float32 path really ran in float32
    with pytest.raises(InputError, match="precision"):
        integrated_gradients(encoder, x, precision="float16")


def test_chained_gradients_are_those_of_each_composition() -> None:
    """The chain rule over the maps gives every composition's integrated gradients, signed or not."""
    from ndx_causal_emergence.dynamics.attribution import chained_integrated_gradients

    rng = np.random.default_rng(3)
    w1, w2, w3 = (torch.as_tensor(rng.normal(size=shape)) for shape in ((6, 5), (5, 3), (3, 2)))
    maps = [lambda v: torch.tanh(v @ w1), lambda v: torch.sin(v @ w2) + v[:, :3], lambda v: (v @ w3) ** 2]
    compositions = [maps[0], lambda v: maps[1](maps[0](v)), lambda v: maps[2](maps[1](maps[0](v)))]
    x = rng.normal(size=(40, 6))
    for signed in (False, True):
        kw = {"baseline": "mean", "n_steps": 8, "n_samples": 25, "signed": signed, "seed": 2, "batch_size": 24}
        chained = chained_integrated_gradients(maps, x, **kw)
        assert [c.shape for c in chained] == [(6, 5), (6, 3), (6, 2)]
        for got, fn in zip(chained, compositions, strict=True):
            np.testing.assert_allclose(got, integrated_gradients(fn, x, **kw), rtol=1e-10, atol=1e-14)
    with pytest.raises(InputError, match="at least one map"):
        chained_integrated_gradients([], x)


def test_as_dtype_copies_only_what_it_must_cast() -> None:
    from ndx_causal_emergence.dynamics._autodiff import as_dtype

    net = torch.nn.Linear(3, 2).eval()
    assert as_dtype(net, torch.float32) is net  # already float32, in eval mode: nothing to cast
    wide = as_dtype(net, torch.float64)
    assert wide is not net and wide.weight.dtype == torch.float64 and net.weight.dtype == torch.float32
    training = torch.nn.Linear(3, 2)
    copy = as_dtype(training, torch.float32)
    assert copy is not training and not copy.training and training.training  # the caller's module keeps its mode
