"""Batched Jacobians and evaluation of torch maps, shared by the dynamics modules (torch loaded lazily)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch


def batched_jacobian(fn: Any, x: torch.Tensor) -> torch.Tensor:
    """Per-sample Jacobians of a row-wise map.

    Parameters
    ----------
    fn : callable
        Map from ``(n_samples, n_in)`` to ``(n_samples, n_out)`` acting on each row separately.
        When it has a ``batched_jacobian`` method (the package's dynamics modules), that method
        is used; otherwise :func:`torch.func.jacrev` of the batch sum.
    x : torch.Tensor
        Points, shape ``(n_samples, n_in)``.

    Returns
    -------
    torch.Tensor
        ``J[b, i, j] = d fn(x)[b, i] / d x[b, j]``, shape ``(n_samples, n_out, n_in)``.
    """
    own = getattr(fn, "batched_jacobian", None)
    if callable(own):
        return own(x)
    from torch.func import jacrev

    return jacrev(lambda v: fn(v).sum(0))(x).transpose(0, 1)


def as_dtype(fn: Any, dtype: torch.dtype) -> Any:
    """A copy of a :class:`torch.nn.Module` cast to ``dtype`` in eval mode; other callables as they are."""
    import torch

    if isinstance(fn, torch.nn.Module):
        return copy.deepcopy(fn).to(dtype).eval()
    return fn


def evaluate_map(fn: Any, points: np.ndarray) -> np.ndarray:
    """``fn`` on ``(n, q)`` points in float64 without gradients, as numpy."""
    import torch

    with torch.no_grad():
        return as_dtype(fn, torch.float64)(torch.as_tensor(points, dtype=torch.float64)).numpy()
