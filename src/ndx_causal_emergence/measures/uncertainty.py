r"""Uncertainty of the measures: summaries over seeds and a surrogate null (docs/method.md §3.4)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from ._checks import as_array

__all__ = ["circular_shift_surrogate", "summarize", "surrogate_p_value"]


def summarize(values: Any) -> dict[str, float]:
    r"""Mean, standard deviation and 95 % percentile interval of a measure over repeated fits.

    Parameters
    ----------
    values : array-like, shape (n_repeats,)
        One value per seed (finite).

    Returns
    -------
    dict
        ``mean``, ``sd`` (``ddof=1``; NaN for a single value), ``ci_low`` and ``ci_high`` (the
        2.5th and 97.5th percentiles) and ``n``.

    Examples
    --------
    >>> summarize([1.0, 2.0, 3.0])["sd"]
    1.0
    """
    v = as_array(values, "values", ndim=1)
    low, high = np.percentile(v, [2.5, 97.5])
    return {
        "mean": float(v.mean()),
        "sd": float(v.std(ddof=1)) if v.shape[0] > 1 else float("nan"),
        "ci_low": float(low),
        "ci_high": float(high),
        "n": int(v.shape[0]),
    }


def circular_shift_surrogate(X: Any, rng: np.random.Generator | int | None) -> np.ndarray:
    r"""Surrogate that shifts each column independently and circularly in time.

    .. math:: \tilde x_{t,i} = x_{(t - s_i) \bmod T,\, i}, \quad s_i \sim U\{0, …, T-1\}

    Each ROI keeps its own dynamics (autocorrelation, amplitude distribution); the structure
    across ROIs is broken.

    Parameters
    ----------
    X : array-like, shape (T, N)
        Time series, frames in rows.
    rng : numpy.random.Generator or int or None
        Random generator or seed.

    Returns
    -------
    numpy.ndarray, shape (T, N)
        The shifted copy.

    Examples
    --------
    >>> x = np.arange(8.0).reshape(4, 2)
    >>> bool(np.all(np.sort(circular_shift_surrogate(x, 0), axis=0) == x))
    True
    """
    x = as_array(X, "X", ndim=2, finite=False)
    t, n = x.shape
    shifts = np.random.default_rng(rng).integers(0, t, size=n)
    rows = (np.arange(t)[:, None] - shifts[None, :]) % t
    return x[rows, np.arange(n)[None, :]]


def surrogate_p_value(observed: float, null_values: Any) -> float:
    r"""One-sided permutation p-value of an observed statistic against surrogate values.

    .. math:: p = \frac{1 + \#\{b : \text{null}_b \ge \text{observed}\}}{1 + n_\text{null}}

    Parameters
    ----------
    observed : float
        The statistic on the real data (e.g. ΔJ).
    null_values : array-like, shape (n_null,)
        The statistic on surrogates.

    Returns
    -------
    float
        p in ``(0, 1]``.

    Examples
    --------
    >>> surrogate_p_value(1.0, [0.0, 0.5, 2.0])
    0.5
    """
    obs = float(observed)
    if not np.isfinite(obs):
        raise InputError(f"observed must be finite, got {observed!r}.")
    null = as_array(null_values, "null_values", ndim=1)
    return float((1 + np.sum(null >= obs)) / (1 + null.shape[0]))
