"""Segments, NaN-free runs and chronological splits."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ndx_causal_emergence.data.split import chronological_split, nan_free_runs, segment_ids, transition_pairs


def test_segment_ids_break_at_gaps_and_labels() -> None:
    t = np.array([0.0, 0.1, 0.2, 0.5, 0.6, 0.7, 0.8])
    np.testing.assert_array_equal(segment_ids(t, rate=10.0), [0, 0, 0, 1, 1, 1, 1])
    labels = np.array(["a", "a", "a", "a", None, None, "a"], dtype=object)
    np.testing.assert_array_equal(segment_ids(t, labels, rate=10.0), [0, 0, 0, 1, 2, 2, 3])
    # without a rate the median step is the nominal one
    np.testing.assert_array_equal(segment_ids(t), [0, 0, 0, 1, 1, 1, 1])


def test_nan_rows_split_runs() -> None:
    data = np.ones((8, 2))
    data[3, 1] = np.nan
    runs = nan_free_runs(data, np.array([0, 0, 0, 0, 0, 1, 1, 1]))
    assert [list(r) for r in runs] == [[0, 1, 2], [4], [5, 6, 7]]


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 40), min_size=1, max_size=8),
    fractions=st.sampled_from([(0.7, 0.1, 0.2), (0.5, 0.5, 0.0), (1.0, 0.0, 0.0), (0.6, 0.2, 0.2)]),
    cycles=st.integers(1, 5),
)
def test_chronological_split_properties(lengths: list[int], fractions: tuple[float, float, float], cycles: int) -> None:
    starts = np.cumsum([0] + [n + 3 for n in lengths])  # runs separated by 3 unused frames
    runs = [np.arange(s, s + n) for s, n in zip(starts, lengths, strict=False)]
    blocks = chronological_split(runs, fractions, cycles=cycles)
    flat = [np.concatenate(b) if b else np.zeros(0, int) for b in blocks]
    total = sum(lengths)
    # every frame used exactly once; each block in time order
    np.testing.assert_array_equal(np.sort(np.concatenate(flat)), np.concatenate(runs))
    for block, fraction in zip(flat, fractions, strict=True):
        assert np.all(np.diff(block) > 0)
        assert abs(block.size - fraction * total) <= cycles
    if cycles == 1:  # one cycle: the blocks follow each other in time
        np.testing.assert_array_equal(np.concatenate(flat), np.concatenate(runs))
    # each piece is contiguous and lies inside one run
    run_of = {int(f): k for k, r in enumerate(runs) for f in r}
    for block in blocks:
        for piece in block:
            assert np.all(np.diff(piece) == 1)
            assert len({run_of[int(f)] for f in piece}) == 1


def test_transition_pairs_never_cross_segments() -> None:
    a = np.arange(6.0).reshape(3, 2)
    b = 100 + np.arange(4.0).reshape(2, 2)
    now, nxt = transition_pairs([a, b, b[:1]])
    np.testing.assert_array_equal(now, [[0, 1], [2, 3], [100, 101]])
    np.testing.assert_array_equal(nxt, [[2, 3], [4, 5], [102, 103]])
