"""Fixed points of macro dynamics: roots of a learned map and of the empirical drift (docs/method.md §4).

Two sources, reported side by side in one table with the columns of the NWB ``FixedPointTable``:

- ``model``: roots of ``F(y) - y`` for a torch map ``F`` (the learned ``F̃_k`` in normalised
  coordinates), found by batched Levenberg-Marquardt from many starts, deduplicated and classified by
  the eigenvalues of ``∂F(y*)``.
- ``empirical``: roots of the kernel-smoothed conditional mean drift of an encoded trajectory
  (:mod:`.empirical`); :func:`compare_fixed_points` stacks both and marks agreement.

Points outside the support of the encoded training data are reported but flagged (``in_support``):
they show how a network extrapolates, not how the system behaves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..deprecation import renamed_keywords
from ..errors import InputError
from ..measures.lapack import one_thread

if TYPE_CHECKING:
    import torch

__all__ = [
    "FIXED_POINT_COLUMNS",
    "classify_stability",
    "as_2d",
    "compare_fixed_points",
    "default_data_starts",
    "fixed_point_table",
    "find_fixed_points",
    "support_mask",
]

# The widest latent space searched from the full number of starts (cost per iteration ∝ starts × q³).
_WIDEST_FULL_SEARCH = 128

FIXED_POINT_COLUMNS = ["scale", "location", "eigenvalues_real", "eigenvalues_imag", "stability", "in_support", "source"]


def as_2d(data: np.ndarray, name: str) -> np.ndarray:
    """``data`` as a finite ``(n_samples, n_dims)`` float array (1-D input is one dimension).

    Raises
    ------
    InputError
        If the array is empty, not finite or has more than two axes; ``name`` is the argument's name.
    """
    arr = np.asarray(data, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or len(arr) == 0 or not np.isfinite(arr).all():
        raise InputError(f"{name} must be a finite, non-empty (n_samples, n_dims) array; got shape {arr.shape}.")
    return arr


def classify_stability(eigenvalues: np.ndarray) -> str:
    """Classify a fixed point of a map by the moduli of the eigenvalues of its Jacobian.

    Parameters
    ----------
    eigenvalues : np.ndarray
        Eigenvalues (complex allowed) of ``∂F(y*)``.

    Returns
    -------
    str
        ``"stable"`` (all ``|λ| < 1``), ``"unstable"`` (all ``|λ| > 1``) or ``"saddle"`` (mixed,
        including ``|λ| = 1``).

    Examples
    --------
    >>> classify_stability(np.array([0.5, 0.9])), classify_stability(np.array([1.1, 0.9]))
    ('stable', 'saddle')
    """
    mod = np.abs(np.asarray(eigenvalues))
    if np.all(mod < 1.0):
        return "stable"
    if np.all(mod > 1.0):
        return "unstable"
    return "saddle"


@renamed_keywords(random_state="seed")
def support_mask(
    points: np.ndarray,
    reference: np.ndarray,
    *,
    method: str = "auto",
    bandwidth: float = 0.1,
    quantile: float = 0.01,
    margin: float = 0.1,
    max_reference: int = 2000,
    seed: int = 0,
) -> np.ndarray:
    """Whether points lie inside the support of reference data (the encoded training data).

    Parameters
    ----------
    points : np.ndarray, shape (n_points, n_dims)
        Points to test.
    reference : np.ndarray, shape (n_samples, n_dims)
        The encoded training data (normalised coordinates of docs/method.md §3.0).
    method : {"auto", "kde", "range"}
        ``"kde"``: the Gaussian product-kernel density of ``reference`` at the point is at least the
        ``quantile`` quantile of the density at the reference points themselves. ``"range"``: every
        coordinate lies within the 1st-99th percentile range of ``reference`` widened by ``margin``
        times its half width on each side (in normalised coordinates: ``[-1 - margin, 1 + margin]``).
        ``"auto"``: ``"kde"`` for up to 2 dimensions, ``"range"`` above (a fixed-bandwidth density is
        not informative in many dimensions).
    bandwidth : float
        KDE bandwidth (normalised units).
    quantile : float
        Density quantile of the reference points used as threshold.
    margin : float
        Widening of the range, relative to its half width.
    max_reference : int
        Reference points kept for the KDE (random subsample).
    seed : int
        Seed of the subsample.

    Returns
    -------
    np.ndarray of bool, shape (n_points,)
    """
    ref = as_2d(reference, "reference")
    pts = np.asarray(points, dtype=float).reshape(-1, ref.shape[1])
    if method == "auto":
        method = "kde" if ref.shape[1] <= 2 else "range"
    if method == "range":
        lo, hi = np.percentile(ref, [1.0, 99.0], axis=0)
        pad = margin * (hi - lo) / 2.0
        return np.all((pts >= lo - pad) & (pts <= hi + pad), axis=1)
    if method != "kde":
        raise InputError(f"method must be 'auto', 'kde' or 'range', got {method!r}.")
    from ..measures import kde_log_density

    if len(ref) > max_reference:
        ref = ref[np.random.default_rng(seed).choice(len(ref), max_reference, replace=False)]
    threshold = np.quantile(kde_log_density(ref, ref, bandwidth), quantile)
    if len(pts) == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(kde_log_density(pts, ref, bandwidth)) >= threshold


def _starts(
    data: np.ndarray, n_grid_points: int, max_grid_dim: int, n_data_starts: int, margin: float, rng: np.random.Generator
) -> np.ndarray:
    """A grid over the (widened) data range for small dimension, plus random data samples."""
    q = data.shape[1]
    lo, hi = data.min(axis=0), data.max(axis=0)
    width = np.where(hi > lo, hi - lo, 1.0)
    lo, hi = lo - margin * width, hi + margin * width
    parts = [data[rng.choice(len(data), min(n_data_starts, len(data)), replace=False)]]
    if q <= max_grid_dim and n_grid_points > 0:
        n_per_dim = max(2, int(np.floor(n_grid_points ** (1.0 / q))))
        axes = [np.linspace(lo[i], hi[i], n_per_dim) for i in range(q)]
        parts.append(np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, q))
    return np.concatenate(parts)


def default_data_starts(q: int) -> int:
    """Data starts of a fixed-point search in ``q`` dimensions: ``min(256, max(64, 8192 // q))`` up to q = 128,
    then fewer, at least 2, so that a Levenberg-Marquardt iteration (``starts × q³``: a ``q × q`` solve per
    start) costs no more than at q = 128.

    The fixed-point phase of a 1,024-channel, 1,000-frame job (scales 1024, 512, …, 1) took 642 s with
    64 starts at q = 1024 and 512 (``benchmarks/results/scaling/scaling_cpu_2026-12-07.json``), 21.5 s
    with this rule (``scaling_cpu_wide_2026-12-07.json``), on the 2-core box beside other jobs.

    Examples
    --------
    >>> [default_data_starts(q) for q in (1, 32, 128, 200, 256, 512, 1024)]
    [256, 256, 64, 16, 8, 2, 2]
    """
    if q <= _WIDEST_FULL_SEARCH:
        return min(256, max(64, 8192 // q))
    return max(2, 64 * _WIDEST_FULL_SEARCH**3 // q**3)


def _levenberg_marquardt(fn: Any, y0: torch.Tensor, *, max_iter: int, tol: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched Levenberg-Marquardt on ``G(y) = F(y) - y`` from every row of ``y0`` at once.

    A start stops when ``‖G‖ <= tol``, when its damping explodes (no descent left), or when ten
    accepted steps in a row lowered ``‖G‖²`` by less than 0.1 % each (stagnation away from a root).
    Jacobians are recomputed only where a step was accepted. Returns the final points and ``‖G‖``.
    """
    import torch

    from ..measures.ei import batched_jacobian

    y = y0.clone()
    eye = torch.eye(y.shape[1], dtype=y.dtype)
    with torch.no_grad():
        res = fn(y) - y
    cost = res.pow(2).sum(1)
    jac = batched_jacobian(fn, y) - eye
    damping = torch.full((len(y),), 1e-2, dtype=y.dtype)
    stall = torch.zeros(len(y), dtype=torch.long)
    for _ in range(max_iter):
        active = torch.isfinite(cost) & (cost > tol**2) & (damping < 1e12) & (stall < 10)
        if not active.any():
            break
        idx = active.nonzero().squeeze(1)
        jt = jac[idx].transpose(1, 2)
        jtj = jt @ jac[idx]
        scale = torch.diagonal(jtj, dim1=1, dim2=2) + 1e-12
        lhs = jtj + damping[idx, None, None] * torch.diag_embed(scale)
        with one_thread():  # see measures/lapack.py
            y_new = y[idx] - torch.linalg.solve(lhs, (jt @ res[idx].unsqueeze(2))).squeeze(2)
        with torch.no_grad():
            r_new = fn(y_new) - y_new
        c_new = r_new.pow(2).sum(1)
        ok = torch.isfinite(c_new) & (c_new < cost[idx])
        acc = idx[ok]
        small = (cost[acc] - c_new[ok]) < 1e-3 * cost[acc]
        stall[acc] = torch.where(small, stall[acc] + 1, 0)
        y[acc], res[acc], cost[acc] = y_new[ok], r_new[ok], c_new[ok]
        if len(acc):
            jac[acc] = batched_jacobian(fn, y[acc]) - eye
        damping[acc] *= 0.3
        damping[idx[~ok]] *= 4.0
    return y, cost.sqrt()


def _deduplicate(points: np.ndarray, residuals: np.ndarray, tol: float) -> np.ndarray:
    """Indices of points farther than ``tol`` from every better-converged kept point."""
    keep: list[int] = []
    for i in np.argsort(residuals, kind="stable"):
        if all(np.linalg.norm(points[i] - points[j]) > tol for j in keep):
            keep.append(int(i))
    return np.array(keep, dtype=int)


def fixed_point_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A fixed-point DataFrame with columns :data:`FIXED_POINT_COLUMNS` from row dictionaries."""
    df = pd.DataFrame(rows, columns=FIXED_POINT_COLUMNS)
    return df.astype({"scale": "int64", "in_support": "bool"})


@renamed_keywords(random_state="seed")
def find_fixed_points(
    fn: Any,
    data: np.ndarray,
    *,
    scale: int = 0,
    n_grid_points: int = 1000,
    max_grid_dim: int = 3,
    n_data_starts: int | None = None,
    margin: float = 0.25,
    max_iter: int = 100,
    tol: float = 1e-9,
    dedup_tol: float = 1e-3,
    support: str = "auto",
    support_bandwidth: float = 0.1,
    seed: int = 0,
) -> pd.DataFrame:
    """Fixed points ``F(y*) = y*`` of a map, with their eigenvalues, stability and support flag.

    Roots of ``G(y) = F(y) - y`` are sought from every start at once by batched
    Levenberg-Marquardt in float64 (a module is copied and cast; a plain callable must accept
    float64 tensors). Starts are a grid over the data range widened by ``margin`` (for up to
    ``max_grid_dim`` dimensions, ``n_grid_points`` in all) plus ``n_data_starts`` data samples
    (default :func:`default_data_starts`); above ``max_grid_dim`` only data samples, so the cost
    stays bounded at high dimension (about 10 s at q = 128 on one CPU core with an analytic Jacobian).
    Converged roots (``‖G‖ <= tol``) closer than ``dedup_tol`` are merged.

    Parameters
    ----------
    fn : callable or torch.nn.Module
        Row-wise map ``(n, q) -> (n, q)``; its ``batched_jacobian`` is used when present.
    data : np.ndarray, shape (n_samples, q)
        Encoded training data: the range of the starts and the support reference.
    scale : int
        Scale index written to the table.
    n_grid_points, max_grid_dim, n_data_starts, margin : int, int, int or None, float
        Start design (see above).
    max_iter : int
        Levenberg-Marquardt iterations.
    tol : float
        Root tolerance on ``‖F(y) - y‖``.
    dedup_tol : float
        Distance below which two roots are the same point.
    support, support_bandwidth : str, float
        Passed to :func:`support_mask` as ``method`` and ``bandwidth``.
    seed : int
        Seed of the data starts.

    Returns
    -------
    pd.DataFrame
        One row per fixed point, columns :data:`FIXED_POINT_COLUMNS` (``source == "model"``),
        sorted by location. ``eigenvalues_*`` are those of ``∂F(y*)``.

    Examples
    --------
    >>> fp = find_fixed_points(lambda y: y + 0.1 * (y - y**3), np.linspace(-1.5, 1.5, 50)[:, None])
    >>> [(round(loc[0], 6) + 0.0, kind) for loc, kind in zip(fp["location"], fp["stability"])]
    [(-1.0, 'stable'), (0.0, 'unstable'), (1.0, 'stable')]
    """
    import torch

    from ..measures.ei import batched_jacobian
    from ._autodiff import as_dtype

    ref = as_2d(data, "data")
    q = ref.shape[1]
    rng = np.random.default_rng(seed)
    fmap = as_dtype(fn, torch.float64)
    n_samples = default_data_starts(q) if n_data_starts is None else n_data_starts
    starts = torch.as_tensor(_starts(ref, n_grid_points, max_grid_dim, n_samples, margin, rng))
    roots, residual = _levenberg_marquardt(fmap, starts, max_iter=max_iter, tol=tol)
    done = (torch.isfinite(residual) & (residual <= tol)).numpy()
    roots_np, res_np = roots.numpy()[done], residual.numpy()[done]
    roots_np = roots_np[_deduplicate(roots_np, res_np, dedup_tol)]
    if len(roots_np) == 0:
        return fixed_point_table([])
    roots_np = roots_np[np.lexsort(roots_np.T[::-1])]
    jac = batched_jacobian(fmap, torch.as_tensor(roots_np)).numpy()
    inside = support_mask(roots_np, ref, method=support, bandwidth=support_bandwidth)
    rows = []
    for point, jac_i, ins in zip(roots_np, jac, inside, strict=True):
        eig = np.linalg.eigvals(jac_i.reshape(q, q))
        eig = eig[np.lexsort((eig.imag, eig.real))]
        rows.append(
            {
                "scale": scale,
                "location": [float(v) for v in point],
                "eigenvalues_real": [float(v) for v in eig.real],
                "eigenvalues_imag": [float(v) for v in eig.imag],
                "stability": classify_stability(eig),
                "in_support": bool(ins),
                "source": "model",
            }
        )
    return fixed_point_table(rows)


def compare_fixed_points(
    model: pd.DataFrame,
    empirical: pd.DataFrame,
    *,
    empirical_scales: Sequence[int] | None = None,
    tol: float = 0.25,
) -> pd.DataFrame:
    """Stack model and empirical fixed points and mark which agree.

    A row agrees when the other source has a point of the same scale and stability within ``tol``
    (Euclidean, normalised units). For scales without an empirical analysis (empirical points exist
    only for 1-D scales), ``agrees`` is missing (``pd.NA``).

    Parameters
    ----------
    model, empirical : pd.DataFrame
        Tables from :func:`find_fixed_points` and :func:`empirical_fixed_points` (any scales).
    empirical_scales : sequence of int, optional
        Scales the empirical analysis ran on, including those where it found no point (default: the
        scales present in ``empirical``).
    tol : float
        Largest distance between agreeing points.

    Returns
    -------
    pd.DataFrame
        Columns :data:`FIXED_POINT_COLUMNS` plus ``agrees`` (nullable boolean).
    """
    analysed = set(empirical["scale"] if empirical_scales is None else empirical_scales)
    frames = [df for df in (model, empirical) if len(df)]
    both = fixed_point_table([]) if not frames else pd.concat(frames, ignore_index=True)
    both = both.astype({"scale": "int64", "in_support": "bool"})
    agrees = []
    for row in both.itertuples(index=False):
        if row.scale not in analysed:
            agrees.append(pd.NA)
            continue
        same = (both["scale"] == row.scale) & (both["stability"] == row.stability)
        other = both[same & (both["source"] != row.source)]
        dist = [np.linalg.norm(np.subtract(loc, row.location)) for loc in other["location"]]
        agrees.append(bool(dist) and min(dist) <= tol)
    both["agrees"] = pd.array(agrees, dtype="boolean")
    return both
