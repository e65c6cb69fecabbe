"""Attribution of macro variables to input channels by integrated gradients (docs/method.md §4).

For an encoder ``y = φ(x)`` and a baseline ``b``, the integrated gradient of output ``j`` with
respect to input ``i`` at ``x`` is (Sundararajan, Taly & Yan 2017, arXiv:1703.01365)

.. math::

    \\mathrm{IG}_{ij}(x) = (x_i - b_i) \\int_0^1
        \\partial_i \\varphi_j\\big(b + \\alpha (x - b)\\big)\\,d\\alpha,

and satisfies completeness, ``Σ_i IG_ij(x) = φ_j(x) - φ_j(b)``. Averaging ``|IG|`` over data says
which channels each scale aggregates; the table has the columns of the NWB ``AttributionTable``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..deprecation import renamed_keywords
from ..errors import InputError
from .fixed_points import as_2d

__all__ = [
    "ATTRIBUTION_COLUMNS", "COVERAGE_COLUMNS", "attribution_table", "chained_integrated_gradients", "coverage_table",
    "integrated_gradients",
]  # fmt: skip

ATTRIBUTION_COLUMNS = ["scale", "channel", "importance", "attribution"]
#: Columns of :func:`coverage_table` (also optional columns of the NWB ``EmergenceTable``).
COVERAGE_COLUMNS = ["scale", "coverage", "coverage_top_fraction", "coverage_extent"]


@renamed_keywords(random_state="seed")
def integrated_gradients(
    fn: Any,
    X: np.ndarray,
    *,
    baseline: str | np.ndarray = "zeros",
    n_steps: int = 32,
    n_samples: int | None = 256,
    batch_size: int = 512,
    signed: bool = False,
    precision: str = "float64",
    seed: int = 0,
) -> np.ndarray:
    """Integrated gradients of each output of a differentiable map, averaged over data.

    The path integral uses the midpoint rule with ``n_steps`` points; the Jacobians come from the
    map's ``batched_jacobian`` when it has one, else from :func:`torch.func.jacrev`. Computed in
    ``precision`` (a module is copied and cast).

    Parameters
    ----------
    fn : callable or torch.nn.Module
        Row-wise map ``(n, n_channels) -> (n, d)``, e.g. an encoder ``x -> y^(k)``.
    X : np.ndarray, shape (n_frames, n_channels)
        Inputs.
    baseline : {"zeros", "mean"} or np.ndarray of shape (n_channels,)
        Reference input: zeros, the mean of ``X`` (pass the training mean explicitly when ``X`` is
        not the training block), or a given vector.
    n_steps : int
        Points of the path integral.
    n_samples : int or None
        Rows of ``X`` used (random subsample; ``None``: all).
    batch_size : int
        Most path points per Jacobian evaluation; fewer (down to one sample's ``n_steps``) where
        ``d * n_channels`` is large, so that one evaluation holds no more Jacobian entries than
        :func:`~ndx_causal_emergence.measures.ei.batched_jacobian` builds in one pass
        (``MAX_JACOBIAN_ENTRIES``). A wide encoder's 512 path points would hold 512 × 1024 × 1024
        of them (2 GiB in float32).
    signed : bool
        Average the signed attributions instead of their absolute values.
    precision : {"float64", "float32"}
        Floating-point type of the path and the map. ``float32`` halves the cost of wide encoders; on
        trained encoders of 32 channels it agreed with ``float64`` to a relative 1e-7.
    seed : int
        Seed of the subsample.

    Returns
    -------
    np.ndarray, shape (n_channels, d)
        Mean over samples of ``|IG_ij|`` (or of ``IG_ij`` if ``signed``), channel ``i`` by output ``j``.

    Raises
    ------
    InputError
        If ``X`` is not a finite 2-D array, the baseline has the wrong shape or ``n_steps < 1``.
    """
    return chained_integrated_gradients(
        [fn], X, baseline=baseline, n_steps=n_steps, n_samples=n_samples, batch_size=batch_size, signed=signed,
        precision=precision, seed=seed,
    )[0]  # fmt: skip


def chained_integrated_gradients(
    maps: Sequence[Any],
    X: np.ndarray,
    *,
    baseline: str | np.ndarray = "zeros",
    n_steps: int = 32,
    n_samples: int | None = 256,
    batch_size: int = 512,
    signed: bool = False,
    precision: str = "float64",
    seed: int = 0,
) -> list[np.ndarray]:
    """:func:`integrated_gradients` of each composition ``maps[0]``, ``maps[1] ∘ maps[0]``, … at the same path points.

    The Jacobian of the ``i``-th composition is the Jacobian of ``maps[i]`` at the points the earlier maps
    give, times that of the ``(i − 1)``-th (the chain rule, in float64): an encoder's coarse scales then
    cost the Jacobian of their own level each, not of every level from the input up. For the seven scales
    of one 114-channel encoder this took 3.9 s against 5.7 s one scale at a time (1.4-2.1x at 32, 114 and
    256 channels), the attributions within a relative 3.3e-6
    (``benchmarks/results/measures/attribution_chain.json``). The arguments are those of
    :func:`integrated_gradients`; the path's subsample, baseline and points are the same for every
    composition.

    Returns
    -------
    list of np.ndarray
        One ``(n_channels, d_i)`` array per composition: mean over samples of ``|IG|`` (or of ``IG`` if ``signed``).

    Raises
    ------
    InputError
        As :func:`integrated_gradients`, or if ``maps`` is empty.
    """
    import torch

    from ..measures.ei import MAX_JACOBIAN_ENTRIES, batched_jacobian
    from ._autodiff import as_dtype

    x = as_2d(X, "X")
    if n_steps < 1:
        raise InputError(f"n_steps must be >= 1, got {n_steps}.")
    if not maps:
        raise InputError("chained_integrated_gradients needs at least one map, got none.")
    if isinstance(baseline, str):
        if baseline not in ("zeros", "mean"):
            raise InputError(f"baseline must be 'zeros', 'mean' or an array, got {baseline!r}.")
        base = np.zeros(x.shape[1]) if baseline == "zeros" else x.mean(axis=0)
    else:
        base = np.asarray(baseline, dtype=float).reshape(-1)
        if base.shape != (x.shape[1],):
            raise InputError(f"baseline must have {x.shape[1]} values (one per channel), got {base.shape}.")
    if n_samples is not None and n_samples < len(x):
        x = x[np.sort(np.random.default_rng(seed).choice(len(x), n_samples, replace=False))]
    if precision not in ("float32", "float64"):
        raise InputError(f"precision must be 'float32' or 'float64', got {precision!r}.")
    dtype = getattr(torch, precision)
    fmaps = [as_dtype(fn, dtype) for fn in maps]
    alphas = (np.arange(n_steps) + 0.5) / n_steps
    delta = x - base
    # path points ordered sample-major: row s * n_steps + a is b + alpha_a (x_s - b)
    path = (base + alphas[None, :, None] * delta[:, None, :]).reshape(-1, x.shape[1])
    dims = []
    with torch.no_grad():
        h = torch.as_tensor(path[:1], dtype=dtype)
        for fmap in fmaps:
            h = fmap(h)
            dims.append(h.shape[-1])
    totals = [np.zeros((d, x.shape[1])) for d in dims]
    per_batch = max(1, min(batch_size, MAX_JACOBIAN_ENTRIES // (max(dims) * x.shape[1])) // n_steps)
    for s in range(0, len(x), per_batch):
        h = torch.as_tensor(path[s * n_steps : (s + per_batch) * n_steps], dtype=dtype)
        jac = None
        for i, fmap in enumerate(fmaps):
            step = batched_jacobian(fmap, h)
            jac = step if jac is None else torch.bmm(step.double(), jac.double())  # (points, d_i, n_channels)
            if i + 1 < len(fmaps):
                with torch.no_grad():
                    h = fmap(h)
            mean_jac = jac.view(-1, n_steps, *jac.shape[1:]).mean(dim=1, dtype=torch.float64).numpy()  # (samples, d, N)
            ig = mean_jac * delta[s : s + per_batch, None, :]
            totals[i] += (ig if signed else np.abs(ig)).sum(axis=0)
    return [(total / len(x)).T for total in totals]


def attribution_table(attributions: Sequence[np.ndarray], *, scales: Sequence[int] | None = None) -> pd.DataFrame:
    """One row per scale and input channel: importance share and attribution per macro variable.

    Parameters
    ----------
    attributions : sequence of np.ndarray, each of shape (n_channels, d_k)
        Mean absolute attributions per scale (:func:`integrated_gradients`).
    scales : sequence of int, optional
        Scale indices (default ``0, 1, …``).

    Returns
    -------
    pd.DataFrame
        Columns ``scale, channel, importance, attribution``; ``importance`` is the channel's share of
        the scale's total absolute attribution (summing to 1 per scale), ``attribution`` the list of
        its ``d_k`` values.
    """
    idx = list(range(len(attributions))) if scales is None else list(scales)
    if len(idx) != len(attributions):
        raise InputError(f"got {len(attributions)} attribution arrays but {len(idx)} scales.")
    rows = []
    for k, attr in zip(idx, attributions, strict=True):
        a = np.asarray(attr, dtype=float)
        if a.ndim != 2:
            raise InputError(f"attribution of scale {k} must be (n_channels, d), got shape {a.shape}.")
        share = np.abs(a).sum(axis=1)
        share = share / share.sum() if share.sum() > 0 else share
        rows += [
            {"scale": k, "channel": c, "importance": float(share[c]), "attribution": [float(v) for v in a[c]]}
            for c in range(a.shape[0])
        ]
    return pd.DataFrame(rows, columns=ATTRIBUTION_COLUMNS)


def coverage_table(
    attribution: pd.DataFrame, *, centroids: np.ndarray | None = None, mass: float = 0.8
) -> pd.DataFrame:
    """Coverage ``C_d`` of each scale: how many channels, and how wide a region, its macro variables draw on (§4).

    With ``p_c`` the importance shares of the ``N`` channels of a scale (summing to 1):

    - ``coverage`` = ``1 / (N Σ_c p_c²)``, the participation ratio of the shares over ``N``: 1 when
      every channel contributes equally, ``1/N`` when one channel carries everything;
    - ``coverage_top_fraction``: the fewest channels whose shares reach ``mass`` (80 %), over ``N``;
    - ``coverage_extent``: the share-weighted radius of gyration of those channels' ROI centroids
      (in the mask's pixel or voxel units); NaN without ``centroids`` or where one is missing.

    Parameters
    ----------
    attribution : pd.DataFrame
        Columns ``scale, channel, importance`` (:func:`attribution_table`).
    centroids : np.ndarray of shape (n_channels, n_axes), optional
        ROI centroid of each channel, indexed by the table's ``channel`` values.
    mass : float
        Share of the importance the top channels must hold, in (0, 1].

    Returns
    -------
    pd.DataFrame
        One row per scale, columns :data:`COVERAGE_COLUMNS`.

    Examples
    --------
    >>> table = pd.DataFrame({"scale": [0] * 4 + [1] * 4, "channel": list(range(4)) * 2,
    ...                       "importance": [0.25] * 4 + [1.0, 0.0, 0.0, 0.0]})
    >>> coverage_table(table)[["scale", "coverage", "coverage_top_fraction"]].to_numpy().tolist()
    [[0.0, 1.0, 1.0], [1.0, 0.25, 0.25]]
    """
    if not 0.0 < mass <= 1.0:
        raise InputError(f"mass must lie in (0, 1], got {mass}.")
    if not {"scale", "channel", "importance"} <= set(attribution.columns):
        raise InputError("attribution must have the columns scale, channel and importance.")
    points = None if centroids is None else np.asarray(centroids, dtype=float)
    rows = []
    for k, part in attribution.groupby("scale", sort=True):
        share = np.abs(part["importance"].to_numpy(dtype=float))
        n = len(share)
        if not share.sum() > 0:
            rows.append({"scale": int(k), "coverage": np.nan, "coverage_top_fraction": np.nan,
                         "coverage_extent": np.nan})  # fmt: skip
            continue
        share = share / share.sum()
        order = np.argsort(-share, kind="stable")
        n_top = min(int(np.searchsorted(np.cumsum(share[order]), mass * (1.0 - 1e-12))) + 1, n)
        extent = np.nan
        if points is not None:
            top, w = part["channel"].to_numpy(dtype=int)[order[:n_top]], share[order[:n_top]]
            xy = points[top]
            if np.isfinite(xy).all():
                centre = w @ xy / w.sum()
                extent = float(np.sqrt(w @ np.square(xy - centre).sum(axis=1) / w.sum()))
        rows.append({"scale": int(k), "coverage": float(1.0 / (n * np.square(share).sum())),
                     "coverage_top_fraction": n_top / n, "coverage_extent": extent})  # fmt: skip
    return pd.DataFrame(rows, columns=COVERAGE_COLUMNS)
