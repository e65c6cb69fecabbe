r"""Effective information of discrete Markov chains and their coarse-grainings (Hoel et al. 2013).

EI is the mutual information between a uniform intervention on the current state and the
next state, in bits:

.. math::

    \mathrm{EI}(T) = H\Big(\frac1n\sum_i T_{i\cdot}\Big) - \frac1n\sum_i H(T_{i\cdot})
    = \text{determinism} - \text{degeneracy},

with determinism ``log2 n − mean_i H(T_i·)`` and degeneracy ``log2 n − H(mean_i T_i·)``.

References: Hoel, Albantakis & Tononi, "Quantifying causal emergence shows that macro can
beat micro", PNAS 2013 (arXiv:1309.1870).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ._checks import as_array

__all__ = ["TPMResult", "coarse_grain", "tpm_ei"]


@dataclass(frozen=True)
class TPMResult:
    """EI of a transition probability matrix and its parts (bits).

    Attributes
    ----------
    ei : float
        Effective information ``determinism − degeneracy``.
    determinism : float
        ``log2 n − mean_i H(T_i·)``.
    degeneracy : float
        ``log2 n − H(mean_i T_i·)``.
    effectiveness : float
        ``ei / log2 n`` in [0, 1] (0 for a single state).
    n_states : int
        Number of states ``n``.
    """

    ei: float
    determinism: float
    degeneracy: float
    effectiveness: float
    n_states: int


def _check_tpm(tpm: Any) -> np.ndarray:
    t = as_array(tpm, "tpm", ndim=2)
    if t.shape[0] != t.shape[1]:
        raise InputError(f"tpm must be square (n_states, n_states), got shape {t.shape}.")
    if np.any(t < 0):
        raise InputError(f"tpm must be non-negative, got min {t.min():g}.")
    sums = t.sum(axis=1)
    bad = np.flatnonzero(~np.isclose(sums, 1.0, rtol=0.0, atol=1e-8))
    if bad.size:
        raise InputError(
            f"each row of tpm must sum to 1 (P(next | current)); rows {bad[:5].tolist()} sum to "
            f"{sums[bad[:5]].round(6).tolist()}. Normalise with tpm / tpm.sum(axis=1, keepdims=True)."
        )
    return t


def _entropy_bits(p: np.ndarray) -> np.ndarray:
    """Entropy (bits) along the last axis, with ``0 log 0 = 0``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(p), 0.0)
    return -terms.sum(axis=-1)


def tpm_ei(tpm: Any) -> TPMResult:
    r"""Effective information of a transition probability matrix under uniform intervention.

    .. math:: \mathrm{EI} = H(\bar T) - \overline{H(T_{i\cdot})}, \quad \bar T = \tfrac1n \textstyle\sum_i T_{i\cdot}

    Parameters
    ----------
    tpm : array-like, shape (n_states, n_states)
        Row-stochastic matrix, ``tpm[i, j] = P(next = j | current = i)``.

    Returns
    -------
    TPMResult
        EI, determinism, degeneracy and effectiveness in bits.

    Raises
    ------
    InputError
        If ``tpm`` is not square, has negative or non-finite entries, or rows not summing to 1.

    Examples
    --------
    >>> round(tpm_ei(np.eye(4)).ei, 6)
    2.0
    """
    t = _check_tpm(tpm)
    n = t.shape[0]
    log_n = math.log2(n)
    mean_row_entropy = float(_entropy_bits(t).mean())
    effect_entropy = float(_entropy_bits(t.mean(axis=0)))
    ei = effect_entropy - mean_row_entropy + 0.0
    return TPMResult(
        ei=ei,
        determinism=log_n - mean_row_entropy,
        degeneracy=log_n - effect_entropy,
        effectiveness=ei / log_n if n > 1 else 0.0,
        n_states=n,
    )


def coarse_grain(tpm: Any, partition: Sequence[Sequence[int]]) -> np.ndarray:
    r"""Macro transition matrix of a partition of the states, intervening uniformly within each group.

    .. math:: M_{AB} = \frac{1}{|A|} \sum_{i \in A} \sum_{j \in B} T_{ij}

    Parameters
    ----------
    tpm : array-like, shape (n_states, n_states)
        Row-stochastic micro matrix.
    partition : sequence of sequences of int
        Groups of micro state indices; every state in exactly one non-empty group.

    Returns
    -------
    numpy.ndarray, shape (n_groups, n_groups)
        Row-stochastic macro matrix, groups in the order given.

    Examples
    --------
    >>> coarse_grain(np.eye(3), [[0, 1], [2]])
    array([[1., 0.],
           [0., 1.]])
    """
    t = _check_tpm(tpm)
    n = t.shape[0]
    groups = [list(g) for g in partition]
    flat = [i for g in groups for i in g]
    if any(len(g) == 0 for g in groups) or sorted(flat) != list(range(n)):
        raise InputError(
            f"partition must split the states 0..{n - 1} into non-empty groups, each state exactly once; got {groups}."
        )
    member = np.zeros((len(groups), n))
    for k, g in enumerate(groups):
        member[k, g] = 1.0
    return (member / member.sum(axis=1, keepdims=True)) @ t @ member.T
