"""Input checks shared by the measures (numpy only; tensors are accepted and copied to numpy)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError


def to_numpy(x: Any, name: str) -> np.ndarray:
    """``x`` (array-like or torch tensor) as a float64 numpy array; :class:`InputError` if not numeric."""
    if hasattr(x, "detach"):  # a torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a numeric array, got {type(x).__name__} ({exc}).") from exc


def as_array(x: Any, name: str, *, ndim: int, finite: bool = True) -> np.ndarray:
    """``x`` as a float64 array with ``ndim`` dimensions, none of size 0 and (by default) all values finite."""
    arr = to_numpy(x, name)
    if arr.ndim != ndim:
        shape = {1: "(n,)", 2: "(n_samples, n_dims)"}.get(ndim, f"{ndim} dimensions")
        raise InputError(f"{name} must have shape {shape}, got an array of shape {arr.shape}.")
    if arr.size == 0:
        raise InputError(f"{name} is empty (shape {arr.shape}); pass at least one value.")
    if finite and not np.all(np.isfinite(arr)):
        n_bad = int(np.sum(~np.isfinite(arr)))
        raise InputError(f"{name} must be finite, found {n_bad} NaN or infinite value(s); drop or fill them first.")
    return arr


def as_weights(weights: Any, n: int, name: str = "weights") -> np.ndarray:
    """Non-negative finite weights of length ``n`` with a positive sum."""
    w = as_array(weights, name, ndim=1)
    if w.shape[0] != n:
        raise InputError(f"{name} must have one value per sample ({n}), got {w.shape[0]}.")
    if np.any(w < 0) or not w.sum() > 0:
        raise InputError(f"{name} must be non-negative with a positive sum, got min {w.min():g}, sum {w.sum():g}.")
    return w


def as_positive(x: Any, name: str) -> float:
    """A finite scalar > 0."""
    try:
        value = float(x)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a positive number, got {x!r}.") from exc
    if not (np.isfinite(value) and value > 0):
        raise InputError(f"{name} must be a finite number > 0, got {value!r}.")
    return value


def as_count(x: Any, name: str, *, minimum: int = 1) -> int:
    """An integer ≥ ``minimum``."""
    if isinstance(x, bool) or not isinstance(x, int | np.integer) or x < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {x!r}.")
    return int(x)
