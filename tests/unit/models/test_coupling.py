"""Property tests of the RealNVP flows: inverse, log-det against autograd, odd sizes, gradients."""

from __future__ import annotations

import pytest
import torch

from ndx_causal_emergence.errors import InputError
from ndx_causal_emergence.models.coupling import AffineCoupling, RealNVP

torch.set_num_threads(1)


def _randomised(dim: int, n_layers: int = 4, seed: int = 0, amount: float = 0.3) -> RealNVP:
    """A flow whose parameters are perturbed away from the identity start."""
    torch.manual_seed(seed)
    flow = RealNVP(dim, n_layers=n_layers, hidden_width=16).double()
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(amount * torch.randn_like(p))
    return flow


@pytest.mark.parametrize("dim", [1, 2, 3, 4, 5, 29])
def test_inverse_is_exact(dim: int) -> None:
    flow = _randomised(dim)
    x = torch.randn(64, dim, dtype=torch.float64)
    y, _ = flow(x)
    assert not torch.allclose(y, x)  # a real transformation
    assert torch.allclose(flow.inverse(y), x, atol=1e-10)
    flow32 = _randomised(dim, amount=0.1).float()
    x32 = 2 * torch.rand(256, dim) - 1  # preprocessed data lie in [-1, 1]
    assert (flow32.inverse(flow32(x32)[0]) - x32).abs().max() < 1e-5


@pytest.mark.parametrize("dim", [1, 2, 3, 5, 8])
def test_logdet_matches_autograd(dim: int) -> None:
    flow = _randomised(dim, seed=1)
    x = torch.randn(6, dim, dtype=torch.float64)
    _, logdet = flow(x)
    for i in range(len(x)):
        jac = torch.func.jacrev(lambda v: flow(v[None])[0][0])(x[i])
        sign, ref = torch.linalg.slogdet(jac)
        assert sign.item() > 0
        assert torch.allclose(logdet[i], ref, atol=1e-10)


@pytest.mark.parametrize("dim", [3, 5, 7])
def test_odd_sizes_transform_every_coordinate(dim: int) -> None:
    """With three layers every output depends on every input: no coordinate is dropped or passed through."""
    flow = _randomised(dim, n_layers=3, seed=2)
    x = torch.randn(dim, dtype=torch.float64)
    jac = torch.func.jacrev(lambda v: flow(v[None])[0][0])(x)
    assert (jac.abs() > 1e-8).all()


def test_new_flow_is_identity_and_scale_is_bounded() -> None:
    flow = RealNVP(5, n_layers=3, hidden_width=8)
    x = torch.randn(10, 5)
    y, logdet = flow(x)
    assert torch.equal(y, x) and torch.equal(logdet, torch.zeros(10))
    layer = AffineCoupling(4, 8, transform_first=False)
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(10 * torch.randn_like(p))
    _, ld = layer(100 * torch.randn(50, 4))
    assert ld.abs().max() <= 2.0  # two transformed coordinates, |s| <= 1 each


def test_a_random_start_is_an_invertible_map_scaled_as_the_official_networks() -> None:
    """``init="random"``: not the identity, still exactly invertible; every layer within nn.Linear's bound,
    the first scaled by the layer's whole input (the official networks read the masked input)."""
    torch.manual_seed(0)
    flow = RealNVP(8, n_layers=4, hidden_width=50, init="random").double()
    x = torch.randn(32, 8, dtype=torch.float64)
    y, logdet = flow(x)
    assert (y - x).abs().mean() > 0.1 and logdet.abs().mean() > 0.01
    assert torch.allclose(flow.inverse(y), x, atol=1e-10)
    twin = flow.layers[0].st
    for w, fan_in in zip(twin.weights, (8, 50, 50), strict=True):
        bound = fan_in**-0.5
        assert w.abs().max() <= bound and w.abs().max() > 0.9 * bound  # uniform within +-bound
    assert RealNVP(1, init="random")(x[:, :1])[0].equal(x[:, :1])  # a size-1 flow starts as the identity
    with pytest.raises(InputError, match="init"):
        RealNVP(4, init="zeros")


def test_gradients_reach_every_parameter() -> None:
    flow = _randomised(3, n_layers=2, seed=3)
    y, logdet = flow(torch.randn(16, 3, dtype=torch.float64))
    (y.square().sum() + logdet.sum()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in flow.parameters())


def test_bad_sizes_raise() -> None:
    with pytest.raises(InputError, match="dim >= 1"):
        RealNVP(0)
    with pytest.raises(InputError, match="ScalarAffine"):
        AffineCoupling(1, 8, transform_first=False)
