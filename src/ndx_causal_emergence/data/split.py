"""Segments and chronological splits: transitions never cross a gap, a condition change or a NaN frame.

A *segment* is a run of consecutive frames with no time gap, no change of condition label and
no NaN row; only pairs ``(x_t, x_{t+1})`` inside one segment are valid transitions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["chronological_split", "nan_free_runs", "segment_ids", "transition_pairs"]

#: A step longer than this many nominal frame intervals is a gap.
GAP_FACTOR = 1.5


def segment_ids(timestamps: np.ndarray, labels: np.ndarray | None = None, *, rate: float | None = None) -> np.ndarray:
    """Segment id of every frame: a new id at each time gap and at each label change.

    Parameters
    ----------
    timestamps : ndarray of shape (n_frames,)
        Frame times in seconds.
    labels : ndarray of shape (n_frames,), optional
        Condition labels (None or "" for unlabelled frames); a change, including to or from
        unlabelled, starts a new segment.
    rate : float, optional
        Nominal sampling rate; if None the median frame interval is used.

    Returns
    -------
    ndarray of shape (n_frames,) of int64
        Ids 0, 1, 2, ... in time order.
    """
    t = np.asarray(timestamps, dtype=float)
    if t.size == 0:
        return np.zeros(0, dtype=np.int64)
    steps = np.diff(t)
    if rate:
        nominal = 1.0 / rate
    else:
        positive = steps[steps > 0]
        nominal = float(np.median(positive)) if positive.size else np.inf
    breaks = (steps > GAP_FACTOR * nominal) | (steps <= 0) | ~np.isfinite(steps)
    if labels is not None:
        normalised = np.array([None if (lab is None or lab == "") else lab for lab in labels], dtype=object)
        breaks |= normalised[1:] != normalised[:-1]
    return np.concatenate([[0], np.cumsum(breaks)]).astype(np.int64)


def nan_free_runs(data: np.ndarray, segments: np.ndarray) -> list[np.ndarray]:
    """Frame indices of each run inside one segment with no NaN value, in time order.

    Parameters
    ----------
    data : ndarray of shape (n_frames, n_channels)
    segments : ndarray of shape (n_frames,)
        Segment id of each frame (consecutive frames with the same id are contiguous).

    Returns
    -------
    list of ndarray of int
        One index array per run (runs of length ≥ 1).
    """
    good = ~np.isnan(np.asarray(data)).any(axis=1)
    seg = np.asarray(segments)
    n = seg.size
    if n == 0:
        return []
    # a run breaks where the segment changes or a NaN frame sits
    starts_new = np.ones(n, dtype=bool)
    starts_new[1:] = (seg[1:] != seg[:-1]) | ~good[:-1]
    run_id = np.cumsum(starts_new)
    frames = np.flatnonzero(good)
    return np.split(frames, np.flatnonzero(np.diff(run_id[frames])) + 1) if frames.size else []


def chronological_split(
    runs: Sequence[np.ndarray], fractions: Sequence[float] = (0.7, 0.1, 0.2), *, cycles: int = 1
) -> list[list[np.ndarray]]:
    """Cut a sequence of frame runs in time order into blocks holding ``fractions`` of the frames.

    The frames are first cut into ``cycles`` consecutive stretches of equal length; each stretch
    is cut in turn into one piece per block (``fractions`` of the stretch, in order). With one
    cycle this is the plain chronological split (train, then validation, then test); with more,
    every block samples the whole recording, so a held-out block of a slow, metastable system
    visits the states the training block saw. Runs are kept in time order; a run that straddles
    a cut is split at the cut, so each block is a list of contiguous pieces and no piece crosses
    a cut.

    Parameters
    ----------
    runs : sequence of ndarray of int
        Frame indices of each contiguous run, in time order.
    fractions : sequence of float
        Fraction of all frames in each block (summing to 1), e.g. train, validation, test.
    cycles : int
        Number of consecutive stretches, each cut into all blocks (≥ 1).

    Returns
    -------
    list of list of ndarray
        ``blocks[k]`` is the list of index runs of block k in time order (pieces shorter than one
        frame are dropped).

    Examples
    --------
    >>> blocks = chronological_split([np.arange(20)], (0.5, 0.0, 0.5), cycles=2)
    >>> [[(int(p[0]), int(p[-1])) for p in block] for block in blocks]
    [[(0, 4), (10, 14)], [], [(5, 9), (15, 19)]]
    """
    fractions = np.asarray(fractions, dtype=float)
    if np.any(fractions < 0) or not np.isclose(fractions.sum(), 1.0):
        raise ValueError(f"split fractions must be ≥ 0 and sum to 1; got {tuple(fractions)}")
    if int(cycles) < 1:
        raise ValueError(f"cycles must be ≥ 1; got {cycles}")
    order = np.concatenate(list(runs)) if len(runs) else np.zeros(0, dtype=np.int64)
    total = order.size
    edges = np.linspace(0.0, total, int(cycles) + 1)
    # cut points of every (cycle, block) piece, in time order
    starts = edges[:-1, None] + np.concatenate([[0.0], np.cumsum(fractions)[:-1]])[None, :] * np.diff(edges)[:, None]
    stops = edges[:-1, None] + np.cumsum(fractions)[None, :] * np.diff(edges)[:, None]
    starts, stops = np.round(starts).astype(int), np.round(stops).astype(int)
    stops[-1, -1] = total
    lengths = np.array([len(r) for r in runs], dtype=int)
    run_start = np.concatenate([[0], np.cumsum(lengths)])
    blocks: list[list[np.ndarray]] = [[] for _ in fractions]
    for cycle in range(int(cycles)):
        for block, (lo, hi) in enumerate(zip(starts[cycle], stops[cycle], strict=True)):
            for k, run in enumerate(runs):
                a, b = max(lo, run_start[k]), min(hi, run_start[k + 1])
                if b > a:
                    blocks[block].append(np.asarray(run)[a - run_start[k] : b - run_start[k]])
    return blocks


def transition_pairs(segments: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """All one-step transitions ``(x_t, x_{t+1})`` inside each segment, stacked.

    Parameters
    ----------
    segments : sequence of ndarray of shape (T_i, n_channels)
        Contiguous segments; pairs never join two segments.

    Returns
    -------
    (x_now, x_next) : two ndarrays of shape (sum_i (T_i - 1), n_channels)
    """
    usable = [np.asarray(s) for s in segments if len(s) >= 2]
    if not usable:
        width = np.shape(segments[0])[1] if len(segments) else 0
        empty = np.zeros((0, width))
        return empty, empty.copy()
    return np.concatenate([s[:-1] for s in usable]), np.concatenate([s[1:] for s in usable])
