"""The :class:`Recording`: one neural time series (frames × channels) with its labels and provenance.

A ``Recording`` is what :func:`ndx_causal_emergence.nwb.read.read_recording` returns and what
:func:`ndx_causal_emergence.data.prepare.prepare` consumes. It is immutable: every later stage
builds new objects from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

__all__ = ["Recording", "SourceInfo"]


@dataclass(frozen=True)
class SourceInfo:
    """Where a recording came from.

    Attributes
    ----------
    location : str
        The source as the user gave it (path, URL or DANDI reference).
    identifier : str or None
        The NWB file's ``identifier``.
    kind : {"local", "url", "dandi", "memory"}
        How the file was reached ("memory" for an ``NWBFile`` built in memory and handed over).
    dandiset_id, dandiset_version, asset_id, asset_path, asset_digest : str or None
        DANDI coordinates of the asset (``asset_digest`` is the ``dandi:dandi-etag`` or
        ``dandi:sha2-256`` digest, prefixed with its type, e.g. ``"dandi:sha2-256:ab12…"``).
    url : str or None
        The resolved download URL that was streamed.
    """

    location: str
    identifier: str | None = None
    kind: Literal["local", "url", "dandi", "memory"] = "local"
    dandiset_id: str | None = None
    dandiset_version: str | None = None
    asset_id: str | None = None
    asset_path: str | None = None
    asset_digest: str | None = None
    url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain dict (for provenance JSON)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class Recording:
    """A (T, N) neural time series with per-frame condition labels and provenance.

    Attributes
    ----------
    data : ndarray of shape (n_frames, n_channels)
        Float samples (dF/F, fluorescence, binned spike counts, ...); NaN marks missing values.
    timestamps : ndarray of shape (n_frames,)
        Time of each frame in seconds (bin centres for binned units).
    channel_ids : ndarray of shape (n_channels,)
        ROI ids or unit ids (the ``id`` column of the ROI or Units table, else column numbers).
    labels : ndarray of shape (n_frames,) of object, or None
        Condition label of each frame; ``None`` for frames outside every labelled interval.
    segment_ids : ndarray of shape (n_frames,) of int
        A new id starts at every time gap, condition change and label break; transitions
        ``(x_t, x_{t+1})`` are valid only inside one segment.
    unit : str
        Unit of ``data``.
    rate : float or None
        Sampling rate in Hz (``1 / bin_width`` for binned units); None if irregular.
    series_path : str
        Path of the series inside the file (``/processing/ophys/DfOverF/RoiResponseSeries``,
        ``/units``).
    series_object_id : str or None
        ``object_id`` of the series (or Units table).
    roi_table_path : str or None
        Path of the PlaneSegmentation / Units table the channels are rows of.
    roi_indices : ndarray of shape (n_channels,) of int, or None
        Row index of each channel in that table.
    source : SourceInfo
        Where the file came from.
    roi_centroids : ndarray of shape (n_channels, n_axes), or None
        Centre of each channel's ROI mask (mask-weighted mean pixel or voxel position, in the
        mask's index units), where the ROI table has image, pixel or voxel masks; NaN rows for
        empty masks.
    """

    data: np.ndarray
    timestamps: np.ndarray
    channel_ids: np.ndarray
    labels: np.ndarray | None
    segment_ids: np.ndarray
    unit: str
    rate: float | None
    series_path: str
    series_object_id: str | None
    roi_table_path: str | None
    roi_indices: np.ndarray | None
    source: SourceInfo = field(default_factory=lambda: SourceInfo(location="<memory>", kind="memory"))
    roi_centroids: np.ndarray | None = None

    def __post_init__(self) -> None:
        n_frames, n_channels = np.shape(self.data)
        checks = {
            "timestamps": (np.shape(self.timestamps), (n_frames,)),
            "segment_ids": (np.shape(self.segment_ids), (n_frames,)),
            "channel_ids": (np.shape(self.channel_ids), (n_channels,)),
        }
        if self.labels is not None:
            checks["labels"] = (np.shape(self.labels), (n_frames,))
        if self.roi_indices is not None:
            checks["roi_indices"] = (np.shape(self.roi_indices), (n_channels,))
        if self.roi_centroids is not None:
            checks["roi_centroids"] = (np.shape(self.roi_centroids)[:1], (n_channels,))
        for name, (found, expected) in checks.items():
            if found != expected:
                raise ValueError(
                    f"Recording.{name} has shape {found}; expected {expected} to match data {n_frames}×{n_channels}"
                )

    @classmethod
    def from_array(
        cls, data: Any, *, rate: float, labels: Any = None, unit: str = "a.u.", name: str = "array"
    ) -> Recording:
        """A recording from a ``(n_frames, n_channels)`` array sampled at ``rate`` Hz (frames start at t = 0).

        ``labels`` (one per frame, ``None`` for unlabelled frames) give the conditions.

        Examples
        --------
        >>> rec = Recording.from_array(np.zeros((100, 3)), rate=10.0)
        >>> rec.n_frames, rec.n_channels, float(rec.timestamps[-1])
        (100, 3, 9.9)
        """
        from .split import segment_ids

        values = np.asarray(data, dtype=float)
        if values.ndim != 2:
            raise InputError(f"data must be a (n_frames, n_channels) array, got shape {values.shape}.")
        if not rate > 0:
            raise InputError(f"rate must be > 0 Hz, got {rate}.")
        times = np.arange(len(values)) / float(rate)
        frame_labels = None if labels is None else np.asarray(labels, dtype=object)
        return cls(
            data=values, timestamps=times, channel_ids=np.arange(values.shape[1]), labels=frame_labels,
            segment_ids=segment_ids(times, frame_labels, rate=rate), unit=unit, rate=float(rate),
            series_path=name, series_object_id=None, roi_table_path=None, roi_indices=None,
        )  # fmt: skip

    @property
    def n_frames(self) -> int:
        """Number of frames T."""
        return int(np.shape(self.data)[0])

    @property
    def n_channels(self) -> int:
        """Number of channels N."""
        return int(np.shape(self.data)[1])

    def conditions(self) -> list[str]:
        """Condition labels in order of first appearance (empty if the recording is unlabelled)."""
        if self.labels is None:
            return []
        seen: dict[str, None] = {}
        for label in self.labels:
            if label is not None and label != "" and label not in seen:
                seen[label] = None
        return list(seen)

    def to_xarray(self) -> xr.DataArray:
        """The data as an ``xarray.DataArray`` with ``time`` and ``channel`` coordinates.

        Labels (``""`` for unlabelled frames) and segment ids become non-index coordinates along
        ``time``; unit, rate, source
        path, object id and the source location are attributes.
        """
        import xarray as xr

        coords: dict[str, Any] = {
            "time": np.asarray(self.timestamps),
            "channel": np.asarray(self.channel_ids),
            "segment": ("time", np.asarray(self.segment_ids)),
        }
        if self.labels is not None:
            # xarray turns None into NaN in object coordinates: unlabelled frames get "" instead
            coords["condition"] = ("time", np.array(["" if lab is None else lab for lab in self.labels], dtype=object))
        attrs = {
            "unit": self.unit,
            "rate": self.rate,
            "series_path": self.series_path,
            "object_id": self.series_object_id,
            "source": self.source.location,
            "identifier": self.source.identifier,
        }
        return xr.DataArray(np.asarray(self.data), dims=("time", "channel"), coords=coords, attrs=attrs)
