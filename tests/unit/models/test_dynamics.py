"""Residual-MLP dynamics: closed-form Jacobians against autograd, and the affine conjugate."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from ndx_causal_emergence.errors import InputError
from ndx_causal_emergence.measures import gaussian_ei, logabsdet_jacobian
from ndx_causal_emergence.models.dynamics import AffineConjugate, ResidualMLP


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    """Small batched ops: one torch thread is faster than two on a shared 2-core box."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _autograd_jacobian(fn: torch.nn.Module, y: torch.Tensor) -> torch.Tensor:
    return torch.func.vmap(torch.func.jacrev(lambda v: fn(v.unsqueeze(0)).squeeze(0)))(y)


def _randomised(net: ResidualMLP) -> ResidualMLP:
    """Larger weights than the default init, so that the nonlinearity and the squash matter."""
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.8)
    return net


@pytest.mark.parametrize("dim", [1, 2, 3, 7])
@pytest.mark.parametrize("squash", [False, True])
@pytest.mark.parametrize(("n_hidden", "activation"), [(1, "tanh"), (2, "tanh"), (3, "silu"), (4, "leaky_relu")])
def test_closed_form_jacobian_equals_autograd(dim: int, squash: bool, n_hidden: int, activation: str) -> None:
    torch.manual_seed(dim)
    net = _randomised(ResidualMLP(dim, hidden_width=9, n_hidden=n_hidden, squash=squash, activation=activation))
    net = net.double()
    y = torch.rand(64, dim, dtype=torch.float64) * 4 - 2
    torch.testing.assert_close(net.batched_jacobian(y), _autograd_jacobian(net, y), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("dim", "hidden"), [(7, 3), (12, 5), (4, 4), (2, 6)])
@pytest.mark.parametrize("squash", [False, True])
@pytest.mark.parametrize("n_hidden", [1, 2, 3])
def test_logabsdet_equals_slogdet_of_the_jacobian(dim: int, hidden: int, squash: bool, n_hidden: int) -> None:
    """dim > H uses the determinant lemma on an H x H matrix; it must agree with the full Jacobian."""
    torch.manual_seed(dim + hidden)
    net = _randomised(ResidualMLP(dim, hidden_width=hidden, n_hidden=n_hidden, squash=squash)).double()
    y = torch.rand(64, dim, dtype=torch.float64) * 2 - 1
    expected = torch.linalg.slogdet(_autograd_jacobian(net, y)).logabsdet
    got = net.logabsdet_jacobian(y)
    assert got.dtype == torch.float64 and got.shape == (64,)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9)


def test_squashed_logdet_is_stable_where_tanh_saturates() -> None:
    """ln(1 − tanh²a) = 2(ln 2 − |a| − softplus(−2|a|)) stays finite where 1 − tanh²a underflows."""
    net = ResidualMLP(3, hidden_width=2, n_hidden=1, squash=True).double()
    with torch.no_grad():
        net.layers[-1].weight.zero_()
        net.layers[-1].bias.zero_()  # F(y) = tanh(y)
    y = torch.full((1, 3), 30.0, dtype=torch.float64)
    assert net.logabsdet_jacobian(y).item() == pytest.approx(3 * 2 * (np.log(2.0) - 30.0), rel=1e-12)


def test_forward_is_residual_and_squashed() -> None:
    torch.manual_seed(0)
    net = ResidualMLP(4, hidden_width=8).double()
    y = torch.rand(10, 4, dtype=torch.float64)
    hidden = net.layers[1](torch.tanh(net.layers[0](y)))
    f = net.layers[2](torch.tanh(hidden))
    torch.testing.assert_close(net(y), y + f)
    net.squash = True
    torch.testing.assert_close(net(y), torch.tanh(y + f))
    assert sum(p.grad is None for p in net.parameters()) == len(list(net.parameters()))
    net(y).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


@pytest.mark.parametrize("dim", [1, 3])
def test_conjugate_keeps_logdet_and_matches_its_definition(dim: int) -> None:
    torch.manual_seed(dim)
    net = _randomised(ResidualMLP(dim, hidden_width=6, squash=True)).double()
    rng = np.random.default_rng(dim)
    center, half = rng.normal(size=dim), rng.uniform(0.05, 5.0, size=dim)
    conj = AffineConjugate(net, center, half)
    u = torch.rand(40, dim, dtype=torch.float64) * 2 - 1
    y = conj.denormalize(u)
    torch.testing.assert_close(conj.normalize(y), u)
    torch.testing.assert_close(conj(u), (net(y) - torch.as_tensor(center)) / torch.as_tensor(half))
    torch.testing.assert_close(conj.batched_jacobian(u), _autograd_jacobian(conj, u))
    torch.testing.assert_close(logabsdet_jacobian(conj, u), logabsdet_jacobian(net, y))
    torch.testing.assert_close(conj.logabsdet_jacobian(u), torch.linalg.slogdet(conj.batched_jacobian(u)).logabsdet)


def test_conjugate_of_a_plain_callable_and_from_percentiles() -> None:
    a = torch.tensor([[0.9, 0.2], [-0.1, 0.5]], dtype=torch.float64)
    data = np.random.default_rng(0).normal(size=(1000, 2)) * [3.0, 0.01] + [5.0, -1.0]
    conj = AffineConjugate.from_percentiles(lambda y: y @ a.T, data)
    lo, hi = np.percentile(data, [1, 99], axis=0)
    u = conj.normalize(torch.as_tensor(np.vstack([lo, hi])))
    torch.testing.assert_close(u, torch.tensor([[-1.0, -1.0], [1.0, 1.0]], dtype=torch.float64))
    jac = conj.batched_jacobian(torch.zeros(1, 2, dtype=torch.float64))[0]
    h = torch.as_tensor((hi - lo) / 2)
    torch.testing.assert_close(jac, a * h[None, :] / h[:, None])
    # EI in normalised coordinates: same Jacobian term, noise measured in units of h
    res = gaussian_ei(conj, [0.1, 0.1])
    assert res.jacobian_term == pytest.approx(2 * np.log(2.0) + np.log(abs(np.linalg.det(a.numpy()))), rel=1e-9)


def test_conjugate_state_dict_and_dtype() -> None:
    net = ResidualMLP(2, hidden_width=4)
    conj = AffineConjugate(net, torch.tensor([1.0, 2.0]), np.array([0.5, 0.5]))
    assert set(conj.state_dict()) >= {"center", "half_range", "fn.layers.0.weight"}
    out = conj(torch.zeros(3, 2))
    assert out.dtype == torch.float32


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0,), "dim must be an integer >= 1"),
        ((2, 0), "hidden_width must be an integer >= 1"),
        ((2, 4, 0), "n_hidden must be an integer >= 1"),
        ((2.5,), "dim must be an integer"),
    ],
)
def test_residual_mlp_bad_args(args: tuple, match: str) -> None:
    with pytest.raises(InputError, match=match):
        ResidualMLP(*args)


def test_bad_input() -> None:
    with pytest.raises(InputError, match="activation must be one of"):
        ResidualMLP(2, activation="relu")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"y must have shape \(B, 2\)"):
        ResidualMLP(2).batched_jacobian(torch.zeros(3, 3))
    with pytest.raises(InputError, match="same length"):
        AffineConjugate(ResidualMLP(2), [0.0, 0.0], [1.0])
    with pytest.raises(InputError, match="half_range finite and > 0"):
        AffineConjugate(ResidualMLP(2), [0.0, 0.0], [1.0, 0.0])
    with pytest.raises(InputError, match="constant"):
        AffineConjugate.from_percentiles(ResidualMLP(2), np.ones((10, 2)))
    with pytest.raises(InputError, match="lower < upper"):
        AffineConjugate.from_percentiles(ResidualMLP(2), np.random.default_rng(0).normal(size=(10, 2)), lower=50.0,
                                         upper=10.0)  # fmt: skip
