"""Bootstrap intervals, significance and condition comparisons of J (measures.resampling)."""

from __future__ import annotations

import numpy as np
import pytest

from ndx_causal_emergence.errors import InputError
from ndx_causal_emergence.measures import linear_gaussian_ei
from ndx_causal_emergence.measures.resampling import (
    ScaleResiduals,
    block_j,
    bootstrap_j,
    compare_conditions,
    emergence_significance,
    holm,
)


def _scale(rng: np.random.Generator, sigma2: float, q: int, n: int = 2000, a: float = 0.9) -> ScaleResiduals:
    """Residuals of a linear map ``a I`` with noise variance ``sigma2`` (the log-det is exact: q ln a)."""
    return ScaleResiduals(rng.normal(scale=np.sqrt(sigma2), size=(n, q)) ** 2, np.full(200, q * np.log(a)), 1.0)


def test_j_matches_the_analytic_linear_gaussian_value() -> None:
    rng = np.random.default_rng(0)
    res = _scale(rng, 0.01, 2, n=200_000)
    assert res.j() == pytest.approx(linear_gaussian_ei(0.9 * np.eye(2), 0.01).dei, abs=0.01)


def test_bootstrap_interval_covers_the_truth_at_about_the_nominal_rate() -> None:
    truth = linear_gaussian_ei(0.9 * np.eye(2), 0.01).dei
    covered = 0
    for rep in range(40):
        rng = np.random.default_rng(rep)
        draws = bootstrap_j([_scale(rng, 0.01, 2, n=400)], n_boot=300, seed=rep)[:, 0]
        low, high = np.percentile(draws, [2.5, 97.5])
        covered += low <= truth <= high
    assert covered >= 34  # 95 % nominal; binomial(40, 0.95) falls below 34 with probability < 0.5 %


def test_holm_matches_hand_computed_values() -> None:
    assert holm([0.01, 0.04, 0.03]).tolist() == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]).tolist() == [0.5]


def test_significance_flags_a_real_gain_and_not_noise_or_failed_fits() -> None:
    rng = np.random.default_rng(1)
    micro = _scale(rng, 0.04, 4)
    gain = _scale(rng, 0.01, 1)  # far less noise per dimension: J much higher
    same = _scale(rng, 0.04, 1)  # the micro level's noise: true dJ = 0
    residuals = [micro, gain, same, gain]
    j = [r.j() for r in residuals]
    draws = bootstrap_j(residuals, n_boot=500, seed=2)
    stats = emergence_significance(j, draws, fit_ok=[True, True, True, False])
    assert stats["significant"].tolist() == [False, True, False, False]
    assert stats["causal_emergence_p_holm"].iloc[1] < 0.01
    assert stats["causal_emergence_ci_low"].iloc[1] > 0 > stats["causal_emergence_ci_low"].iloc[2]
    # a failed micro fit makes every dJ uninterpretable
    assert not emergence_significance(j, draws, fit_ok=[False, True, True, True])["significant"].any()


def test_false_positive_rate_under_the_null_is_controlled() -> None:
    flagged = 0
    for rep in range(60):
        rng = np.random.default_rng(100 + rep)
        residuals = [_scale(rng, 0.04, 4, n=600), _scale(rng, 0.04, 2, n=600), _scale(rng, 0.04, 1, n=600)]
        draws = bootstrap_j(residuals, n_boot=300, seed=rep)
        stats = emergence_significance([r.j() for r in residuals], draws, fit_ok=[True] * 3)
        flagged += bool(stats["significant"].any())
    assert flagged <= 7  # 5 % family-wise: 3 expected of 60; binomial tail above 7 < 3 %


def test_compare_conditions_detects_a_difference_and_not_its_absence() -> None:
    rng = np.random.default_rng(3)
    a = [_scale(rng, 0.04, 2), _scale(rng, 0.005, 1)]
    b = [_scale(rng, 0.04, 2), _scale(rng, 0.04, 1)]
    b_twin = [_scale(rng, 0.04, 2), _scale(rng, 0.005, 1)]
    ja, jb, jt = ([r.j() for r in x] for x in (a, b, b_twin))
    da, db, dt = (bootstrap_j(x, n_boot=300, seed=i) for i, x in enumerate((a, b, b_twin)))
    ba, bb, bt = (block_j(x) for x in (a, b, b_twin))
    differ = compare_conditions(ja, jb, da, db, ba, bb, n_permutations=999).set_index(["measure", "scale"])
    assert differ.loc[("delta_J", 1), "p_value"] < 0.01
    assert differ.loc[("delta_J", 1), "ci_low"] > 0
    assert differ.loc[("J", 1), "difference"] == pytest.approx(ja[1] - jb[1])
    alike = compare_conditions(ja, jt, da, dt, ba, bt, n_permutations=999).set_index(["measure", "scale"])
    assert alike.loc[("delta_J", 1), "p_value"] > 0.05
    assert alike.loc[("delta_J", 1), "ci_low"] < 0 < alike.loc[("delta_J", 1), "ci_high"]


def test_scales_must_share_the_held_out_pairs() -> None:
    rng = np.random.default_rng(4)
    with pytest.raises(InputError, match="same held-out pairs"):
        bootstrap_j([_scale(rng, 0.01, 2, n=100), _scale(rng, 0.01, 1, n=90)])


def _ar1(n: int, phi: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.empty(n + 200)
    x[0] = 0.0
    for t, e in enumerate(rng.standard_normal(n + 199), start=1):
        x[t] = phi * x[t - 1] + e
    return x[200:]


def test_drawn_ranges_spread_j_as_much_as_a_new_dataset_would() -> None:
    """With the states given, the draws carry the noise of the per-axis range (docs/method.md §3.4).

    J read in the data's own range moves by ``ln`` of that range from one autocorrelated sample
    to the next; a bootstrap that held the range fixed would show none of it (constant residuals here).
    """
    n, phi = 1200, 0.9
    across = np.std([np.log(np.subtract(*np.percentile(_ar1(n, phi, s), [99, 1]))) for s in range(300)])
    fixed = ScaleResiduals(np.ones((n, 1)), np.zeros(10), 1.0)
    assert bootstrap_j([fixed], n_boot=200).std() < 1e-12
    within = [
        bootstrap_j([ScaleResiduals(np.ones((n, 1)), np.zeros(10), 1.0, None, _ar1(n, phi, 1000 + s)[:, None])],
                    n_boot=300, seed=s).std()
        for s in range(6)
    ]  # fmt: skip
    assert 0.6 * across < np.mean(within) < 1.4 * across
