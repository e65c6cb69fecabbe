"""A model's stored state: the preprocessing travels with it, fitted statistics keep float64, older states load."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from ndx_causal_emergence.data.prepare import Preprocessing, prepare
from ndx_causal_emergence.data.recording import Recording
from ndx_causal_emergence.data.synthetic import double_well_latent, embed_nonlinear
from ndx_causal_emergence.errors import ChannelMismatchError, InputError
from ndx_causal_emergence.models import MultiscaleNISPlus
from ndx_causal_emergence.nwb.types import LearnedDynamicsModel

torch.set_num_threads(1)

_TINY = {"max_steps": 30, "batch_size": 64, "hidden_width": 16, "dynamics_width": 16, "n_coupling_layers": 2,
         "weight_refresh": 20, "eval_every": 10, "device": "cpu", "polish_steps": 0}  # fmt: skip


@pytest.fixture(scope="module")
def raw() -> np.ndarray:
    """Raw frames on a scale of their own (offset, spread), one constant channel that prepare() drops."""
    x = embed_nonlinear(double_well_latent(700, seed=4), 6, noise=0.05, seed=4) * 3.0 + 7.0
    return np.insert(x, 2, 5.0, axis=1)


@pytest.fixture(scope="module")
def fitted(raw) -> tuple[MultiscaleNISPlus, Preprocessing]:
    prepared = prepare(Recording.from_array(raw, rate=10.0), cycles=1)
    model = MultiscaleNISPlus.from_preset("fast", **_TINY).fit(prepared.train, validation=prepared.validation)
    model.preprocessing_ = prepared.preprocessing
    return model, prepared.preprocessing


def _through_nwb_type(model: MultiscaleNISPlus) -> tuple[dict, dict]:
    """The state as the NWB ``LearnedDynamicsModel`` stores it and gives it back."""
    arch, tensors = model.to_stored()
    stored = LearnedDynamicsModel.from_state_dict(
        tensors, name="m", description="d", model_class="MultiscaleNISPlus", architecture=json.dumps(arch),
        framework="torch", framework_version=torch.__version__,
    )  # fmt: skip
    return stored.architecture_dict, stored.state_dict()


def test_rebuilt_model_maps_raw_frames_bit_for_bit(fitted, raw) -> None:
    model, preprocessing = fitted
    arch, tensors = _through_nwb_type(model)
    assert tensors["latent_center.0"].dtype == np.float64 and tensors["model.parts.0.rotation"].dtype == np.float32
    assert tensors["preprocessing.center"].dtype == np.float64
    again = MultiscaleNISPlus.from_stored(arch, tensors)
    back = again.preprocessing_
    assert np.array_equal(back.kept_channels, preprocessing.kept_channels) and 2 not in back.kept_channels
    assert np.array_equal(back.center, preprocessing.center) and np.array_equal(back.scale, preprocessing.scale)
    assert back.global_scale == preprocessing.global_scale and back.n_source_channels == 7
    for a, b in zip(model.encode(preprocessing.apply(raw)), again.encode(back.apply(raw)), strict=True):
        assert np.array_equal(a, b)


def test_states_without_preprocessing_or_in_float32_still_load(fitted, raw) -> None:
    """States written before the preprocessing was stored, with every tensor in float32, as older files hold them."""
    model, preprocessing = fitted
    arch, tensors = model.to_stored()
    del arch["preprocessing"]
    old = {k: v.float().numpy() for k, v in tensors.items() if not k.startswith("preprocessing.")}
    again = MultiscaleNISPlus.from_stored(arch, old)
    assert again.preprocessing_ is None
    x = preprocessing.apply(raw)
    for a, b in zip(model.encode(x), again.encode(x), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)


def test_a_refit_forgets_the_preprocessing(fitted, raw) -> None:
    model, preprocessing = fitted
    refit = MultiscaleNISPlus.from_preset("fast", **{**_TINY, "max_steps": 5})
    refit.preprocessing_ = preprocessing
    refit.fit(preprocessing.apply(raw))
    assert refit.preprocessing_ is None and "preprocessing" not in refit.to_stored()[0]


def test_stored_preprocessing_is_checked(fitted) -> None:
    _, preprocessing = fitted
    fields, arrays = preprocessing.to_stored()
    assert Preprocessing.from_stored(json.loads(json.dumps(fields)), arrays).global_scale == preprocessing.global_scale
    bad = [
        ({**fields, "kept_channels": [0, 1, 3, 4, 5, 7]}, arrays),  # position 7 of 7 channels
        ({**fields, "kept_channels": [0, 0, 3, 4, 5, 6]}, arrays),
        ({**fields, "global_scale": -1.0}, arrays),
        (fields, {**arrays, "scale": np.zeros(6)}),
        (fields, {"center": arrays["center"][:3], "scale": arrays["scale"]}),
        ({**fields, "source_channel_ids": [1, 2]}, arrays),
        ({k: v for k, v in fields.items() if k != "n_source_channels"}, arrays),
        (fields, {"center": arrays["center"]}),
    ]
    for f, a in bad:
        with pytest.raises(InputError, match="stored preprocessing"):
            Preprocessing.from_stored(f, a)
    model, _ = fitted
    arch, tensors = model.to_stored()
    arch["preprocessing"] = {**fields, "kept_channels": [0, 1, 3, 4, 5]}
    fewer = {**tensors, "preprocessing.center": tensors["preprocessing.center"][:5],
             "preprocessing.scale": tensors["preprocessing.scale"][:5]}  # fmt: skip
    with pytest.raises(InputError, match="keeps 5 channels but the model reads 6"):
        MultiscaleNISPlus.from_stored(arch, fewer)


def test_stored_axes_are_checked(fitted) -> None:
    model, _ = fitted
    arch, tensors = model.to_stored()
    assert np.array_equal(MultiscaleNISPlus.from_stored(arch, tensors).latent_axes_[1], model.latent_axes_[1])
    d = model.ladder_[1]
    for bad in (torch.zeros(d, d + 1, dtype=torch.float64), torch.full((d, d), float("nan"), dtype=torch.float64)):
        with pytest.raises(InputError, match=rf"latent_axes.1 must be a finite {d} x {d} matrix.*damaged"):
            MultiscaleNISPlus.from_stored(arch, {**tensors, "latent_axes.1": bad})
    older = {k: v for k, v in tensors.items() if not k.startswith("latent_axes.")}
    assert MultiscaleNISPlus.from_stored(arch, older).latent_axes_ == [None] * len(model.ladder_)


def test_channel_check_names_the_mismatch(fitted) -> None:
    _, preprocessing = fitted
    preprocessing.check_channels(7, None, where="x")
    with pytest.raises(ChannelMismatchError, match=r"channel count mismatch: x has 8 channels .* fitted on 7"):
        preprocessing.check_channels(8, None, where="x")
    with_ids = Preprocessing(**{**preprocessing.__dict__, "source_channel_ids": np.arange(10, 17)})
    with_ids.check_channels(7, np.arange(10, 17), where="x")
    with_ids.check_channels(7, None, where="x")  # ids only where both recordings have them
    with pytest.raises(ChannelMismatchError, match=r"ROI id mismatch: 1 of 7 .* position 3: 99, model 13"):
        with_ids.check_channels(7, np.array([10, 11, 12, 99, 14, 15, 16]), where="x")


def test_to_state_and_from_state_are_the_old_names(fitted, raw) -> None:
    """ "State" means a metastable state (``from_state``/``to_state`` of the transitions); the stored form of a model
    is ``to_stored``/``from_stored``. The old method names still work, with a FutureWarning."""
    model, preprocessing = fitted
    arch, tensors = model.to_stored()
    with pytest.warns(FutureWarning, match="'to_state' is now 'to_stored'"):
        old_arch, old_tensors = model.to_state()
    assert old_arch == arch and all(torch.equal(old_tensors[k], tensors[k]) for k in tensors)
    with pytest.warns(FutureWarning, match="'from_state' is now 'from_stored'"):
        again = MultiscaleNISPlus.from_state(arch, tensors)
    for a, b in zip(model.encode(preprocessing.apply(raw)), again.encode(preprocessing.apply(raw)), strict=True):
        assert np.array_equal(a, b)
    with pytest.warns(FutureWarning, match="Preprocessing: the method 'to_state' is now 'to_stored'"):
        fields, arrays = preprocessing.to_state()
    with pytest.warns(FutureWarning, match="'from_state' is now 'from_stored'"):
        assert np.array_equal(Preprocessing.from_state(fields, arrays).center, preprocessing.center)


def test_cut_is_the_old_name_of_q(fitted, raw) -> None:
    """``MultiscaleNISPlus(cut=...)`` is ``q=...`` with a FutureWarning; models stored with ``cut`` load as ``q``."""
    with pytest.warns(FutureWarning, match="'cut' is now 'q'"):
        old_name = MultiscaleNISPlus(cut=2)
    assert old_name.get_params()["q"] == 2 and "cut" not in old_name.get_params()
    model, preprocessing = fitted
    arch, tensors = model.to_stored()
    params = {k: v for k, v in arch["params"].items() if k != "q"}  # as files written before the rename
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a file keeps its names: read without a warning
        again = MultiscaleNISPlus.from_stored({**arch, "params": {**params, "cut": None}}, tensors)
    assert again.get_params()["q"] is None and again.ladder_ == model.ladder_
    x = preprocessing.apply(raw)
    assert all(np.array_equal(a, b) for a, b in zip(model.encode(x), again.encode(x), strict=True))
    assert MultiscaleNISPlus.from_stored({**arch, "params": {**params, "cut": 3}}, tensors).get_params()["q"] == 3
    with pytest.raises(InputError, match="give 'q' or its old name 'cut', not both"):
        MultiscaleNISPlus.from_stored({**arch, "params": {**params, "cut": 3, "q": 3}}, tensors)


def test_scales_is_the_old_name_of_ladder(fitted) -> None:
    """The ladder of dimensions is ``ladder`` / ``ladder_`` (a ``scale`` is a rung's index in every table)."""
    with pytest.warns(FutureWarning, match="'scales' is now 'ladder'"):
        assert MultiscaleNISPlus(scales=[6, 2]).get_params()["ladder"] == [6, 2]
    model, _ = fitted
    with pytest.warns(FutureWarning, match="'scales_' is now 'ladder_'"):
        assert model.scales_ == model.ladder_
    with pytest.warns(FutureWarning, match="'scales_for' is now 'ladder_for'"):
        assert model.scales_for(6) == model.ladder_for(6)
    arch, tensors = model.to_stored()
    params = {k: v for k, v in arch["params"].items() if k != "ladder"}
    again = MultiscaleNISPlus.from_stored({**arch, "params": {**params, "scales": [6, 3, 1]}}, tensors)
    assert again.get_params()["ladder"] == [6, 3, 1]
