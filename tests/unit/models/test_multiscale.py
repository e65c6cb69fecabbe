"""The stacked scale ladder: every coordinate kept at scale 0, batched decode, ladders."""

from __future__ import annotations

import pytest
import torch

from ndx_causal_emergence.errors import InputError
from ndx_causal_emergence.models.multiscale import MultiscaleModule, check_scales, dyadic_ladder

torch.set_num_threads(1)


def _perturbed(n: int, scales: list[int], seed: int = 0) -> MultiscaleModule:
    torch.manual_seed(seed)
    module = MultiscaleModule(n, scales, n_coupling_layers=3, hidden_width=16, dynamics_width=8)
    with torch.no_grad():
        for p in module.encoders.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return module


def test_dyadic_ladder() -> None:
    assert dyadic_ladder(116) == [116, 58, 29, 14, 7, 3, 1]
    assert dyadic_ladder(29) == [29, 14, 7, 3, 1]
    assert dyadic_ladder(4) == [4, 2, 1]
    assert dyadic_ladder(1) == [1]
    assert dyadic_ladder(116, coarsening=4) == [116, 29, 7, 1]
    assert dyadic_ladder(116, q=4) == [116, 58, 29, 14, 7, 4]
    with pytest.raises(InputError, match="coarsening >= 2"):
        dyadic_ladder(10, coarsening=1)
    with pytest.raises(InputError, match="strictly decreasing"):
        check_scales([10, 10, 2], 10)
    with pytest.raises(InputError, match="strictly decreasing"):
        check_scales([12, 3], 10)


def test_scale_zero_keeps_every_coordinate_of_29_channels() -> None:
    module = _perturbed(29, dyadic_ladder(29))
    x = 2 * torch.rand(200, 29) - 1
    latents = module.encode(x)
    assert [y.shape[1] for y in latents] == [29, 14, 7, 3, 1]
    back = module.decode([latents[0]])[0]
    assert (back - x).abs().max() < 1e-5
    jac = torch.func.jacrev(lambda v: module.encode(v[None], upto=0)[0][0])(x[0])
    assert torch.linalg.matrix_rank(jac) == 29


def test_batched_decode_equals_one_scale_at_a_time() -> None:
    module = _perturbed(7, [7, 3, 1], seed=1)
    latents = module.encode(torch.randn(5, 7))
    together = module.decode(latents)
    for k in range(3):
        alone = module.decode([None] * k + [latents[k]])[k]
        assert torch.allclose(together[k], alone, atol=1e-6)
    # deterministic decode of a top-scale latent = encoders inverted with zero padding
    y = module.encoders[1].inverse(torch.cat((latents[1], torch.zeros(5, 4)), dim=1))
    level1 = module.encoders[2].inverse(torch.cat((latents[2], torch.zeros(5, 2)), dim=1))
    ref = module.encoders[0].inverse(module.encoders[1].inverse(torch.cat((level1, torch.zeros(5, 4)), dim=1)))
    assert torch.allclose(module.decode([None, None, latents[2]])[2], ref, atol=1e-6)
    assert torch.allclose(module.decode([None, latents[1]])[1], module.encoders[0].inverse(y), atol=1e-6)
    noisy = module.decode([None, None, latents[2]], noise_std=0.5, generator=torch.Generator().manual_seed(0))[2]
    assert not torch.allclose(noisy, ref)


def test_one_scale_model_drops_to_q_and_pads_back() -> None:
    module = _perturbed(4, [2], seed=2)
    x = torch.randn(6, 4)
    (y,) = module.encode(x)
    assert y.shape == (6, 2)
    assert module.decode([y])[0].shape == (6, 4)
    nis = MultiscaleModule(4, [2], use_reverse=False)
    assert nis.reverse_maps is None
    with pytest.raises(InputError, match="no reverse dynamics"):
        nis.step([y], reverse=True)


def test_an_encoder_map_starts_only_from_a_finer_scale() -> None:
    from ndx_causal_emergence.models.multiscale import EncoderMap

    module = MultiscaleModule(6, [6, 3, 1], n_coupling_layers=2, hidden_width=8).eval()
    ones = torch.zeros(3), torch.ones(3)
    for bad in (-1, 2, 3):
        with pytest.raises(InputError, match="finer scales 0..1"):
            EncoderMap(module, 2, torch.zeros(1), torch.ones(1), source=(bad, *ones))
    x = torch.randn(5, 6)
    whole = EncoderMap(module, 2, torch.zeros(1), torch.ones(1))
    first, rest = EncoderMap(module, 1, *ones), EncoderMap(module, 2, torch.zeros(1), torch.ones(1), source=(1, *ones))
    assert torch.allclose(rest(first(x)), whole(x), atol=1e-6)
