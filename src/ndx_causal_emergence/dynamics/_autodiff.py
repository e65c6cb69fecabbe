"""Evaluation of torch maps in float64, shared by the dynamics modules (torch loaded lazily)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch


def as_dtype(fn: Any, dtype: torch.dtype) -> Any:
    """A copy of a :class:`torch.nn.Module` cast to ``dtype`` in eval mode; other callables as they are.

    A module already in eval mode whose floating-point tensors are all of ``dtype`` is returned itself:
    there is nothing to cast, and a copy of the whole model behind a map (an encoder's) costs tens of
    milliseconds each time.
    """
    import torch

    if isinstance(fn, torch.nn.Module):
        tensors = [t for t in (*fn.parameters(), *fn.buffers()) if t.is_floating_point()]
        if not any(m.training for m in fn.modules()) and all(t.dtype == dtype for t in tensors):
            return fn
        return copy.deepcopy(fn).to(dtype).eval()
    return fn


def evaluate_map(fn: Any, points: np.ndarray) -> np.ndarray:
    """``fn`` on ``(n, q)`` points in float64 without gradients, as numpy."""
    import torch

    with torch.no_grad():
        return as_dtype(fn, torch.float64)(torch.as_tensor(points, dtype=torch.float64)).numpy()
