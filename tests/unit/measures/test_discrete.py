"""Discrete EI of transition matrices and coarse-graining (Hoel et al. 2013; docs/method.md §3.5)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ndx_causal_emergence.errors import InputError
from ndx_causal_emergence.measures import coarse_grain, tpm_ei


def _hoel_chain() -> np.ndarray:
    """States 0–6 move uniformly among 0–6; state 7 stays."""
    t = np.zeros((8, 8))
    t[:7, :7] = 1.0 / 7.0
    t[7, 7] = 1.0
    return t


def test_hoel_chain_micro_and_macro() -> None:
    micro = tpm_ei(_hoel_chain())
    assert micro.ei == pytest.approx(0.543564, abs=5e-7)
    assert micro.n_states == 8
    # determinism − degeneracy = EI; here the effects are spread uniformly, so degeneracy is 0
    assert micro.ei == pytest.approx(micro.determinism - micro.degeneracy, rel=1e-12)
    assert micro.degeneracy == pytest.approx(0.0, abs=1e-12)
    assert micro.effectiveness == pytest.approx(micro.ei / 3.0, rel=1e-12)
    macro_tpm = coarse_grain(_hoel_chain(), [list(range(7)), [7]])
    np.testing.assert_allclose(macro_tpm, np.eye(2), atol=1e-12)
    macro = tpm_ei(macro_tpm)
    assert macro.ei == pytest.approx(1.0, abs=1e-12)
    assert macro.effectiveness == pytest.approx(1.0, abs=1e-12)


def test_degenerate_chain() -> None:
    """Every state goes to state 0: fully deterministic and fully degenerate, EI = 0."""
    t = np.zeros((4, 4))
    t[:, 0] = 1.0
    res = tpm_ei(t)
    assert res.ei == 0.0
    assert res.determinism == pytest.approx(2.0) and res.degeneracy == pytest.approx(2.0)
    assert tpm_ei([[1.0]]).effectiveness == 0.0


def test_coarse_grain_averages_rows_within_groups() -> None:
    t = np.array([[0.5, 0.5, 0.0], [0.0, 0.2, 0.8], [1.0, 0.0, 0.0]])
    m = coarse_grain(t, [[2], [0, 1]])
    np.testing.assert_allclose(m, [[0.0, 1.0], [0.4, 0.6]])


@given(st.integers(min_value=1, max_value=12), st.randoms(use_true_random=False))
def test_permutation_ei_is_log2_n(n: int, rnd: object) -> None:
    perm = list(range(n))
    rnd.shuffle(perm)  # type: ignore[attr-defined]
    res = tpm_ei(np.eye(n)[perm])
    assert res.ei == pytest.approx(math.log2(n), abs=1e-12)
    assert res.determinism == pytest.approx(math.log2(n), abs=1e-12)
    assert res.degeneracy == pytest.approx(0.0, abs=1e-12)


@given(arrays(np.float64, st.tuples(st.integers(1, 9), st.just(9)), elements=st.floats(0.0, 1.0)))
def test_random_tpm_ei_is_non_negative_and_bounded(raw: np.ndarray) -> None:
    n = raw.shape[0]
    t = raw[:, :n] + 1e-3  # square, strictly positive rows
    t /= t.sum(axis=1, keepdims=True)
    res = tpm_ei(t)
    assert -1e-12 <= res.ei <= math.log2(n) + 1e-12


@pytest.mark.parametrize(
    ("tpm", "match"),
    [
        (np.ones((2, 3)) / 3, "square"),
        (np.array([[1.5, -0.5], [0.0, 1.0]]), "non-negative"),
        (np.array([[0.5, 0.4], [0.0, 1.0]]), r"rows \[0\] sum to"),
        (np.array([[np.nan, 1.0], [0.0, 1.0]]), "finite"),
        (np.ones(3), r"shape \(n_samples, n_dims\)"),
    ],
)
def test_bad_tpm(tpm: np.ndarray, match: str) -> None:
    with pytest.raises(InputError, match=match):
        tpm_ei(tpm)


@pytest.mark.parametrize("partition", [[[0, 1]], [[0, 1], [1, 2]], [[0, 1, 2], []], [[0, 1], [2, 3]]])
def test_bad_partition(partition: list[list[int]]) -> None:
    with pytest.raises(InputError, match="partition must split the states 0..2"):
        coarse_grain(np.eye(3), partition)
