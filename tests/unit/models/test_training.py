"""Transition pairs, validation split, the training loop's determinism and checkpoint resume."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
import torch

from ndx_causal_emergence.data.synthetic import embed_nonlinear, ou_latent
from ndx_causal_emergence.errors import DataError, InputError
from ndx_causal_emergence.models.multiscale import MultiscaleModule, dyadic_ladder
from ndx_causal_emergence.models.training import (
    TrainConfig,
    TransitionData,
    as_frames,
    percentile_affine,
    split_validation,
    train,
)

torch.set_num_threads(1)


def test_pairs_never_cross_segments_or_nan_frames() -> None:
    frames = np.arange(20, dtype=float).reshape(10, 2)
    frames[4] = np.nan
    labels = np.array([0] * 7 + [1] * 3)
    data = TransitionData.build(frames, labels, max_lag=3)
    assert data.starts[1].tolist() == [0, 1, 2, 5, 7, 8]
    assert data.starts[2].tolist() == [0, 1, 7]
    assert data.starts[3].tolist() == [0]
    partial = frames.copy()
    partial[8, 1] = np.nan  # a row with any NaN is a missing frame
    assert TransitionData.build(partial, labels).starts[1].tolist() == [0, 1, 2, 5]


def test_as_frames_lists_and_errors() -> None:
    frames, labels = as_frames([np.zeros((3, 2)), np.ones((4, 2))])
    assert frames.shape == (7, 2) and labels.tolist() == [0, 0, 0, 1, 1, 1, 1]
    with pytest.raises(InputError, match="same N"):
        as_frames([np.zeros((3, 2)), np.zeros((3, 3))])
    with pytest.raises(InputError, match="n_frames, n_features"):
        as_frames(np.zeros(5))
    with pytest.raises(DataError, match="infinite"):
        as_frames(np.array([[0.0, np.inf], [1.0, 2.0]]))
    with pytest.raises(DataError, match="no finite frame"):
        as_frames(np.full((4, 2), np.nan))
    with pytest.raises(InputError, match="one label per frame"):
        as_frames(np.zeros((4, 2)), segments=[0, 1])
    rows, _ = as_frames([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])  # a list of rows is one array, not segments
    assert rows.shape == (3, 2)
    with pytest.raises(InputError, match="Complex data not supported"):
        as_frames(np.ones((4, 2)) * 1j)
    with pytest.raises(InputError, match="0 feature"):
        as_frames(np.zeros((4, 0)))
    with pytest.raises(InputError, match="sparse matrix"):
        as_frames(scipy.sparse.csr_matrix(np.eye(3)))
    with pytest.raises(InputError, match="rectangular"):
        as_frames([[0.0, 1.0], [2.0]])


def test_split_validation_keeps_the_last_pairs_of_each_segment() -> None:
    frames = np.arange(48, dtype=float).reshape(24, 2)
    labels = np.array([0] * 21 + [1] * 2 + [2])
    (tf, tl), (vf, vl) = split_validation(frames, labels, fraction=0.1)
    # segment 0: 20 pairs -> last 2 held out (frames 18..20); short segments stay in training
    assert vf[:, 0].tolist() == [36.0, 38.0, 40.0] and set(vl.tolist()) == {0}
    assert tf[:, 0].tolist() == [float(2 * i) for i in range(19)] + [42.0, 44.0, 46.0]
    assert tl.tolist() == [0] * 19 + [1, 1, 2]


def test_percentile_affine_maps_percentiles_to_unit_box() -> None:
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(5000, 2))
    x[:, 1] = 7.0
    c, h = percentile_affine(x)
    u = (x - c) / h
    assert np.allclose(np.percentile(u[:, 0], [1, 99]), [-1, 1])
    assert h[1] == 1.0 and np.all(u[:, 1] == 0)


def _setup(seed: int = 0) -> tuple[MultiscaleModule, TransitionData, TransitionData]:
    x = embed_nonlinear(ou_latent(400, seed=seed), 5, seed=seed)
    data = TransitionData.build(x[:320], np.zeros(320))
    val = TransitionData.build(x[320:], np.zeros(80))
    torch.manual_seed(seed)
    module = MultiscaleModule(5, dyadic_ladder(5), n_coupling_layers=2, hidden_width=8, dynamics_width=8)
    return module, data, val


_CFG = TrainConfig(max_steps=60, batch_size=32, weight_refresh=20, eval_every=10, checkpoint_every=20, seed=3)


def test_training_is_deterministic_and_lowers_the_loss() -> None:
    m1, data, val = _setup()
    h1 = train(m1, data, _CFG, validation=val)
    m2, _, _ = _setup()
    h2 = train(m2, data, _CFG, validation=val)
    assert h1 == h2
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert h1["weight_refresh_steps"] == [6, 26, 46]  # warm-up of 10 % of 60 steps, then every 20
    assert h1["val_loss"][-1] < h1["val_loss"][0]


def test_checkpoint_resume_matches_an_uninterrupted_fit(tmp_path) -> None:
    full, data, val = _setup()
    h_full = train(full, data, _CFG, validation=val)

    def crash(step: int, module: MultiscaleModule) -> None:
        if step == 50:
            raise KeyboardInterrupt

    path = tmp_path / "fit.ckpt"
    part, _, _ = _setup()
    with pytest.raises(KeyboardInterrupt):
        train(part, data, _CFG, validation=val, checkpoint_path=path, callback=crash)
    assert torch.load(path, weights_only=True)["step"] == 40
    resumed, _, _ = _setup(seed=1)  # other initial weights: everything must come from the checkpoint
    h_resumed = train(resumed, data, _CFG, validation=val, checkpoint_path=path)
    assert h_resumed == h_full
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    other = TrainConfig(**{**_CFG.__dict__, "learning_rate": 0.5})
    with pytest.raises(InputError, match="other training parameters"):
        train(resumed, data, other, checkpoint_path=path)


def test_early_stopping_restores_the_best_model(tmp_path) -> None:
    module, data, val = _setup()
    cfg = TrainConfig(max_steps=400, batch_size=32, learning_rate=0.05, eval_every=10, patience=2, seed=0)
    path = tmp_path / "stop.ckpt"
    hist = train(module, data, cfg, validation=val, checkpoint_path=path)
    assert hist["stopped_early"] == [True] and hist["step"][-1] < 400
    best = hist["best_step"][0]
    assert hist["val_loss"][hist["step"].index(best)] == min(hist["val_loss"])
    again, _, _ = _setup(seed=1)
    assert train(again, data, cfg, validation=val, checkpoint_path=path) == hist  # stopped: nothing to resume
    for a, b in zip(module.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_gains_below_min_improvement_do_not_reset_the_patience() -> None:
    """``min_improvement``: an evaluation resets the patience only when it lowers the loss of the last one
    that did by that share; the state of the lowest loss is kept even when its gain was smaller."""
    runs = {}
    for tolerance in (0.0, 0.05):
        module, data, val = _setup()
        cfg = TrainConfig(max_steps=400, batch_size=32, learning_rate=0.01, eval_every=10, patience=3, seed=0,
                          min_improvement=tolerance)  # fmt: skip
        runs[tolerance] = (train(module, data, cfg, validation=val), module)
    (plain, plain_model), (tolerant, tolerant_model) = runs[0.0], runs[0.05]
    n = len(tolerant["step"])
    assert n < len(plain["step"]) and tolerant["val_loss"] == plain["val_loss"][:n]  # the same fit, stopped sooner
    reference, lowest, bad, small_gains = float("inf"), float("inf"), 0, 0
    for loss in tolerant["val_loss"]:
        small_gains += 0.95 * reference <= loss < lowest
        lowest = min(lowest, loss)
        reference, bad = (loss, 0) if loss < 0.95 * reference else (reference, bad + 1)
    assert bad == 3 and small_gains > 0  # stopped at the third evaluation without a 5 % gain, after a smaller gain
    assert tolerant["best_step"] == plain["best_step"]
    assert tolerant["val_loss"][tolerant["step"].index(tolerant["best_step"][0])] == min(tolerant["val_loss"])
    for a, b in zip(plain_model.state_dict().values(), tolerant_model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    for bad_value in (-0.1, 1.0, float("nan")):
        with pytest.raises(InputError, match="min_improvement"):
            TrainConfig(min_improvement=bad_value)


def test_validation_every_few_passes_over_a_short_recording() -> None:
    """``eval_passes``: a recording whose batch holds all its pairs is validated every 10 passes (steps),
    not every ``eval_every`` steps; a long one keeps ``eval_every``; never closer than 10 steps."""
    from ndx_causal_emergence.models.training import MIN_EVAL_INTERVAL, evaluation_interval

    cfg = TrainConfig(batch_size=256, eval_every=100, eval_passes=10)
    assert evaluation_interval(cfg, 174) == 10  # the 15 x 250 file: one step is one pass
    assert evaluation_interval(cfg, 695) == 28  # the demo: 10 passes of 2.7 steps
    assert evaluation_interval(cfg, 3590) == 100  # the calibration systems: eval_every comes sooner
    assert evaluation_interval(TrainConfig(batch_size=256, eval_every=100, eval_passes=1), 50) == MIN_EVAL_INTERVAL
    assert evaluation_interval(TrainConfig(batch_size=256, eval_every=100, eval_passes=20), 50) == 20  # 1 step a pass
    assert evaluation_interval(TrainConfig(batch_size=256, eval_every=100), 174) == 100  # eval_passes None: off
    module, data, val = _setup()  # 319 pairs, batches of 32: a pass is 10 steps
    cfg = TrainConfig(max_steps=120, batch_size=32, eval_every=50, eval_passes=2, seed=0)
    hist = train(module, data, cfg, validation=val)
    assert hist["step"] == list(range(20, 121, 20)) and hist["eval_interval"] == [20]


def test_too_few_pairs_is_a_data_error() -> None:
    module, _, _ = _setup()
    short = TransitionData.build(np.zeros((10, 5)), np.zeros(10))
    with pytest.raises(DataError, match="at least 20 transition pairs"):
        train(module, short, _CFG)


def test_multi_lag_training_runs_and_reverse_gradient_is_stopped() -> None:
    module, data, _ = _setup()
    data = TransitionData.build(data.frames, np.zeros(len(data.frames)), max_lag=5)
    train(module, data, TrainConfig(max_steps=12, batch_size=16, multi_lag=True, seed=1))
    # the reverse term alone must not move the encoder (docs/method.md §2.1)
    from ndx_causal_emergence.models.training import _batch_loss

    x0 = torch.as_tensor(data.frames[:16])
    x1 = torch.as_tensor(data.frames[1:17])
    cfg = TrainConfig(reverse_weight=1.0)
    module.zero_grad()
    fwd_only = TrainConfig(use_reverse=False)
    g = torch.Generator().manual_seed(0)
    _batch_loss(module, x0, x1, 1, None, fwd_only, True, g).backward()
    enc_fwd = [p.grad.clone() for p in module.encoders.parameters()]
    module.zero_grad()
    g = torch.Generator().manual_seed(0)
    _batch_loss(module, x0, x1, 1, None, cfg, True, g).backward()
    for a, p in zip(enc_fwd, module.encoders.parameters(), strict=True):
        assert torch.allclose(a, p.grad)
    assert any(p.grad.abs().sum() > 0 for p in module.reverse_maps.parameters())
    module.zero_grad()
    g = torch.Generator().manual_seed(0)
    official = TrainConfig(reverse_trains_encoder=True)
    _batch_loss(module, x0, x1, 1, None, official, True, g).backward()
    assert any(not torch.allclose(a, p.grad) for a, p in zip(enc_fwd, module.encoders.parameters(), strict=True))


def test_official_stage_options() -> None:
    """``warmup_reverse=False``: the warm-up leaves G untouched; ``weight_delay``: first refresh that much later;
    ``batch_replacement=False``: distinct pairs in a batch; ``forward_weighted=False``: weights only on G."""
    from ndx_causal_emergence.models.training import _batch, _batch_loss

    module, data, _ = _setup()
    before = [p.detach().clone() for p in module.reverse_maps.parameters()]
    cfg = TrainConfig(max_steps=60, batch_size=32, weight_refresh=20, warmup_fraction=0.5, warmup_reverse=False,
                      weight_delay=10, weight_decay=1e-4, weighted_weight_decay=1e-5, weight_clip=None,
                      batch_replacement=False, eval_every=30, seed=3)  # fmt: skip
    probe = []
    history = train(module, data, cfg, callback=lambda step, m: probe.append(
        (step, all(torch.equal(a, p) for a, p in zip(before, m.reverse_maps.parameters(), strict=True)))))  # fmt: skip
    assert probe == [(30, True), (60, False)]  # untouched through the warm-up, trained after it
    assert history["weight_refresh_steps"] == [40]  # warm-up 30 steps, then w = 1 for 10 steps
    rng = np.random.default_rng(0)
    starts = np.arange(40)
    assert len(set(_batch(rng, starts, cfg.batch_size, replacement=cfg.batch_replacement).tolist())) == 32
    assert len(set(_batch(rng, starts, 32).tolist())) < 32  # i.i.d. draws repeat
    assert _batch(rng, starts, 40).tolist() == starts.tolist()  # no more pairs than a batch: all, once
    assert _batch(rng, starts, 64, replacement=False).tolist() == starts.tolist()
    x0, x1 = torch.as_tensor(data.frames[:16]), torch.as_tensor(data.frames[1:17])
    w = torch.ones(module.n_scales, 16)
    w[:, 0] = 50.0
    losses = []
    for forward_weighted in (True, False):
        c = TrainConfig(use_reverse=False, latent_forward_weight=0.0, forward_weighted=forward_weighted)
        losses.append(_batch_loss(module, x0, x1, 1, w, c, True, torch.Generator().manual_seed(0)).item())
    plain = TrainConfig(use_reverse=False, latent_forward_weight=0.0)
    unweighted = _batch_loss(module, x0, x1, 1, None, plain, True, torch.Generator().manual_seed(0)).item()
    assert losses[1] == pytest.approx(unweighted) and losses[0] != pytest.approx(unweighted)
