"""Plain-data state of a fitted NIS estimator: JSON architecture plus named tensors (what the NWB
``LearnedDynamicsModel`` stores). Tensor names contain no ``/``.

Fitted statistics keep their dtype (float64: feature mean, latent centres and ranges, axes,
σ², the preprocessing's centre and scale), so a rebuilt model encodes bit for bit as the
fitted one. The preprocessing (``preprocessing_``, set by the pipeline; ``None`` for a model
fitted on arrays) is stored under ``architecture["preprocessing"]`` and the tensors
``preprocessing.center`` and ``preprocessing.scale``; models stored before it restore ``None``.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..data.prepare import Preprocessing
from ..errors import InputError
from .dynamics import ResidualMLP

if TYPE_CHECKING:  # pragma: no cover
    from .multiscale import MultiscaleModule, PerScaleModule

__all__ = ["STATE_FORMAT_VERSION", "check_format_version", "restore", "state_of"]

#: Version of the layout ``state_of`` writes (``arch["format_version"]``); states without one are version 0.
#: Version 2: a multiscale model may hold one state per scale (``keep_best="per_scale"``); older ones hold one.
STATE_FORMAT_VERSION = 2


def _prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def state_of(est: Any) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """``(architecture, tensors)`` of a fitted estimator (see ``to_stored``)."""
    params = {k: (str(v) if k == "checkpoint_path" and v is not None else v) for k, v in est.get_params().items()}
    history = {k: [None if isinstance(v, float) and math.isnan(v) else v for v in vals]
               for k, vals in est.history_.items()}  # fmt: skip
    arch = {
        "class": type(est).__name__, "params": params, "scales": est.ladder_, "n_features_in": est.n_features_in_,
        "device": est.device_, "history": history, "observed_reference": est.observed_model_ is not None,
        "params_resolved": True,  # params are the values the fit used (a preset no longer overrides them)
        "format_version": STATE_FORMAT_VERSION,
    }  # fmt: skip
    preprocessing = getattr(est, "preprocessing_", None)
    if preprocessing is not None:
        arch["preprocessing"], arrays = preprocessing.to_stored()
    json.dumps(arch)  # fail here, not in the writer, if something is not JSON-able
    tensors = {f"model.{k}": v.detach().clone() for k, v in est.model_.state_dict().items()}
    tensors["feature_mean"] = torch.as_tensor(est.feature_mean_)
    for k in range(len(est.ladder_)):
        tensors[f"latent_center.{k}"] = torch.as_tensor(est.latent_center_[k])
        tensors[f"latent_half_range.{k}"] = torch.as_tensor(est.latent_half_range_[k])
        tensors[f"sigma2.{k}"] = torch.as_tensor(est.sigma2_[k])
        tensors[f"latent_axes.{k}"] = torch.as_tensor(est.latent_axes_[k])
    if est.observed_model_ is not None:
        tensors.update({f"observed.{k}": v.detach().clone() for k, v in est.observed_model_.state_dict().items()})
        tensors["observed_axes"] = torch.as_tensor(est.observed_axes_)
    if preprocessing is not None:
        tensors.update({f"preprocessing.{k}": torch.as_tensor(v) for k, v in arrays.items()})
    return arch, tensors


def check_format_version(arch: dict[str, Any]) -> int:
    """The state's format version (0 when absent: written before versions); a newer one raises InputError."""
    version = arch.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise InputError(f"the stored model's format_version must be a whole number >= 0, got {version!r}.")
    if version > STATE_FORMAT_VERSION:
        raise InputError(
            f"the stored model has state format version {version}, newer than the {STATE_FORMAT_VERSION} this "
            "ndx-causal-emergence reads; upgrade the package (pip install -U ndx-causal-emergence) to load it."
        )
    return version


def _axes_or_none(tensors: dict[str, torch.Tensor], key: str, size: int) -> np.ndarray | None:
    """The stored ``size × size`` axes ``key`` as float64; ``None`` when absent (models stored before them)."""
    if key not in tensors:
        return None
    axes = tensors[key].numpy().astype(np.float64)
    if axes.shape != (size, size) or not np.isfinite(axes).all():
        raise InputError(
            f"the stored model's {key} must be a finite {size} x {size} matrix, got shape {axes.shape}; "
            "the file is damaged"
        )
    return axes


def restore(est: Any, arch: dict[str, Any], tensors: dict[str, Any], module: MultiscaleModule | PerScaleModule) -> None:
    """Set the fitted attributes of a freshly constructed ``est`` from ``state_of`` output and an empty ``module``."""
    t = {k: torch.as_tensor(np.asarray(v)) for k, v in tensors.items()}
    n_scales = len(arch["scales"])
    stored = _prefixed(t, "model.")
    if isinstance(getattr(module, "rotation", None), torch.Tensor):  # one MultiscaleModule, not one per scale
        stored.setdefault("rotation", module.rotation)  # models saved before the principal-axes start: identity
    module.load_state_dict(stored)
    est.model_ = module.eval()
    est.ladder_, est.n_features_in_, est.device_ = list(arch["scales"]), arch["n_features_in"], arch["device"]
    est.history_ = {k: [math.nan if v is None else v for v in vals] for k, vals in arch["history"].items()}
    est.feature_mean_ = t["feature_mean"].numpy()
    est.latent_center_ = [t[f"latent_center.{k}"].numpy() for k in range(n_scales)]
    est.latent_half_range_ = [t[f"latent_half_range.{k}"].numpy() for k in range(n_scales)]
    est.sigma2_ = [t[f"sigma2.{k}"].numpy() for k in range(n_scales)]
    # models saved before the training-block axes (2026-12-06) are measured along their measured states' own axes
    est.latent_axes_ = [_axes_or_none(t, f"latent_axes.{k}", d) for k, d in enumerate(est.ladder_)]
    est.observed_axes_ = _axes_or_none(t, "observed_axes", est.n_features_in_)
    est.preprocessing_ = None  # models stored before the preprocessing was stored with them
    if "preprocessing" in arch:
        est.preprocessing_ = Preprocessing.from_stored(
            arch["preprocessing"], {k: v.numpy() for k, v in _prefixed(t, "preprocessing.").items()}
        )
        if est.preprocessing_.n_features != est.n_features_in_:
            raise InputError(
                f"the stored preprocessing keeps {est.preprocessing_.n_features} channels but the model reads "
                f"{est.n_features_in_}; the file is damaged"
            )
    est.observed_model_ = None
    if arch.get("observed_reference"):
        p = est._resolved()
        net = ResidualMLP(arch["n_features_in"], hidden_width=p["dynamics_width"], n_hidden=p["dynamics_depth"])
        net.load_state_dict(_prefixed(t, "observed."))
        est.observed_model_ = net.eval()
