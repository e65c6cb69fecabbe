"""Property tests of the RealNVP flows: inverse, log-det against autograd, odd sizes, gradients."""

from __future__ import annotations

import pytest
import torch

from ndx_causal_emergence.errors import InputError
from ndx_causal_emergence.models.coupling import COUPLING_FORMS, AffineCoupling, RealNVP

torch.set_num_threads(1)


def _randomised(dim: int, n_layers: int = 4, seed: int = 0, amount: float = 0.3, form: str = "affine") -> RealNVP:
    """A flow whose parameters are perturbed away from the identity start."""
    torch.manual_seed(seed)
    flow = RealNVP(dim, n_layers=n_layers, hidden_width=16, form=form).double()
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(amount * torch.randn_like(p))
    return flow


@pytest.mark.parametrize("form", COUPLING_FORMS)
@pytest.mark.parametrize("dim", [1, 2, 3, 4, 5, 29])
def test_inverse_is_exact(dim: int, form: str) -> None:
    flow = _randomised(dim, form=form)
    x = torch.randn(64, dim, dtype=torch.float64)
    y, _ = flow(x)
    assert not torch.allclose(y, x)  # a real transformation
    assert torch.allclose(flow.inverse(y), x, atol=1e-10)
    flow32 = _randomised(dim, amount=0.1, form=form).float()
    x32 = 2 * torch.rand(256, dim) - 1  # preprocessed data lie in [-1, 1]
    assert (flow32.inverse(flow32(x32)[0]) - x32).abs().max() < 1e-5


@pytest.mark.parametrize("form", COUPLING_FORMS)
@pytest.mark.parametrize("dim", [1, 2, 3, 5, 8])
def test_logdet_matches_autograd(dim: int, form: str) -> None:
    flow = _randomised(dim, seed=1, form=form)
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


@pytest.mark.parametrize("n_layers", [4, 6])
@pytest.mark.parametrize("dim", [4, 6])
def test_the_inverse_affine_form_encodes_as_the_official_flows(dim: int, n_layers: int) -> None:
    """``form="inverse_affine"`` is the official mice code's ``InvertibleNN.f``: for layer i = n-1, ..., 0,
    ``x <- x_A + (1 - m_i) * (x - t(x_A)) e^{-s(x_A)}`` with ``x_A = m_i * x``, the mask ``m_i`` keeping the second
    half of the coordinates for even i and the first half for odd i; its inverse is ``.g`` (layers 0, ..., n-1)."""
    flow = _randomised(dim, n_layers=n_layers, seed=4, form="inverse_affine")
    x = torch.randn(20, dim, dtype=torch.float64)
    half = dim // 2
    second = torch.cat((torch.zeros(half), torch.ones(dim - half))).double()  # mask keeping the second half

    def s_t(i: int, kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Layer i's s and t of the kept (conditioning) coordinates, placed on the transformed ones."""
        cond = kept[:, half:] if i % 2 == 0 else kept[:, :half]
        s, t = flow.layers[i].st(cond)
        pad = torch.zeros(len(kept), dim - s.shape[1], dtype=s.dtype)
        return (torch.cat((s, pad), 1), torch.cat((t, pad), 1)) if i % 2 == 0 else (
            torch.cat((pad, s), 1), torch.cat((pad, t), 1))  # fmt: skip

    z = x
    for i in reversed(range(n_layers)):
        mask = second if i % 2 == 0 else 1 - second
        s, t = s_t(i, z * mask)
        z = z * mask + (1 - mask) * (z - t) * torch.exp(-s)
    assert torch.allclose(flow(x)[0], z, atol=1e-12)
    back = z
    for i in range(n_layers):
        mask = second if i % 2 == 0 else 1 - second
        s, t = s_t(i, back * mask)
        back = back * mask + (1 - mask) * (back * torch.exp(s) + t)
    assert torch.allclose(flow.inverse(z), back, atol=1e-12) and torch.allclose(back, x, atol=1e-10)
    with pytest.raises(InputError, match="form"):
        RealNVP(4, form="official")


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


def _indexed_map(layer: AffineCoupling, x: torch.Tensor, invert: bool) -> torch.Tensor:
    """A coupling layer's map written with indexing (``x[:, :k]``, ``h[0]``): the plain form of its ``map``."""
    first, last = x[:, : layer.split], x[:, layer.split :]
    cond, trans = (last, first) if layer.transform_first else (first, last)
    h = cond.unsqueeze(0).expand(2, -1, -1)
    for i, (w, b) in enumerate(zip(layer.st.weights, layer.st.biases, strict=True)):
        h = torch.baddbmm(b, h, w)
        if i < len(layer.st.weights) - 1:
            h = torch.nn.functional.leaky_relu(h)
    s, t = torch.tanh(h[0]), h[1]
    out = (trans - t) * torch.exp(-s) if invert else trans * torch.exp(s) + t
    return torch.cat((out, cond) if layer.transform_first else (cond, out), dim=1)


@pytest.mark.parametrize("invert", [False, True])
def test_layers_give_the_values_and_gradients_of_the_indexed_form_bit_for_bit(invert: bool) -> None:
    """Views by ``split``/``unbind`` change how the gradient is assembled, not one bit of it or of the map."""
    flow = _randomised(29, seed=4).float()
    x = torch.randn(300, 29)
    grads = []
    for fn in (lambda: flow._chain(x, invert=invert, logdet=False)[0], lambda: _chained(flow, x, invert)):
        flow.zero_grad()
        y = fn()
        (y * torch.linspace(-1, 1, 29)).square().sum().backward()
        grads.append((y.detach(), [p.grad.clone() for p in flow.parameters()]))
    (y_new, g_new), (y_ref, g_ref) = grads
    assert torch.equal(y_new, y_ref)
    assert all(torch.equal(a, b) for a, b in zip(g_new, g_ref, strict=True))


def _chained(flow: RealNVP, x: torch.Tensor, invert: bool) -> torch.Tensor:
    for layer in reversed(flow.layers) if invert else flow.layers:
        x = _indexed_map(layer, x, invert)
    return x


@pytest.mark.parametrize("form", COUPLING_FORMS)
def test_transform_is_forward_without_the_log_determinant(form: str) -> None:
    flow = _randomised(7, seed=5, form=form)
    x = torch.randn(32, 7, dtype=torch.float64)
    assert torch.equal(flow.transform(x), flow(x)[0])
