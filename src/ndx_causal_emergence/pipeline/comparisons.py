"""Differences between the conditions of one analysis: J and Delta J per scale, intervals and p-values."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

COLUMNS = ["condition_a", "condition_b", "scale", "dimension", "measure", "difference", "ci_low", "ci_high",
           "p_value", "significant"]  # fmt: skip


def compare_all(conditions: Mapping[str, Any], *, alpha: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """Every pair of conditions (in order of appearance), at the dimensions both ladders share.

    For each pair ``(a, b)`` and shared dimension: ``difference`` = ``J_a − J_b`` (``measure =
    "J"``) and ``ΔJ_a − ΔJ_b`` (``"delta_J"``, macro scales only), a 95 % bootstrap interval,
    a two-sided permutation p-value over the test blocks, and ``significant`` (p < ``alpha``
    and both conditions' maps pass the fit-quality gate at that scale and at scale 0).

    Parameters
    ----------
    conditions : mapping of str to ConditionResult
        Results with ``resampled_j`` and ``block_j`` (as :func:`~ndx_causal_emergence.analyze`
        returns them); conditions without them are left out.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS` (nats for the differences and bounds); empty with fewer than
        two conditions.
    """
    from ..measures.resampling import compare_conditions

    usable = {k: v for k, v in conditions.items() if v.resampled_j is not None and v.block_j is not None}
    rows = []
    for a, b in combinations(usable, 2):
        ra, rb = usable[a], usable[b]
        dims_a = ra.emergence["dimension"].to_numpy()
        dims_b = rb.emergence["dimension"].to_numpy()
        shared = [int(d) for d in dims_a if d in set(dims_b)]
        if not shared:
            continue
        # scale 0 stays first: Delta J is measured against each condition's own micro level
        ia = [0] + [int(np.flatnonzero(dims_a == d)[0]) for d in shared if d != dims_a[0]]
        ib = [0] + [int(np.flatnonzero(dims_b == d)[0]) for d in shared if d != dims_a[0]]
        ja = ra.emergence["dimension_averaged_ei"].to_numpy()[ia]
        jb = rb.emergence["dimension_averaged_ei"].to_numpy()[ib]
        table = compare_conditions(ja, jb, ra.resampled_j[:, ia], rb.resampled_j[:, ib], ra.block_j[:, ia],
                                   rb.block_j[:, ib], seed=seed)  # fmt: skip
        ok_a = ra.emergence["fit_ok"].to_numpy(dtype=bool)[ia]
        ok_b = rb.emergence["fit_ok"].to_numpy(dtype=bool)[ib]
        for row in table.to_dict("records"):
            k = int(row["scale"])
            ok = ok_a[k] and ok_b[k] and (row["measure"] == "J" or (ok_a[0] and ok_b[0]))
            rows.append({
                "condition_a": a, "condition_b": b, "scale": ia[k], "dimension": int(dims_a[ia[k]]),
                "measure": row["measure"], "difference": row["difference"], "ci_low": row["ci_low"],
                "ci_high": row["ci_high"], "p_value": row["p_value"],
                "significant": bool(ok and row["p_value"] < alpha),
            })  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def for_condition(comparisons: pd.DataFrame, condition: str, analysis_names: Mapping[str, str]) -> pd.DataFrame:
    """The rows of ``comparisons`` that involve ``condition``, seen from it (``difference`` = this − other).

    Returns the columns of the NWB ``ConditionComparisonTable``: ``other_condition,
    other_analysis, scale, dimension, measure, difference, ci_low, ci_high, p_value, significant``.
    """
    mine = comparisons[comparisons["condition_a"] == condition]
    theirs = comparisons[comparisons["condition_b"] == condition]
    flipped = theirs.assign(
        condition_b=theirs["condition_a"], difference=-theirs["difference"], ci_low=-theirs["ci_high"],
        ci_high=-theirs["ci_low"],
    )  # fmt: skip
    out = pd.concat([mine, flipped], ignore_index=True).rename(columns={"condition_b": "other_condition"})
    out["other_analysis"] = [analysis_names.get(c, "") for c in out["other_condition"]]
    return out[["other_condition", "other_analysis", "scale", "dimension", "measure", "difference", "ci_low",
                "ci_high", "p_value", "significant"]].reset_index(drop=True)  # fmt: skip


def attach_comparisons(conditions: Mapping[str, Any], *, alpha: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """Compare every pair of ``conditions`` and give each its own rows (``ConditionResult.comparisons``).

    Used wherever the conditions of one input come together: :func:`~ndx_causal_emergence.analyze`
    and the batch writer, whose conditions were analysed as separate tasks.

    Returns
    -------
    pandas.DataFrame
        :func:`compare_all`'s table.
    """
    comparisons = compare_all(conditions, alpha=alpha, seed=seed)
    names = {label: res.analysis_name for label, res in conditions.items()}
    for label, res in conditions.items():
        res.comparisons = for_condition(comparisons, label, names)
    return comparisons


def from_condition_tables(tables: Mapping[str, pd.DataFrame | None]) -> pd.DataFrame:
    """:func:`compare_all`'s table rebuilt from each condition's own rows (:func:`for_condition`), e.g. as stored.

    ``tables`` holds the conditions in the order they were compared; each pair ``(a, b)`` is taken
    from ``a``'s rows, where ``difference`` is already ``a − b``.
    """
    order = list(tables)
    parts = []
    for i, condition in enumerate(order):
        table = tables[condition]
        if table is None or not len(table):
            continue
        later = table[table["other_condition"].isin(order[i + 1 :])]
        parts.append(later.rename(columns={"other_condition": "condition_b"}).assign(condition_a=condition))
    rows = pd.concat(parts, ignore_index=True).to_dict("records") if parts else []
    return pd.DataFrame(rows, columns=COLUMNS)
