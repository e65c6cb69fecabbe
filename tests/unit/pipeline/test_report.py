"""The conclusions the report draws from one analysis."""

from __future__ import annotations

import pytest

from ndx_causal_emergence.pipeline.report import ONE_FIT_CAVEAT, conclusions


def _analysis(n_seeds: int | None) -> dict:
    scales = [
        {"dimension": 8, "fit_ok": True, "causal_emergence": 0.0, "significant": False},
        {"dimension": 2, "fit_ok": True, "causal_emergence": 0.4, "significant": True,
         "causal_emergence_ci_low": 0.3, "causal_emergence_ci_high": 0.5, "causal_emergence_p_holm": 0.01},
    ]  # fmt: skip
    return {"scales": scales, "comparisons": [], "parameters": {} if n_seeds is None else {"n_seeds": n_seeds}}


@pytest.mark.parametrize(("n_seeds", "cautioned"), [(1, True), (None, True), (3, False)])
def test_an_analysis_of_one_fit_says_its_intervals_leave_out_the_spread_between_fits(n_seeds, cautioned):
    said = conclusions(_analysis(n_seeds))
    assert any("Significant causal emergence at dimension 2" in s for s in said)
    assert (ONE_FIT_CAVEAT in said) is cautioned
    if cautioned:
        assert said[-1] == ONE_FIT_CAVEAT and "--seeds" in ONE_FIT_CAVEAT
