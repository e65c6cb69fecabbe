r"""Intervals, significance and condition comparisons of J and ΔJ by resampling held-out data (docs/method.md §3.4).

The per-scale J of a fitted model is a function of two samples: the squared one-step residuals
``r²_{n,i}`` of its map on the held-out pairs (the noise term) and ``ln|det ∂F̃(y_b)|`` at the
Jacobian-term points (the Jacobian term). :class:`ScaleResiduals` holds both, and

- :func:`bootstrap_j` redraws them (a moving-block bootstrap of the pairs, the same blocks for
  every scale, so that ΔJ_k = J_k − J_0 is resampled as a pair; an ordinary bootstrap of the
  Jacobian points) and returns J of every scale per draw;
- :func:`emergence_significance` turns the draws into 95 % intervals of J and ΔJ, one-sided
  p-values of ``ΔJ_k > 0`` and Holm's step-down adjustment over the macro scales;
- :func:`block_j` gives J per contiguous block of pairs, and :func:`compare_conditions` tests a
  difference between two conditions by permuting those blocks between them.

The draws cover the sampling noise of the held-out data (residuals and, in the data's own
coordinates, the per-axis ranges) and of the Monte-Carlo Jacobian term of one fitted model;
pooling the draws of several seeds adds the fit-to-fit spread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError
from .ei import noise_term

__all__ = [
    "ScaleResiduals",
    "block_j",
    "bootstrap_j",
    "compare_conditions",
    "default_block_length",
    "emergence_significance",
    "holm",
]


@dataclass(frozen=True)
class ScaleResiduals:
    """What the J of one scale is computed from.

    Attributes
    ----------
    terms : np.ndarray, shape (n_pairs, q)
        Per-pair terms whose (weighted) mean is σ², in time order: the squared one-step
        residuals of the scale's map on the held-out pairs (absolute residuals under the
        ``mae`` convention), in measurement coordinates.
    logdet : np.ndarray, shape (n_points,)
        ``ln|det ∂F̃/∂y|`` at the points of the Jacobian term.
    L : float
        Half-width of the intervention box.
    weights : np.ndarray or None, shape (n_pairs,)
        Weights of the pairs in σ² (``None``: equal).
    states : np.ndarray or None, shape (n_pairs, q)
        The pairs' starting states in measurement coordinates, whose per-axis 1st/99th
        percentiles set those coordinates (docs/method.md §3.0); given, :func:`bootstrap_j`
        draws the ranges again with the pairs (``None``: fixed coordinates, ``ei_domain="box"``).
    """

    terms: np.ndarray
    logdet: np.ndarray
    L: float
    weights: np.ndarray | None = None
    states: np.ndarray | None = None

    @property
    def q(self) -> int:
        """Dimension of the scale."""
        return int(self.terms.shape[1])

    def j(self, rows: np.ndarray | None = None, points: np.ndarray | None = None) -> float:
        """J (nats) from the pairs ``rows`` and the Jacobian points ``points`` (default: all)."""
        terms = self.terms if rows is None else self.terms[rows]
        if self.weights is None:
            sigma2 = terms.mean(axis=0)
        else:
            w = self.weights if rows is None else self.weights[rows]
            sigma2 = w @ terms / w.sum()
        logdet = self.logdet if points is None else self.logdet[points]
        q = self.q
        return (noise_term(np.maximum(sigma2, 1e-300)) + q * math.log(2.0 * self.L) + float(np.mean(logdet))) / q


def _delta(values: np.ndarray) -> np.ndarray:
    """ΔJ from J along the last axis (scale 0 first)."""
    return values - values[..., :1]


def _check_paired(residuals: Sequence[ScaleResiduals]) -> int:
    if not residuals:
        raise InputError("residuals must hold at least one scale.")
    n = {r.terms.shape[0] for r in residuals}
    if len(n) != 1:
        raise InputError(f"every scale must be measured on the same held-out pairs, got pair counts {sorted(n)}.")
    (n_pairs,) = n
    if n_pairs < 2:
        raise InputError(f"need at least 2 held-out pairs to resample, got {n_pairs}.")
    return n_pairs


def default_block_length(n_pairs: int) -> int:
    """Block length of the moving-block bootstrap: ``⌈2 n^{1/3}⌉`` pairs (at most ``n``)."""
    return int(min(n_pairs, max(1, math.ceil(2.0 * n_pairs ** (1.0 / 3.0)))))


def _block_sums(values: np.ndarray, block: int) -> np.ndarray:
    """Sums of ``values`` (n, ...) over every window of ``block`` consecutive rows, ``(n - block + 1, ...)``."""
    csum = np.concatenate([np.zeros((1, *values.shape[1:])), np.cumsum(values, axis=0)])
    return csum[block:] - csum[:-block]


def _tail_quantile(multiplicity: np.ndarray, tail_values: np.ndarray, rank: float) -> np.ndarray:
    """Per draw, the first of ``tail_values`` (sorted from the extreme inwards) beyond which more than ``rank``
    of the drawn rows lie, each row counted ``multiplicity[:, i]`` times (the nearest-rank quantile)."""
    reached = np.cumsum(multiplicity, axis=1) > rank
    return tail_values[np.minimum(reached.argmax(axis=1), len(tail_values) - 1)]


def _range_shift(states: np.ndarray, starts: np.ndarray, block: int) -> np.ndarray:
    """Per draw, the mean over axes of ``ln(range of the drawn states / range of all states)``, 1st to 99th percentile.

    A range wider by a factor ``a`` along an axis shrinks that axis's residuals by ``a`` in the
    coordinates J is read in: J rises by ``ln a`` averaged over the axes. A draw's quantiles are
    read from how many times it holds each row (blocks overlap) among the rows of each axis's
    outer tails (5 %, at least 20 rows), the full sample's the same way, in O(draws × tail).
    """
    n_pairs, q = states.shape
    n_boot, n_blocks = starts.shape
    draws = np.arange(n_boot)[:, None]
    edges = np.zeros((n_boot, n_pairs + 1), dtype=np.int32)  # +1 where a block starts, -1 after it ends
    np.add.at(edges, (draws, starts), 1)
    np.add.at(edges, (draws, starts + block), -1)
    multiplicity = np.cumsum(edges[:, :n_pairs], axis=1, dtype=np.int32)
    tail = min(n_pairs, max(20, math.ceil(0.05 * n_pairs)))
    rank_drawn, rank_all = 0.01 * n_blocks * block, 0.01 * n_pairs
    order = np.argsort(states, axis=0, kind="stable")
    shift = np.zeros(n_boot)
    for i in range(q):
        low, high = order[:tail, i], order[::-1, i][:tail]
        lo_b = _tail_quantile(multiplicity[:, low], states[low, i], rank_drawn)
        hi_b = _tail_quantile(multiplicity[:, high], states[high, i], rank_drawn)
        ones = np.ones((1, tail), dtype=np.int32)
        full = _tail_quantile(ones, states[high, i], rank_all) - _tail_quantile(ones, states[low, i], rank_all)
        shift += np.log(np.maximum(hi_b - lo_b, 1e-300) / max(float(full[0]), 1e-300))
    return shift / q


def bootstrap_j(
    residuals: Sequence[ScaleResiduals], *, n_boot: int = 1000, block_length: int | None = None, seed: int = 0
) -> np.ndarray:
    """J of every scale under ``n_boot`` resamples of the held-out pairs and Jacobian points.

    A resample of the pairs is ``⌈n / block_length⌉`` blocks of consecutive pairs with random
    starts (moving-block bootstrap), the same blocks for every scale; the Jacobian points are
    resampled one by one, independently per scale. Where the residuals carry their ``states``,
    the coordinates' per-axis ranges are drawn again with the pairs (their sampling noise is the
    largest part of J's at coarse scales: few axes, each ranged by an autocorrelated sample).

    Parameters
    ----------
    residuals : sequence of ScaleResiduals
        One per scale, all measured on the same held-out pairs (in time order).
    n_boot : int
        Number of resamples.
    block_length : int, optional
        Pairs per block (default :func:`default_block_length`); blocks keep the residuals'
        serial dependence.
    seed : int
        Seed of the resampling.

    Returns
    -------
    np.ndarray, shape (n_boot, n_scales)
        J (nats) per resample and scale.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> res = [ScaleResiduals(rng.normal(size=(400, 2)) ** 2, np.zeros(100), 1.0)]
    >>> bootstrap_j(res, n_boot=50).shape
    (50, 1)
    """
    n_pairs = _check_paired(residuals)
    block = default_block_length(n_pairs) if block_length is None else int(block_length)
    if not 1 <= block <= n_pairs:
        raise InputError(f"block_length must lie in [1, {n_pairs}], got {block_length}.")
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n_pairs - block + 1, size=(n_boot, math.ceil(n_pairs / block)))
    out = np.empty((n_boot, len(residuals)))
    chunk = max(1, 2**22 // (starts.shape[1] * max(r.q for r in residuals)))  # draws per step (≤ 32 MiB)
    for k, r in enumerate(residuals):
        sums = _block_sums(r.terms if r.weights is None else r.terms * r.weights[:, None], block)
        wsums = _block_sums(np.ones(n_pairs) if r.weights is None else r.weights, block)
        sigma2 = np.concatenate(
            [
                sums[starts[i : i + chunk]].sum(axis=1) / wsums[starts[i : i + chunk]].sum(axis=1)[:, None]
                for i in range(0, n_boot, chunk)
            ]
        )
        logdet = r.logdet[rng.integers(0, len(r.logdet), size=(n_boot, len(r.logdet)))].mean(axis=1)
        out[:, k] = (noise_term(np.maximum(sigma2, 1e-300)) + r.q * math.log(2.0 * r.L) + logdet) / r.q
        if r.states is not None:
            out[:, k] += _range_shift(r.states, starts, block)
    return out


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error over the given tests).

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    adjusted = np.minimum(1.0, np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order]))
    out = np.empty_like(p)
    out[order] = adjusted
    return out


def emergence_significance(
    j: Sequence[float], draws: np.ndarray, *, fit_ok: Sequence[bool], alpha: float = 0.05, margin: float = 0.0
) -> pd.DataFrame:
    """Intervals of J and ΔJ, p-values of ``ΔJ_k > margin`` and the ``significant`` flag per scale.

    Parameters
    ----------
    j : sequence of float
        The point estimates J_0 … J_K (scale 0 is the micro reference).
    draws : np.ndarray, shape (n_draws, n_scales)
        Resampled J (:func:`bootstrap_j`, pooled over seeds where there are several).
    fit_ok : sequence of bool
        Whether each scale's map beat persistence and the mean (a ΔJ needs both its scale and
        scale 0 to pass).
    alpha : float
        Family-wise error rate over the macro scales (Holm).
    margin : float
        Smallest ΔJ (nats) counted as emergence: the null hypothesis is ``ΔJ_k ≤ margin``, so
        that a bias of the estimator below it (measured on nulls, docs/method.md §3.6) is not
        reported as emergence.

    Returns
    -------
    pandas.DataFrame
        One row per scale: ``dimension_averaged_ei_ci_low/high``, ``causal_emergence_ci_low/high``
        (2.5th and 97.5th percentiles of the draws, nats), ``causal_emergence_p_value`` (one-sided,
        ``(1 + #{ΔJ* ≤ margin}) / (1 + n_draws)``; NaN at scale 0), ``causal_emergence_p_holm`` and
        ``significant`` (``fit_ok`` at the scale and at scale 0, and Holm-adjusted p < ``alpha``).
    """
    j = np.asarray(j, dtype=float)
    draws = np.asarray(draws, dtype=float)
    if draws.ndim != 2 or draws.shape[1] != len(j) or len(fit_ok) != len(j):
        raise InputError(f"draws must be (n_draws, {len(j)}) and fit_ok hold {len(j)} flags.")
    delta = _delta(draws)
    p = (1.0 + (delta <= margin).sum(axis=0)) / (1.0 + len(draws))
    p[0] = np.nan
    p_holm = np.full(len(j), np.nan)
    if len(j) > 1:
        p_holm[1:] = holm(p[1:])
    ok = np.asarray(fit_ok, dtype=bool)
    significant = ok & ok[0] & (np.nan_to_num(p_holm, nan=1.0) < alpha)
    significant[0] = False
    j_low, j_high = np.percentile(draws, [2.5, 97.5], axis=0)
    d_low, d_high = np.percentile(delta, [2.5, 97.5], axis=0)
    return pd.DataFrame({
        "dimension_averaged_ei_ci_low": j_low, "dimension_averaged_ei_ci_high": j_high,
        "causal_emergence_ci_low": d_low, "causal_emergence_ci_high": d_high,
        "causal_emergence_p_value": p, "causal_emergence_p_holm": p_holm, "significant": significant,
    })  # fmt: skip


def block_j(residuals: Sequence[ScaleResiduals], *, n_blocks: int = 10) -> np.ndarray:
    """J of every scale on each of ``n_blocks`` contiguous blocks of the held-out pairs, ``(n_blocks, n_scales)``.

    The Jacobian term uses all points in every block (it does not depend on the held-out data).
    """
    n_pairs = _check_paired(residuals)
    n_blocks = int(min(n_blocks, n_pairs // 2))
    if n_blocks < 2:
        raise InputError(f"need at least 4 held-out pairs for 2 blocks, got {n_pairs}.")
    edges = np.linspace(0, n_pairs, n_blocks + 1).astype(int)
    return np.array([[r.j(np.arange(a, b)) for r in residuals] for a, b in zip(edges[:-1], edges[1:], strict=True)])


def compare_conditions(
    j_a: Sequence[float],
    j_b: Sequence[float],
    draws_a: np.ndarray,
    draws_b: np.ndarray,
    blocks_a: np.ndarray,
    blocks_b: np.ndarray,
    *,
    n_permutations: int = 9999,
    seed: int = 0,
) -> pd.DataFrame:
    r"""Differences of J and ΔJ between two conditions per scale, with intervals and permutation p-values.

    For each scale the difference is ``J_a − J_b`` (and ``ΔJ_a − ΔJ_b``) of the point
    estimates; the 95 % interval comes from independent resamples of each condition
    (:func:`bootstrap_j` draws, paired by index); the two-sided p-value from permuting the
    condition labels over the held-out blocks (:func:`block_j`): the share of relabellings whose
    difference of block means is at least as far from 0 as the observed one.

    Parameters
    ----------
    j_a, j_b : sequence of float
        Point estimates per scale (same scales in the same order).
    draws_a, draws_b : np.ndarray, shape (n_draws, n_scales)
        Resampled J of each condition.
    blocks_a, blocks_b : np.ndarray, shape (n_blocks_*, n_scales)
        J per held-out block of each condition.
    n_permutations : int
        Random relabellings.
    seed : int
        Seed of the draws pairing and the permutations.

    Returns
    -------
    pandas.DataFrame
        Two rows per scale (``measure`` = ``"J"`` and ``"delta_J"``): ``scale``, ``measure``,
        ``difference``, ``ci_low``, ``ci_high``, ``p_value`` (nats for the first four).
    """
    j_a, j_b = np.asarray(j_a, dtype=float), np.asarray(j_b, dtype=float)
    n_scales = len(j_a)
    if len(j_b) != n_scales or draws_a.shape[1] != n_scales or draws_b.shape[1] != n_scales:
        raise InputError("both conditions must be measured on the same scales.")
    rng = np.random.default_rng(seed)
    n = min(len(draws_a), len(draws_b))
    resampled_a = draws_a[rng.permutation(len(draws_a))[:n]]
    resampled_b = draws_b[rng.permutation(len(draws_b))[:n]]
    pooled = np.concatenate([blocks_a, blocks_b])
    n_a = len(blocks_a)
    perms = np.array([rng.permutation(len(pooled)) for _ in range(n_permutations)])
    rows = []
    for measure in ("J", "delta_J"):
        shift = _delta if measure == "delta_J" else np.asarray
        est = shift(j_a) - shift(j_b)
        dd = shift(resampled_a) - shift(resampled_b)
        low, high = np.percentile(dd, [2.5, 97.5], axis=0)
        values = shift(pooled)
        observed = values[:n_a].mean(axis=0) - values[n_a:].mean(axis=0)
        permuted = values[perms[:, :n_a]].mean(axis=1) - values[perms[:, n_a:]].mean(axis=1)
        p = (1.0 + (np.abs(permuted) >= np.abs(observed) - 1e-12).sum(axis=0)) / (1.0 + n_permutations)
        for k in range(n_scales):
            if measure == "delta_J" and k == 0:
                continue
            rows.append({"scale": k, "measure": measure, "difference": float(est[k]), "ci_low": float(low[k]),
                         "ci_high": float(high[k]), "p_value": float(p[k])})  # fmt: skip
    return pd.DataFrame(rows)
