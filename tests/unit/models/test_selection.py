"""Each scale's kept training state (models/selection.py, docs/method.md §2.4)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ndx_causal_emergence.models import MultiscaleNISPlus
from ndx_causal_emergence.models.multiscale import MultiscaleModule, PerScaleModule
from ndx_causal_emergence.models.selection import ScaleSelection, scale_errors
from ndx_causal_emergence.models.selection import _log_generalized_variance as _lgv
from ndx_causal_emergence.testing.calibration import independent_null

PHI = 0.9


def _pairs(frames: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.as_tensor(frames, dtype=torch.float32)
    return x[:-1], x[1:]


@pytest.fixture(scope="module")
def null_frames() -> np.ndarray:
    return independent_null(8, n_frames=30000, phi=PHI, seed=3).frames  # long: the variances to a few per cent


def _start(frames: np.ndarray) -> MultiscaleModule:
    """A model at its start: identity flows after the principal axes, so every coarse latent is linear."""
    torch.manual_seed(0)
    module = MultiscaleModule(8, [8, 4, 2, 1], n_coupling_layers=2, hidden_width=8, dynamics_width=8).eval()
    module.set_rotation(torch.as_tensor(frames, dtype=torch.float32))
    return module


def test_a_linear_latent_of_ar1_channels_scores_the_ar1_error(null_frames) -> None:
    """Any projection of independent AR(1) channels is AR(1): e = ln(1 - φ²) per dimension, by the affine predictor."""
    module = _start(null_frames)
    pairs = _pairs(null_frames[20000:])
    errors = scale_errors(module, pairs, _pairs(null_frames[:20000]))
    assert errors == pytest.approx([math.log(1 - PHI**2)] * 4, abs=0.1)
    # the untrained F_k is about persistence (ln 2(1 - φ)); the affine map fitted on the training block beats it
    with torch.no_grad():
        now, then = module.encode(pairs[0]), module.encode(pairs[1])
    for k, error in enumerate(errors):
        y0, y1 = now[k].double(), then[k].double()
        persistence = (_lgv(y1 - y0) - _lgv(y1)) / y1.shape[1]
        assert error < persistence - 0.02


def test_the_error_ignores_the_latents_units(null_frames) -> None:
    """A latent scaled by 1000 (an encoder that inflates or shrinks its output) scores the same."""
    module = _start(null_frames)
    pairs, fit = _pairs(null_frames[20000:]), _pairs(null_frames[:20000])
    before = scale_errors(module, pairs, fit)
    with torch.no_grad():
        module.rotation.mul_(1000.0)
    assert scale_errors(module, pairs, fit) == pytest.approx(before, abs=1e-6)


def test_a_worse_state_is_not_kept_and_scales_sharing_a_state_share_a_part(null_frames) -> None:
    module = _start(null_frames)
    selection = ScaleSelection(_pairs(null_frames[20000:]), _pairs(null_frames[:20000]))
    selection.update(0, module)
    with torch.no_grad():  # scramble the first flow: every latent becomes a nonlinear mix, less predictable
        for param in module.encoders[0].parameters():
            param.add_(torch.randn_like(param) * 3.0)
    selection.update(100, module)
    assert selection.kept_steps(100) == [100, 0, 0, 0]  # the micro level stays with the whole model's state
    combined = selection.module(module)
    assert isinstance(combined, PerScaleModule) and combined.parts[0] is module
    assert len({id(p) for p in combined.parts[1:]}) == 1
    x = torch.as_tensor(null_frames[:50], dtype=torch.float32)
    kept, start, trained = combined.encode(x), _start(null_frames).encode(x), module.encode(x)
    assert torch.equal(kept[0], trained[0]) and not torch.equal(kept[1], trained[1])
    assert all(torch.equal(a, b) for a, b in zip(kept[1:], start[1:], strict=True))


def test_fit_keeps_a_state_per_scale_and_the_official_conventions_one() -> None:
    frames = independent_null(6, n_frames=1200, seed=1).frames
    tiny = {"max_steps": 40, "batch_size": 64, "hidden_width": 8, "dynamics_width": 8, "n_coupling_layers": 2,
            "eval_every": 20, "polish_steps": 0, "observed_reference": False, "device": "cpu"}  # fmt: skip
    model = MultiscaleNISPlus(**tiny).fit(frames)
    assert isinstance(model.model_, PerScaleModule)
    assert len(model.history_["kept_step_per_scale"]) == len(model.ladder_)
    kept = model.history_["kept_step_per_scale"]
    assert kept[0] == model.history_["best_step"][0] and set(kept) <= {0, 20, 40}
    trained = model.model_.parts[0]  # the scales kept at the whole model's step are read from it, not from a copy
    assert all((part is trained) == (step == kept[0]) for part, step in zip(model.model_.parts, kept, strict=True))
    again = MultiscaleNISPlus.from_stored(*model.to_stored())
    assert all(np.array_equal(a, b) for a, b in zip(again.encode(frames), model.encode(frames), strict=True))
    joint = MultiscaleNISPlus(keep_best="joint", **tiny).fit(frames)
    assert isinstance(joint.model_, MultiscaleModule) and "kept_step_per_scale" not in joint.history_


def test_scales_kept_at_the_trained_step_share_the_trained_module(null_frames) -> None:
    module = _start(null_frames)
    selection = ScaleSelection(_pairs(null_frames[20000:]), _pairs(null_frames[:20000]))
    selection.update(0, module)  # every coarse scale keeps the start
    shared, copied = selection.module(module, trained_step=0), selection.module(module)
    assert all(part is module for part in shared.parts)
    assert copied.parts[0] is module and all(part is not module for part in copied.parts[1:])
    x = torch.as_tensor(null_frames[:50], dtype=torch.float32)
    assert all(torch.equal(a, b) for a, b in zip(shared.encode(x), copied.encode(x), strict=True))
