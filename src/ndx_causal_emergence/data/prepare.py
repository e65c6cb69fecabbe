r"""Prepare a :class:`~ndx_causal_emergence.data.recording.Recording` for fitting (docs/method.md §1).

For one condition:

1. keep the condition's frames (frames outside every labelled interval are never used);
2. drop channels that are mostly NaN on those frames, then split the frames into contiguous
   runs that cross no gap, no condition change and no NaN frame;
3. cut the runs into train / validation / test blocks (70 / 10 / 20 % of the frames by
   default), in ``cycles`` consecutive stretches of at least :data:`MIN_CYCLE_FRAMES` frames
   each cut into the three blocks (five by default: every block samples the whole recording;
   one: the plain chronological split);
4. drop channels constant on the training block; z-score each channel with the training
   block's mean and standard deviation; divide by one global robust scale, the
   ``robust_quantile`` quantile of :math:`|z|` on the training block, so that almost all values
   lie in [-1, 1] (the EI intervention box has L = 1):

.. math::

    \tilde x_{t,i} = \frac{x_{t,i} - \mu_i}{\sigma_i\, s}, \qquad
    s = Q_{0.99}\bigl(|x_{t,i} - \mu_i| / \sigma_i : t \in \text{train}\bigr).

No statistic ever sees the validation or test frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..deprecation import warn_renamed
from ..errors import ChannelMismatchError, ConditionError, DataError, InputError
from .recording import Recording
from .split import chronological_split, nan_free_runs

__all__ = ["BLOCKS", "MIN_CYCLE_FRAMES", "PreparedData", "Preprocessing", "prepare"]

BLOCKS = ("train", "validation", "test")

#: Fewest frames in one train/validation/test cycle; shorter recordings get fewer cycles.
MIN_CYCLE_FRAMES = 200


@dataclass(frozen=True)
class PreparedData:
    """Scaled, split data of one condition.

    Attributes
    ----------
    train, validation, test : list of ndarray of shape (T_i, n_kept) of float32
        Contiguous segments of each block, in time order; transitions never cross a segment.
    channel_ids : ndarray of shape (n_kept,)
        Ids of the kept channels.
    kept_channels : ndarray of shape (n_kept,) of int
        Their positions among the recording's channels.
    dropped : list of (channel_id, reason)
        Channels left out and why (``"mostly NaN (83 % of frames)"``, ``"constant on the training block"``).
    center, scale : ndarray of shape (n_kept,)
        Training-block mean and standard deviation of each kept channel.
    global_scale : float
        The robust scale s applied after the z-score.
    condition : str or None
        The condition these data belong to (None: all labelled frames, or all frames).
    timestamps : dict of str to list of ndarray
        ``timestamps["train"][k]`` are the times of ``train[k]`` (same for the other blocks).
    frame_indices : dict of str to list of ndarray
        Positions of those frames in the recording.
    intervals : ndarray of shape (n_intervals, 2)
        Start and stop (s) of each contiguous run of frames used, stop = last frame + one frame interval.
    n_source_channels : int
        Number of channels of the recording (``transform`` accepts that width or ``n_kept``).
    cycles : int
        Number of train/validation/test cycles the frames were cut into.
    source_channel_ids : ndarray of shape (n_source_channels,), or None
        Ids of all the recording's channels where they come from an ROI or unit table.
    """

    train: list[np.ndarray]
    validation: list[np.ndarray]
    test: list[np.ndarray]
    channel_ids: np.ndarray
    kept_channels: np.ndarray
    dropped: list[tuple[object, str]]
    center: np.ndarray
    scale: np.ndarray
    global_scale: float
    condition: str | None
    timestamps: dict[str, list[np.ndarray]]
    frame_indices: dict[str, list[np.ndarray]]
    intervals: np.ndarray
    n_source_channels: int
    cycles: int = 1
    source_channel_ids: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        """Number of kept channels."""
        return int(self.kept_channels.size)

    def n_frames(self, block: str = "train") -> int:
        """Frames in ``block`` ("train", "validation" or "test")."""
        return int(sum(len(s) for s in getattr(self, block)))

    @property
    def preprocessing(self) -> Preprocessing:
        """The channel selection and scaling fitted here, to apply to other frames (and store with a model)."""
        return Preprocessing(
            kept_channels=self.kept_channels,
            center=self.center,
            scale=self.scale,
            global_scale=self.global_scale,
            n_source_channels=self.n_source_channels,
            source_channel_ids=self.source_channel_ids,
        )

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Apply the same channel selection and scaling to new data (see :meth:`Preprocessing.apply`)."""
        return self.preprocessing.apply(X)


@dataclass(frozen=True)
class Preprocessing:
    r"""The channel selection and scaling that turn a recording's raw frames into a model's input.

    :math:`\tilde x_{t,i} = (x_{t,k_i} - \mu_i) / (\sigma_i s)` for the kept channels :math:`k_i`,
    with the statistics of the training block (float64, as fitted; see :func:`prepare`).

    Attributes
    ----------
    kept_channels : ndarray of shape (n_kept,) of int
        Positions of the kept channels among the recording's channels.
    center, scale : ndarray of shape (n_kept,) of float64
        Training-block mean and standard deviation of each kept channel.
    global_scale : float
        The robust scale s applied after the z-score.
    n_source_channels : int
        Number of channels of the recording.
    source_channel_ids : ndarray of shape (n_source_channels,), or None
        Ids of the recording's channels in its ROI or unit table (None: plain columns, no table).
    """

    kept_channels: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    global_scale: float
    n_source_channels: int
    source_channel_ids: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        """Number of kept channels (the model's input width)."""
        return int(np.size(self.kept_channels))

    def apply(self, X: np.ndarray) -> np.ndarray:
        """The kept channels of ``X``, centred and scaled.

        Parameters
        ----------
        X : array of shape (n_frames, n_source_channels) or (n_frames, n_kept)

        Returns
        -------
        ndarray of shape (n_frames, n_kept) of float32
            NaN where ``X`` is NaN.
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (frames × channels); got shape {X.shape}")
        if X.shape[1] == self.n_source_channels:
            X = X[:, self.kept_channels]
        elif X.shape[1] != self.n_features:
            raise ValueError(
                f"X has {X.shape[1]} channels; expected {self.n_source_channels} (recording) or "
                f"{self.n_features} (kept)"
            )
        # the same operations, in the same order, as prepare(): bit-identical on the frames it scaled
        return ((X - self.center) / (self.scale * self.global_scale)).astype(np.float32)

    def check_channels(self, n_channels: int, channel_ids: np.ndarray | None, *, where: str) -> None:
        """Raise :class:`ChannelMismatchError` unless a recording's channels are those this was fitted on.

        The count must match; the ids too where both have ids from an ROI or unit table.
        ``where`` names the recording in the message.
        """
        if n_channels != self.n_source_channels:
            raise ChannelMismatchError(
                f"channel count mismatch: {where} has {n_channels} channels but the model was fitted on "
                f"{self.n_source_channels}; apply it to a recording of the same ROIs or units"
            )
        if channel_ids is None or self.source_channel_ids is None:
            return
        ours, theirs = np.asarray(self.source_channel_ids), np.asarray(channel_ids)
        differ = np.flatnonzero(ours.astype(str) != theirs.astype(str))
        if differ.size:
            i = int(differ[0])
            raise ChannelMismatchError(
                f"ROI id mismatch: {differ.size} of {n_channels} channels of {where} have other ids than the "
                f"model's (first at position {i}: {_plain(theirs[i])!r}, model {_plain(ours[i])!r}); apply it to a "
                "recording of the same ROIs or units, in the same order"
            )

    def to_stored(self) -> tuple[dict[str, object], dict[str, np.ndarray]]:
        """``(JSON-able fields, float64 arrays)``: what a stored model keeps of this preprocessing."""
        ids = None if self.source_channel_ids is None else np.asarray(self.source_channel_ids).tolist()
        fields = {
            "kept_channels": np.asarray(self.kept_channels, dtype=np.int64).tolist(),
            "global_scale": float(self.global_scale),
            "n_source_channels": int(self.n_source_channels),
            "source_channel_ids": ids,
        }
        return fields, {"center": np.asarray(self.center, np.float64), "scale": np.asarray(self.scale, np.float64)}

    def to_state(self) -> tuple[dict[str, object], dict[str, np.ndarray]]:
        """Old name of :meth:`to_stored` (``FutureWarning``)."""
        warn_renamed("to_state", "to_stored", "Preprocessing", what="method")
        return self.to_stored()

    @classmethod
    def from_state(cls, fields: object, arrays: dict[str, np.ndarray]) -> Preprocessing:
        """Old name of :meth:`from_stored` (``FutureWarning``)."""
        warn_renamed("from_state", "from_stored", "Preprocessing", what="method")
        return cls.from_stored(fields, arrays)

    @classmethod
    def from_stored(cls, fields: object, arrays: dict[str, np.ndarray]) -> Preprocessing:
        """Rebuild from :meth:`to_stored` output, checking that the fields are consistent (they come from a file).

        Raises
        ------
        InputError
            Missing or malformed fields, positions outside the recording, or non-positive scales.
        """
        if not isinstance(fields, dict) or not {"center", "scale"} <= set(arrays):
            raise InputError("the stored preprocessing lacks fields: it needs kept_channels, center, scale and more")
        try:
            n_source = int(fields["n_source_channels"])
            kept = np.asarray(fields["kept_channels"], dtype=np.int64).reshape(-1)
            global_scale = float(fields["global_scale"])
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(f"the stored preprocessing is malformed: {type(err).__name__}: {err}") from None
        center = np.asarray(arrays["center"], dtype=np.float64).reshape(-1)
        scale = np.asarray(arrays["scale"], dtype=np.float64).reshape(-1)
        ids = fields.get("source_channel_ids")
        ids = None if ids is None else np.asarray(ids)
        problems = [
            not center.size == scale.size == kept.size,
            not (kept.size and 0 <= kept.min() and kept.max() < n_source),
            np.unique(kept).size != kept.size,
            not (np.isfinite(global_scale) and global_scale > 0),
            not (np.isfinite(scale).all() and (scale > 0).all() and np.isfinite(center).all()),
            ids is not None and ids.shape != (n_source,),
        ]
        if any(problems):
            raise InputError(
                f"the stored preprocessing is inconsistent ({kept.size} kept channels of {n_source}, "
                f"{center.size} centres, {scale.size} scales, global scale {global_scale}); the file is damaged"
            )
        return cls(kept, center, scale, global_scale, n_source, ids)


def _plain(value: object) -> object:
    """A numpy scalar as the Python scalar (ids in ``dropped`` print and serialise plainly)."""
    return value.item() if isinstance(value, np.generic) else value


def _condition_frames(recording: Recording, condition: str | None) -> np.ndarray:
    """Frame mask of the condition (all labelled frames if None; all frames if unlabelled)."""
    labels = recording.labels
    if labels is None:
        if condition is not None:
            raise ConditionError(
                f"condition {condition!r} asked but the recording has no condition labels; read it "
                "with conditions=TABLE (--conditions TABLE)"
            )
        return np.ones(recording.n_frames, dtype=bool)
    labelled = np.array([lab is not None and lab != "" for lab in labels], dtype=bool)
    if condition is None:
        return labelled
    if condition not in recording.conditions():
        raise ConditionError(
            f"no frame has condition {condition!r}; the recording's conditions are "
            f"{', '.join(map(repr, recording.conditions())) or 'none'}"
        )
    return labelled & (labels == condition)


def prepare(
    recording: Recording,
    *,
    condition: str | None = None,
    splits: Sequence[float] = (0.7, 0.1, 0.2),
    cycles: int = 5,
    min_frames: int = 100,
    max_nan_fraction: float = 0.5,
    robust_quantile: float = 0.99,
) -> PreparedData:
    """Select one condition, drop bad channels, split into interleaved blocks and scale on the training block.

    Parameters
    ----------
    recording : Recording
    condition : str, optional
        Condition label to keep; default all labelled frames (all frames of an unlabelled recording).
    splits : (float, float, float)
        Fractions of the usable frames in train, validation and test.
    cycles : int
        Train/validation/test cycles (see :func:`~.split.chronological_split`); lowered so that
        each cycle holds at least :data:`MIN_CYCLE_FRAMES` frames. ``1`` is the plain
        chronological split.
    min_frames : int
        Fewest usable frames (after dropping NaN frames) accepted.
    max_nan_fraction : float
        Channels with a larger fraction of NaN frames (within the condition) are dropped.
    robust_quantile : float
        Quantile of ``|z|`` on the training block used as the global scale.

    Returns
    -------
    PreparedData

    Raises
    ------
    ConditionError
        Unknown condition, or a condition asked of an unlabelled recording.
    DataError
        All values NaN, every channel dropped, or fewer than ``min_frames`` usable frames.
    """
    if len(splits) != 3:
        raise ValueError(f"splits must give three fractions (train, validation, test); got {tuple(splits)}")
    data = np.asarray(recording.data, dtype=np.float64)
    mask = _condition_frames(recording, condition)
    where = f" (condition {condition!r})" if condition is not None else ""
    selected = data[mask]
    if selected.size == 0 or np.isnan(selected).all():
        raise DataError(
            f"all values of {recording.series_path!r}{where} are NaN or no frame is selected; "
            "nothing to analyse — check the series and the condition"
        )
    nan_fraction = np.isnan(selected).mean(axis=0)
    ids = np.asarray(recording.channel_ids)
    dropped: list[tuple[object, str]] = [
        (_plain(ids[i]), f"mostly NaN ({100 * nan_fraction[i]:.0f} % of frames)")
        for i in np.flatnonzero(nan_fraction > max_nan_fraction)
    ]
    kept = np.flatnonzero(nan_fraction <= max_nan_fraction)
    # runs: inside one segment, no NaN in the kept channels, only the condition's frames
    masked = np.where(mask[:, None], data[:, kept], np.nan)
    runs = nan_free_runs(masked, recording.segment_ids)
    n_usable = int(sum(len(r) for r in runs))
    if n_usable < min_frames:
        raise DataError(
            f"{recording.series_path!r}{where} has {n_usable} usable frames (no NaN, inside the "
            f"condition); at least min_frames={min_frames} are needed — use a longer recording or "
            "lower min_frames"
        )
    if int(cycles) < 1:
        raise ValueError(f"cycles must be ≥ 1; got {cycles}")
    cycles = max(1, min(int(cycles), n_usable // MIN_CYCLE_FRAMES))
    blocks = dict(zip(BLOCKS, chronological_split(runs, splits, cycles=cycles), strict=True))
    if sum(len(r) for r in blocks["train"]) < 2:
        raise DataError(f"the training block of {recording.series_path!r}{where} has fewer than 2 frames")
    train = np.concatenate([data[r][:, kept] for r in blocks["train"]])
    center, scale = train.mean(axis=0), train.std(axis=0)
    constant = ~(scale > 1e-12 * np.maximum(1.0, np.abs(center)))
    dropped += [(_plain(ids[kept[i]]), "constant on the training block") for i in np.flatnonzero(constant)]
    kept, center, scale = kept[~constant], center[~constant], scale[~constant]
    if kept.size == 0:
        raise DataError(
            f"every channel of {recording.series_path!r}{where} was dropped ({len(dropped)}: "
            f"{dropped[0][1]}, ...); nothing to analyse"
        )
    z = np.abs((train[:, ~constant] - center) / scale)
    global_scale = float(np.quantile(z, robust_quantile)) or float(z.max())
    factor = scale * global_scale
    times = np.asarray(recording.timestamps, dtype=float)
    step = 1.0 / recording.rate if recording.rate else (float(np.median(np.diff(times))) if times.size > 1 else 0.0)
    intervals = np.array([[times[r[0]], times[r[-1]] + step] for name in BLOCKS for r in blocks[name]]).reshape(-1, 2)
    return PreparedData(
        **{name: [((data[r][:, kept] - center) / factor).astype(np.float32) for r in blocks[name]] for name in BLOCKS},
        channel_ids=ids[kept],
        kept_channels=kept,
        dropped=dropped,
        center=center,
        scale=scale,
        global_scale=global_scale,
        condition=condition,
        timestamps={name: [times[r] for r in blocks[name]] for name in BLOCKS},
        frame_indices={name: list(blocks[name]) for name in BLOCKS},
        intervals=intervals,
        n_source_channels=recording.n_channels,
        cycles=cycles,
        source_channel_ids=ids if recording.roi_table_path is not None else None,
    )
