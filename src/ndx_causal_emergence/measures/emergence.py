r"""Causal emergence between scales, causal power and emergent complexity (docs/method.md §3.2–3.3).

Per-scale dimension-averaged EI values ``J_0, …, J_K`` are ordered from micro (0) to macro (K).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ._checks import as_array

__all__ = ["ECResult", "causal_emergence", "causal_power", "emergent_complexity"]


def causal_emergence(j_micro: Any, j_macro: Any) -> float | np.ndarray:
    r"""Causal emergence ``ΔJ = J_macro − J_micro`` (nats, like the inputs).

    .. math:: \Delta J_k = J(F_k) - J(F_0)

    Parameters
    ----------
    j_micro, j_macro : float or array-like
        Dimension-averaged EI of the micro reference and of the macro scale(s); broadcast.

    Returns
    -------
    float or numpy.ndarray
        A float when both inputs are scalars, an array otherwise.

    Examples
    --------
    >>> causal_emergence(1.0, [1.5, 0.5])
    array([ 0.5, -0.5])
    """
    micro = np.asarray(j_micro, dtype=np.float64)
    macro = np.asarray(j_macro, dtype=np.float64)
    if np.isnan(micro).any() or np.isnan(macro).any():
        raise InputError("j_micro and j_macro must not be NaN; a scale whose EI could not be computed has no ΔJ.")
    delta = macro - micro
    return float(delta) if delta.ndim == 0 else delta


def _contributions(j_per_scale: Any) -> np.ndarray:
    j = as_array(j_per_scale, "j_per_scale", ndim=1, finite=False)
    if np.isnan(j).any():
        raise InputError(f"j_per_scale must not contain NaN, got {j.tolist()}.")
    j = np.maximum(j, 0.0)
    best_before = np.maximum.accumulate(np.concatenate(([0.0], j[:-1])))
    c = np.maximum(0.0, j - best_before)
    c[0] = j[0]
    return c


def causal_power(j_per_scale: Any) -> np.ndarray:
    r"""Share of causal power held by each scale (docs/method.md §3.3).

    .. math::

        c_0 = J_0,\quad c_k = \max\big(0,\, J_k - \max_{j<k} J_j\big),\quad p_k = c_k / \textstyle\sum_j c_j

    with every ``J`` clipped at 0 first. When no scale has positive J (all ``c_k = 0``),
    no scale holds causal power and every share is 0.

    Parameters
    ----------
    j_per_scale : array-like, shape (n_scales,)
        Dimension-averaged EI per scale, micro first.

    Returns
    -------
    numpy.ndarray, shape (n_scales,)
        Shares ``p_k ≥ 0`` summing to 1 (or all 0, see above).

    Examples
    --------
    >>> causal_power([1.0, 0.9, 1.6, 4.0])
    array([0.25, 0.  , 0.15, 0.6 ])
    """
    c = _contributions(j_per_scale)
    total = c.sum()
    return c / total if total > 0 else np.zeros_like(c)


@dataclass(frozen=True)
class ECResult:
    """Emergent complexity of a scale ladder.

    Attributes
    ----------
    shares : numpy.ndarray
        Causal power shares ``p_k`` (:func:`causal_power`).
    bits : float
        ``EC = −Σ p_k log2 p_k``.
    normalized : float
        ``EC / log2(n_scales)`` in [0, 1] (0 for a single scale).
    """

    shares: np.ndarray
    bits: float
    normalized: float


def emergent_complexity(j_per_scale: Any) -> ECResult:
    r"""Emergent complexity: the entropy of the causal power shares (docs/method.md §3.3).

    .. math:: \mathrm{EC} = -\sum_k p_k \log_2 p_k \quad (0 \log 0 = 0)

    Degenerate cases: with one scale, or when no scale has positive J, EC is 0 (and so is
    the normalised value).

    Parameters
    ----------
    j_per_scale : array-like, shape (n_scales,)
        Dimension-averaged EI per scale, micro first.

    Returns
    -------
    ECResult
        Shares, EC in bits and EC normalised by ``log2(n_scales)``.

    Examples
    --------
    >>> res = emergent_complexity([1.0, 0.9, 1.6, 4.0])
    >>> round(res.bits, 6), round(res.normalized, 6)
    (1.352724, 0.676362)
    """
    p = causal_power(j_per_scale)
    nz = p[p > 0]
    bits = float(-np.sum(nz * np.log2(nz))) + 0.0  # + 0.0 turns -0.0 into 0.0
    normalized = bits / math.log2(p.shape[0]) if p.shape[0] > 1 else 0.0
    return ECResult(shares=p, bits=bits, normalized=normalized)
