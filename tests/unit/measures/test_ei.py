"""Effective information of Gaussian dynamics: analytic references, both Jacobian paths, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ndx_causal_emergence.errors import InputError
from ndx_causal_emergence.measures import (
    EIResult,
    batched_jacobian,
    estimate_sigma2,
    gaussian_ei,
    linear_gaussian_ei,
    logabsdet_jacobian,
)
from ndx_causal_emergence.models.dynamics import ResidualMLP


def _linear_module(a: np.ndarray) -> torch.nn.Linear:
    lin = torch.nn.Linear(a.shape[0], a.shape[0]).double()
    with torch.no_grad():
        lin.weight.copy_(torch.as_tensor(a))
        lin.bias.uniform_(-1.0, 1.0)
    return lin


def test_method_example_analytic_and_monte_carlo() -> None:
    """docs/method.md §3.5: q = 2, A = 0.9 I, σ² = 0.01 → EI 2.942866 nats, J 1.471433."""
    ref = linear_gaussian_ei(0.9 * np.eye(2), 0.01)
    assert ref.ei == pytest.approx(2.942866, abs=5e-7)
    assert ref.dei == pytest.approx(1.471433, abs=5e-7)
    for fn in (_linear_module(0.9 * np.eye(2)), lambda y: y @ (0.9 * torch.eye(2, dtype=torch.float64)).T):
        mc = gaussian_ei(fn, [0.01, 0.01])
        assert mc.ei == pytest.approx(ref.ei, rel=1e-6)
        assert mc.dei == pytest.approx(ref.dei, rel=1e-6)
        assert mc.noise_term == pytest.approx(ref.noise_term, rel=1e-12)
        assert mc.jacobian_term == pytest.approx(ref.jacobian_term, rel=1e-6)


@pytest.mark.parametrize("q", [1, 2, 5, 17, 64])
@pytest.mark.parametrize("L", [0.5, 1.0, 2.0])
def test_monte_carlo_equals_analytic_for_random_linear_maps(q: int, L: float) -> None:
    rng = np.random.default_rng(q)
    a = rng.normal(size=(q, q)) / math.sqrt(q) + np.eye(q)
    sigma2 = rng.uniform(0.005, 0.2, size=q)
    ref = linear_gaussian_ei(a, sigma2, L=L)
    n_monte_carlo = 1100 if q == 64 else 200  # q = 64: Jacobians are built in two chunks of at most 2**22 entries
    res = gaussian_ei(_linear_module(a), sigma2, L=L, n_monte_carlo=n_monte_carlo, seed=q)
    assert (res.q, res.L) == (q, L)
    assert res.ei == pytest.approx(ref.ei, rel=1e-6, abs=1e-9)
    assert res.jacobian_term == pytest.approx(ref.jacobian_term, rel=1e-6, abs=1e-9)


def test_terms_add_up_and_bits_are_nats_over_ln2() -> None:
    net = ResidualMLP(3, hidden_width=16).double()
    res = gaussian_ei(net, [0.02, 0.05, 0.1], n_monte_carlo=300)
    assert res.ei == pytest.approx(res.noise_term + res.jacobian_term, rel=1e-12)
    assert res.dei == pytest.approx(res.ei / 3, rel=1e-12)
    bits = res.to_bits()
    assert bits.unit == "bits" and res.unit == "nats"
    for name in ("ei", "dei", "noise_term", "jacobian_term"):
        assert getattr(bits, name) == pytest.approx(getattr(res, name) / math.log(2.0), rel=1e-12)
    assert (bits.q, bits.L) == (res.q, res.L)
    assert bits.to_bits() is bits


def test_delta_j_is_nearly_independent_of_L_for_linear_maps() -> None:
    """The L-dependent term is q ln 2L, so J changes by exactly ln(L'/L) for every scale (docs/method.md §3.2)."""
    a = np.diag([0.9, 0.5])
    j = {L: linear_gaussian_ei(a, [0.01, 0.03], L=L).dei for L in (0.5, 1.0, 2.0)}
    assert j[2.0] - j[1.0] == pytest.approx(math.log(2.0), rel=1e-12)
    assert j[1.0] - j[0.5] == pytest.approx(math.log(2.0), rel=1e-12)


@pytest.mark.parametrize("squash", [False, True])
def test_closed_form_and_autograd_paths_agree(squash: bool) -> None:
    torch.manual_seed(0)
    net = ResidualMLP(5, hidden_width=12, n_hidden=3, squash=squash).double()
    sigma2 = np.full(5, 0.03)
    fast = gaussian_ei(net, sigma2, n_monte_carlo=400, seed=3)
    generic = gaussian_ei(lambda y: net(y), sigma2, n_monte_carlo=400, seed=3)  # no batched_jacobian: torch.func path
    assert fast.ei == pytest.approx(generic.ei, rel=1e-10)
    y = torch.rand(50, 5, dtype=torch.float64) * 2 - 1
    torch.testing.assert_close(batched_jacobian(net, y), batched_jacobian(lambda v: net(v), y))


def test_logabsdet_matches_per_sample_autograd() -> None:
    torch.manual_seed(1)
    f = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 4)).double()
    y = torch.rand(20, 4, dtype=torch.float64)
    expected = torch.stack([torch.linalg.slogdet(torch.autograd.functional.jacobian(f, v)).logabsdet for v in y])
    got = logabsdet_jacobian(f, y)
    assert got.dtype == torch.float64 and got.shape == (20,)
    torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("max_entries", [2**22, 7])  # 7 entries: one point per chunk after the first
def test_non_square_jacobians_match_autograd(max_entries: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """An encoder-like map (B, 4) -> (B, 2) gives (B, 2, 4) Jacobians, also when built in several chunks."""
    import ndx_causal_emergence.measures.ei as ei

    monkeypatch.setattr(ei, "MAX_JACOBIAN_ENTRIES", max_entries)
    torch.manual_seed(2)
    f = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)).double()
    y = torch.rand(9, 4, dtype=torch.float64)
    expected = torch.stack([torch.autograd.functional.jacobian(f, v) for v in y])
    torch.testing.assert_close(batched_jacobian(f, y), expected)
    with pytest.raises(InputError, match="square"):
        logabsdet_jacobian(f, y)


def test_jacobians_of_wide_maps_match_autograd_and_constant_maps_give_zeros() -> None:
    """A 40 -> 40 coupling-like map (one point per chunk) and a map that ignores part of its input."""
    torch.manual_seed(3)
    f = torch.nn.Sequential(torch.nn.Linear(40, 16), torch.nn.LeakyReLU(), torch.nn.Linear(16, 40)).double()
    y = torch.randn(3, 40, dtype=torch.float64)
    expected = torch.stack([torch.autograd.functional.jacobian(f, v) for v in y])
    torch.testing.assert_close(batched_jacobian(f, y), expected)
    first = batched_jacobian(lambda u: 2.0 * u[:, :1], y)  # (B, 40) -> (B, 1): only the first coordinate counts
    assert first.shape == (3, 1, 40) and torch.equal(first[:, 0, 0], torch.full((3,), 2.0, dtype=torch.float64))
    assert not first[:, :, 1:].any()
    assert not batched_jacobian(lambda u: torch.ones(len(u), 2, dtype=u.dtype), y).any()


def test_float32_module_gives_float64_logdet_and_uses_its_dtype() -> None:
    net = ResidualMLP(2, hidden_width=8)  # float32
    ld = logabsdet_jacobian(net, np.zeros((3, 2)))
    assert ld.dtype == torch.float64
    assert batched_jacobian(net, np.zeros((3, 2))).dtype == torch.float32


def test_data_samples_and_weights() -> None:
    """Samples replace the box; weights give a weighted mean of ln|det J| (here det J = 1 + y for a 1-D map)."""

    def fn(y: torch.Tensor) -> torch.Tensor:
        return y + 0.5 * y**2

    samples = np.array([[0.0], [1.0]])
    unweighted = gaussian_ei(fn, [0.1], samples=samples)
    weighted = gaussian_ei(fn, [0.1], samples=samples, weights=[3.0, 1.0])
    const = math.log(2.0)  # q ln 2L
    assert unweighted.jacobian_term == pytest.approx(const + 0.5 * math.log(2.0), rel=1e-12)
    assert weighted.jacobian_term == pytest.approx(const + 0.25 * math.log(2.0), rel=1e-12)


def test_clip_only_when_asked() -> None:
    res = gaussian_ei(lambda y: 0.1 * y, [1.0, 1.0])
    assert res.ei < 0
    clipped = gaussian_ei(lambda y: 0.1 * y, [1.0, 1.0], clip=True)
    assert clipped.ei == 0.0 and clipped.dei == 0.0
    assert clipped.noise_term == res.noise_term


def test_without_the_box_entropy_the_jacobian_term_drops_q_ln_2L() -> None:
    """The official mice code's EI: no q ln 2L, and (with clip) never below 0."""
    net = ResidualMLP(3, hidden_width=8).double()
    full = gaussian_ei(net, [0.01] * 3, L=2.0, n_monte_carlo=200)
    bare = gaussian_ei(net, [0.01] * 3, L=2.0, n_monte_carlo=200, box_entropy=False)
    assert bare.jacobian_term == pytest.approx(full.jacobian_term - 3 * math.log(4.0), rel=1e-12)
    assert bare.noise_term == full.noise_term and bare.ei == pytest.approx(full.ei - 3 * math.log(4.0), rel=1e-12)
    noisy = gaussian_ei(net, [4.0] * 3, L=2.0, n_monte_carlo=200, box_entropy=False, clip=True)
    assert noisy.ei == 0.0 and gaussian_ei(net, [4.0] * 3, L=2.0, n_monte_carlo=200, box_entropy=False).ei < 0


def test_seeded_and_deterministic() -> None:
    net = ResidualMLP(3, hidden_width=8).double()
    a = gaussian_ei(net, [0.1] * 3, n_monte_carlo=100, seed=7)
    b = gaussian_ei(net, [0.1] * 3, n_monte_carlo=100, seed=7)
    c = gaussian_ei(net, [0.1] * 3, n_monte_carlo=100, seed=8)
    assert a == b and a.ei != c.ei
    assert isinstance(a, EIResult)
    with pytest.warns(FutureWarning, match="'n_samples' is now 'n_monte_carlo'"):
        assert gaussian_ei(net, [0.1] * 3, n_samples=100, seed=7) == a  # the old name of the Monte Carlo draws


def test_estimate_sigma2_conventions_and_weights() -> None:
    rng = np.random.default_rng(0)
    target = rng.normal(size=(500, 3))
    resid = rng.normal(size=(500, 3)) * np.array([0.1, 0.5, 2.0])
    pred = target + resid
    np.testing.assert_allclose(estimate_sigma2(pred, target), (resid**2).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(estimate_sigma2(pred, target, convention="mae"), np.abs(resid).mean(axis=0))
    np.testing.assert_allclose(estimate_sigma2(pred, target, convention="rmse"), np.sqrt((resid**2).mean(axis=0)))
    w = rng.uniform(0.0, 3.0, size=500)
    np.testing.assert_allclose(
        estimate_sigma2(pred, target, weights=w), (w[:, None] * resid**2).sum(axis=0) / w.sum(), rtol=1e-12
    )
    # weights are relative; tensors are accepted
    np.testing.assert_allclose(
        estimate_sigma2(torch.as_tensor(pred), torch.as_tensor(target), weights=5 * w),
        estimate_sigma2(pred, target, weights=w),
        rtol=1e-12,
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sigma2": [0.1, -0.1]}, "sigma2 must be > 0"),
        ({"sigma2": [0.1, np.nan]}, "sigma2 must be finite"),
        ({"sigma2": [[0.1, 0.1]]}, r"sigma2 must have shape \(n,\)"),
        ({"sigma2": [0.1, 0.1], "L": 0.0}, "L must be a finite number > 0"),
        ({"sigma2": [0.1, 0.1], "n_monte_carlo": 0}, "n_monte_carlo must be an integer"),
        ({"sigma2": [0.1, 0.1], "samples": np.zeros((4, 3))}, "samples must have q = 2 columns"),
        ({"sigma2": [0.1, 0.1], "samples": np.full((4, 2), np.nan)}, "samples must be finite"),
        ({"sigma2": [0.1, 0.1], "weights": [1.0]}, "pass samples= as well"),
        ({"sigma2": [0.1, 0.1], "samples": np.zeros((2, 2)), "weights": [1.0]}, "one value per sample"),
        ({"sigma2": [0.1, 0.1], "samples": np.zeros((2, 2)), "weights": [1.0, -1.0]}, "non-negative"),
        ({"sigma2": [0.1, 0.1, 0.1]}, "square"),
    ],
)
def test_gaussian_ei_bad_input(kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        gaussian_ei(lambda y: 0.5 * y[:, :2], **kwargs)


def test_other_bad_input() -> None:
    with pytest.raises(InputError, match="square"):
        linear_gaussian_ei(np.ones((2, 3)), 0.1)
    with pytest.raises(InputError, match="one variance per dimension"):
        linear_gaussian_ei(np.eye(2), [0.1, 0.1, 0.1])
    with pytest.raises(InputError, match="same shape"):
        estimate_sigma2(np.zeros((3, 2)), np.zeros((3, 1)))
    with pytest.raises(InputError, match="finite"):
        estimate_sigma2(np.array([[np.nan]]), np.zeros((1, 1)))
    with pytest.raises(InputError, match="convention"):
        estimate_sigma2(np.zeros((3, 2)), np.zeros((3, 2)), convention="var")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"shape \(n_samples, q\)"):
        logabsdet_jacobian(lambda y: y, torch.zeros(3))


def test_plain_callable_wrapping_a_float32_module() -> None:
    """The official code's call, ``gaussian_ei(lambda y: y + net(y), ...)``, with a float32 ``net``."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))  # float32
    res = gaussian_ei(lambda y: y + net(y), [0.01, 0.02, 0.03], n_monte_carlo=200, seed=1)
    y = (2 * torch.rand(200, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64) - 1).float()
    per_sample = [
        torch.linalg.slogdet(torch.autograd.functional.jacobian(lambda v: v + net(v), row).double()).logabsdet.item()
        for row in y
    ]
    assert res.jacobian_term == pytest.approx(3 * math.log(2.0) + np.mean(per_sample), rel=1e-6)
