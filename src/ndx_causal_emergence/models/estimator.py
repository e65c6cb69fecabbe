"""The scikit-learn-style estimators of (multiscale) NIS+ (docs/method.md §2, §3).

:class:`MultiscaleNISPlus` fits the stacked scale ladder; :class:`~ndx_causal_emergence.models.nis.NISPlus`
and :class:`~ndx_causal_emergence.models.nis.NIS` are its one-scale variants. ``__init__`` only
stores parameters; :meth:`fit` holds the logic and puts learned state in trailing-underscore
attributes; every other public method raises :class:`~ndx_causal_emergence.errors.NotFittedError`
before ``fit``. Measures are delegated to :mod:`ndx_causal_emergence.measures`.

The estimators keep scikit-learn's contract (``get_params``/``set_params``, ``sklearn.base.clone``,
``fit``/``transform``/``fit_transform``, tags, ``check_is_fitted``) without importing scikit-learn
at run time, so they do not subclass ``BaseEstimator``; ``parametrize_with_checks`` runs on them
in the tests. What differs on purpose: a row with NaN is a missing frame (tag ``allow_nan``); a
fit needs at least :data:`~ndx_causal_emergence.models.training.MIN_PAIRS` transition pairs;
a method called before ``fit`` raises the package's
:class:`~ndx_causal_emergence.errors.NotFittedError` (an ``AttributeError``, as scikit-learn's
is, but not a subclass of ``sklearn.exceptions.NotFittedError``).
"""

from __future__ import annotations

import copy
import inspect
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from ..deprecation import renamed_keys, renamed_keywords, warn_renamed
from ..errors import InputError, NotFittedError
from ..measures import causal_emergence, causal_power, emergent_complexity, estimate_sigma2, gaussian_ei, ipw_weights
from ..measures.ei import EIResult
from ..measures.resampling import ScaleResiduals
from ..runtime.progress import tracked
from ..runtime.threads import training_threads
from .coupling import COUPLING_FORMS, COUPLING_INITS
from .dynamics import AffineConjugate, ResidualMLP
from .multiscale import (
    COUPLING_LAYOUTS,
    EncoderMap,
    MultiscaleModule,
    PerScaleModule,
    check_scales,
    coupling_layers,
    dyadic_ladder,
)
from .presets import DEPRECATED_PRESETS, PRESETS, canonical_preset
from .seeding import seeded
from .selection import ScaleSelection
from .serialize import check_format_version, restore, state_of
from .training import (
    TrainConfig,
    TransitionData,
    as_frames,
    fit_observed_map,
    percentile_affine,
    polish_forward_maps,
    principal_affine,
    principal_axes,
    resolve_device,
    split_validation,
    train,
    train_per_scale,
)

__all__ = ["Measurement", "MultiscaleNISPlus"]

_CHUNK = 8192
_SELECTION_FIT_PAIRS = 4096  # training pairs the per-scale selection fits its affine predictors on
_TABLE_COLUMNS = [
    "scale", "dimension", "effective_information", "dimension_averaged_ei", "noise_term", "jacobian_term",
    "causal_emergence", "causal_power", "nmse", "nmse_persistence", "fraction_in_box", "latent_nmse",
    "latent_nmse_persistence", "fit_ok", "causal_emergence_observed",
]  # fmt: skip
# Every hyperparameter any estimator class may resolve, with its value when a class does not expose it.
_ALL_DEFAULTS: dict[str, Any] = {
    "ladder": None, "coarsening": 2, "q": None, "preset": None, "n_coupling_layers": 6, "hidden_width": 256,
    "dynamics_width": 256, "dynamics_depth": 2, "reverse_weight": 1.0, "use_reverse": True, "use_weights": True,
    "reverse_trains_encoder": False, "latent_forward_weight": 1.0, "squash": False, "decoder_noise": None,
    "kde_bandwidth": 0.05, "learning_rate": 1e-4, "batch_size": 100, "max_steps": 10000, "warmup_fraction": 0.1,
    "weight_refresh": 1000, "multi_lag": False, "eval_every": 250, "patience": None, "eval_passes": None,
    "min_improvement": 0.0, "observed_reference": True, "intervention_half_width": 1.0, "ei_domain": "normalized",
    "sigma_convention": "mse",
    "checkpoint_path": None, "device": "auto", "seed": 0, "verbose": False, "weighted_measures": False,
    "pca_init": True, "polish_steps": 2000, "dynamics_activation": "tanh", "squash_reverse": False,
    "coupling_layout": "uniform", "coupling_init": "identity", "coupling_form": "affine", "forward_weighted": True,
    "warmup_reverse": True, "weight_decay": 0.0, "weighted_weight_decay": None, "weight_delay": 0, "weight_clip": 10.0,
    "kde_max_dims": 10, "kde_components": None, "batch_replacement": True, "ei_convention": "standard",
    "stage2_per_scale": False, "keep_best": "joint",
}  # fmt: skip
#: Constructor parameters renamed since models were first stored: old name -> new name (the old ones still work,
#: with a FutureWarning; stored models that name them load silently).
_RENAMED_PARAMS = {"cut": "q", "scales": "ladder"}
#: Constructor parameters added since models were first stored, with the value every model stored without them used.
_ADDED_PARAMS: dict[str, Any] = {"coupling_form": "affine"}
#: Allowed values of the parameters that name a convention.
_CHOICES = {
    "ei_domain": ("normalized", "box"), "sigma_convention": ("mse", "mae"), "ei_convention": ("standard", "official"),
    "coupling_layout": COUPLING_LAYOUTS, "coupling_init": COUPLING_INITS, "coupling_form": COUPLING_FORMS,
    "dynamics_activation": ("tanh", "silu", "leaky_relu"), "keep_best": ("joint", "per_scale"),
}  # fmt: skip


@torch.no_grad()
def _apply(fn: torch.nn.Module, u: np.ndarray) -> np.ndarray:
    """``fn`` on the rows of ``u`` (float32 chunks), float64 out."""
    parts = [fn(torch.as_tensor(u[i : i + _CHUNK], dtype=torch.float32)) for i in range(0, len(u), _CHUNK)]
    return torch.cat(parts).double().numpy() if parts else np.zeros_like(u)


def _ei(fn: AffineConjugate, sigma2: np.ndarray, p: dict[str, Any], **options: Any) -> EIResult:
    """EI of a map in measurement coordinates under the estimator's ``ei_convention``.

    ``"official"`` (the mice code of arXiv:2509.10891): the Jacobian of the map without its
    ``tanh`` squash, no ``q ln 2L`` term, EI clipped at 0; σ² is still that of the squashed map.
    """
    if p["ei_convention"] == "official":
        net = fn.fn
        if isinstance(net, ResidualMLP) and net.squash:
            net = copy.deepcopy(net)
            net.squash = False
        fn = AffineConjugate(net, fn.center, fn.half_range, fn.axes).eval()
        return gaussian_ei(fn, sigma2, L=p["intervention_half_width"], clip=True, box_entropy=False, **options)
    return gaussian_ei(fn, sigma2, L=p["intervention_half_width"], **options)


@dataclass(frozen=True)
class Measurement:
    """A scale table and the per-scale residuals it was computed from (see :meth:`MultiscaleNISPlus.measure`)."""

    table: pd.DataFrame
    residuals: list[ScaleResiduals]


class _NISEstimator:
    """Shared logic of the NIS estimators (parameters, fitting, encoding, measures, state)."""

    _fixed: ClassVar[dict[str, Any]] = {}
    _registry: ClassVar[dict[str, type[_NISEstimator]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _NISEstimator._registry[cls.__name__] = cls

    # ---------------------------------------------------------------- parameters
    def __new__(cls, *args: Any, **kwargs: Any) -> _NISEstimator:
        obj = super().__new__(cls)
        # the parameters the caller chose (under their current names): no preset overrides them
        obj._explicit = frozenset(_RENAMED_PARAMS.get(k, k) for k in kwargs)
        return obj

    @classmethod
    def _param_names(cls) -> list[str]:
        return [p.name for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"]

    def _apply_preset(self) -> None:
        """Set every parameter the caller did not choose to the preset's value (or the default, without a preset).

        Called at the end of ``__init__`` and when ``set_params`` changes the preset; an unknown
        preset name is left for :meth:`_resolved` (at ``fit``) to reject.
        """
        explicit = getattr(self, "_explicit", frozenset())
        sig = inspect.signature(type(self).__init__).parameters
        values: dict[str, Any] = {}
        if isinstance(self.preset, str) and (self.preset in PRESETS or self.preset in DEPRECATED_PRESETS):
            values = PRESETS[canonical_preset(self.preset)]
        for name in self._param_names():
            if name != "preset" and name not in explicit:
                setattr(self, name, values.get(name, sig[name].default))

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The parameters ``fit`` uses: explicit arguments, then the preset's values.

        ``deep`` (scikit-learn's flag for the parameters of nested estimators) changes nothing: no
        parameter is itself an estimator, so the deep and the shallow parameters are the same.
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> _NISEstimator:
        """Set parameters (they count as explicit); a new ``preset`` resets the others. Returns ``self``.

        Unknown names raise :class:`InputError`.
        """
        known = self._param_names()
        for name, value in params.items():
            if name not in known:
                raise InputError(f"{type(self).__name__} has no parameter {name!r}; known: {sorted(known)}.")
            setattr(self, name, value)
        self._explicit = getattr(self, "_explicit", frozenset()) | (set(params) - {"preset"})
        if "preset" in params:
            self._apply_preset()
        return self

    def __sklearn_clone__(self) -> _NISEstimator:
        """An unfitted copy (what ``sklearn.base.clone`` returns) with the same parameters, the same ones explicit.

        A plain ``cls(**get_params())`` would make every parameter explicit, so a later
        ``set_params(preset=...)`` (a grid search over presets) would change nothing on the copy.
        """
        explicit = getattr(self, "_explicit", frozenset()) | {"preset"}
        return type(self)(**{k: copy.deepcopy(v) for k, v in self.get_params().items() if k in explicit})

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags (imports scikit-learn, which only scikit-learn calls this): an unsupervised
        transformer that accepts NaN rows (missing frames) and needs ``fit``."""
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        return Tags(
            estimator_type=None, target_tags=TargetTags(required=False), transformer_tags=TransformerTags(),
            input_tags=InputTags(allow_nan=True), requires_fit=True,
        )  # fmt: skip

    def __sklearn_is_fitted__(self) -> bool:
        """Whether :meth:`fit` has run (``sklearn.utils.validation.check_is_fitted``)."""
        return hasattr(self, "model_")

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if v != defaults.get(k))
        return f"{type(self).__name__}({changed})"

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> _NISEstimator:
        """A plain instance (``preset=None``): the preset's values for this class's parameters, then ``overrides``."""
        names = cls._param_names()
        return cls(**{**{k: v for k, v in PRESETS[canonical_preset(name)].items() if k in names}, **overrides})

    def _resolved(self) -> dict[str, Any]:
        """All hyperparameters: own values (preset already applied), preset values for parameters this class lacks,
        defaults for the rest, then the fixed ones."""
        names = set(self._param_names())
        params = {**_ALL_DEFAULTS, **self.get_params()}
        if params["preset"] is not None:
            preset = PRESETS[canonical_preset(params["preset"])]
            params.update({k: v for k, v in preset.items() if k not in names})
        params.update(self._fixed)
        for key, allowed in _CHOICES.items():
            if params[key] not in allowed:
                raise InputError(f"{key} must be one of {allowed}, got {params[key]!r}.")
        return params

    def _ladder(self, n_features: int, params: dict[str, Any]) -> list[int]:
        raise NotImplementedError

    def ladder_for(self, n_features: int, *, at_once: int = 1) -> list[int]:
        """The scale ladder a fit on ``n_features`` channels would use; raises InputError if it cannot be built.

        Also checks that the model's sizes are bounded and that ``at_once`` such models training at the
        same time fit the memory budget (``--max-memory``; :class:`~ndx_causal_emergence.errors.MemoryBudgetError`).
        """
        from ..safety.architecture import check_model_size

        p = self._resolved()
        scales = self._ladder(n_features, p)
        check_model_size(n_features, scales, p, at_once=at_once)
        return scales

    def scales_for(self, n_features: int) -> list[int]:
        """Old name of :meth:`ladder_for` (``FutureWarning``)."""
        warn_renamed("scales_for", "ladder_for", type(self).__name__, what="method")
        return self.ladder_for(n_features)

    @property
    def scales_(self) -> list[int]:
        """Old name of ``ladder_`` (``FutureWarning``)."""
        warn_renamed("scales_", "ladder_", type(self).__name__, what="attribute")
        return self.ladder_

    # ---------------------------------------------------------------- fitting
    def fit(self, X: Any, y: Any = None, *, segments: Any = None, validation: Any = None) -> _NISEstimator:
        """Fit the model on preprocessed frames.

        Parameters
        ----------
        X : array-like of shape (n_frames, n_features), or list of such 2-D segments
            z-scored channels (about [-1, 1]); rows with NaN are missing frames. Transition
            pairs never cross a segment boundary or a missing frame.
        y : None
            Ignored (scikit-learn convention).
        segments : array of shape (n_frames,), optional
            Segment label per frame when ``X`` is one array (a change of label is a boundary).
        validation : array or list of segments, optional
            Held-out frames for the validation loss and ``sigma2_``; default: the last 10 % of
            the pairs of each segment.

        Returns
        -------
        self

        Raises
        ------
        DataError
            Too few pairs, infinite values or no finite frame.
        InputError
            Malformed input or parameters.
        """
        p = self._resolved()
        frames, labels = as_frames(X, segments)
        if validation is None:
            (frames, labels), (vf, vl) = split_validation(frames, labels)
        else:
            vf, vl = as_frames(validation, name="validation")
            if vf.shape[1] != frames.shape[1]:
                raise InputError(f"validation has {vf.shape[1]} features, X has {frames.shape[1]}.")
        n_features = frames.shape[1]
        train_data = TransitionData.build(frames, labels, max_lag=5 if p["multi_lag"] else 1)
        val_data = TransitionData.build(vf, vl) if len(vf) else None
        if val_data is not None and val_data.n_pairs == 0:
            val_data = None
        scales = self._ladder(n_features, p)
        device = resolve_device(p["device"])
        cfg = self._train_config(p, len(scales), str(device))
        start = time.perf_counter()
        with training_threads():  # everything the learned parameters depend on, on the same threads
            with seeded(p["seed"]):
                module = self._build(n_features, scales, p)
            if p["pca_init"]:
                module.set_rotation(torch.as_tensor(train_data.frames[train_data.finite_rows]))
            module = self._train(module, train_data, val_data, cfg, p, device)
        self.train_seconds_ = time.perf_counter() - start
        self.model_ = module.cpu().eval()
        self.n_features_in_ = n_features
        self.ladder_ = list(scales)
        self.device_ = str(device)
        finite = train_data.frames[train_data.finite_rows]
        self.feature_mean_ = finite.astype(np.float64).mean(axis=0)
        latents = self._encode_raw(finite)
        affines = [percentile_affine(lat) for lat in latents]
        self.latent_center_ = [c for c, _ in affines]
        self.latent_half_range_ = [h for _, h in affines]
        self.latent_axes_ = [principal_axes(lat) for lat in latents]
        self.observed_model_, self.observed_axes_ = None, None
        self.preprocessing_ = None  # the pipeline sets the channel selection and scaling of the raw frames
        if p["observed_reference"]:
            with training_threads():
                self.observed_model_ = fit_observed_map(
                    train_data, cfg, hidden_width=p["dynamics_width"], n_hidden=p["dynamics_depth"]
                )
            self.observed_axes_ = principal_axes(finite.astype(np.float64))
        held = val_data if val_data is not None else train_data
        self.sigma2_ = [
            self._measure_scale(k, held, p, seed=p["seed"])
            for k in tracked(range(len(scales)), "validation noise", unit="scale")
        ]
        return self

    def _train(
        self,
        module: Any,
        train_data: TransitionData,
        val_data: TransitionData | None,
        cfg: TrainConfig,
        p: dict[str, Any],
        device: torch.device,
    ) -> Any:
        """Train ``module`` as the parameters ``p`` say (setting ``history_``); return the model to measure."""
        if p["stage2_per_scale"]:
            module, self.history_ = train_per_scale(module, train_data, cfg, validation=val_data,
                                                    checkpoint_path=p["checkpoint_path"])  # fmt: skip
        elif p["keep_best"] == "per_scale":
            selection = ScaleSelection(
                self._selection_pairs(val_data if val_data is not None else train_data, device),
                self._selection_pairs(train_data, device, most=_SELECTION_FIT_PAIRS, seed=p["seed"]),
            )
            self.history_ = train(module, train_data, cfg, validation=val_data, checkpoint_path=p["checkpoint_path"],
                                  selection=selection)  # fmt: skip
            self.history_["kept_step_per_scale"] = selection.kept_steps(self.history_["best_step"][0])
            module = selection.module(module, trained_step=self.history_["best_step"][0])
        else:
            self.history_ = train(module, train_data, cfg, validation=val_data, checkpoint_path=p["checkpoint_path"])
        if p["polish_steps"]:
            module.eval()
            self.history_["polish_steps"] = polish_forward_maps(module, train_data, val_data, cfg,
                                                                max_steps=p["polish_steps"])  # fmt: skip
        return module

    @staticmethod
    def _selection_pairs(
        data: TransitionData, device: torch.device, *, most: int | None = None, seed: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames ``(x_t, x_{t+1})`` of ``data``'s one-step pairs (``most``: a seeded subset), float32 on ``device``."""
        starts = data.starts[1]
        if most is not None and len(starts) > most:
            starts = np.sort(np.random.default_rng(seed).choice(starts, size=most, replace=False))
        frames = torch.as_tensor(np.asarray(data.frames, dtype=np.float32), device=device)
        idx = torch.as_tensor(starts, device=device)
        return frames[idx], frames[idx + 1]

    @staticmethod
    def _train_config(p: dict[str, Any], n_scales: int, device: str) -> TrainConfig:
        noise = p["decoder_noise"] if p["decoder_noise"] is not None else (1.0 if n_scales == 1 else 1.0 / 3.0)
        return TrainConfig(
            max_steps=p["max_steps"], batch_size=p["batch_size"], learning_rate=p["learning_rate"],
            warmup_fraction=p["warmup_fraction"], use_weights=p["use_weights"], use_reverse=p["use_reverse"],
            reverse_weight=p["reverse_weight"], reverse_trains_encoder=p["reverse_trains_encoder"],
            latent_forward_weight=p["latent_forward_weight"],
            weight_refresh=p["weight_refresh"], kde_bandwidth=p["kde_bandwidth"], weight_delay=p["weight_delay"],
            weight_clip=p["weight_clip"], kde_max_dims=p["kde_max_dims"], kde_components=p["kde_components"],
            forward_weighted=p["forward_weighted"], warmup_reverse=p["warmup_reverse"],
            weight_decay=p["weight_decay"], weighted_weight_decay=p["weighted_weight_decay"],
            batch_replacement=p["batch_replacement"],
            weight_domain="raw" if p["ei_domain"] == "box" else "normalized", multi_lag=p["multi_lag"],
            decoder_noise=noise, eval_every=p["eval_every"], eval_passes=p["eval_passes"], patience=p["patience"],
            min_improvement=p["min_improvement"],
            seed=p["seed"], device=device, verbose=p["verbose"],
        )  # fmt: skip

    @staticmethod
    def _build(n_features: int, scales: list[int], p: dict[str, Any]) -> MultiscaleModule:
        from ..safety.architecture import check_model_size

        check_model_size(n_features, scales, p)  # bounded sizes, within the memory budget, before allocating
        layers = coupling_layers([n_features, *scales[:-1]], p["n_coupling_layers"], p["coupling_layout"])
        return MultiscaleModule(
            n_features, scales, n_coupling_layers=layers, hidden_width=p["hidden_width"],
            dynamics_width=p["dynamics_width"], dynamics_depth=p["dynamics_depth"],
            dynamics_activation=p["dynamics_activation"], squash=p["squash"], squash_reverse=p["squash_reverse"],
            use_reverse=p["use_reverse"], coupling_init=p["coupling_init"], coupling_form=p["coupling_form"],
        )  # fmt: skip

    # ---------------------------------------------------------------- encoding and prediction
    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(X) before using it.")

    def _frames(self, X: Any, segments: Any = None) -> tuple[np.ndarray, np.ndarray]:
        frames, labels = as_frames(X, segments)
        if frames.shape[1] != self.n_features_in_:
            raise InputError(
                f"X has {frames.shape[1]} features, but {type(self).__name__} is expecting {self.n_features_in_} "
                "features as input (the channels it was fitted on)."
            )
        return frames, labels

    @torch.no_grad()
    def _encode_raw(
        self, frames: np.ndarray, upto: int | None = None, *, precision: str = "float32"
    ) -> list[np.ndarray]:
        """Raw latents per scale of finite frames, float64 (encoders evaluated in ``precision``)."""
        if precision not in ("float32", "float64"):
            raise InputError(f"precision must be 'float32' or 'float64', got {precision!r}.")
        module = self.model_ if precision == "float32" else copy.deepcopy(self.model_).double()
        x = torch.as_tensor(np.asarray(frames, dtype=precision))
        parts = [module.encode(x[i : i + _CHUNK], upto=upto) for i in range(0, len(x), _CHUNK)]
        n = len(parts[0]) if parts else 0
        return [torch.cat([q[k] for q in parts]).double().numpy() for k in range(n)]

    def _affine(self, scale: int, p: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Measurement coordinates of a scale: normalised (§3.0), or raw for ``ei_domain="box"``."""
        d = self.ladder_[scale]
        if p["ei_domain"] == "box":
            return np.zeros(d), np.ones(d)
        return self.latent_center_[scale], self.latent_half_range_[scale]

    def _check_scale(self, scale: int) -> int:
        if not -len(self.ladder_) <= scale < len(self.ladder_):
            raise InputError(f"scale must index the ladder {self.ladder_} (0..{len(self.ladder_) - 1}), got {scale}.")
        return scale % len(self.ladder_)

    def encode(self, X: Any, *, precision: str = "float32") -> list[np.ndarray]:
        """Latents of every scale in normalised coordinates (§3.0), ``(n_frames, d_k)`` each (NaN for missing rows).

        ``precision="float64"`` evaluates the encoders in float64: the same function without float32
        round-off, so a frame's latents do not depend on which other frames share its batch (float32
        matrix products sum in an order that depends on the batch's shape, ~1e-7). The pipeline's
        macro variables are encoded so.
        """
        self._check_fitted()
        frames, _ = self._frames(X)
        ok = np.isfinite(frames).all(axis=1)
        out = []
        for k, lat in enumerate(self._encode_raw(frames[ok], precision=precision)):
            full = np.full((len(frames), lat.shape[1]), np.nan)
            full[ok] = (lat - self.latent_center_[k]) / self.latent_half_range_[k]
            out.append(full)
        return out

    def transform(self, X: Any) -> np.ndarray:
        """The top-scale macro variables, ``(n_frames, d_K)`` in normalised coordinates."""
        return self.encode(X)[-1]

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        """:meth:`fit` on ``X`` (``fit_params``: ``segments``, ``validation``), then :meth:`transform` of ``X``."""
        return self.fit(X, y, **fit_params).transform(X)

    @torch.no_grad()
    def _predict_rows(self, frames: np.ndarray, scale: int) -> np.ndarray:
        x = torch.as_tensor(np.asarray(frames, dtype=np.float32))
        outs = []
        for i in range(0, len(x), _CHUNK):
            lat = self.model_.encode(x[i : i + _CHUNK], upto=scale)
            pred = self.model_.step(lat)
            outs.append(self.model_.decode([None] * scale + [pred[scale]])[scale])
        return torch.cat(outs).double().numpy() if outs else np.zeros((0, self.n_features_in_))

    def predict(self, X: Any, *, scale: int = 0) -> np.ndarray:
        """One-step micro prediction ``x̂_{t+1}`` for every frame ``x_t`` through scale ``scale``.

        The decode is deterministic: discarded coordinates are set to 0, their mean (docs/method.md §5).
        Returns ``(n_frames, n_features)``, NaN for missing rows.
        """
        self._check_fitted()
        scale = self._check_scale(scale)
        frames, _ = self._frames(X)
        ok = np.isfinite(frames).all(axis=1)
        out = np.full(frames.shape, np.nan)
        out[ok] = self._predict_rows(frames[ok], scale)
        return out

    def _nmse(self, data: TransitionData, scale: int) -> tuple[float, float]:
        """``(NMSE, NMSE of persistence)`` on the one-step pairs of ``data``."""
        t = data.starts[1]
        x0, x1 = data.frames[t].astype(np.float64), data.frames[t + 1].astype(np.float64)
        denom = np.square(x1 - self.feature_mean_).sum()
        pred = self._predict_rows(data.frames[t], scale)
        return float(np.square(pred - x1).sum() / denom), float(np.square(x0 - x1).sum() / denom)

    def nmse(self, X: Any, *, scale: int = 0, segments: Any = None) -> float:
        """One-step NMSE ``Σ‖x̂ − x‖² / Σ‖x − x̄_train‖²`` on the pairs of ``X`` through scale ``scale``."""
        self._check_fitted()
        data = TransitionData.build(*self._frames(X, segments))
        return self._nmse(data, self._check_scale(scale))[0]

    def score(self, X: Any, y: Any = None, *, scale: int = 0) -> float:
        """``1 − NMSE`` of the one-step prediction (greater is better, like an R²)."""
        return 1.0 - self.nmse(X, scale=scale)

    # ---------------------------------------------------------------- maps
    def dynamics_map(self, scale: int) -> torch.nn.Module:
        """``F̃_k = A ∘ F_k ∘ A⁻¹`` in the measurement coordinates ((B, d_k) → (B, d_k), with ``batched_jacobian``)."""
        self._check_fitted()
        scale = self._check_scale(scale)
        center, half = self._affine(scale, self._resolved())
        return AffineConjugate(self.model_.forward_maps[scale], center, half).eval()

    def encoder_map(self, scale: int, *, source: int | None = None) -> torch.nn.Module:
        """Differentiable ``x → y^(k)`` in normalised coordinates, for attribution.

        With ``source=j``, a finer scale read from the same encoder (:meth:`encoder_chains`), the map
        starts from scale ``j``'s normalised latents instead of the frames (:class:`EncoderMap`).
        """
        self._check_fitted()
        scale = self._check_scale(scale)
        part = self._encoder_of(scale)
        frm = None
        if source is not None:
            source = self._check_scale(source)
            if source >= scale or self._encoder_of(source) is not part:
                raise InputError(f"scale {source} is not a finer scale of the encoder that gives scale {scale}.")
            frm = (source, *self._normaliser(source))
        return EncoderMap(part, scale, *self._normaliser(scale), source=frm).eval()

    def encoder_chains(self, scales: Sequence[int]) -> list[tuple[list[int], list[torch.nn.Module]]]:
        """``scales`` grouped by the encoder they are read from, each group with its chain of maps.

        A group's first map is :meth:`encoder_map` of its finest scale; each next one maps the previous
        scale's normalised latents to the next scale's (``source=``), so the composition of a group's
        first ``i + 1`` maps is the encoder map of its ``i``-th scale. Scales trained together share one
        encoder; those read from their own best training state (docs/method.md §2.5) share it with the
        scales that kept the same state.
        """
        self._check_fitted()
        groups: dict[int, list[int]] = {}
        for k in sorted({self._check_scale(s) for s in scales}):
            groups.setdefault(id(self._encoder_of(k)), []).append(k)
        return [
            (group, [self.encoder_map(group[0]), *(self.encoder_map(k, source=j) for j, k in pairwise(group))])
            for group in groups.values()
        ]

    def _encoder_of(self, scale: int) -> MultiscaleModule:
        """The module whose encoder gives ``scale``: the model, or its part for that scale."""
        return self.model_.parts[scale] if isinstance(self.model_, PerScaleModule) else self.model_

    def _normaliser(self, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Centre and half-range of a scale's normalised latents, float32."""
        return (torch.as_tensor(self.latent_center_[scale], dtype=torch.float32),
                torch.as_tensor(self.latent_half_range_[scale], dtype=torch.float32))  # fmt: skip

    # ---------------------------------------------------------------- measures
    @torch.no_grad()
    def _measure_pairs(
        self, fn: torch.nn.Module, u0: np.ndarray, u1: np.ndarray, p: dict[str, Any], seed: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(prediction, σ², weights)`` of a map ``fn`` on normalised pairs (weights: IPW, unclipped, or None)."""
        pred = _apply(fn, u0)
        w = None
        if p["weighted_measures"]:
            w = ipw_weights(u0, bandwidth=p["kde_bandwidth"], clip=None, max_dims=p["kde_max_dims"],
                            n_components=p["kde_components"], seed=seed)  # fmt: skip
        return pred, estimate_sigma2(pred, u1, weights=w, convention=p["sigma_convention"]), w

    def _measurement_pairs(
        self, scale: int, data: TransitionData, p: dict[str, Any]
    ) -> tuple[np.ndarray, np.ndarray, torch.nn.Module]:
        """``(u_t, u_t+1, F̃)`` of a scale on the pairs of ``data``, in measurement coordinates.

        Measurement coordinates are the measured pairs' own starting states along the principal
        axes of the training latents, each axis sending the starts' 1st and 99th percentiles to ∓1
        (docs/method.md §3.0, §3.6): held-out latents can be spread otherwise than the training
        latents the encoder was fitted on, correlated coordinates would count one predictable
        signal once per coordinate, and axes chosen on the measured states themselves would
        understate the volume they span. Raw latents with ``ei_domain="box"``.
        """
        t = data.starts[1]
        both = self._encode_raw(np.concatenate([data.frames[t], data.frames[t + 1]]), upto=scale)[scale]
        net, axes = self.model_.forward_maps[scale], self.latent_axes_[scale]
        return self._in_measurement_coordinates(net, both[: len(t)], both[len(t) :], p, axes=axes)

    @staticmethod
    @torch.no_grad()
    def _in_measurement_coordinates(
        net: torch.nn.Module, raw0: np.ndarray, raw1: np.ndarray, p: dict[str, Any], *, axes: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, AffineConjugate]:
        """``(u_t, u_t+1, F̃)``: raw pairs and ``net`` in the measurement coordinates of the starts ``raw0``.

        ``axes``: principal axes estimated elsewhere (the training block); default: those of ``raw0``.
        """
        if p["ei_domain"] == "box":
            fn = AffineConjugate(net, np.zeros(raw0.shape[1]), np.ones(raw0.shape[1])).eval()
        else:
            fn = AffineConjugate(net, *principal_affine(raw0, axes=axes)).eval()
        u0, u1 = (fn.normalize(torch.as_tensor(v)).numpy() for v in (raw0, raw1))
        return u0, u1, fn

    def _measure_scale(self, scale: int, data: TransitionData, p: dict[str, Any], seed: int) -> np.ndarray:
        """σ² of scale ``scale`` on the pairs of ``data``."""
        u0, u1, fn = self._measurement_pairs(scale, data, p)
        return self._measure_pairs(fn, u0, u1, p, seed)[1]

    def _observed_j(self, data: TransitionData, p: dict[str, Any], n_monte_carlo: int, seed: int) -> float:
        t = data.starts[1]
        raw0, raw1 = data.frames[t].astype(np.float64), data.frames[t + 1].astype(np.float64)
        u0, u1, fn = self._in_measurement_coordinates(self.observed_model_, raw0, raw1, p, axes=self.observed_axes_)
        _, sigma2, _ = self._measure_pairs(fn, u0, u1, p, seed)
        return _ei(fn, sigma2, p, n_monte_carlo=n_monte_carlo, seed=seed).dei

    @renamed_keywords(n_samples="n_monte_carlo")
    def measure(
        self,
        X: Any,
        *,
        segments: Any = None,
        n_monte_carlo: int = 1000,
        seed: int = 0,
        jacobian_domain: str = "box",
    ) -> Measurement:
        """The emergence table of ``X`` (see :meth:`emergence_table`) and the residuals it was computed from.

        Returns
        -------
        Measurement
            ``table`` (as :meth:`emergence_table`) and ``residuals``: one
            :class:`~ndx_causal_emergence.measures.resampling.ScaleResiduals` per scale, for
            intervals, significance and condition comparisons.
        """
        self._check_fitted()
        if jacobian_domain not in ("box", "data"):
            raise InputError(f"jacobian_domain must be 'box' or 'data', got {jacobian_domain!r}.")
        p = self._resolved()
        data = TransitionData.build(*self._frames(X, segments))
        if data.n_pairs < 2:
            raise InputError(f"X must hold at least 2 transition pairs to measure, found {data.n_pairs}.")
        L = p["intervention_half_width"]
        rows, residuals = [], []
        for k, d in tracked(list(enumerate(self.ladder_)), "measures", unit="scale", label="EI, NMSE"):
            u0, u1, fn = self._measurement_pairs(k, data, p)
            pred, sigma2, w = self._measure_pairs(fn, u0, u1, p, seed)
            extra = {"samples": u0, "weights": w} if jacobian_domain == "data" else {}
            res = _ei(fn, sigma2, p, n_monte_carlo=n_monte_carlo, seed=seed, **extra)
            terms = np.abs(pred - u1) if p["sigma_convention"] == "mae" else np.square(pred - u1)
            states = None if p["ei_domain"] == "box" else u0  # coordinates ranged by these states (§3.0)
            residuals.append(ScaleResiduals(terms, res.jacobian_samples, L, w, states))
            nmse, nmse_persist = self._nmse(data, k)
            # the gate weighs directions by their spread (raw latent units), as the micro NMSE weighs channels
            h2 = np.square(fn.half_range.numpy())
            spread = (np.square(u1 - u1.mean(axis=0)) @ h2).sum()
            latent_nmse = float((np.square(pred - u1) @ h2).sum() / spread)
            latent_persist = float((np.square(u0 - u1) @ h2).sum() / spread)
            rows.append({
                "scale": k, "dimension": d, "effective_information": res.ei, "dimension_averaged_ei": res.dei,
                "noise_term": res.noise_term, "jacobian_term": res.jacobian_term, "nmse": nmse,
                "nmse_persistence": nmse_persist, "fraction_in_box": float((np.abs(u0) <= L).all(axis=1).mean()),
                "latent_nmse": latent_nmse, "latent_nmse_persistence": latent_persist,
                "fit_ok": bool(latent_nmse < min(1.0, latent_persist)),
            })  # fmt: skip
        table = pd.DataFrame(rows)
        j = table["dimension_averaged_ei"].to_numpy()
        table["causal_emergence"] = [causal_emergence(j[0], jk) for jk in j]
        table["causal_power"] = np.asarray(causal_power(j), dtype=float)
        j_obs = self._observed_j(data, p, n_monte_carlo, seed) if self.observed_model_ is not None else math.nan
        table["causal_emergence_observed"] = j - j_obs
        ec = emergent_complexity(j)
        table = table[_TABLE_COLUMNS]
        table.attrs.update({
            "emergent_complexity": float(ec.bits), "emergent_complexity_normalized": float(ec.normalized),
            "observed_reference_j": float(j_obs), "ei_domain": p["ei_domain"], "ei_convention": p["ei_convention"],
            "sigma_convention": p["sigma_convention"], "weighted_measures": bool(p["weighted_measures"]),
            "jacobian_domain": jacobian_domain, "units": "nats", "intervention_half_width": L,
            "n_monte_carlo": n_monte_carlo, "seed": seed,
        })  # fmt: skip
        return Measurement(table=table, residuals=residuals)

    @renamed_keywords(n_samples="n_monte_carlo")
    def emergence_table(
        self,
        X: Any,
        *,
        segments: Any = None,
        n_monte_carlo: int = 1000,
        seed: int = 0,
        jacobian_domain: str = "box",
    ) -> pd.DataFrame:
        """EI, dimension-averaged EI, causal emergence and fit quality of every scale on the held-out pairs of ``X``.

        Σ is the per-dimension mean squared one-step residual of ``F̃_k`` on the pairs of ``X`` in
        normalised coordinates (raw with ``ei_domain="box"``; IPW-weighted with
        ``weighted_measures=True``); the Jacobian term averages ``ln|det ∂F̃_k|`` over
        ``n_monte_carlo`` uniform draws in the box (``jacobian_domain="data"``: over the held-out
        points instead, a diagnostic).

        Returns
        -------
        pandas.DataFrame
            One row per scale: ``scale, dimension, effective_information, dimension_averaged_ei,
            noise_term, jacobian_term, causal_emergence`` (ΔJ against scale 0), ``causal_power``,
            ``nmse``, ``nmse_persistence``, ``fraction_in_box``, ``latent_nmse`` and
            ``latent_nmse_persistence`` (one-step error of ``F̃_k`` and of persistence in the
            scale's own coordinates, over the variance of the next state), ``fit_ok`` (the map
            beats both persistence and the mean: its J can be read) and
            ``causal_emergence_observed`` (ΔJ against the observed-space micro reference; NaN
            without it). Nats. ``attrs`` holds ``emergent_complexity`` (bits),
            ``emergent_complexity_normalized``, ``observed_reference_j`` and the conventions used.
        """
        return self.measure(X, segments=segments, n_monte_carlo=n_monte_carlo, seed=seed,
                            jacobian_domain=jacobian_domain).table  # fmt: skip

    # ---------------------------------------------------------------- stored form
    def to_stored(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """``(architecture, tensors)``: JSON-able parameters and fitted non-tensor state, and every tensor.

        What a ``LearnedDynamicsModel`` stores. Tensor names use ``.`` only (no ``/``).
        :meth:`from_stored` rebuilds an identical model.
        """
        self._check_fitted()
        return state_of(self)

    def to_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """Old name of :meth:`to_stored` (``FutureWarning``)."""
        warn_renamed("to_state", "to_stored", type(self).__name__, what="method")
        return self.to_stored()

    @classmethod
    def from_state(cls, arch: dict[str, Any], tensors: dict[str, Any]) -> _NISEstimator:
        """Old name of :meth:`from_stored` (``FutureWarning``)."""
        warn_renamed("from_state", "from_stored", cls.__name__, what="method")
        return cls.from_stored(arch, tensors)

    @classmethod
    def from_stored(cls, arch: dict[str, Any], tensors: dict[str, Any]) -> _NISEstimator:
        """Rebuild a fitted estimator from :meth:`to_stored` output (arrays or tensors accepted).

        States written before format versions (no ``format_version``) load as version 0; a newer
        version than :data:`~ndx_causal_emergence.models.serialize.STATE_FORMAT_VERSION` raises
        :class:`InputError`.
        """
        from ..safety.architecture import checked_architecture

        name = arch.get("class", cls.__name__) if isinstance(arch, dict) else None
        if name is not None:
            check_format_version(arch)  # first: a newer layout may hold fields this version cannot name
        target = cls._registry.get(name)
        if target is None:
            raise InputError(f"unknown model class {name!r}; known: {sorted(cls._registry)}.")
        arch = _params_added_since(_explicit_params(_renamed_params(_one_state_before_v2(arch)), target))
        arch = checked_architecture(arch, tensors, target)
        est = target(**arch["params"])
        scales = check_scales(arch["scales"], arch["n_features_in"])
        p = est._resolved()
        module = est._build(arch["n_features_in"], scales, p)
        if p["stage2_per_scale"] or p["keep_best"] == "per_scale":
            module = PerScaleModule([copy.deepcopy(module) for _ in scales])
        restore(est, arch, tensors, module)
        return est


def _one_state_before_v2(arch: dict[str, Any]) -> dict[str, Any]:
    """``arch`` with ``keep_best="joint"`` when it was stored before per-scale states (format < 2): one state."""
    params = arch.get("params")
    if check_format_version(arch) >= 2 or not isinstance(params, dict) or "keep_best" in params:
        return arch
    return {**arch, "params": {**params, "keep_best": "joint"}}


def _params_added_since(arch: dict[str, Any]) -> dict[str, Any]:
    """``arch`` with the value of each parameter it predates (:data:`_ADDED_PARAMS`), so that no preset sets it."""
    params = arch.get("params")
    return {**arch, "params": {**_ADDED_PARAMS, **params}} if isinstance(params, dict) else arch


def _renamed_params(arch: dict[str, Any]) -> dict[str, Any]:
    """``arch`` with its parameters under their current names (:data:`_RENAMED_PARAMS`); a file keeps its names."""
    params = arch.get("params")
    return {**arch, "params": renamed_keys(params, _RENAMED_PARAMS)} if isinstance(params, dict) else arch


def _explicit_params(arch: dict[str, Any], target: type[_NISEstimator]) -> dict[str, Any]:
    """``arch`` with the parameters its fit used, also for files written before explicit arguments won over presets.

    Those files store the constructor's values with a preset that replaced every value left at its
    default; passing them all back would make the defaults explicit, so they are left out.
    """
    params = arch.get("params")
    if arch.get("params_resolved") or not isinstance(params, dict) or params.get("preset") is None:
        return arch
    sig = inspect.signature(target.__init__).parameters
    kept = {k: v for k, v in params.items() if k not in sig or k == "preset" or v != sig[k].default}
    return {**arch, "params": kept}


class MultiscaleNISPlus(_NISEstimator):
    """Multiscale NIS+: shared stacked encoders along a scale ladder, dynamics per scale (docs/method.md §2.2).

    Parameters
    ----------
    ladder : list of int, optional
        Explicit ladder ``[d_0, ..., d_K]`` (strictly decreasing, ``d_0 <= N``; ``d_0 = N``
        makes scale 0 the micro level). Default: the ladder ``d_{k+1} = floor(d_k / coarsening)``
        from ``N`` down to ``q``.
    q : int, optional
        Dimension ``q`` of the automatic ladder's top scale, its coarsest macro variable (default
        1), as ``q`` is the one scale's dimension of :class:`~ndx_causal_emergence.models.NISPlus`.
        ``cut``, its old name, still works with a ``FutureWarning``; stored models that name it
        load as ``q``.
    coarsening : int
        Ladder factor ``c`` (default 2).
    preset : {"fast", "fmri", "sir", "wang2025"}, optional
        Sets every parameter not given explicitly (see :mod:`~ndx_causal_emergence.models.presets`);
        an explicit argument always wins, and :meth:`get_params` reports the values used.
    n_coupling_layers, hidden_width : int
        Affine coupling layers per encoder ``ψ_k`` and width of their ``s``/``t`` MLPs.
    dynamics_width, dynamics_depth : int
        Width and number of hidden layers of ``F_k`` and ``G_k``.
    reverse_weight : float
        λ, weight of the reverse-dynamics term.
    use_reverse, use_weights : bool
        Reverse dynamics term and inverse-probability weights (both off: NIS).
    reverse_trains_encoder : bool
        Let the reverse term's gradient reach the encoder (official NIS+ code). Off by default:
        the encoder would shrink the latents to lower it (docs/method.md §2.1).
    latent_forward_weight : float
        μ, weight of the latent one-step term ``‖F_k(y_t) − y_{t+1}‖₁`` that trains ``F_k`` (not
        the encoder) on the encoded transitions, so that the map the measures use fits the
        latents (0: the published NIS+ loss; see :mod:`~ndx_causal_emergence.models.training`).
    squash : bool
        ``tanh`` on the forward dynamics; EI differentiates the squashed map.
    decoder_noise : float, optional
        Std of the padding of discarded coordinates in the training decode (default 1 for one
        scale, 1/3 for several).
    kde_bandwidth : float
        Bandwidth of the KDE of the inverse-probability weights (normalised latents).
    learning_rate, batch_size, max_steps, warmup_fraction : float, int, int, float
        Adam step, pairs per i.i.d. batch, training steps, forward-only warm-up share.
    weight_refresh : int
        Steps between weight refreshes (on the whole training set).
    multi_lag : bool
        Train on lags τ ∈ {1..5} with P(τ) ∝ e^{-τ}, iterating the dynamics τ times.
    eval_every, patience : int, int or None
        Validation every ``eval_every`` steps; stop after ``patience`` evaluations without
        improvement and keep the best model (``None``: train all steps, keep the last).
    eval_passes : float, optional
        Validate also every ``eval_passes`` passes over the training pairs when that comes
        sooner than ``eval_every`` steps (never closer than 10 steps): a short recording's step is
        a whole pass, and its validation loss can pass its minimum inside ``eval_every`` steps
        (``None``: every ``eval_every`` steps; ``preset="fast"``: 10).
    min_improvement : float
        Relative decrease of the validation loss that counts as an improvement for ``patience``:
        an evaluation improves when its loss is below ``1 − min_improvement`` times the loss of
        the last evaluation that improved (0: any decrease). The state of the lowest loss is kept
        whatever the size of its gain (``preset="fast"``: 0.01).
    observed_reference : bool
        Also fit the observed-space micro reference (a residual MLP on the channels).
    intervention_half_width : float
        ``L`` of the intervention box ``[-L, L]^q``.
    ei_domain : {"normalized", "box"}
        Measure in normalised latent coordinates (§3.0) or in raw latents (official convention).
    sigma_convention : {"mse", "mae"}
        Residual variance estimate (``"mae"``: MAE plugged in as the variance, official SIR code).
    weighted_measures : bool
        Weight Σ by inverse-probability weights of the held-out latents (official code). Off by
        default: the weights are noisy at few dimensions and flat at many (a KDE of 0.05
        bandwidth in 10+ dimensions puts each point's own kernel far above its neighbours'), so
        they inflate Σ of the coarse scales only (docs/method.md §3.1).
    pca_init : bool
        Start the coarse-graining from the principal axes of the data (see
        :class:`~ndx_causal_emergence.models.multiscale.MultiscaleModule`); off: the first
        ``d_k`` channels, as the official code does.
    polish_steps : int
        After training, fine-tune each ``F_k`` (encoder frozen) on the whitened one-step error
        for at most this many steps, with early stopping on the validation pairs
        (:func:`~ndx_causal_emergence.models.training.polish_forward_maps`); 0: measure the maps
        as trained (official protocol).
    dynamics_activation : {"tanh", "silu", "leaky_relu"}
        Hidden activation of ``F_k`` and ``G_k`` (``leaky_relu``: the official mice code).
    squash_reverse : bool
        ``tanh`` on the reverse dynamics ``G_k`` too (official mice code).
    coupling_layout : {"uniform", "wang2025"}
        ``n_coupling_layers`` for every encoder, or the official mice code's layout (4 layers for
        ``ψ_0`` and for encoders reading more than 64 coordinates, ``n_coupling_layers`` for the
        others; :func:`~ndx_causal_emergence.models.multiscale.coupling_layers`).
    coupling_init : {"identity", "random"}
        How the encoders' coupling layers start: as the identity (each scale starts as the
        principal components, or the first channels without ``pca_init``), or as random
        invertible maps, as ``nn.Linear`` starts them in the official mice code
        (:class:`~ndx_causal_emergence.models.coupling.AffineCoupling`).
    coupling_form : {"affine", "inverse_affine"}
        Whether each encoder applies its coupling layers ``x_B e^{s} + t`` (first to last) or
        their inverses ``(x_B − t) e^{−s}`` (last to first), the decoder the other way: the
        official mice code encodes with the inverses. The same maps are reachable either way; the
        path training takes differs (:class:`~ndx_causal_emergence.models.coupling.RealNVP`).
    forward_weighted : bool
        Apply the inverse-probability weights to the forward terms too (off: only the reverse
        term is weighted, as in the official mice code's second stage).
    warmup_reverse : bool
        Include the (unweighted) reverse term during the warm-up (off: the warm-up is the
        forward term alone, the official mice code's first stage).
    weight_decay : float
        Adam's L2 weight decay (the official mice code: 1e-4 in its first stage).
    weighted_weight_decay : float, optional
        Start the weighted stage with a new Adam of this weight decay (the official mice code:
        1e-5 in its second stage); ``None``: keep the optimizer.
    weight_delay : int
        Steps of the weighted stage with ``w = 1`` before the first weight refresh (official mice
        code: 1000).
    weight_clip : float, optional
        Clip of the mean-1 training weights (``None``: unclipped, the official codes).
    kde_max_dims, kde_components : int, int or None
        The KDE of the weights reduces latents of more than ``kde_max_dims`` dimensions to
        ``kde_components`` standardised principal components (default ``kde_max_dims``; the
        official mice code: above 200 to 100).
    batch_replacement : bool
        Draw each batch's pairs i.i.d. (off: distinct pairs within a batch, as the official code).
    ei_convention : {"standard", "official"}
        ``"official"``: EI as the official mice code computes it, without the ``q ln 2L`` term
        of the intervention's entropy, clipped at 0, with the Jacobian of ``y + f(y)`` without
        the ``tanh`` squash (σ² stays that of the squashed map). Bootstrap intervals of the
        pipeline resample J with the standard formula (``ΔJ`` is the same where the clip does not bind).
    stage2_per_scale : bool
        After the warm-up (stage 1, all scales), train a separate copy of the model for each scale
        on that scale's loss alone, and read each scale from its own copy (the official mice
        code's stage 2; :func:`~ndx_causal_emergence.models.training.train_per_scale`). The
        scales then no longer share encoders, and training costs ``K + 1`` second stages.
    keep_best : {"per_scale", "joint"}
        Which training state each scale is read from. ``"per_scale"`` (default): for each scale,
        the state (the start included) where its own one-step error on the validation pairs was
        lowest (:mod:`~ndx_causal_emergence.models.selection`, docs/method.md §2.4); the model
        then holds one copy per scale, as with ``stage2_per_scale``. ``"joint"``: the one state
        with the lowest validation loss of the whole model (the official conventions).
    checkpoint_path : str, optional
        Checkpoint file; an interrupted fit resumes from it.
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    seed : int
        Seed of initialisation, batches, noise and KDE subsampling.
    verbose : bool
        Show a progress bar.

    Attributes
    ----------
    ladder_ : list of int
        The ladder ``[d_0, ..., d_K]`` (``d_0 = N`` unless ``ladder`` says otherwise): scale ``k``
        (the ``scale`` column of every table) has dimension ``ladder_[k]``. ``scales_``, its old
        name, still works with a ``FutureWarning``.
    n_features_in_ : int
        Number of input channels ``N``.
    model_ : MultiscaleModule
        The trained torch model, on the CPU.
    history_ : dict of list
        Training history (steps, training and validation losses, weight refreshes).
    sigma2_ : list of np.ndarray
        Per-scale residual variances of ``F̃_k`` on the validation pairs (measurement coordinates).
    latent_center_, latent_half_range_ : list of np.ndarray
        Per-scale affine map to normalised coordinates (1st/99th percentiles of the encoded
        training data sent to ∓1, docs/method.md §3.0).
    latent_axes_ : list of np.ndarray
        Per-scale principal axes of the encoded training data (columns): the axes along which
        every scale is measured (docs/method.md §3.6).
    feature_mean_ : np.ndarray
        Mean training frame (the NMSE reference).
    observed_model_ : ResidualMLP or None
        Observed-space micro reference.
    observed_axes_ : np.ndarray or None
        Principal axes of the training frames, along which the observed reference is measured.
    preprocessing_ : Preprocessing or None
        The channel selection and scaling that made ``X`` from a recording's raw frames
        (:class:`~ndx_causal_emergence.data.prepare.Preprocessing`), stored with the model; set by
        the pipeline, ``None`` for a model fitted on arrays.
    device_ : str
        Device the model was trained on.
    train_seconds_ : float
        Wall-clock time of the training loop.

    Notes
    -----
    scikit-learn's contract without scikit-learn at run time (``clone``, pipelines and grid
    searches work; ``parametrize_with_checks`` passes except where the design differs): rows with
    NaN are missing frames (tag ``allow_nan``); a fit needs at least
    :data:`~ndx_causal_emergence.models.training.MIN_PAIRS` transition pairs; the error before
    ``fit`` is the package's :class:`~ndx_causal_emergence.errors.NotFittedError`, an
    ``AttributeError`` but not a subclass of scikit-learn's (that would import scikit-learn).

    Examples
    --------
    >>> from ndx_causal_emergence.data.synthetic import embed_nonlinear, ou_latent
    >>> X = embed_nonlinear(ou_latent(600, seed=0), 6, seed=0)
    >>> model = MultiscaleNISPlus.from_preset("fast", max_steps=30, observed_reference=False).fit(X)
    >>> model.ladder_
    [6, 3, 1]
    >>> list(model.emergence_table(X[:200], n_monte_carlo=50)["dimension"])
    [6, 3, 1]
    """

    @renamed_keywords(**_RENAMED_PARAMS)
    def __init__(
        self, *, ladder: list[int] | None = None, q: int | None = None, coarsening: int = 2,
        preset: str | None = None, n_coupling_layers: int = 6, hidden_width: int = 256, dynamics_width: int = 256,
        dynamics_depth: int = 2, reverse_weight: float = 1.0, use_reverse: bool = True, use_weights: bool = True,
        reverse_trains_encoder: bool = False, latent_forward_weight: float = 1.0, squash: bool = False,
        decoder_noise: float | None = None, kde_bandwidth: float = 0.05, learning_rate: float = 1e-4,
        batch_size: int = 100, max_steps: int = 10000, warmup_fraction: float = 0.1, weight_refresh: int = 1000,
        multi_lag: bool = False, eval_every: int = 250, patience: int | None = None, eval_passes: float | None = None,
        min_improvement: float = 0.0, observed_reference: bool = True,
        intervention_half_width: float = 1.0, ei_domain: str = "normalized", sigma_convention: str = "mse",
        weighted_measures: bool = False, pca_init: bool = True, polish_steps: int = 2000,
        dynamics_activation: str = "tanh", squash_reverse: bool = False, coupling_layout: str = "uniform",
        coupling_init: str = "identity", coupling_form: str = "affine",
        forward_weighted: bool = True, warmup_reverse: bool = True, weight_decay: float = 0.0,
        weighted_weight_decay: float | None = None, weight_delay: int = 0, weight_clip: float | None = 10.0,
        kde_max_dims: int = 10, kde_components: int | None = None, batch_replacement: bool = True,
        ei_convention: str = "standard", stage2_per_scale: bool = False, keep_best: str = "per_scale",
        checkpoint_path: str | None = None, device: str = "auto", seed: int = 0, verbose: bool = False,
    ) -> None:  # fmt: skip
        self.ladder = ladder
        self.q = q
        self.coarsening = coarsening
        self.preset = preset
        self.n_coupling_layers = n_coupling_layers
        self.hidden_width = hidden_width
        self.dynamics_width = dynamics_width
        self.dynamics_depth = dynamics_depth
        self.reverse_weight = reverse_weight
        self.use_reverse = use_reverse
        self.use_weights = use_weights
        self.reverse_trains_encoder = reverse_trains_encoder
        self.latent_forward_weight = latent_forward_weight
        self.squash = squash
        self.decoder_noise = decoder_noise
        self.kde_bandwidth = kde_bandwidth
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_steps = max_steps
        self.warmup_fraction = warmup_fraction
        self.weight_refresh = weight_refresh
        self.multi_lag = multi_lag
        self.eval_every = eval_every
        self.patience = patience
        self.eval_passes = eval_passes
        self.min_improvement = min_improvement
        self.observed_reference = observed_reference
        self.intervention_half_width = intervention_half_width
        self.ei_domain = ei_domain
        self.sigma_convention = sigma_convention
        self.weighted_measures = weighted_measures
        self.pca_init = pca_init
        self.polish_steps = polish_steps
        self.dynamics_activation = dynamics_activation
        self.squash_reverse = squash_reverse
        self.coupling_layout = coupling_layout
        self.coupling_init = coupling_init
        self.coupling_form = coupling_form
        self.forward_weighted = forward_weighted
        self.warmup_reverse = warmup_reverse
        self.weight_decay = weight_decay
        self.weighted_weight_decay = weighted_weight_decay
        self.weight_delay = weight_delay
        self.weight_clip = weight_clip
        self.kde_max_dims = kde_max_dims
        self.kde_components = kde_components
        self.batch_replacement = batch_replacement
        self.ei_convention = ei_convention
        self.stage2_per_scale = stage2_per_scale
        self.keep_best = keep_best
        self.checkpoint_path = checkpoint_path
        self.device = device
        self.seed = seed
        self.verbose = verbose
        self._apply_preset()

    def _ladder(self, n_features: int, params: dict[str, Any]) -> list[int]:
        if params["ladder"] is not None:
            if params["q"] is not None:
                raise InputError("give either ladder or q, not both.")
            return check_scales(params["ladder"], n_features)
        return dyadic_ladder(n_features, coarsening=params["coarsening"], q=params["q"] or 1)
