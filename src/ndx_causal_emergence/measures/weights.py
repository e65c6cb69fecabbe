r"""Inverse-probability weights from a product-kernel Gaussian KDE (METHOD.md §2.3).

The density of the latents is a true product-kernel Gaussian KDE,

.. math::

    \hat p(y) = \frac{1}{n} \sum_{j=1}^{n} \prod_{d=1}^{q} \frac{1}{h_d \sqrt{2\pi}}
    \exp\!\Big(-\frac{(y_d - y_{j,d})^2}{2 h_d^2}\Big),

and the weights are ``w_n ∝ 1 / p̂(y_n)``. Kernel sums are evaluated in batched torch
operations (float64 distances, float32 exponentials) against a bounded random reference
subsample, so the cost is linear in the number of points. torch is imported inside the
functions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import InputError
from ._checks import as_array, as_count, as_positive

__all__ = ["ipw_weights", "kde_log_density"]

# Kernel sums are evaluated on blocks of at most this many (point, reference) pairs.
_BLOCK_PAIRS = 2**18


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


def _log_kernel_sums(
    points: np.ndarray,
    reference: np.ndarray,
    h: np.ndarray,
    exclude: np.ndarray | None = None,
    cutoff: float | None = None,
) -> np.ndarray:
    """``log Σ_j K_h(points_i − reference_j)`` (normalised Gaussian kernels), skipping ``j = exclude[i]`` if ≥ 0.

    With ``cutoff``, only references within ``cutoff`` bandwidths along one axis (the widest) of
    a block of sorted points enter its sum; the caller bounds the error of the kernels left out.
    """
    import torch

    center = reference.mean(axis=0)
    x = (points - center) / h
    r = (reference - center) / h
    n, m = x.shape[0], r.shape[0]
    excl = np.full(n, -1) if exclude is None else exclude
    order = np.arange(n)
    if cutoff is not None:
        axis = int(np.argmax(np.ptp(r, axis=0)))
        r_order = np.argsort(r[:, axis], kind="stable")
        r = r[r_order]
        new_position = np.empty(m, dtype=np.int64)
        new_position[r_order] = np.arange(m)
        excl = np.where(excl >= 0, new_position[np.maximum(excl, 0)], -1)
        order = np.argsort(x[:, axis], kind="stable")
        x, excl = x[order], excl[order]
        key = r[:, axis]
    xt = torch.as_tensor(x, dtype=torch.float64)
    rt = torch.as_tensor(r, dtype=torch.float64)
    r_sq = -0.5 * (rt * rt).sum(dim=1)
    block = max(1, _BLOCK_PAIRS // m)
    out = np.empty(n)
    for s in range(0, n, block):
        e = min(s + block, n)
        j0, j1 = 0, m
        if cutoff is not None:
            j0, j1 = np.searchsorted(key, [x[s, axis] - cutoff, x[e - 1, axis] + cutoff]).tolist()
        xb, rb = xt[s:e], rt[j0:j1]
        # a = -|x - r|^2 / 2, in float64 (the centring keeps the cancellation error near 1e-13)
        a = torch.addmm(r_sq[j0:j1] - 0.5 * (xb * xb).sum(dim=1, keepdim=True), xb, rb.T)
        rows = np.flatnonzero(excl[s:e] >= 0)
        a[torch.as_tensor(rows), torch.as_tensor(excl[s:e][rows] - j0)] = -math.inf
        a_max = a.amax(dim=1, keepdim=True) if j1 > j0 else a.new_full((e - s, 1), -math.inf)
        a_max = torch.where(torch.isfinite(a_max), a_max, 0.0)  # rows without any kernel: log(0) = -inf
        sums = a.sub_(a_max).to(torch.float32).exp_().sum(dim=1).to(torch.float64)
        out[s:e] = (sums.log() + a_max[:, 0]).numpy()
    result = np.empty(n)
    result[order] = out
    log_norm = -np.sum(np.log(h)) - 0.5 * h.shape[0] * math.log(2.0 * math.pi)
    return result + log_norm


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
        ``ln p̂``, exact even far from every reference point (log-sum-exp).

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
    return _log_kernel_sums(pts, ref, h) - math.log(ref.shape[0])


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
    n_reference: int | None = 5000,
    seed: int = 0,
    normalize: bool = True,
) -> np.ndarray:
    r"""Inverse-probability weights ``w_n ∝ 1 / p̂(y_n)`` of latents (METHOD.md §2.3).

    ``p̂`` is the product-kernel Gaussian KDE of all ``n`` latents (each point's own kernel
    included, as in ``sklearn.neighbors.KernelDensity``). When ``n > n_reference`` the sum
    over the other points is estimated from a random reference subsample ``R`` (without
    the point itself), which is unbiased for the full KDE and exact when ``R`` is everything:

    .. math::

        \hat p(y_i) \approx \frac{1}{n}\Big(K_h(0) + \frac{n-1}{|R \setminus i|}
        \sum_{j \in R \setminus i} K_h(y_i - y_j)\Big)

    Parameters
    ----------
    latents : array-like or torch.Tensor, shape (n_samples, q)
        Latent states (normalised coordinates of METHOD.md §3.0 recommended).
    bandwidth : float, array-like of shape (q,), or "scott", default 0.05
        Kernel standard deviation(s), see :func:`kde_log_density` (Scott's rule uses the size
        of the reference set). When the latents are reduced by PCA, it is in units of the
        standardised components.
    clip : float or None, default 10.0
        Clip the mean-1 weights at this value and renormalise to mean 1 (``None``: no
        clipping, the convention when estimating Σ).
    max_dims : int, default 10
        Latents with more dimensions are standardised and reduced to ``max_dims`` principal
        components before the KDE.
    n_reference : int or None, default 5000
        Size of the random reference subsample (``None``: all points, cost quadratic in n).
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
    if x.shape[1] > max_dims:
        x = _standardised_pca(x, max_dims)
    n, q = x.shape
    if n_reference is None or as_count(n_reference, "n_reference") >= n:
        ref_idx = np.arange(n)
    else:
        ref_idx = np.sort(np.random.default_rng(seed).choice(n, size=n_reference, replace=False))
    h = _bandwidths(bandwidth, x[ref_idx])
    position = np.full(n, -1)
    position[ref_idx] = np.arange(ref_idx.shape[0])
    # A point's own kernel gives n p̂ ≥ K_h(0); the kernels farther than c bandwidths add at most
    # (n - 1) K_h(0) e^{-c²/2} < 1e-8 K_h(0) to n p̂ with this c, so they are left out.
    cutoff = math.sqrt(2.0 * math.log(n * 1e8))
    log_others = _log_kernel_sums(x, x[ref_idx], h, exclude=position, cutoff=cutoff)
    n_others = ref_idx.shape[0] - (position >= 0)
    log_self = -np.sum(np.log(h)) - 0.5 * q * math.log(2.0 * math.pi)
    scale = np.where(n_others > 0, math.log(max(n - 1, 1)) - np.log(np.maximum(n_others, 1)), -np.inf)
    log_p = np.logaddexp(log_self, scale + log_others) - math.log(n)
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
