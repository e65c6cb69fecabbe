"""The scikit-learn-style estimators: parameters, presets, fitting, outputs, measures, state round trip."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
import torch

from ndx_causal_emergence.data.synthetic import double_well_latent, embed_nonlinear
from ndx_causal_emergence.errors import DataError, InputError, NotFittedError
from ndx_causal_emergence.models import NIS, MultiscaleNISPlus, NISPlus
from ndx_causal_emergence.models.presets import PRESETS
from ndx_causal_emergence.models.training import split_validation

torch.set_num_threads(1)

_TINY = {"max_steps": 60, "batch_size": 64, "hidden_width": 16, "dynamics_width": 16, "n_coupling_layers": 2,
         "weight_refresh": 20, "eval_every": 20, "device": "cpu"}  # fmt: skip


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    y = double_well_latent(700, seed=4)
    x = embed_nonlinear(y, 7, noise=0.05, seed=4)
    return x[:560], x[560:]


@pytest.fixture(scope="module")
def fitted(data) -> MultiscaleNISPlus:
    return MultiscaleNISPlus.from_preset("fast", **_TINY).fit(data[0])


def test_init_only_stores_and_params_round_trip() -> None:
    from sklearn import base as sklearn_base  # a test dependency: never skipped

    model = MultiscaleNISPlus(hidden_width=32, preset="fast")
    params = model.get_params()
    assert params["hidden_width"] == 32 and params["preset"] == "fast" and params["ladder"] is None
    clone = sklearn_base.clone(model)
    assert clone.get_params() == params and clone is not model
    assert model.set_params(max_steps=5) is model and model.max_steps == 5
    with pytest.raises(InputError, match="no parameter 'bogus'"):
        model.set_params(bogus=1)
    assert set(NIS().get_params()) < set(NISPlus().get_params()) | {"q"}
    assert "reverse_weight" not in NIS().get_params()


def test_presets_set_the_parameters_not_given() -> None:
    resolved = MultiscaleNISPlus(preset="fast", hidden_width=32)._resolved()
    assert resolved["hidden_width"] == 32 and resolved["max_steps"] == 1500 and resolved["learning_rate"] == 1e-3
    plain = MultiscaleNISPlus.from_preset("sir", max_steps=7)
    assert plain.preset is None and plain.max_steps == 7 and plain.ei_domain == "box" and plain.hidden_width == 64
    assert NIS.from_preset("sir").get_params()["squash"] is True
    with pytest.raises(InputError, match="unknown preset"):
        MultiscaleNISPlus.from_preset("slow")
    with pytest.raises(InputError, match="unknown preset"):
        MultiscaleNISPlus(preset="slow")._resolved()
    with pytest.raises(InputError, match="ei_domain"):
        MultiscaleNISPlus(ei_domain="latent")._resolved()


def _other_value(value):
    """A valid value of a parameter's type that differs from ``value``."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, str):
        return {"normalized": "box", "box": "normalized", "mse": "mae", "mae": "mse", "wang2025": "uniform",
                "leaky_relu": "tanh", "official": "standard", "joint": "per_scale",
                "per_scale": "joint", "random": "identity", "identity": "random", "inverse_affine": "affine",
                "affine": "inverse_affine"}[value]  # fmt: skip
    if value is None:
        return 0.5
    return value * 2 if value else 1


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("cls", [MultiscaleNISPlus, NISPlus, NIS])
def test_an_explicit_argument_wins_over_every_preset_for_every_parameter(cls, preset) -> None:
    """Every parameter a preset sets, given explicitly (its default value included), is what get_params and fit use."""
    defaults = {p: v for p, v in cls().get_params().items()}
    for name, preset_value in PRESETS[preset].items():
        if name not in defaults:
            continue
        for chosen in {repr(v): v for v in (defaults[name], _other_value(preset_value))}.values():
            if chosen == preset_value:
                continue
            model = cls(preset=preset, **{name: chosen})
            assert model.get_params()[name] == chosen, (name, chosen)
            assert model._resolved()[name] == chosen, (name, chosen)
        untouched = cls(preset=preset)
        assert untouched.get_params()[name] == preset_value == untouched._resolved()[name]
    model = cls(preset=preset)
    resolved = model._resolved()
    assert all(resolved[k] == v for k, v in model.get_params().items()), "get_params must report what fit uses"


def test_wang2025_builds_the_official_architecture_and_measures_the_official_ei(data) -> None:
    """Coupling layout 4/6, 4 LeakyReLU layers, tanh on F and G; EI without q ln 2L, clipped, un-squashed Jacobian."""
    model = MultiscaleNISPlus(preset="wang2025", max_steps=40, batch_size=64, weight_refresh=10, weight_delay=10,
                              device="cpu").fit(data[0])  # fmt: skip
    parts = model.model_.parts  # stage 2 per scale: one copy of the stage-1 model per scale
    assert [len(e.layers) for e in parts[0].encoders] == [4, 6, 6]  # 7 -> 7 -> 3 -> 1
    f, g = model.model_.forward_maps[1], model.model_.reverse_maps[1]
    assert (f.activation, len(f.layers) - 1, f.hidden_width, f.squash, g.squash) == ("leaky_relu", 4, 50, True, True)
    assert f is parts[1].forward_maps[1]
    assert {e.form for part in parts for e in part.encoders} == {"inverse_affine"}  # encoders apply (x - t) e^-s
    # a scale's copy trains only that scale: F_1 moved in copy 1 only, copies 0 and 2 keep stage 1's
    stage1, other, trained = (m.forward_maps[1].parameters() for m in (parts[0], parts[2], parts[1]))
    same = [torch.equal(a, b) for a, b in zip(stage1, other, strict=True)]
    moved = [torch.equal(a, b) for a, b in zip(parts[0].forward_maps[1].parameters(), trained, strict=True)]
    assert all(same) and not any(moved)
    assert model.history_["weight_refresh_steps"] == []  # stage 1: no weights
    assert model.history_["stage2_scale1_weight_refresh_steps"] == [10]  # w = 1 for stage 2's first 10 steps
    again = MultiscaleNISPlus.from_stored(*model.to_stored())
    np.testing.assert_allclose(again.encode(data[1])[1], model.encode(data[1])[1], rtol=1e-6)
    table = model.emergence_table(data[1], n_monte_carlo=100, seed=3)
    assert table.attrs["ei_convention"] == "official" and (table["effective_information"] >= 0).all()
    # the Jacobian term: the mean ln|det| of y + f(y) (no tanh) by autograd at the same uniform points, no q ln 2L
    for k, q in enumerate(model.ladder_):
        net = copy.deepcopy(model.model_.forward_maps[k]).double()
        net.squash = False
        points = 2.0 * torch.rand(100, q, generator=torch.Generator().manual_seed(3), dtype=torch.float64) - 1.0
        logdets = [torch.linalg.slogdet(torch.autograd.functional.jacobian(net, y[None])[0, :, 0]).logabsdet
                   for y in points]  # fmt: skip
        assert table["jacobian_term"][k] == pytest.approx(float(torch.stack(logdets).mean()), rel=1e-5, abs=1e-6)
        ei = table["noise_term"][k] + table["jacobian_term"][k]
        assert table["effective_information"][k] == pytest.approx(max(ei, 0.0), rel=1e-9, abs=1e-12)
    standard = model.set_params(ei_convention="standard").emergence_table(data[1], n_monte_carlo=100, seed=3)
    np.testing.assert_allclose(standard["noise_term"], table["noise_term"], rtol=1e-9)  # σ² of the squashed map


def test_explicit_default_values_reach_the_fit(data) -> None:
    """``preset="fast"`` with the package defaults given explicitly: the fit uses those, not the preset's."""
    model = MultiscaleNISPlus(preset="fast", n_coupling_layers=6, learning_rate=1e-4, reverse_weight=1.0, **{
        k: v for k, v in _TINY.items() if k not in ("n_coupling_layers",)})  # fmt: skip
    cfg = model._train_config(model._resolved(), 3, "cpu")
    assert (cfg.learning_rate, cfg.reverse_weight, cfg.max_steps) == (1e-4, 1.0, 60)
    model.fit(data[0])
    assert all(len(enc.layers) == 6 for part in model.model_.parts for enc in part.encoders)
    assert model.history_["step"][-1] == 60 and model.get_params()["n_coupling_layers"] == 6


def test_set_params_changes_the_preset_of_the_parameters_not_given() -> None:
    model = MultiscaleNISPlus(preset="fast", hidden_width=32)
    model.set_params(preset="sir")
    assert model.hidden_width == 32 and model.max_steps == 30000 and model.ei_domain == "box"
    model.set_params(max_steps=5, preset=None)
    assert model.max_steps == 5 and model.ei_domain == "normalized" and model.n_coupling_layers == 6


def test_paper_is_a_deprecated_name_of_fmri() -> None:
    with pytest.warns(DeprecationWarning, match="now called 'fmri'"):
        old = MultiscaleNISPlus(preset="paper")
    new = MultiscaleNISPlus(preset="fmri")
    assert {**old.get_params(), "preset": "fmri"} == new.get_params()
    assert new.reverse_weight == 0.5 and MultiscaleNISPlus(preset="fmri", reverse_weight=1.0).reverse_weight == 1.0


def test_models_written_before_explicit_arguments_won_still_load(data) -> None:
    """Old files stored the constructor's values with the preset that replaced the defaults; they load as fitted."""
    given = {k: v for k, v in _TINY.items() if k != "n_coupling_layers"}
    model = MultiscaleNISPlus(preset="fast", **given).fit(data[0])
    arch, tensors = model.to_stored()
    assert arch["params"]["n_coupling_layers"] == 4  # the preset's value, as the fit used it
    defaults = MultiscaleNISPlus().get_params()
    replaced = set(PRESETS["fast"]) - set(given)
    legacy_params = {k: (defaults[k] if k in replaced else v) for k, v in arch["params"].items()}
    legacy = {k: v for k, v in arch.items() if k != "params_resolved"} | {"params": legacy_params}
    assert legacy_params["n_coupling_layers"] == 6  # what the old get_params reported
    again = MultiscaleNISPlus.from_stored(legacy, tensors)
    assert again.get_params() == model.get_params()
    np.testing.assert_allclose(again.transform(data[1]), model.transform(data[1]), rtol=1e-6)


def test_models_stored_before_the_coupling_form_load_with_the_form_they_used(data) -> None:
    """Files written before ``coupling_form`` existed hold affine encoders; the wang2025 preset must not flip them."""
    model = MultiscaleNISPlus(preset="wang2025", coupling_form="affine", max_steps=20, batch_size=64,
                              device="cpu").fit(data[0])  # fmt: skip
    arch, tensors = model.to_stored()
    old = {**arch, "params": {k: v for k, v in arch["params"].items() if k != "coupling_form"}}
    again = MultiscaleNISPlus.from_stored(old, tensors)
    assert again.coupling_form == "affine" and MultiscaleNISPlus(preset="wang2025").coupling_form == "inverse_affine"
    np.testing.assert_array_equal(again.transform(data[1]), model.transform(data[1]))


def test_ladder_for_gives_the_ladder_a_fit_would_use() -> None:
    assert MultiscaleNISPlus().ladder_for(116) == [116, 58, 29, 14, 7, 3, 1]
    assert MultiscaleNISPlus(coarsening=4, q=2).ladder_for(72) == [72, 18, 4, 2]
    assert MultiscaleNISPlus(ladder=[8, 4, 2]).ladder_for(8) == [8, 4, 2]
    assert NISPlus(q=2).ladder_for(6) == [2] and NIS(q=3).ladder_for(6) == [3]
    with pytest.raises(InputError, match="q=9 must be between 1 and the number of channels N=8"):
        MultiscaleNISPlus(q=9).ladder_for(8)
    with pytest.raises(InputError, match="q must be an integer in 1..N=6"):
        NISPlus(q=7).ladder_for(6)


def test_methods_need_a_fitted_model(data) -> None:
    model = MultiscaleNISPlus()
    for call in (
        lambda: model.encode(data[1]),
        lambda: model.predict(data[1]),
        lambda: model.emergence_table(data[1]),
        lambda: model.dynamics_map(0),
        lambda: model.to_stored(),
    ):
        with pytest.raises(NotFittedError, match="call fit"):
            call()


def test_fit_sets_the_learned_state(fitted, data) -> None:
    assert fitted.ladder_ == [7, 3, 1] and fitted.n_features_in_ == 7 and fitted.device_ == "cpu"
    assert next(fitted.model_.parameters()).device.type == "cpu"
    assert [len(s) for s in fitted.sigma2_] == [7, 3, 1] and all((s > 0).all() for s in fitted.sigma2_)
    assert [len(c) for c in fitted.latent_center_] == [7, 3, 1]
    assert [u.shape for u in fitted.encode(data[0])] == [(560, d) for d in fitted.ladder_]
    (train_frames, _), _ = split_validation(data[0], np.zeros(len(data[0]), dtype=int))  # what fit trained on
    for u in fitted.encode(train_frames):  # normalised coordinates: 1st/99th percentiles of training data at -1, +1
        assert np.allclose(np.percentile(u, [1, 99], axis=0), [[-1] * u.shape[1], [1] * u.shape[1]], atol=1e-5)
    assert np.array_equal(fitted.transform(data[1]), fitted.encode(data[1])[-1])
    assert fitted.history_["step"][-1] == 60


def test_outputs_handle_missing_frames_and_check_shapes(fitted, data) -> None:
    x = data[1].copy()
    x[10] = np.nan
    pred = fitted.predict(x, scale=2)
    assert pred.shape == x.shape and np.isnan(pred[10]).all() and np.isfinite(np.delete(pred, 10, 0)).all()
    assert np.isnan(fitted.encode(x)[1][10]).all()
    score = fitted.score(data[1])
    assert np.isclose(score, 1 - fitted.nmse(data[1]))
    with pytest.raises(InputError, match="X has 5 features, but MultiscaleNISPlus is expecting 7"):
        fitted.predict(data[1][:, :5])
    with pytest.raises(InputError, match="scale must index"):
        fitted.predict(data[1], scale=3)


def test_maps_agree_with_encode_and_predict(fitted, data) -> None:
    x = torch.as_tensor(data[1][:50], dtype=torch.float32)
    enc = fitted.encoder_map(1)
    assert np.allclose(enc(x).detach().numpy(), fitted.encode(data[1][:50])[1], atol=1e-5)
    grad = torch.autograd.grad(enc(x.requires_grad_()).sum(), x)[0]
    assert grad.shape == (50, 7) and grad.abs().sum() > 0
    fmap = fitted.dynamics_map(1)
    u = torch.as_tensor(fitted.encode(data[1][:50])[1], dtype=torch.float32)
    jac = fmap.batched_jacobian(u)
    assert jac.shape == (50, 3, 3)
    ref = torch.func.vmap(torch.func.jacrev(lambda v: fmap(v[None])[0]))(u)
    assert torch.allclose(jac, ref, atol=1e-4)


def test_emergence_table(fitted, data) -> None:
    table = fitted.emergence_table(data[1], n_monte_carlo=200)
    assert list(table.columns) == [
        "scale", "dimension", "effective_information", "dimension_averaged_ei", "noise_term", "jacobian_term",
        "causal_emergence", "causal_power", "nmse", "nmse_persistence", "fraction_in_box", "latent_nmse",
        "latent_nmse_persistence", "fit_ok", "causal_emergence_observed",
    ]  # fmt: skip
    assert table["dimension"].tolist() == [7, 3, 1]
    assert (table["fit_ok"] == (table["latent_nmse"] < np.minimum(1.0, table["latent_nmse_persistence"]))).all()
    assert np.allclose(table["effective_information"], table["noise_term"] + table["jacobian_term"])
    assert np.allclose(table["dimension_averaged_ei"], table["effective_information"] / table["dimension"])
    j = table["dimension_averaged_ei"].to_numpy()
    assert np.allclose(table["causal_emergence"], j - j[0])
    assert np.isclose(table["causal_power"].sum(), 1.0)
    assert np.isfinite(table["causal_emergence_observed"]).all()
    assert ((table["fraction_in_box"] > 0.5) & (table["fraction_in_box"] <= 1)).all()
    assert 0 <= table.attrs["emergent_complexity_normalized"] <= 1
    on_data = fitted.emergence_table(data[1], n_monte_carlo=200, jacobian_domain="data")
    assert np.allclose(on_data["noise_term"], table["noise_term"])
    with pytest.raises(InputError, match="jacobian_domain"):
        fitted.emergence_table(data[1], jacobian_domain="grid")


def test_fit_is_deterministic(data) -> None:
    params = {**_TINY, "max_steps": 30, "observed_reference": False}
    t1 = MultiscaleNISPlus.from_preset("fast", **params).fit(data[0]).emergence_table(data[1], n_monte_carlo=100)
    t2 = MultiscaleNISPlus.from_preset("fast", **params).fit(data[0]).emergence_table(data[1], n_monte_carlo=100)
    pd.testing.assert_frame_equal(t1, t2, check_exact=True)
    assert t1["causal_emergence_observed"].isna().all()


def test_state_round_trip_is_exact(fitted, data) -> None:
    arch, tensors = fitted.to_stored()
    assert not any("/" in name for name in tensors)
    arch = json.loads(json.dumps(arch))
    again = MultiscaleNISPlus.from_stored(arch, {k: v.numpy() for k, v in tensors.items()})
    for a, b in zip(fitted.encode(data[1]), again.encode(data[1]), strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(fitted.predict(data[1], scale=1), again.predict(data[1], scale=1))
    pd.testing.assert_frame_equal(
        fitted.emergence_table(data[1], n_monte_carlo=100),
        again.emergence_table(data[1], n_monte_carlo=100),
        check_exact=True,
    )
    assert again.get_params() == fitted.get_params()


def test_state_has_a_format_version(fitted, data) -> None:
    arch, tensors = fitted.to_stored()
    assert arch["format_version"] == 2
    before_versions = {k: v for k, v in arch.items() if k != "format_version"}  # states written before versions
    assert np.array_equal(MultiscaleNISPlus.from_stored(before_versions, tensors).transform(data[1]),
                          fitted.transform(data[1]))  # fmt: skip
    with pytest.raises(InputError, match="state format version 3, newer than the 2 .* upgrade"):
        MultiscaleNISPlus.from_stored({**arch, "format_version": 3, "new_field": 1}, tensors)
    with pytest.raises(InputError, match="format_version must be a whole number"):
        MultiscaleNISPlus.from_stored({**arch, "format_version": "1"}, tensors)


def test_segments_validation_and_official_conventions(data) -> None:
    x = data[0]
    labels = np.repeat([0, 1], [280, 280])
    model = NISPlus.from_preset("sir", q=2, **{**_TINY, "max_steps": 20, "batch_size": 32})
    model.fit(x, segments=labels, validation=data[1])
    assert model.ladder_ == [2] and model.model_.reverse_maps is not None
    table = model.emergence_table(data[1], n_monte_carlo=50)
    assert table.attrs["ei_domain"] == "box" and table.attrs["sigma_convention"] == "mae"
    nis_params = {k: v for k, v in _TINY.items() if k != "weight_refresh"}
    nis = NIS(q=1, **{**nis_params, "max_steps": 20}).fit([x[:300], x[300:]])
    assert nis.model_.reverse_maps is None and nis.ladder_ == [1]
    with pytest.raises(InputError, match="q must be an integer"):
        NIS(q=9, **nis_params).fit(x)


def test_bad_data_raise_clear_errors() -> None:
    with pytest.raises(DataError, match="at least 20 transition pairs"):
        MultiscaleNISPlus(**_TINY).fit(np.random.default_rng(0).normal(size=(12, 3)))
    bad = np.random.default_rng(0).normal(size=(100, 3))
    bad[5, 1] = np.inf
    with pytest.raises(DataError, match="infinite"):
        MultiscaleNISPlus(**_TINY).fit(bad)
    with pytest.raises(InputError, match="either ladder or q"):
        MultiscaleNISPlus(ladder=[3, 1], q=1, **_TINY).fit(np.zeros((100, 3)))


def test_checkpoint_path_resumes_a_finished_fit(data, tmp_path) -> None:
    path = tmp_path / "model.ckpt"
    params = {**_TINY, "max_steps": 20, "observed_reference": False, "checkpoint_path": str(path)}
    first = MultiscaleNISPlus(**params).fit(data[0])
    assert path.exists()
    second = MultiscaleNISPlus(**params).fit(data[0])  # resumes at the last step: nothing left to train
    for a, b in zip(first.model_.state_dict().values(), second.model_.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert second.history_ == first.history_


def test_clone_keeps_the_preset_in_charge_of_the_parameters_not_given() -> None:
    """A grid search clones, then sets ``preset``: the copy must follow the new preset as the original does."""
    from sklearn import base as sklearn_base

    original = MultiscaleNISPlus(preset="fast", hidden_width=32)
    copied = sklearn_base.clone(original)
    assert copied.get_params() == original.get_params() and copied is not original
    copied.set_params(preset="sir")
    direct = MultiscaleNISPlus(preset="fast", hidden_width=32).set_params(preset="sir")
    assert copied.get_params() == direct.get_params()
    assert copied.max_steps == 30000 and copied.hidden_width == 32 and original.max_steps == 1500


def test_rows_as_lists_and_keyword_only_options(fitted, data) -> None:
    rows = data[1][:20]
    assert np.array_equal(fitted.transform(rows.tolist()), fitted.transform(rows))
    with pytest.raises(TypeError):
        fitted.predict(rows, 1)  # scale is keyword-only
    with pytest.raises(InputError, match="Reshape your data"):
        fitted.transform(rows[0])


def test_encoder_chains_compose_to_the_encoder_maps(fitted, data) -> None:
    """Each group's maps, composed, are the encoder maps of its scales; their attributions are the scales' own."""
    from ndx_causal_emergence.dynamics.attribution import chained_integrated_gradients, integrated_gradients

    chains = fitted.encoder_chains([2, 0, 1])
    assert sorted(k for group, _ in chains for k in group) == [0, 1, 2]
    x = torch.as_tensor(data[1][:40], dtype=torch.float32)
    for group, maps in chains:
        assert group == sorted(group) and len(maps) == len(group)
        h = x
        for k, fmap in zip(group, maps, strict=True):
            h = fmap(h)
            assert torch.allclose(h, fitted.encoder_map(k)(x), atol=1e-5)
        kw = {"baseline": "mean", "n_steps": 8, "n_samples": 30, "precision": "float32"}
        for k, got in zip(group, chained_integrated_gradients(maps, data[1], **kw), strict=True):
            ref = integrated_gradients(fitted.encoder_map(k), data[1], **kw)
            assert np.abs(got - ref).max() <= 1e-5 * np.abs(ref).max()
    whole = MultiscaleNISPlus.from_preset("fast", **_TINY, keep_best="joint").fit(data[0])
    assert [group for group, _ in whole.encoder_chains(range(3))] == [[0, 1, 2]]  # one encoder: one chain
    with pytest.raises(InputError, match="not a finer scale"):
        fitted.encoder_map(1, source=2)
