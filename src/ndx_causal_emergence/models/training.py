"""Transition pairs and the training loop of (multiscale) NIS+ (docs/method.md §2).

- :class:`TransitionData`: frames with segment labels and the valid ``(t, t + lag)`` pairs; pairs
  never cross a segment boundary or a missing (NaN) frame.
- :func:`train`: two stages. Warm-up (``warmup_fraction`` of the steps): forward term, ``w = 1``.
  Then the weighted loss, inverse-probability weights refreshed every ``weight_refresh`` steps
  from the whole training set. i.i.d. mini-batches of pairs, Adam, validation loss, optional
  early stopping, checkpoints that let an interrupted fit resume exactly.

The loss per scale ``k`` (mean over scales) is

.. math::

    \\frac{1}{B}\\sum_n w_n \\frac{\\lVert \\hat x^{(k)}_{t+\\tau} - x_{t+\\tau} \\rVert_1}{N}
    + \\mu\\,\\frac{1}{B}\\sum_n w_n \\frac{\\lVert F_k^{\\tau}(y^{(k)}_t) - y^{(k)}_{t+\\tau} \\rVert_1}{d_k}
    + \\lambda\\,\\frac{1}{B}\\sum_n w_n \\frac{\\lVert G_k^{\\tau}(y^{(k)}_{t+\\tau}) - y^{(k)}_t \\rVert_1}{d_k}.

**The latent-space terms train only the dynamics**: their inputs and targets are detached from
the encoder. Otherwise the encoder lowers them by shrinking the latents (docs/method.md §2.1).
``reverse_trains_encoder=True`` restores the official code's convention for the reverse term in
the weighted stage. The latent forward term (weight μ, ``latent_forward_weight``; 0 in the
official set-up) is ours: the micro term alone trains ``F_k`` only through the decoder, whose
input coordinates differ from the encoded data wherever the discarded coordinates of the data are
not near their padding value; then ``F_k`` can predict the micro state well while mapping
latents far from where the data go next (on a simulated double well it sent the wells to
``≈ −2×`` each other), and the Σ, EI and fixed points measured on ``F_k`` mean little.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import DataError, InputError
from ..measures import ipw_weights
from ..runtime.threads import map_on_spare_cores
from .adam import Adam
from .dynamics import ResidualMLP
from .multiscale import MultiscaleModule, PerScaleModule
from .seeding import seeded
from .selection import ScaleSelection

__all__ = [
    "MIN_EVAL_INTERVAL",
    "MIN_PAIRS",
    "Z99",
    "TrainConfig",
    "TransitionData",
    "as_frames",
    "evaluation_interval",
    "fit_observed_map",
    "percentile_affine",
    "polish_forward_maps",
    "resolve_device",
    "split_validation",
    "train",
    "train_per_scale",
    "principal_affine",
    "principal_axes",
    "validation_loss",
]

MIN_PAIRS = 20
#: The fewest steps between two validations (:func:`evaluation_interval`).
MIN_EVAL_INTERVAL = 10
_CHUNK = 8192


@dataclass(frozen=True)
class TransitionData:
    """Frames (NaN rows = missing) and the start indices of valid pairs per lag.

    Attributes
    ----------
    frames : np.ndarray, shape (n_frames, n_features)
        float32; rows with any NaN are missing frames.
    starts : dict of int to np.ndarray
        ``starts[lag]``: indices ``t`` such that frames ``t .. t + lag`` are finite and in one segment.
    """

    frames: np.ndarray
    starts: dict[int, np.ndarray]

    @classmethod
    def build(cls, frames: np.ndarray, labels: np.ndarray, *, max_lag: int = 1) -> TransitionData:
        """Pairs from frames ``(T, N)`` and per-frame segment labels ``(T,)``."""
        finite = np.isfinite(frames).all(axis=1)
        brk = np.ones(len(frames), dtype=bool)
        brk[1:] = (labels[1:] != labels[:-1]) | ~finite[1:] | ~finite[:-1]
        run = np.cumsum(brk)
        starts = {}
        for lag in range(1, max_lag + 1):
            t = np.arange(max(len(frames) - lag, 0))
            ok = finite[t] & finite[t + lag] & (run[t] == run[t + lag])
            starts[lag] = t[ok]
        return cls(frames=np.asarray(frames, dtype=np.float32), starts=starts)

    @property
    def n_pairs(self) -> int:
        """Number of one-step pairs."""
        return len(self.starts[1])

    @property
    def finite_rows(self) -> np.ndarray:
        """Indices of the frames that are not missing."""
        return np.flatnonzero(np.isfinite(self.frames).all(axis=1))


def _real_array(values: Any, name: str) -> np.ndarray:
    """``values`` as a float64 array; complex values raise instead of losing their imaginary part."""
    try:
        array = np.asarray(values)
    except ValueError as err:  # ragged nested lists
        raise InputError(f"{name} must be a rectangular (n_frames, n_features) array: {err}") from None
    if np.iscomplexobj(array):
        raise InputError(f"Complex data not supported: {name} must hold real numbers.")
    return array.astype(float, copy=False)


def as_frames(X: Any, segments: Any = None, *, name: str = "X") -> tuple[np.ndarray, np.ndarray]:
    """Stack ``X`` (a ``(T, N)`` array-like or a list of ``(T_i, N)`` segments) into frames and segment labels.

    A list counts as segments when its first item is 2-D; a list of rows is one array.

    Raises
    ------
    InputError
        If ``X`` is not 2-D numeric, segment widths differ, or ``segments`` has the wrong length.
    DataError
        If ``X`` holds infinite values or no finite frame.
    """
    if type(X).__module__.startswith("scipy.sparse"):
        raise InputError(f"{name} is a sparse matrix; pass a dense array ({name}.toarray()).")
    if isinstance(X, (list, tuple)) and (not X or np.ndim(X[0]) == 2):
        if segments is not None:
            raise InputError(f"give {name} either as a list of segments or as one array with segments=, not both.")
        parts = [_real_array(p, name) for p in X]
        if not parts or any(p.ndim != 2 for p in parts) or len({p.shape[1] for p in parts}) != 1:
            raise InputError(f"{name} must be a non-empty list of 2-D (T_i, N) arrays with the same N.")
        frames = np.concatenate(parts)
        labels = np.repeat(np.arange(len(parts)), [len(p) for p in parts])
    else:
        frames = _real_array(X, name)
        if frames.ndim != 2:
            hint = f" Reshape your data: {name}.reshape(-1, 1) for one channel, {name}.reshape(1, -1) for one frame."
            raise InputError(
                f"{name} must be a (n_frames, n_features) array, got shape {frames.shape}."
                + (hint if frames.ndim == 1 else "")
            )
        labels = np.zeros(len(frames), dtype=np.int64) if segments is None else np.asarray(segments)
        if labels.shape != (len(frames),):
            raise InputError(f"segments must have one label per frame ({len(frames)}), got shape {labels.shape}.")
    if frames.shape[1] == 0:
        raise InputError(f"{name} has 0 feature(s) (shape={frames.shape}) while a minimum of 1 is required.")
    if np.isinf(frames).any():
        raise DataError(f"{name} holds infinite values; replace them by NaN (missing frames) or clip them.")
    if not np.isfinite(frames).all(axis=1).any():
        raise DataError(f"{name} has no finite frame (all rows hold NaN); check the input series.")
    return frames, labels


def split_validation(
    frames: np.ndarray, labels: np.ndarray, *, fraction: float = 0.1
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Hold out the last ``fraction`` of the pairs of each segment (at least one; segments under 3 frames stay whole).

    Returns ``((train_frames, train_labels), (val_frames, val_labels))``; the two share each
    segment's boundary frame, so no pair is lost.
    """
    bounds = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1], True])
    train_idx, val_idx, val_lab = [], [], []
    for seg, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        n = b - a
        n_val = max(1, round(fraction * (n - 1))) if n >= 3 else 0
        cut = b - 1 - n_val
        train_idx.append(np.arange(a, cut + 1 if n_val else b))
        if n_val:
            val_idx.append(np.arange(cut, b))
            val_lab.append(np.full(b - cut, seg))
    tr = np.concatenate(train_idx)
    va = np.concatenate(val_idx) if val_idx else np.zeros(0, dtype=np.int64)
    vl = np.concatenate(val_lab) if val_lab else np.zeros(0, dtype=np.int64)
    return (frames[tr], labels[tr]), (frames[va], vl)


def percentile_affine(latents: np.ndarray, *, q: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension ``(center, half_range)`` sending the ``q``-th and ``(100-q)``-th percentiles to ∓1 (§3.0).

    A dimension with zero spread gets ``half_range = 1``.
    """
    lo, hi = np.percentile(latents, [q, 100.0 - q], axis=0)
    half = (hi - lo) / 2.0
    return (hi + lo) / 2.0, np.where(half > 0, half, 1.0)


#: The 99th percentile of the standard normal: a Gaussian coordinate's half-range under :func:`percentile_affine`.
Z99 = NormalDist().inv_cdf(0.99)


def principal_axes(values: np.ndarray) -> np.ndarray:
    """The principal axes of ``values`` as the columns of an orthogonal matrix, by decreasing variance."""
    centred = values - values.mean(axis=0)
    _, axes = np.linalg.eigh(centred.T @ centred / max(len(values), 1))
    return axes[:, ::-1].copy()  # decreasing variance; a copy: torch takes no negative strides


def principal_affine(
    values: np.ndarray, *, axes: np.ndarray | None = None, q: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(center, half_range, axes)`` of :func:`percentile_affine` taken along principal axes.

    In ``u = ((y − center) @ axes) / half_range`` each coordinate sends the ``q``-th and
    ``(100 − q)``-th percentiles of ``values`` to ∓1. ``axes`` holds the axes as columns: the
    principal axes of ``values`` by default (decreasing variance), or axes estimated elsewhere —
    the measurement takes them from the training block (docs/method.md §3.6) so that the spread
    along each axis is not the one the axes were chosen to maximise. An axis without spread gets
    ``half_range = 1``.
    """
    axes = principal_axes(values) if axes is None else np.asarray(axes, dtype=np.float64)
    mid, half = percentile_affine(values @ axes, q=q)
    return mid @ axes.T, half, axes


def resolve_device(device: str) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; otherwise ``torch.device(device)``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as err:
        raise InputError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:<n>', got {device!r}: {err}") from None


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of :func:`train` (see :class:`~ndx_causal_emergence.models.MultiscaleNISPlus`)."""

    max_steps: int = 2000
    batch_size: int = 256
    learning_rate: float = 1e-3
    warmup_fraction: float = 0.1
    use_weights: bool = True
    use_reverse: bool = True
    reverse_weight: float = 1.0
    reverse_trains_encoder: bool = False
    latent_forward_weight: float = 1.0
    weight_refresh: int = 1000
    weight_delay: int = 0
    weight_clip: float | None = 10.0
    kde_max_dims: int = 10
    kde_components: int | None = None
    forward_weighted: bool = True
    warmup_reverse: bool = True
    weight_decay: float = 0.0
    weighted_weight_decay: float | None = None
    batch_replacement: bool = True
    only_scale: int | None = None
    kde_bandwidth: float = 0.05
    weight_domain: str = "normalized"
    multi_lag: bool = False
    max_lag: int = 5
    decoder_noise: float = 1.0
    eval_every: int = 250
    eval_passes: float | None = None
    patience: int | None = None
    min_improvement: float = 0.0
    checkpoint_every: int = 500
    seed: int = 0
    device: str = "cpu"
    verbose: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_improvement < 1.0:
            raise InputError(f"min_improvement must be in [0, 1), got {self.min_improvement!r}.")

    def fingerprint(self) -> str:
        """What a checkpoint must match to be resumed (all but device and verbosity)."""
        return json.dumps({k: v for k, v in asdict(self).items() if k not in ("device", "verbose")}, sort_keys=True)


def _wmean(values: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    return values.mean() if weights is None else (values * weights).mean()


def _batch_loss(
    module: MultiscaleModule,
    x0: torch.Tensor,
    x1: torch.Tensor,
    lag: int,
    weights: torch.Tensor | None,
    cfg: TrainConfig,
    weighted_stage: bool,
    generator: torch.Generator,
) -> torch.Tensor:
    last = module.n_scales - 1 if cfg.only_scale is None else cfg.only_scale
    used = list(range(last + 1)) if cfg.only_scale is None else [last]  # the scales whose terms count
    y0 = module.encode(x0, upto=last)
    ahead = module.step(y0, lag=lag)
    decoded = module.decode([a if k in used else None for k, a in enumerate(ahead)], noise_std=cfg.decoder_noise,
                            generator=generator)  # fmt: skip
    w = [None] * module.n_scales if weights is None else list(weights)
    wf = w if cfg.forward_weighted else [None] * module.n_scales

    def mean_l1(pred: list, target: list, wk: list) -> torch.Tensor:
        """The weighted L1 error of each used scale, averaged over them."""
        return torch.stack([_wmean((pred[k] - target[k]).abs().mean(dim=1), wk[k]) for k in used]).mean()

    total = mean_l1(decoded, [x1] * (last + 1), wf)
    reverse = cfg.use_reverse and module.reverse_maps is not None and (weighted_stage or cfg.warmup_reverse)
    if not (reverse or cfg.latent_forward_weight > 0):
        return total
    encoder_trained = reverse and weighted_stage and cfg.reverse_trains_encoder
    with torch.set_grad_enabled(encoder_trained):
        y1 = module.encode(x1, upto=last)
    fixed0, fixed1 = [y.detach() for y in y0], [y.detach() for y in y1]
    if cfg.latent_forward_weight > 0:  # F_k fits the encoded transitions; trains F only (no gradient to encoder)
        total = total + cfg.latent_forward_weight * mean_l1(module.step(fixed0, lag=lag), fixed1, wf)
    if reverse:  # trains G only, unless the official convention lets it train the encoder
        back = module.step(y1 if encoder_trained else fixed1, lag=lag, reverse=True)
        total = total + cfg.reverse_weight * mean_l1(back, y0 if encoder_trained else fixed0, w)
    return total


@torch.no_grad()
def _encode_rows(module: MultiscaleModule, frames: torch.Tensor, rows: np.ndarray) -> list[np.ndarray]:
    parts = [
        module.encode(frames[torch.as_tensor(rows[i : i + _CHUNK], device=frames.device)])
        for i in range(0, len(rows), _CHUNK)
    ]
    return [torch.cat([p[k] for p in parts]).cpu().double().numpy() for k in range(module.n_scales)]


def _refresh_weights(
    module: MultiscaleModule, frames: torch.Tensor, rows: np.ndarray, cfg: TrainConfig, step: int
) -> torch.Tensor:
    """IPW weights ``(K + 1, n_frames)`` of every training frame (0 on missing frames)."""
    out = torch.zeros(module.n_scales, frames.shape[0], device=frames.device)
    latents = _encode_rows(module, frames, rows)
    scales = [k for k in range(module.n_scales) if cfg.only_scale in (None, k)]  # a per-scale stage: its own

    def weights_of(k: int) -> np.ndarray:
        lat = latents[k]
        if cfg.weight_domain == "normalized":
            center, half = percentile_affine(lat)
            lat = (lat - center) / half
        return ipw_weights(lat, bandwidth=cfg.kde_bandwidth, clip=cfg.weight_clip, max_dims=cfg.kde_max_dims,
                           n_components=cfg.kde_components, seed=cfg.seed + step)  # fmt: skip

    for k, w in zip(scales, map_on_spare_cores(weights_of, scales), strict=True):
        out[k, torch.as_tensor(rows, device=frames.device)] = torch.as_tensor(w, dtype=out.dtype, device=out.device)
    return out


@torch.no_grad()
def validation_loss(module: MultiscaleModule, data: TransitionData, frames: torch.Tensor | None = None) -> float:
    """Unweighted one-step forward L1 loss (deterministic decode), mean over scales, on ``data``'s pairs."""
    device = next(module.parameters()).device
    if frames is None:
        frames = torch.as_tensor(np.nan_to_num(data.frames), device=device)
    starts = data.starts[1]
    total = np.zeros(module.n_scales)
    for i in range(0, len(starts), _CHUNK):
        idx = torch.as_tensor(starts[i : i + _CHUNK], device=device)
        x1 = frames[idx + 1]
        decoded = module.decode(module.step(module.encode(frames[idx])))
        total += np.array([(xh - x1).abs().mean(dim=1).sum().item() for xh in decoded])
    return float(total.mean() / max(len(starts), 1))


def _lag_distribution(data: TransitionData, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    lags = np.arange(1, (cfg.max_lag if cfg.multi_lag else 1) + 1)
    lags = lags[[len(data.starts[int(t)]) > 0 for t in lags]]
    p = np.exp(-lags.astype(float))
    return lags, p / p.sum()


def _adam(module: torch.nn.Module, learning_rate: float, weight_decay: float = 0.0) -> Adam:
    """Adam on ``module``'s parameters, with torch's multi-tensor (``foreach``) update on every device (:mod:`.adam`):
    the same numbers as the per-tensor loop, in about half its time on the small models of short recordings.
    ``weight_decay`` is Adam's L2 penalty (the official mice code's convention)."""
    return Adam(module.parameters(), learning_rate, weight_decay=weight_decay)


def evaluation_interval(cfg: TrainConfig, n_pairs: int) -> int:
    """Steps between validations: ``cfg.eval_every``, or ``cfg.eval_passes`` passes over the ``n_pairs``
    training pairs when that comes sooner, never fewer than :data:`MIN_EVAL_INTERVAL` steps.

    A step of a short recording is a whole pass over its pairs (a batch holds them all), so its
    validation loss can reach its minimum and climb again well inside a fixed ``eval_every``;
    counted in passes, it is looked at after the same amount of data seen (``eval_passes`` passes)
    whatever the recording's length, up to ``eval_every`` steps.
    """
    if cfg.eval_passes is None:
        return cfg.eval_every
    steps_per_pass = max(1.0, n_pairs / cfg.batch_size)  # a batch holds at most the recording's pairs
    per_passes = int(np.ceil(cfg.eval_passes * steps_per_pass))
    return min(cfg.eval_every, max(MIN_EVAL_INTERVAL, per_passes))


def _batch(rng: np.random.Generator, starts: np.ndarray, size: int, *, replacement: bool = True) -> np.ndarray:
    """The start indices of one batch of ``size``: i.i.d. draws, or distinct pairs (``replacement=False``).

    A recording with no more pairs than ``size`` gives all of them, once, at every step:
    drawing a larger batch from fewer pairs would repeat some and leave others out at random, for
    more work and a noisier gradient.
    """
    if len(starts) <= size:
        return starts
    if replacement:
        return starts[rng.integers(len(starts), size=size)]
    return starts[rng.choice(len(starts), size=size, replace=False)]


def _save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def train(
    module: MultiscaleModule,
    data: TransitionData,
    cfg: TrainConfig,
    *,
    validation: TransitionData | None = None,
    checkpoint_path: str | os.PathLike | None = None,
    callback: Callable[[int, MultiscaleModule], None] | None = None,
    selection: ScaleSelection | None = None,
) -> dict[str, list]:
    """Train ``module`` in place on ``data`` and return the history.

    Parameters
    ----------
    module : MultiscaleModule
        The model (moved to ``cfg.device``; left there).
    data : TransitionData
        Training pairs (at least :data:`MIN_PAIRS`).
    cfg : TrainConfig
        Hyperparameters.
    validation : TransitionData, optional
        Held-out pairs for the validation loss and early stopping.
    checkpoint_path : path, optional
        Written every ``cfg.checkpoint_every`` steps and at the end. If it exists, training
        resumes from it (and must have been written with the same ``cfg``).
    callback : callable, optional
        ``callback(step, module)`` after every evaluation (every :func:`evaluation_interval` steps).
    selection : ScaleSelection, optional
        Updated with the model before the first step and at every evaluation (its state is part
        of the checkpoint), to keep each scale's best state (:mod:`.selection`).

    The loop reports its steps as the ``fit`` phase (:mod:`~ndx_causal_emergence.runtime.progress`)
    and, when the job has a time budget (:mod:`~ndx_causal_emergence.runtime.budget`), ends after
    the step that reaches its share of it: it validates, keeps the best state and returns.

    Returns
    -------
    dict of list
        ``step``, ``train_loss`` (mean over the last evaluation window), ``val_loss`` (NaN
        without validation), ``weight_refresh_steps``, ``stopped_early``, ``stopped_by_time``,
        ``best_step`` and ``eval_interval`` (the steps between validations).

    Raises
    ------
    DataError
        If there are fewer than :data:`MIN_PAIRS` training pairs.
    InputError
        If ``checkpoint_path`` was written with other hyperparameters.
    """
    if data.n_pairs < MIN_PAIRS:
        raise DataError(
            f"need at least {MIN_PAIRS} transition pairs to train, found {data.n_pairs} among the "
            f"n_samples={len(data.frames)} training frames (pairs never cross a segment boundary or a NaN frame); "
            "give a longer recording or fewer missing frames."
        )
    device = resolve_device(cfg.device)
    module.to(device)
    frames = torch.as_tensor(np.nan_to_num(data.frames), device=device)
    val_frames = None if validation is None else torch.as_tensor(np.nan_to_num(validation.frames), device=device)
    rows = data.finite_rows
    optimizer = _adam(module, cfg.learning_rate, cfg.weight_decay)
    rng = np.random.default_rng(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)  # CPU: decoder noise identical on every device
    lags, lag_p = _lag_distribution(data, cfg)
    n_warm = int(round(cfg.warmup_fraction * cfg.max_steps))
    every = evaluation_interval(cfg, data.n_pairs)
    weights: torch.Tensor | None = None
    history: dict[str, list] = {"step": [], "train_loss": [], "val_loss": [], "weight_refresh_steps": []}
    best = {"val": float("inf"), "reference": float("inf"), "state": None, "step": 0, "bad": 0}
    start, window, stopped = 0, [], False
    path = None if checkpoint_path is None else Path(checkpoint_path)
    if path is not None and path.exists():
        ck = torch.load(path, map_location=device, weights_only=True)
        if ck["fingerprint"] != cfg.fingerprint():
            raise InputError(f"checkpoint {path} was written with other training parameters; delete it to start over.")
        module.load_state_dict(ck["module"])
        optimizer.load_state_dict(ck["optimizer"])
        rng.bit_generator.state = ck["rng"]
        generator.set_state(ck["torch_rng"].cpu())
        weights, history, best, start, window = ck["weights"], ck["history"], ck["best"], ck["step"], ck["window"]
        stopped = ck["stopped"]
        if selection is not None:
            selection.load_state_dict(ck["selection"])
        if stopped:
            start = cfg.max_steps  # it had stopped early: nothing left to train

    def save(step: int) -> None:
        _save_checkpoint(path, {
            "fingerprint": cfg.fingerprint(), "module": module.state_dict(), "optimizer": optimizer.state_dict(),
            "rng": rng.bit_generator.state, "torch_rng": generator.get_state(), "weights": weights,
            "history": history, "best": best, "step": step, "window": window, "stopped": stopped,
            "selection": None if selection is None else selection.state_dict(),
        })  # fmt: skip

    from tqdm.auto import tqdm

    from ..runtime.budget import deadline_for, past, stopped_early
    from ..runtime.cost import FitClock
    from ..runtime.progress import phase

    deadline = deadline_for("model")
    out_of_time = False
    clock = FitClock(
        "model", module, cfg.max_steps - start, torch.get_num_threads(),
        early_stopping=cfg.patience is not None and validation is not None,
    )  # fmt: skip
    if selection is not None and start == 0:
        module.eval()
        selection.update(0, module)  # the start is a candidate: the principal components, before any step
    module.train()
    with phase("fit", total=cfg.max_steps - start, unit="step", label=f"seed {cfg.seed}") as bar:
        for step in tqdm(range(start, cfg.max_steps), disable=not cfg.verbose, desc="fit", initial=start,
                         total=cfg.max_steps):  # fmt: skip
            weighted_stage = step >= n_warm
            if step == n_warm and cfg.weighted_weight_decay is not None:  # a new optimizer, as a second stage
                optimizer = _adam(module, cfg.learning_rate, cfg.weighted_weight_decay)
            since = step - n_warm - cfg.weight_delay
            if cfg.use_weights and weighted_stage and since >= 0 and since % cfg.weight_refresh == 0:
                weights = _refresh_weights(module, frames, rows, cfg, step)
                history["weight_refresh_steps"].append(step)
            lag = int(rng.choice(lags, p=lag_p)) if len(lags) > 1 else 1
            pick = _batch(rng, data.starts[lag], cfg.batch_size, replacement=cfg.batch_replacement)
            idx = torch.as_tensor(pick, device=device)
            w = weights[:, idx] if (weighted_stage and weights is not None) else None
            loss = _batch_loss(module, frames[idx], frames[idx + lag], lag, w, cfg, weighted_stage, generator)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            window.append(loss.item())
            done = step + 1
            out_of_time = past(deadline)
            if done % every == 0 or done == cfg.max_steps or out_of_time:
                module.eval()
                val = validation_loss(module, validation, val_frames) if validation is not None else float("nan")
                if selection is not None:
                    selection.update(done, module)
                module.train()
                history["step"].append(done)
                history["train_loss"].append(float(np.mean(window)))
                history["val_loss"].append(val)
                window = []
                if cfg.patience is not None and validation is not None:
                    if val < best["val"]:  # the lowest loss's state is kept, however small the gain
                        best.update(val=val, state=copy.deepcopy(module.state_dict()), step=done)
                    if val < best["reference"] * (1.0 - cfg.min_improvement):
                        best.update(reference=val, bad=0)
                    else:
                        best["bad"] += 1
                        stopped = best["bad"] >= cfg.patience
                if callback is not None:
                    callback(done, module)
            if path is not None and (
                done % cfg.checkpoint_every == 0 or done == cfg.max_steps or stopped or out_of_time
            ):
                save(done)
            bar.update()
            clock.tick()
            if stopped or out_of_time:
                break
    if out_of_time:
        stopped_early("model", history["step"][-1], cfg.max_steps)
    if best["state"] is not None:
        module.load_state_dict(best["state"])
    module.eval()
    history["stopped_early"] = [stopped]
    history["stopped_by_time"] = [out_of_time]
    history["eval_interval"] = [every]
    history["best_step"] = [best["step"] if best["state"] is not None else (history["step"][-1:] or [0])[0]]
    return history


def train_per_scale(
    module: MultiscaleModule,
    data: TransitionData,
    cfg: TrainConfig,
    *,
    validation: TransitionData | None = None,
    checkpoint_path: str | os.PathLike | None = None,
) -> tuple[PerScaleModule, dict[str, list]]:
    """The official mice protocol's two stages: all scales together, then each scale on its own copy.

    Stage 1 is :func:`train` for the warm-up's steps (``warmup_fraction`` of ``max_steps``);
    stage 2 trains, for each scale ``k``, a copy of the stage-1 model on scale ``k``'s loss alone
    for the remaining steps (seed ``seed + 1 + k``, no validation, its own checkpoint file
    ``<checkpoint_path>.scale<k>``). Returns the :class:`PerScaleModule` of the copies and the
    history: stage 1's keys, then ``stage2_scale<k>_step``, ``..._train_loss`` and
    ``..._weight_refresh_steps`` per scale.
    """
    n_warm = int(round(cfg.warmup_fraction * cfg.max_steps))
    history = train(module, data, replace(cfg, max_steps=max(n_warm, 1), warmup_fraction=1.0),
                    validation=validation, checkpoint_path=checkpoint_path)  # fmt: skip
    parts = []
    for k in range(module.n_scales):
        part = copy.deepcopy(module)
        stage2 = replace(
            cfg, max_steps=cfg.max_steps - n_warm, warmup_fraction=0.0, only_scale=k, seed=cfg.seed + 1 + k
        )
        path = None if checkpoint_path is None else f"{os.fspath(checkpoint_path)}.scale{k}"
        if stage2.max_steps > 0:
            h = train(part, data, stage2, checkpoint_path=path)
            for key in ("step", "train_loss", "weight_refresh_steps"):
                history[f"stage2_scale{k}_{key}"] = h[key]
        parts.append(part)
    return PerScaleModule(parts), history


@torch.no_grad()
def _encoded_pairs(
    module: MultiscaleModule, data: TransitionData, device: torch.device
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Raw latents ``(y_t, y_t+1)`` of every scale for the one-step pairs of ``data``, float32 on ``device``."""
    t = data.starts[1]
    frames = np.concatenate([data.frames[t], data.frames[t + 1]])
    out = []
    for lat in _encode_rows(module, torch.as_tensor(frames, device=device), np.arange(len(frames))):
        both = torch.as_tensor(lat, dtype=torch.float32, device=device)
        out.append((both[: len(t)], both[len(t) :]))
    return out


def polish_forward_maps(
    module: MultiscaleModule,
    data: TransitionData,
    validation: TransitionData | None,
    cfg: TrainConfig,
    *,
    max_steps: int,
    patience: int = 5,
) -> list[int]:
    """Fine-tune each ``F_k`` on the encoded pairs, the encoder frozen, for the measurement (docs/method.md §3.1).

    The loss is the one-step squared error in whitened coordinates of the scale's training
    latents (Mahalanobis: every principal direction counts alike), which is what Σ measures; the
    joint training fits ``F_k`` on raw L1 errors, where directions of small spread (noise the
    coarse-graining left in) weigh nothing, so ``F_k`` could stay near the identity there and
    fail to beat the mean. Validation every 50 steps keeps the best map (early stop after
    ``patience`` evaluations without improvement, or at the fit's deadline under a time budget).
    Returns the steps kept per scale.
    """
    from ..runtime.budget import deadline_for, past
    from ..runtime.progress import tracked

    deadline = deadline_for("polish")  # the fit's share of a --max-time budget, if any
    device = next(module.parameters()).device
    rng = np.random.default_rng(cfg.seed + 2)
    kept = []
    pairs = _encoded_pairs(module, data, device)  # the encoders are frozen: every scale's latents at once
    held_out = _encoded_pairs(module, validation, device) if validation is not None else pairs
    for k, net in tracked(list(enumerate(module.forward_maps)), "polish maps", unit="scale"):
        (y0, y1), (v0, v1) = pairs[k], held_out[k]
        centred = (y0 - y0.mean(dim=0)).double()
        variances, axes = torch.linalg.eigh(centred.T @ centred / max(len(y0), 1))
        whiten = (axes / torch.sqrt(variances.clamp_min(1e-12 * variances.max().clamp_min(1e-30)))).float()

        def loss_of(a: torch.Tensor, b: torch.Tensor, net: nn.Module = net, w: torch.Tensor = whiten) -> torch.Tensor:
            return (((net(a) - b) @ w) ** 2).mean()

        optimizer = _adam(net, cfg.learning_rate)
        with torch.no_grad():
            best = (loss_of(v0, v1).item(), copy.deepcopy(net.state_dict()), 0)
        bad = 0
        for step in range(1, max_steps + 1):
            idx = torch.as_tensor(_batch(rng, np.arange(len(y0)), cfg.batch_size), device=device)
            loss = loss_of(y0[idx], y1[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step % 50 == 0 or past(deadline):
                with torch.no_grad():
                    val = loss_of(v0, v1).item()
                if val < best[0]:
                    best, bad = (val, copy.deepcopy(net.state_dict()), step), 0
                else:
                    bad += 1
                if bad >= patience or past(deadline):
                    break
        net.load_state_dict(best[1])
        kept.append(best[2])
    return kept


def fit_observed_map(
    data: TransitionData, cfg: TrainConfig, *, hidden_width: int, n_hidden: int = 2, squash: bool = False
) -> ResidualMLP:
    """Fit the observed-space micro reference: a residual MLP ``x_{t+1} ≈ x_t + f(x_t)`` on the channels (L1 loss).

    Uses ``cfg``'s steps, batch size, learning rate, seed and device; no weights, no encoder.
    Stops early when the job's time budget (:mod:`~ndx_causal_emergence.runtime.budget`) runs out.
    Returns the map on the CPU, in eval mode.
    """
    device = resolve_device(cfg.device)
    with seeded(cfg.seed):
        net = ResidualMLP(data.frames.shape[1], hidden_width=hidden_width, n_hidden=n_hidden, squash=squash)
    net.to(device)
    frames = torch.as_tensor(np.nan_to_num(data.frames), device=device)
    optimizer = _adam(net, cfg.learning_rate)
    rng = np.random.default_rng(cfg.seed + 1)
    starts = data.starts[1]
    from ..runtime.budget import deadline_for, past, stopped_early
    from ..runtime.cost import FitClock
    from ..runtime.progress import phase

    deadline = deadline_for("observed")
    clock = FitClock("observed reference", net, cfg.max_steps, torch.get_num_threads(), early_stopping=False)
    with phase("observed reference", total=cfg.max_steps, unit="step", label=f"seed {cfg.seed}") as bar:
        for step in range(cfg.max_steps):
            idx = torch.as_tensor(_batch(rng, starts, cfg.batch_size), device=device)
            loss = (net(frames[idx]) - frames[idx + 1]).abs().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            bar.update()
            clock.tick()
            if past(deadline):
                stopped_early("observed reference", step + 1, cfg.max_steps)
                break
    return net.cpu().eval()
