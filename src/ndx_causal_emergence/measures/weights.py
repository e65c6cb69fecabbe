r"""Inverse-probability weights from a product-kernel Gaussian KDE (docs/method.md §2.3).

The density of the latents is a true product-kernel Gaussian KDE,

.. math::

    \hat p(y) = \frac{1}{n} \sum_{j=1}^{n} \prod_{d=1}^{q} \frac{1}{h_d \sqrt{2\pi}}
    \exp\!\Big(-\frac{(y_d - y_{j,d})^2}{2 h_d^2}\Big),

and the weights are ``w_n ∝ 1 / p̂(y_n)``. The kernel sums are exact to a stated bound at a
cost about linear in the number of points for data spread over many bandwidths. In bandwidth
units, only kernels farther than ``c = sqrt(2 ln(m / ε))`` (along an axis, or in Euclidean
distance) are left out, ``m`` kernels below ``e^{-c²/2}`` each; the others are summed by

* a grid fast Gauss transform for ``q ≤ 2``: per grid cell, the sources' Hermite expansion is
  translated into a Taylor expansion at every target cell within reach (one convolution per
  axis), with as many terms as Cramér's bound on Hermite functions needs for an error ≤ ε
  (grids too large for memory, i.e. data spread very widely, go to the next method);
* exact float64 sums, for each leaf of a k-d partition of the points, over the kernel centres
  within ``c`` of the leaf's box (all of them, i.e. dense sums of cost ``n m``, when the points
  lie within a few bandwidths of each other).

Each sum ``Σ_j K_h(x − r_j)`` is thus within ``2ε K_h(0)`` of the exact one (ε = 1e-9; float64
rounding adds about 1e-13 relative). Sums below ``K_h(0) / 2`` (only at points that are not
kernel centres) are recomputed exactly by log-sum-exp over all centres. torch is imported inside
the functions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import InputError
from ._checks import as_array, as_count, as_positive

__all__ = ["ipw_weights", "kde_log_density"]

# Absolute error allowed in a kernel sum, in units of K_h(0), for the left-out tails and again
# for the truncated expansion of the fast Gauss transform.
_EPS = 1e-9
# Side of a fast-Gauss-transform grid cell, in bandwidths.
_CELL = 1.0
# Most values (cells × expansion terms) in a fast-Gauss-transform grid, and most values
# (pairs, or points × terms) in one block of work.
_GRID_VALUES = 2**22
_BLOCK = 2**20
# Kernel sums below this (units of K_h(0)) are recomputed exactly, without the cutoff.
_SMALL_SUM = 0.5
# Targets per leaf of the k-d partition of the local sums.
_LEAF = 64
# Squared radius (bandwidths²) of a leaf's reach beyond which its distances are taken as differences.
_WIDE_LEAF = 1e4
# Cramér's inequality: |H_k(x)| e^{-x²/2} ≤ _CRAMER 2^{k/2} sqrt(k!).
_CRAMER = 1.086435


def _bandwidths(bandwidth: float | str | Any, reference: np.ndarray) -> np.ndarray:
    """Per-dimension bandwidths ``h_d``: a scalar, one value per dimension, or Scott's rule."""
    m, q = reference.shape
    if isinstance(bandwidth, str):
        if bandwidth != "scott":
            raise InputError(f"bandwidth must be a positive number or 'scott', got {bandwidth!r}.")
        sd = reference.std(axis=0, ddof=1) if m > 1 else np.zeros(q)
        h = np.where(sd > 0, sd, 1.0) * m ** (-1.0 / (q + 4))
        return h
    h = np.asarray(bandwidth, dtype=np.float64)
    if h.ndim == 0:
        return np.full(q, as_positive(h, "bandwidth"))
    if h.shape != (q,) or not np.all(np.isfinite(h) & (h > 0)):
        raise InputError(f"bandwidth must be a number > 0, 'scott' or {q} positive values, got {bandwidth!r}.")
    return h


def _log_peak(h: np.ndarray) -> float:
    """``ln K_h(0)`` of the normalised product kernel."""
    return float(-np.sum(np.log(h)) - 0.5 * h.shape[0] * math.log(2.0 * math.pi))


def _cutoff(m: int) -> float:
    """Radius in bandwidths beyond which ``m`` kernels add at most ``_EPS``: ``m e^{-c²/2} = _EPS``."""
    return math.sqrt(2.0 * math.log(m / _EPS))


def _expansion_terms(m: int, q: int) -> int:
    """Terms per axis for which the truncated expansions of ``m`` kernels err by at most ``_EPS``.

    With cell side δ, source and target offsets from their cell centres are at most δ/2, and
    Cramér's inequality bounds the term (k, l) of one axis by ``K ρ^{k+l} / sqrt(k! l!)`` with
    ``ρ = δ/√2``; the terms with ``max(k, l) ≥ p`` add up to ``K t_p (2 s_p + t_p)`` (``s_p``, ``t_p``:
    the sums of ``ρ^k / sqrt(k!)`` below and from ``p``), and a product over ``q`` axes to ``q`` times that.
    """
    rho = _CELL / math.sqrt(2.0)
    k = np.arange(150)
    terms = np.exp(k * math.log(rho) - 0.5 * np.array([math.lgamma(i + 1.0) for i in k]))
    tails = np.cumsum(terms[::-1])[::-1]
    heads = np.cumsum(terms) - terms
    error = 1.01 * m * q * _CRAMER * tails * (2.0 * heads + tails)
    return int(np.argmax(error <= _EPS))


def _hermite_functions(x: np.ndarray, n: int) -> np.ndarray:
    """``H_k(x) e^{-x²} / sqrt(2^k k!)`` for ``k < n``, shape ``(len(x), n)`` (bounded by ``1.09 e^{-x²/2}``)."""
    out = np.empty((x.shape[0], n))
    out[:, 0] = np.exp(-x * x)
    if n > 1:
        out[:, 1] = math.sqrt(2.0) * x * out[:, 0]
    for k in range(1, n - 1):
        out[:, k + 1] = math.sqrt(2.0 / (k + 1)) * x * out[:, k] - math.sqrt(k / (k + 1)) * out[:, k - 1]
    return out


def _monomials(offset: np.ndarray, p: int) -> np.ndarray:
    """``offset^k / sqrt(k!)`` for ``k < p``, shape ``(len(offset), p)``."""
    out = np.empty((offset.shape[0], p))
    out[:, 0] = 1.0
    for k in range(1, p):
        out[:, k] = out[:, k - 1] * offset / math.sqrt(k)
    return out


def _axis_cells(u: np.ndarray, v: np.ndarray, reach: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Grid cells of targets ``u`` and sources ``v`` along one axis, offsets from the cell centres, and the length.

    Empty stretches longer than ``reach`` cells shrink to ``reach + 1`` cells: the cells on their two
    sides stay out of each other's reach, so the grid spans at most ``reach + 1`` cells per occupied cell.
    """
    low = min(u.min(), v.min())
    cu, cv = np.floor((u - low) / _CELL), np.floor((v - low) / _CELL)
    occupied = np.unique(np.concatenate([cu, cv]))
    packed = np.concatenate([[0], np.cumsum(np.minimum(np.diff(occupied), reach + 1))]).astype(np.int64)
    offset_u, offset_v = u - low - (cu + 0.5) * _CELL, v - low - (cv + 0.5) * _CELL
    return (
        packed[np.searchsorted(occupied, cu)],
        packed[np.searchsorted(occupied, cv)],
        offset_u,
        offset_v,
        int(packed[-1]) + 1,
    )


def _grid_sums(u: np.ndarray, v: np.ndarray) -> np.ndarray | None:
    r"""``Σ_j exp(−|u_i − v_j|²/2)`` by a grid fast Gauss transform; None if the grid would be too large.

    Per axis, with cell centres ``c_t``, ``c_s``, offsets ``b = t − c_t``, ``a = s − c_s`` and
    ``D = c_t − c_s``,

    .. math:: e^{-(t-s)^2/2} = \sum_{k,l} \frac{a^k}{\sqrt{k!}} \frac{(-b)^l}{\sqrt{l!}}
        \sqrt{\tbinom{k+l}{k}}\, \hat h_{k+l}\big(D/\sqrt2\big),

    with the normalised Hermite functions :func:`_hermite_functions`, truncated at ``k, l < p``.
    """
    import torch

    (n, q), m = u.shape, v.shape[0]
    p = _expansion_terms(m, q)
    reach = int(_cutoff(m) / _CELL) + 1
    axes = [_axis_cells(u[:, d], v[:, d], reach) for d in range(q)]
    shape = tuple(axis[4] for axis in axes)
    if math.prod(shape) * p**q > _GRID_VALUES:
        return None
    cell_u = np.ravel_multi_index(tuple(axis[0] for axis in axes), shape)
    cell_v = np.ravel_multi_index(tuple(axis[1] for axis in axes), shape)
    block = max(1, _BLOCK // p**q)

    def expansion(offsets: list[np.ndarray], rows: slice) -> torch.Tensor:
        """Products over the axes of ``offset^k / sqrt(k!)``, shape ``(rows, p^q)``."""
        out = torch.ones(1, 1, dtype=torch.float64)
        for off in offsets:
            mono = torch.as_tensor(_monomials(off[rows], p))
            out = (out[:, :, None] * mono[:, None, :]).reshape(mono.shape[0], -1)
        return out

    # moments of the sources in each cell
    grid = torch.zeros(math.prod(shape), p**q, dtype=torch.float64)
    for s in range(0, m, block):
        rows = slice(s, s + block)
        grid.index_add_(0, torch.as_tensor(cell_v[rows]), expansion([axis[3] for axis in axes], rows))
    # translation to the Taylor coefficients of the target cells, one convolution per axis
    lags = np.arange(reach, -reach - 1, -1) * _CELL / math.sqrt(2.0)
    hermite = _hermite_functions(lags, 2 * p - 1)
    k = np.arange(p)
    log_factorial = np.array([math.lgamma(i + 1.0) for i in range(2 * p)])
    binom = np.exp(0.5 * (log_factorial[k[:, None] + k] - log_factorial[k][:, None] - log_factorial[k][None, :]))
    weight = torch.as_tensor(np.transpose(hermite[:, k[:, None] + k] * binom, (2, 1, 0)).copy())
    grid = grid.reshape(shape + (p,) * q)
    for d in range(q):
        moved = grid.movedim((d, q + d), (-1, -2))
        mixed = torch.nn.functional.conv1d(moved.reshape(-1, p, shape[d]), weight, padding=reach)
        grid = mixed.reshape(moved.shape).movedim((-1, -2), (d, q + d))
    grid = grid.reshape(math.prod(shape), p**q)
    # evaluation at the targets
    out = np.empty(n)
    for s in range(0, n, block):
        rows = slice(s, s + block)
        taylor = expansion([-axis[2] for axis in axes], rows)
        out[rows] = (grid[torch.as_tensor(cell_u[rows])] * taylor).sum(dim=1).numpy()
    return out


def _leaves(x: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Order of the rows of ``x`` that makes leaves of at most ``size`` points (median splits of the widest axis).

    Returns the order and the leaf boundaries (positions in that order, first 0, last ``len(x)``).
    """
    order = np.arange(x.shape[0])
    stack, starts = [(0, x.shape[0])], [x.shape[0]]
    while stack:
        s, e = stack.pop()
        if e - s <= size:
            starts.append(s)
            continue
        rows = order[s:e]
        half = (e - s) // 2
        order[s:e] = rows[np.argpartition(x[rows, int(np.argmax(np.ptp(x[rows], axis=0)))], half)]
        stack += [(s, s + half), (s + half, e)]
    return order, np.sort(np.array(starts))


def _local_sums(u: np.ndarray, v: np.ndarray, cutoff: float) -> np.ndarray:
    """``Σ_j exp(−|u_i − v_j|²/2)`` over the sources within ``cutoff`` of each target leaf's bounding box.

    Targets are grouped into leaves of a k-d partition; a leaf's sums take every source whose
    Euclidean distance to the leaf's box is at most ``cutoff`` (no closer pair is left out) and
    are dense float64 sums over those, in blocks of bounded size. When the points are concentrated
    on a few bandwidths, every source is taken (dense sums).
    """
    import torch

    order, bounds = _leaves(u, _LEAF)
    u = u[order]
    axis = int(np.argmax(np.ptp(v, axis=0)))
    v = v[np.argsort(v[:, axis], kind="stable")]
    key = np.ascontiguousarray(v[:, axis])
    out = np.empty(u.shape[0])
    for s, e in zip(bounds[:-1], bounds[1:], strict=True):
        low, high = u[s:e].min(axis=0), u[s:e].max(axis=0)
        j0, j1 = np.searchsorted(key, [low[axis] - cutoff, high[axis] + cutoff])
        gap = np.maximum(np.maximum(low - v[j0:j1], v[j0:j1] - high), 0.0)
        centre = 0.5 * (low + high)
        vt = torch.as_tensor(v[j0:j1][np.einsum("ij,ij->i", gap, gap) <= cutoff * cutoff] - centre)
        ut = torch.as_tensor(u[s:e] - centre)
        v_sq = -0.5 * (vt * vt).sum(dim=1)
        # |u − v|² = |u|² + |v|² − 2 u·v errs by ~1e-16 (|u|² + |v|²) about the leaf centre: exact
        # differences where the leaf is wide (the sources within reach are then few)
        direct = (math.sqrt(0.25 * float(np.sum((high - low) ** 2))) + cutoff) ** 2 > _WIDE_LEAF
        rows = max(1, _BLOCK // max(1, vt.shape[0] * (u.shape[1] if direct else 1)))
        for r in range(0, e - s, rows):
            x = ut[r : r + rows]
            if direct:
                a = -0.5 * (x[:, None, :] - vt[None, :, :]).square_().sum(dim=2)
            else:
                a = torch.addmm(v_sq - 0.5 * (x * x).sum(dim=1, keepdim=True), x, vt.T)
            out[s + r : s + r + x.shape[0]] = a.exp_().sum(dim=1).numpy()
    result = np.empty_like(out)
    result[order] = out
    return result


def _dense_log_sums(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``ln Σ_j exp(−|u_i − v_j|²/2)`` over all sources by blocked log-sum-exp in float64 (exact far away too)."""
    import torch

    ut = torch.as_tensor(u, dtype=torch.float64)
    vt = torch.as_tensor(v, dtype=torch.float64)
    v_sq = -0.5 * (vt * vt).sum(dim=1)
    block = max(1, _BLOCK // v.shape[0])
    out = np.empty(u.shape[0])
    for s in range(0, u.shape[0], block):
        x = ut[s : s + block]
        a = torch.addmm(v_sq - 0.5 * (x * x).sum(dim=1, keepdim=True), x, vt.T)
        a_max = a.amax(dim=1, keepdim=True)
        out[s : s + block] = (a.sub_(a_max).exp_().sum(dim=1).log() + a_max[:, 0]).numpy()
    return out


def _log_kernel_sums(points: np.ndarray, reference: np.ndarray, h: np.ndarray) -> np.ndarray:
    """``ln Σ_j K_h(points_i − reference_j) / K_h(0)``, each sum within ``2ε`` of exact, or exact when below 1/2."""
    center = reference.mean(axis=0)
    u, v = (points - center) / h, (reference - center) / h
    sums = _grid_sums(u, v) if v.shape[1] <= 2 else None
    if sums is None:
        sums = _local_sums(u, v, _cutoff(v.shape[0]))
    log_sums = np.log(np.maximum(sums, _SMALL_SUM / 2))
    small = sums < _SMALL_SUM
    if np.any(small):
        log_sums[small] = _dense_log_sums(u[small], v)
    return log_sums


def kde_log_density(points: Any, reference: Any, bandwidth: float | str | Any = 0.05) -> np.ndarray:
    r"""Log density of a product-kernel Gaussian KDE built on ``reference``, evaluated at ``points``.

    .. math:: \ln \hat p(x) = \ln \frac{1}{m}\sum_{j=1}^{m} \prod_d \mathcal{N}(x_d;\, r_{j,d},\, h_d^2)

    Parameters
    ----------
    points : array-like or torch.Tensor, shape (n_points, q)
        Where to evaluate the density.
    reference : array-like or torch.Tensor, shape (m, q)
        The kernel centres (e.g. the encoded training data).
    bandwidth : float, array-like of shape (q,), or "scott", default 0.05
        Kernel standard deviation(s); ``"scott"`` uses ``h_d = sd_d · m^{-1/(q+4)}`` per dimension.

    Returns
    -------
    numpy.ndarray, shape (n_points,)
        ``ln p̂``: relative error of ``p̂`` below ``2e-9 K_h(0) / (m p̂)`` (at most 4e-9 where
        ``m p̂ ≥ K_h(0) / 2``), exact elsewhere, even far from every reference point (log-sum-exp).

    Examples
    --------
    >>> round(float(kde_log_density([[0.0]], [[0.0]], 1.0)[0]), 6)  # ln N(0; 0, 1)
    -0.918939
    """
    pts = as_array(points, "points", ndim=2)
    ref = as_array(reference, "reference", ndim=2)
    if pts.shape[1] != ref.shape[1]:
        raise InputError(f"points and reference must have the same number of columns, got {pts.shape} and {ref.shape}.")
    h = _bandwidths(bandwidth, ref)
    return _log_kernel_sums(pts, ref, h) + _log_peak(h) - math.log(ref.shape[0])


def _standardised_pca(x: np.ndarray, n_components: int) -> np.ndarray:
    """Project standardised columns of ``x`` onto their first ``n_components`` principal axes."""
    sd = x.std(axis=0)
    z = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    _, vecs = np.linalg.eigh(z.T @ z / z.shape[0])
    return z @ vecs[:, ::-1][:, :n_components]


def ipw_weights(
    latents: Any,
    *,
    bandwidth: float | str | Any = 0.05,
    clip: float | None = 10.0,
    max_dims: int = 10,
    n_components: int | None = None,
    n_reference: int | None = None,
    seed: int = 0,
    normalize: bool = True,
) -> np.ndarray:
    r"""Inverse-probability weights ``w_n ∝ 1 / p̂(y_n)`` of latents (docs/method.md §2.3).

    ``p̂`` is the product-kernel Gaussian KDE of all ``n`` latents (each point's own kernel
    included, as in ``sklearn.neighbors.KernelDensity``), by default exact: its relative error
    is below 1e-8 (each kernel sum is within ``2e-9 K_h(0)`` of exact and at least ``K_h(0)``),
    at a cost about linear in ``n`` (see the module docstring). With ``n > n_reference`` the sum
    over the other points is instead estimated from a random reference subsample ``R``
    (without the point itself), which is unbiased for the full KDE but noisy:

    .. math::

        \hat p(y_i) \approx \frac{1}{n}\Big(K_h(0) + \frac{n-1}{|R \setminus i|}
        \sum_{j \in R \setminus i} K_h(y_i - y_j)\Big)

    Parameters
    ----------
    latents : array-like or torch.Tensor, shape (n_samples, q)
        Latent states (normalised coordinates of docs/method.md §3.0 recommended).
    bandwidth : float, array-like of shape (q,), or "scott", default 0.05
        Kernel standard deviation(s), see :func:`kde_log_density` (Scott's rule uses the size
        of the reference set). When the latents are reduced by PCA, it is in units of the
        standardised components.
    clip : float or None, default 10.0
        Clip the mean-1 weights at this value and renormalise to mean 1 (``None``: no
        clipping, the convention when estimating Σ).
    max_dims : int, default 10
        Latents with more dimensions are standardised and reduced to ``n_components`` principal
        components before the KDE.
    n_components : int or None, default None
        Components kept by that reduction (``None``: ``max_dims``; the official mice code reduces
        latents of more than 200 dimensions to 100).
    n_reference : int or None, default None
        Size of a random reference subsample (``None``: all points, the exact KDE).
    seed : int, default 0
        Seed of the reference subsample.
    normalize : bool, default True
        Return weights with mean 1. If False, return ``1 / p̂`` itself, clipped at
        ``clip`` times its mean.

    Returns
    -------
    numpy.ndarray, shape (n_samples,)
        Positive weights.

    Examples
    --------
    >>> y = np.linspace(-1.0, 1.0, 201)[:, None]
    >>> w = ipw_weights(y, bandwidth=0.1)
    >>> round(float(w.mean()), 6), bool(w[0] > w[100])  # edges are sparser than the middle
    (1.0, True)
    """
    x = as_array(latents, "latents", ndim=2)
    max_dims = as_count(max_dims, "max_dims")
    if clip is not None:
        clip = as_positive(clip, "clip")
    n_components = max_dims if n_components is None else as_count(n_components, "n_components")
    if x.shape[1] > max_dims:
        x = _standardised_pca(x, min(n_components, max_dims))
    n, q = x.shape
    if n_reference is None or as_count(n_reference, "n_reference") >= n:
        ref_idx = np.arange(n)
    else:
        ref_idx = np.sort(np.random.default_rng(seed).choice(n, size=n_reference, replace=False))
    h = _bandwidths(bandwidth, x[ref_idx])
    is_ref = np.zeros(n)
    is_ref[ref_idx] = 1.0
    # Σ_{j ∈ R} K_h(y_i − y_j) / K_h(0), then the sum over R without the point itself, scaled to n − 1 points
    others = np.maximum(np.exp(_log_kernel_sums(x, x[ref_idx], h)) - is_ref, 0.0)
    scale = (n - 1) / np.maximum(ref_idx.shape[0] - is_ref, 1.0)
    log_p = np.log1p(scale * others) + _log_peak(h) - math.log(n)
    neg = -log_p
    w = np.exp(neg - neg.max())
    if normalize:
        w /= w.mean()
        if clip is not None:
            w = np.minimum(w, clip)
            w /= w.mean()
        return w
    w *= np.exp(neg.max())
    return w if clip is None else np.minimum(w, clip * w.mean())
