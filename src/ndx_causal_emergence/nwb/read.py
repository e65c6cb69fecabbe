"""Read NWB inputs (local files, URLs, DANDI assets) into :class:`~ndx_causal_emergence.data.recording.Recording`.

:func:`open_nwb` opens any source and yields the ``NWBFile`` with its IO object and
provenance; :func:`read_recording` reads one series (and optionally per-frame condition labels)
into a ``Recording``. Reading is lazy and chunk-aware: only the frames and channels asked for
are read, block by block along the dataset's own chunks (:func:`iter_series_chunks`), so the
memory used is the output plus one block, and a small slice of a streamed file transfers little.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from hdmf.data_utils import DataIO
from pynwb import NWBHDF5IO, NWBFile, TimeSeries
from pynwb.misc import Units

from ..data.recording import Recording, SourceInfo
from ..data.split import segment_ids
from ..errors import ConditionError, DataError, InputError, SourceError
from ..safety.memory import WORKING_COPIES, check_allocation
from .content import InputLinks
from .discover import (
    condition_intervals,
    find_condition_source,
    find_series,
    list_condition_tables,
    list_series,
    object_path,
)

__all__ = [
    "OpenedNWB",
    "frame_labels",
    "input_links",
    "iter_series_chunks",
    "list_condition_tables",
    "list_series",
    "open_nwb",
    "read_channels",
    "read_recording",
]

#: Largest block read at once by :func:`iter_series_chunks` (bytes, rounded to whole chunks).
DEFAULT_BLOCK_BYTES = 32 * 2**20
_URL = re.compile(r"^https?://", re.IGNORECASE)


@dataclass
class OpenedNWB:
    """An open NWB source.

    Attributes
    ----------
    nwbfile : pynwb.NWBFile
    io : pynwb.NWBHDF5IO or None
        The IO object the file was read with (None for an ``NWBFile`` handed over in memory);
        export from it with ``write_args={"link_data": False}`` when ``streamed``.
    info : SourceInfo
        Provenance of the source.
    streamed : bool
        Whether the bytes come over HTTP (remfile) rather than from a local file.
    """

    nwbfile: NWBFile
    io: NWBHDF5IO | None
    info: SourceInfo
    streamed: bool = False


@contextlib.contextmanager
def open_nwb(
    source: str | os.PathLike | NWBFile | OpenedNWB, *, cache_dir: str | os.PathLike | None = None
) -> Iterator[OpenedNWB]:
    """Open an NWB source for reading.

    Parameters
    ----------
    source : str, path, NWBFile or OpenedNWB
        A local path; an ``NWBFile`` already open (yielded with ``io=None``); an http(s) URL of an NWB
        file; or a DANDI reference: ``DANDI:000123[/VERSION]/PATH``, ``dandi://INSTANCE/000123[@VERSION]/PATH``,
        or an archive / API URL of an asset as the ``dandi`` client parses them. Without a
        version, the latest published version is used, else the draft. ``DANDI:`` references
        go to the instance named by the ``DANDI_INSTANCE`` environment variable (default
        ``dandi``); the API-URL forms name their instance themselves.
    cache_dir : str or path, optional
        Disk cache of streamed bytes (default: ``$NDX_CE_CACHE_DIR``, else the user cache
        folder); used only for URLs and DANDI assets.

    Yields
    ------
    OpenedNWB
        The file, its IO object, its :class:`SourceInfo` and whether it is streamed. Everything
        is closed on exit (except objects handed over already open).

    Raises
    ------
    SourceError
        Missing file, not HDF5, not NWB, unreachable URL, unknown DANDI asset.
    """
    if isinstance(source, OpenedNWB):
        yield source
        return
    if isinstance(source, NWBFile):
        read_from = getattr(source, "container_source", None)  # the path, if it was read from a file
        info = SourceInfo(
            location=str(read_from or "<memory>"), identifier=source.identifier, kind="local" if read_from else "memory"
        )
        yield OpenedNWB(source, None, info)
        return
    if not isinstance(source, str | os.PathLike):
        raise SourceError(f"expected a path, URL, DANDI reference or pynwb.NWBFile as source; got {type(source)!r}")
    text = os.fspath(source)
    from ..dandi.refs import is_dandi_reference  # light: no dandi import until a reference is resolved

    if is_dandi_reference(text):
        from ..dandi.remote import open_dandi_asset

        with (
            open_dandi_asset(text, cache_dir=cache_dir) as (h5file, info),
            _nwb_session(h5file, info, text, streamed=True) as opened,
        ):
            yield opened
    elif _URL.match(text):
        from ..dandi.remote import open_url

        info = SourceInfo(location=text, kind="url", url=text)
        with open_url(text, cache_dir=cache_dir) as h5file, _nwb_session(h5file, info, text, streamed=True) as opened:
            yield opened
    else:
        path = Path(text).expanduser()
        _check_local(path)
        info = SourceInfo(location=text, kind="local")
        try:
            h5file = h5py.File(path, "r")
        except OSError as err:  # truncated or damaged (is_hdf5 reads the signature only)
            raise SourceError(f"{str(path)!r} cannot be opened as HDF5 (truncated or damaged?): {err}") from None
        with h5file, _nwb_session(h5file, info, text, streamed=False) as opened:
            yield opened


def _check_local(path: Path) -> None:
    if not path.exists():
        raise SourceError(f"no such file: {str(path)!r}; give the path of an NWB file, a URL or a DANDI reference")
    if path.is_dir():
        raise SourceError(f"{str(path)!r} is a folder; expected an NWB (HDF5) file")
    if not h5py.is_hdf5(path):
        raise SourceError(
            f"{str(path)!r} is not an HDF5 file, so not an NWB file readable here (NWB Zarr is not "
            "supported); convert it to NWB HDF5"
        )


@contextlib.contextmanager
def _nwb_session(h5file: h5py.File, info: SourceInfo, location: str, *, streamed: bool) -> Iterator[OpenedNWB]:
    """Read an open h5py file as NWB; the IO object (which closes ``h5file`` too) is closed on exit."""
    if "nwb_version" not in h5file.attrs:
        raise SourceError(
            f"{location!r} is HDF5 but not NWB (no nwb_version attribute at the root); expected an NWB 2.x file"
        )
    io = NWBHDF5IO(file=h5file, mode="r", load_namespaces=True)
    try:
        try:
            nwbfile = io.read()
        except SourceError:  # a streamed read that failed: its message already says what and where
            raise
        except Exception as exc:
            raise SourceError(f"{location!r} could not be read as NWB: {type(exc).__name__}: {exc}") from exc
        fields = {name: getattr(info, name) for name in info.__dataclass_fields__}
        fields["identifier"] = nwbfile.identifier
        yield OpenedNWB(nwbfile, io, SourceInfo(**fields), streamed)
    finally:
        io.close()


def _raw(data: Any) -> Any:
    """The array-like behind a DataIO wrapper; lists become arrays (anything else: h5py / numpy as is)."""
    data = data.data if isinstance(data, DataIO) else data
    return data if hasattr(data, "shape") else np.asarray(data)


def _channel_positions(channels: Sequence[int] | slice | None, n_channels: int) -> np.ndarray:
    if channels is None:
        return np.arange(n_channels)
    if isinstance(channels, slice):
        return np.arange(n_channels)[channels]
    positions = np.asarray(channels)
    if positions.ndim != 1 or positions.size == 0 or positions.dtype.kind not in "iu":
        raise InputError(f"channels must be a non-empty list of column indices or a slice; got {channels!r}")
    if positions.min() < 0 or positions.max() >= n_channels or np.unique(positions).size != positions.size:
        raise InputError(f"channels must be distinct column indices in 0..{n_channels - 1}; got {channels!r}")
    return positions


def iter_series_chunks(
    series: TimeSeries,
    *,
    frames: slice | None = None,
    channels: Sequence[int] | slice | None = None,
    max_block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> Iterator[tuple[int, np.ndarray]]:
    """Read a 2-D series block by block along its HDF5 chunks.

    Parameters
    ----------
    series : pynwb.TimeSeries
        A series with 2-D data (frames × channels), read from a file or in memory.
    frames : slice, optional
        Frames to read (step 1); default all.
    channels : sequence of int or slice, optional
        Column indices to read, in the order wanted; default all.
    max_block_bytes : int
        Upper bound of one block's size; blocks are whole dataset chunks along time.

    Yields
    ------
    (offset, block)
        ``offset`` is the first frame of the block relative to ``frames.start``; ``block`` a
        float array (float32 if stored as float32, else float64) of shape (n, n_selected),
        scaled by the series' ``conversion`` and ``offset``.
    """
    data = _raw(series.data)
    n_frames, n_channels = data.shape
    start, stop, step = (frames or slice(None)).indices(n_frames)
    if step != 1:
        raise InputError(f"frames must be a contiguous slice (step 1); got {frames!r}")
    cols = _channel_positions(channels, n_channels)
    all_cols = cols.size == n_channels and bool(np.all(cols == np.arange(n_channels)))
    chunk_rows = int(data.chunks[0]) if getattr(data, "chunks", None) else 1
    # read whole rows when most columns are wanted, else only the chunks holding the wanted columns
    fancy = isinstance(data, h5py.Dataset) and not all_cols and cols.size <= n_channels // 2
    read_cols = cols.size if fancy else n_channels
    itemsize = np.dtype(getattr(data, "dtype", np.float64)).itemsize
    rows_per_block = max(chunk_rows, (max_block_bytes // max(1, read_cols * itemsize)) // chunk_rows * chunk_rows)
    out_dtype = np.float32 if np.dtype(getattr(data, "dtype", np.float64)) == np.float32 else np.float64
    conversion = float(getattr(series, "conversion", 1.0) or 1.0)
    shift = float(getattr(series, "offset", 0.0) or 0.0)
    order = np.argsort(cols)
    inverse = np.argsort(order)
    a = start
    while a < stop:
        b = min(stop, (a // chunk_rows) * chunk_rows + rows_per_block)
        if fancy:
            block = np.asarray(data[a:b, cols[order].tolist()])[:, inverse]
        else:
            block = np.asarray(data[a:b])
            if not all_cols:
                block = block[:, cols]
        block = block.astype(out_dtype, copy=False)
        if conversion != 1.0 or shift != 0.0:
            block = block * out_dtype(conversion) + out_dtype(shift)
        yield a - start, block
        a = b


def _frame_window(
    series: TimeSeries, n_frames: int, time_range: tuple[float, float] | None
) -> tuple[int, int, np.ndarray, float | None]:
    """(first frame, stop frame, timestamps of those frames, rate) for ``time_range``."""
    if series.timestamps is not None:
        stamps = series.timestamps
        if isinstance(stamps, TimeSeries):  # timestamps linked from another series
            stamps = stamps.timestamps
        declared = _raw(stamps)
        if len(declared) != n_frames:
            raise InputError(f"series {object_path(series)!r} has {n_frames} frames but {len(declared)} timestamps")
        check_allocation(8.0 * n_frames, f"the timestamps of {object_path(series)!r} ({n_frames} frames)")
        times = np.asarray(declared[:], dtype=float)
        check_time_base(times, f"series {object_path(series)!r}")
        start, stop = 0, n_frames
        if time_range is not None:
            start, stop = (int(i) for i in np.searchsorted(times, time_range, side="left"))
        return start, stop, times[start:stop], _regular_rate(times)
    rate = float(series.rate)
    t0 = float(series.starting_time or 0.0)
    if not (np.isfinite(rate) and rate > 0 and np.isfinite(t0)):
        raise DataError(
            f"series {object_path(series)!r} has rate {rate} Hz and starting time {t0} s; expected a "
            "positive, finite rate and a finite starting time"
        )
    start, stop = 0, n_frames
    if time_range is not None:
        start, stop = (int(np.clip(np.ceil((t - t0) * rate - 1e-9), 0, n_frames)) for t in time_range)
    return start, stop, t0 + np.arange(start, stop) / rate, rate


def check_time_base(times: np.ndarray, what: str) -> None:
    """Raise :class:`DataError` unless ``times`` are finite and strictly increasing (and not all equal).

    Shuffled, decreasing, repeated or NaN timestamps would otherwise be analysed as if frames
    followed each other in the order stored.
    """
    if times.size == 0:
        return
    bad = ~np.isfinite(times)
    if bad.any():
        raise DataError(
            f"{what} has {int(bad.sum())} NaN or infinite timestamps (first at frame "
            f"{int(np.argmax(bad))}); timestamps must be finite seconds"
        )
    steps = np.diff(times)
    if steps.size and np.all(steps == 0):
        raise DataError(
            f"{what} has constant timestamps ({times[0]:.6g} s for every frame); frames need distinct times"
        )
    if steps.size and not np.all(steps > 0):
        k = int(np.argmax(steps <= 0))
        kind = "decreasing" if np.all(steps <= 0) else "out of order or repeated"
        raise DataError(
            f"{what} has {kind} timestamps (frame {k + 1} at {times[k + 1]:.6g} s after frame {k} at "
            f"{times[k]:.6g} s); timestamps must increase strictly"
        )


def _regular_rate(times: np.ndarray) -> float | None:
    """1 / median step if every step is within 1 % of the median (else None: irregular timing)."""
    steps = np.diff(times)
    if steps.size == 0:
        return None
    median = float(np.median(steps))
    if median <= 0 or np.max(np.abs(steps - median)) > 0.01 * median:
        return None
    return 1.0 / median


def _table_ids(series: TimeSeries, cols: np.ndarray) -> tuple[np.ndarray, str | None, np.ndarray | None]:
    """(channel ids, table path, row indices) from the series' ROI or electrode region, if any."""
    region = getattr(series, "rois", None)
    if region is None:
        region = getattr(series, "electrodes", None)
    n_channels = _raw(series.data).shape[1]
    if region is not None and len(region.data) == n_channels:
        rows = np.asarray(region.data[:], dtype=np.int64)[cols]
        ids = np.asarray(region.table.id.data[:])[rows]
        return ids, object_path(region.table), rows
    return cols.astype(np.int64), None, None


#: ROI-table columns holding masks, and the coordinates of each row of a listed mask (0: a dense image).
_MASK_COLUMNS = (("image_mask", 0), ("pixel_mask", 2), ("voxel_mask", 3))


def _mask_centroid(mask: Any, n_axes: int) -> np.ndarray:
    """Weighted mean position of one ROI mask: a dense image (``n_axes = 0``) or (x, y[, z], weight) rows."""
    if n_axes:
        rows = np.array([tuple(r) for r in mask], dtype=float).reshape(-1, n_axes + 1)
        weights = np.abs(rows[:, -1])
        total = weights.sum()
        return weights @ rows[:, :-1] / total if total > 0 else np.full(n_axes, np.nan)
    image = np.abs(np.asarray(mask, dtype=float))
    total = image.sum()
    if not total > 0:
        return np.full(image.ndim, np.nan)
    # per axis, the position weighted by the mask summed over the other axes
    return np.array([
        np.arange(n) @ image.sum(axis=tuple(a for a in range(image.ndim) if a != axis)) / total
        for axis, n in enumerate(image.shape)
    ])  # fmt: skip


def _roi_centroids(series: TimeSeries, rows: np.ndarray | None) -> np.ndarray | None:
    """Centroids of the ROI masks of ``rows`` of the series' ROI table, or None where it has no masks."""
    region = getattr(series, "rois", None)
    if region is None or rows is None:
        return None
    table = region.table
    for column, n_axes in _MASK_COLUMNS:
        if column in table.colnames:
            masks = table[column]
            if not n_axes:  # one dense image per ROI, read one at a time
                check_allocation(8.0 * WORKING_COPIES * np.prod(np.shape(masks.data)[1:]), f"ROI masks of {column!r}")
            return np.stack([_mask_centroid(masks[int(r)], n_axes) for r in rows])
    return None


def _read_timeseries(
    series: TimeSeries, time_range: tuple[float, float] | None, channels: Sequence[int] | slice | None
) -> dict[str, Any]:
    n_frames, n_channels = _raw(series.data).shape
    cols = _channel_positions(channels, n_channels)
    check_allocation(
        8.0 * WORKING_COPIES * n_frames * cols.size,
        f"series {object_path(series)!r} ({n_frames} frames x {cols.size} channels)",
    )
    start, stop, times, rate = _frame_window(series, n_frames, time_range)
    out = None
    for offset, block in iter_series_chunks(series, frames=slice(start, stop), channels=cols):
        if out is None:
            out = np.empty((stop - start, cols.size), dtype=block.dtype)
        out[offset : offset + block.shape[0]] = block
    if out is None:
        out = np.empty((0, cols.size))
    ids, table_path, rows = _table_ids(series, cols)
    return {
        "data": out,
        "timestamps": times,
        "rate": rate,
        "unit": str(series.unit),
        "channel_ids": ids,
        "roi_table_path": table_path,
        "roi_indices": rows,
        "roi_centroids": _roi_centroids(series, rows),
    }


def _bin_units(
    units: Units, bin_width: float, time_range: tuple[float, float] | None, channels: Sequence[int] | slice | None
) -> dict[str, Any]:
    """Spike counts per bin (bins of ``bin_width`` s); bins outside a unit's ``obs_intervals`` are NaN."""
    if not bin_width > 0:
        raise InputError(f"bin_width must be a positive number of seconds; got {bin_width!r}")
    rows = _channel_positions(channels, len(units))
    check_allocation(
        8.0 * len(units["spike_times"].target.data),
        f"the spike times of {object_path(units)!r} ({len(units['spike_times'].target.data)} spikes)",
    )
    spikes = [np.asarray(units.get_unit_spike_times(int(r)), dtype=float) for r in rows]
    for row, times in zip(rows, spikes, strict=True):
        if not np.all(np.isfinite(times)):
            raise DataError(
                f"unit {units.id.data[int(row)]} of {object_path(units)!r} has NaN or infinite spike "
                "times; spike times must be finite seconds"
            )
    if time_range is None:
        nonempty = [s for s in spikes if s.size]
        if not nonempty:
            raise InputError(f"the selected units of {object_path(units)!r} have no spikes; nothing to bin")
        t0 = min(float(s.min()) for s in nonempty)
        n_bins = int(np.floor((max(float(s.max()) for s in nonempty) - t0) / bin_width)) + 1
    else:
        t0 = float(time_range[0])
        n_bins = max(0, int(np.ceil((float(time_range[1]) - t0) / bin_width - 1e-9)))
    check_allocation(
        8.0 * WORKING_COPIES * n_bins * rows.size,
        f"spike counts of {object_path(units)!r} ({n_bins} bins of {bin_width} s x {rows.size} units)",
    )
    counts = np.zeros((n_bins, rows.size), dtype=np.float32)
    centres = t0 + (np.arange(n_bins) + 0.5) * bin_width
    has_obs = "obs_intervals" in units.colnames
    for k, (row, times) in enumerate(zip(rows, spikes, strict=True)):
        index = np.floor((times - t0) / bin_width).astype(np.int64)
        index = index[(index >= 0) & (index < n_bins)]
        counts[:, k] = np.bincount(index, minlength=n_bins)
        if has_obs:
            observed = np.zeros(n_bins, dtype=bool)
            for lo, hi in np.asarray(units.get_unit_obs_intervals(int(row)), dtype=float).reshape(-1, 2):
                observed |= (centres >= lo) & (centres < hi)
            counts[~observed, k] = np.nan
    return {
        "data": counts,
        "timestamps": centres,
        "rate": 1.0 / bin_width,
        "unit": "spikes per bin",
        "channel_ids": np.asarray(units.id.data[:])[rows],
        "roi_table_path": object_path(units),
        "roi_indices": rows.astype(np.int64),
    }


def frame_labels(
    nwbfile: NWBFile, conditions: str, timestamps: np.ndarray, *, condition_column: str | None = None
) -> np.ndarray:
    """Condition label of every frame, from an intervals table or an events object.

    Parameters
    ----------
    nwbfile : pynwb.NWBFile
    conditions : str
        Path or unique name of an intervals table (``epochs``), a core ``EventsTable`` or a
        legacy ndx-events object (see :func:`~ndx_causal_emergence.nwb.discover.condition_intervals`).
    timestamps : ndarray of shape (n_frames,)
        Frame times in seconds.
    condition_column : str, optional
        Column holding the labels.

    Returns
    -------
    ndarray of shape (n_frames,) of object
        The label of the interval holding each frame (``start <= t < stop``), None outside all.

    Raises
    ------
    ConditionError
        Unknown table or column, intervals with different labels that overlap on a frame, or
        no frame labelled.
    """
    obj, kind = find_condition_source(nwbfile, conditions)
    try:
        intervals = condition_intervals(obj, kind, condition_column)
    except UnicodeDecodeError as err:
        raise ConditionError(
            f"the labels of {object_path(obj)!r} are not valid UTF-8 text ({err.reason} at byte "
            f"{err.start} of {err.object[:40]!r}); fix the file's text encoding"
        ) from None
    times = np.asarray(timestamps, dtype=float)
    labels = np.full(times.shape, None, dtype=object)
    for start, stop, label in intervals.itertuples(index=False):
        inside = (times >= start) & (times < stop)
        clash = inside & (labels != None) & (labels != label)  # noqa: E711  (elementwise on object array)
        if clash.any():
            t = times[np.argmax(clash)]
            raise ConditionError(
                f"intervals of {object_path(obj)!r} overlap with different labels ({labels[np.argmax(clash)]!r} and "
                f"{label!r} at t={t:.6g} s); choose a column whose intervals do not overlap"
            )
        labels[inside] = label
    if not np.any(labels != None):  # noqa: E711
        span = f"{times[0]:.6g}–{times[-1]:.6g} s" if times.size else "no frames"
        raise ConditionError(
            f"no frame of the series ({span}) lies in a labelled interval of {object_path(obj)!r} "
            f"({len(intervals)} intervals); check the table and the time base"
        )
    return labels


def read_channels(
    source_or_opened: str | os.PathLike | NWBFile | OpenedNWB, *, series: str | None = None
) -> tuple[str, int, np.ndarray | None]:
    """``(series path, number of channels, channel ids)`` of one series, without reading its data.

    The ids are those of the channels' rows in the series' ROI, electrode or unit table (as
    :func:`read_recording` gives them); None where the channels are plain columns without a table.
    ``series`` is chosen as :func:`read_recording` chooses it.
    """
    with open_nwb(source_or_opened) as opened:
        obj = find_series(opened.nwbfile, series)
        if isinstance(obj, Units):
            return object_path(obj), len(obj), np.asarray(obj.id.data[:])
        shape = _raw(obj.data).shape
        if len(shape) < 2:
            return object_path(obj), 1, None
        ids, table_path, _ = _table_ids(obj, np.arange(shape[1]))
        return object_path(obj), int(shape[1]), ids if table_path is not None else None


def input_links(nwbfile: NWBFile, series_object_id: str) -> InputLinks:
    """What the results of a series link to: the series, its ROI (or unit) table and each channel's row there.

    The table is the ``PlaneSegmentation`` of a ``RoiResponseSeries`` (``rois``) or the ``Units``
    table itself; the rows are those :func:`read_recording` gives as ``roi_indices`` for all the
    series' channels (also the electrode rows of an ``ElectricalSeries``, which links no table).
    A series that is not in the file links nothing but its object id.
    """
    series = nwbfile.objects.get(series_object_id)
    if series is None:
        return InputLinks(series_object_id)
    if isinstance(series, Units):
        return InputLinks(series_object_id, series.object_id, list(range(len(series))))
    table = getattr(getattr(series, "rois", None), "table", None)
    shape = _raw(series.data).shape
    _, _, rows = _table_ids(series, np.arange(shape[1] if len(shape) > 1 else 1))
    return InputLinks(
        series_object_id,
        table.object_id if table is not None else None,
        [int(r) for r in rows] if rows is not None else None,
    )


def read_recording(
    source_or_opened: str | os.PathLike | NWBFile | OpenedNWB,
    *,
    series: str | None = None,
    conditions: str | None = None,
    condition_column: str | None = None,
    bin_width: float = 0.1,
    time_range: tuple[float, float] | None = None,
    channels: Sequence[int] | slice | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Recording:
    """Read one series of an NWB source into a :class:`Recording`.

    Parameters
    ----------
    source_or_opened : str, path, NWBFile or OpenedNWB
        Anything :func:`open_nwb` accepts, or what it yielded.
    series : str, optional
        Path inside the file, unique bare name, or ``"units"``; default chosen by
        :func:`~ndx_causal_emergence.nwb.discover.find_series` (DfOverF, Fluorescence, one
        unambiguous 2-D TimeSeries, Units).
    conditions : str, optional
        Intervals table or events object that labels frames (e.g. ``"epochs"``); default no labels.
    condition_column : str, optional
        Label column of that table (e.g. ``"stage"``, ``"tags"``).
    bin_width : float
        Bin width in seconds when the series is a Units table (spike counts per bin).
    time_range : (float, float), optional
        Read only frames with ``start <= t < stop`` (seconds).
    channels : sequence of int or slice, optional
        Column indices (positions, not ids) to read; default all.
    cache_dir : str or path, optional
        Disk cache for streamed sources.

    Returns
    -------
    Recording
        Data, timestamps, channel ids, labels (None without ``conditions``), segment ids (a new
        segment at each gap and label change), unit, rate, and the series' path, object id,
        ROI table and provenance.

    Raises
    ------
    SourceError, SeriesNotFoundError, ConditionError, InputError
    """
    with open_nwb(source_or_opened, cache_dir=cache_dir) as opened:
        obj = find_series(opened.nwbfile, series)
        if isinstance(obj, Units):
            fields = _bin_units(obj, bin_width, time_range, channels)
        else:
            fields = _read_timeseries(obj, time_range, channels)
        labels = None
        if conditions is not None:
            labels = frame_labels(opened.nwbfile, conditions, fields["timestamps"], condition_column=condition_column)
        elif condition_column is not None:
            raise ConditionError(
                f"condition_column={condition_column!r} given without conditions=TABLE; name the "
                "intervals or events table too (--conditions TABLE)"
            )
        return Recording(
            labels=labels,
            segment_ids=segment_ids(fields["timestamps"], labels, rate=fields["rate"]),
            series_path=object_path(obj),
            series_object_id=obj.object_id,
            source=opened.info,
            **fields,
        )
