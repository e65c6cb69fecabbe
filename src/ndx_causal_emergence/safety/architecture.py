"""Bounds on model sizes: the hyper-parameters of a fit and the architecture stored in a file.

A model read from a file is described by JSON that anyone could have written: widths of
20,000 or 10^6 coupling layers would allocate or loop without end while the model is built.
:func:`check_model_size` bounds every size field and checks the memory a build (and training)
needs against the budget before anything is allocated; :func:`checked_architecture` validates a
stored architecture, refuses sizes its stored tensors cannot hold, and drops the fields a file
must never choose (the checkpoint path a refit would write to).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InputError
from .memory import check_allocation

__all__ = ["LIMITS", "check_model_size", "checked_architecture", "parameter_count"]

#: Largest accepted value of each size field (far above any preset: ``fmri`` uses 6 layers of width 256).
LIMITS = {
    "n_coupling_layers": 1000,
    "hidden_width": 65536,
    "dynamics_width": 65536,
    "dynamics_depth": 1000,
    "n_features": 1_000_000,
}
#: Float32 copies of each parameter while training: the weights, their gradients, Adam's two moments.
_TRAINING_COPIES = 4
#: Fields of a stored model that are never taken from a file.
_NOT_FROM_FILES = ("checkpoint_path",)


def _size(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value != int(value):
        raise InputError(f"model field {name} must be a whole number; got {value!r}")
    value = int(value)
    if not 1 <= value <= LIMITS[name]:
        raise InputError(f"model field {name} = {value} is outside 1..{LIMITS[name]}")
    return value


def parameter_count(n_features: int, scales: Sequence[int], p: Mapping[str, Any]) -> tuple[int, int]:
    """(lower bound, upper bound) of the number of parameters of a multiscale NIS+ module.

    One RealNVP encoder per scale (its layers, from ``n_coupling_layers`` and ``coupling_layout``,
    of two MLPs ``d -> w -> w -> d``) and one dynamics MLP (``d -> W -> ... -> d``,
    ``dynamics_depth`` hidden layers) per scale and direction. The lower bound counts only the
    ``w x w`` and ``W x W`` matrices. With ``stage2_per_scale`` there is one such module per scale.
    """
    from ..models.multiscale import coupling_layers

    layers, w = _size("n_coupling_layers", p["n_coupling_layers"]), _size("hidden_width", p["hidden_width"])
    depth, big_w = _size("dynamics_depth", p["dynamics_depth"]), _size("dynamics_width", p["dynamics_width"])
    n = _size("n_features", n_features)
    per_encoder = coupling_layers([n, *scales[:-1]], layers, p.get("coupling_layout", "uniform"))
    directions = 2 if p.get("use_reverse", True) else 1
    lower = sum(k * 2 * w * w for k in per_encoder) + len(scales) * directions * (depth - 1) * big_w * big_w
    upper = sum(k * 2 * (w * w + 2 * n * w + 2 * w + 2 * n) for k in per_encoder) + len(scales) * directions * (
        (depth - 1) * big_w * big_w + 2 * n * big_w + depth * big_w + n
    )
    copies = len(scales) if p.get("stage2_per_scale") else 1  # one model per scale (the official stage 2)
    return lower * copies, upper * copies


def check_model_size(n_features: int, scales: Sequence[int], p: Mapping[str, Any], *, at_once: int = 1) -> None:
    """Raise unless a model of these sizes is bounded and fits the memory budget while training (``at_once`` of them).

    Raises
    ------
    InputError
        A size field outside :data:`LIMITS`.
    MemoryBudgetError
        The model would need more memory than the budget (``--max-memory``).
    """
    _, upper = parameter_count(n_features, scales, p)
    kept = len(scales) if p.get("keep_best") == "per_scale" else 0  # each scale's kept state (models/selection.py)
    models = "a model" if at_once == 1 else f"{at_once} models"
    check_allocation(
        4.0 * (_TRAINING_COPIES + kept) * upper * at_once,
        f"{models} of {upper:,} parameters (hidden_width {p['hidden_width']}, "
        f"{p['n_coupling_layers']} coupling layers, dynamics_width {p['dynamics_width']})",
        remedy="choose smaller widths or fewer layers",
    )


def checked_architecture(arch: Any, tensors: Mapping[str, Any], target: type) -> dict[str, Any]:
    """A stored architecture, validated against its tensors; fields files may not choose are dropped.

    Parameters
    ----------
    arch : dict
        The JSON architecture of a stored model (``class``, ``params``, ``scales``, ``n_features_in``, ...).
    tensors : mapping
        Its stored tensors (arrays).
    target : type
        The estimator class named by ``arch["class"]``.

    Raises
    ------
    InputError
        Missing or malformed fields, unknown parameters, sizes outside :data:`LIMITS`, or sizes that
        need more parameters than the file stores.
    """
    if not isinstance(arch.get("params"), dict):
        raise InputError("the stored model architecture has no 'params' object")
    params = {k: v for k, v in arch["params"].items() if k not in _NOT_FROM_FILES}
    known = list(inspect.signature(target.__init__).parameters)[1:]
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise InputError(f"the stored model has unknown parameters {unknown}; known: {sorted(known)}")
    scales = arch.get("scales")
    if not isinstance(scales, list) or not scales or not all(isinstance(s, int) and s >= 1 for s in scales):
        raise InputError(f"the stored model's scales must be a list of positive whole numbers; got {scales!r}")
    n_features = _size("n_features", arch.get("n_features_in"))
    if len(scales) > n_features:
        raise InputError(f"the stored model has {len(scales)} scales for {n_features} features")
    stored = sum(math.prod(getattr(t, "shape", ())) for t in tensors.values())
    resolved = target(**params)._resolved()
    lower, _ = parameter_count(n_features, scales, resolved)
    if lower > stored:
        sizes = ", ".join(
            f"{k} {resolved[k]}" for k in ("hidden_width", "n_coupling_layers", "dynamics_width", "dynamics_depth")
        )
        raise InputError(
            f"the stored model's sizes ({sizes}) need at least {lower:,} parameters but the file "
            f"stores {stored:,} values; the architecture does not match its tensors"
        )
    return {**arch, "params": params}
