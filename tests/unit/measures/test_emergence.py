"""Causal emergence, causal power shares and emergent complexity (docs/method.md §3.2–3.3)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ndx_causal_emergence.errors import InputError
from ndx_causal_emergence.measures import causal_emergence, causal_power, emergent_complexity

finite_j = st.floats(min_value=-10.0, max_value=10.0, allow_nan=False)


def test_worked_example() -> None:
    j = [1.0, 0.9, 1.6, 4.0]
    np.testing.assert_allclose(causal_power(j), [0.25, 0.0, 0.15, 0.6], atol=1e-12)
    ec = emergent_complexity(j)
    assert ec.bits == pytest.approx(1.352724, abs=5e-7)
    assert ec.normalized == pytest.approx(0.676362, abs=5e-7)
    np.testing.assert_allclose(ec.shares, causal_power(j))


def test_causal_emergence_scalar_and_array() -> None:
    assert causal_emergence(1.2, 3.0) == pytest.approx(1.8)
    assert isinstance(causal_emergence(1.0, 2.0), float)
    np.testing.assert_allclose(causal_emergence(1.0, [1.5, 0.5]), [0.5, -0.5])
    with pytest.raises(InputError, match="NaN"):
        causal_emergence(float("nan"), 1.0)


def test_negative_j_is_clipped_before_contributions() -> None:
    # J_0 < 0 counts as 0, so J_1 = 2 contributes all of its 2 nats
    np.testing.assert_allclose(causal_power([-1.0, 2.0]), [0.0, 1.0])
    np.testing.assert_allclose(causal_power([0.5, -3.0, 1.5]), [0.5 / 1.5, 0.0, 1.0 / 1.5])


def test_degenerate_cases() -> None:
    """No positive J: no scale holds causal power (all shares 0, EC 0). One scale: EC 0, normalised 0."""
    none = emergent_complexity([-1.0, 0.0, -0.2])
    np.testing.assert_array_equal(none.shares, [0.0, 0.0, 0.0])
    assert none.bits == 0.0 and none.normalized == 0.0
    one = emergent_complexity([2.5])
    np.testing.assert_array_equal(one.shares, [1.0])
    assert one.bits == 0.0 and one.normalized == 0.0
    np.testing.assert_array_equal(emergent_complexity([-2.5]).shares, [0.0])


def test_bad_input() -> None:
    with pytest.raises(InputError, match=r"shape \(n,\)"):
        causal_power([[1.0, 2.0]])
    with pytest.raises(InputError, match="empty"):
        causal_power([])
    with pytest.raises(InputError, match="NaN"):
        emergent_complexity([1.0, float("nan")])


@given(st.lists(finite_j, min_size=1, max_size=8).filter(lambda j: max(j) > 0))
def test_shares_are_a_distribution(j: list[float]) -> None:
    p = causal_power(j)
    assert np.all(p >= 0)
    assert p.sum() == pytest.approx(1.0, rel=1e-12)
    ec = emergent_complexity(j)
    assert -1e-12 <= ec.bits <= math.log2(len(j)) + 1e-12
    assert 0.0 <= ec.normalized <= 1.0 + 1e-12


@given(st.lists(finite_j, min_size=2, max_size=8))
def test_only_new_records_contribute(j: list[float]) -> None:
    """A scale whose J does not beat every finer scale's J holds no causal power."""
    p = causal_power(j)
    clipped = np.maximum(j, 0.0)
    for k in range(1, len(j)):
        if clipped[k] <= clipped[:k].max():
            assert p[k] == 0.0
