"""Find what an NWB file holds: analysable series and condition sources.

:func:`list_series` lists every series the analysis can read (ROI response series, any other
2-D ``TimeSeries``, the ``Units`` table); :func:`list_condition_tables` lists every object that
can label frames with conditions (intervals tables with text columns, core ``EventsTable`` objects and
legacy ndx-events objects read through the file's cached spec). :func:`find_series` and
:func:`find_condition_source` resolve the user's choice (a path inside the file or a unique
bare name) into the object, with errors that list the candidates.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from hdmf.common import DynamicTable, DynamicTableRegion, VectorIndex
from pynwb import NWBFile, TimeSeries
from pynwb.epoch import TimeIntervals
from pynwb.event import EventsTable
from pynwb.misc import Units

from ..errors import ConditionError, SeriesNotFoundError

__all__ = [
    "condition_intervals",
    "find_condition_source",
    "find_series",
    "list_condition_tables",
    "list_series",
    "object_path",
]

#: Our own extension's types are results, never inputs.
_OWN_NAMESPACE = "ndx-causal-emergence"
#: Types that are never picked by default (raw voltage is not an analysable population signal).
_NOT_DEFAULT = ("ElectricalSeries", "SpikeEventSeries")
#: Legacy ndx-events types that carry labelled event times.
LEGACY_EVENT_TYPES = ("LabeledEvents", "TTLs", "AnnotatedEventsTable", "EventsTable")
#: ROI-response series names that are not the primary signal of their container.
_SECONDARY_NAMES = ("neuropil", "deconv", "spike", "background", "baseline")

_NWBFILE_SLOTS = (
    ("processing", "processing"),
    ("acquisition", "acquisition"),
    ("stimulus", "stimulus/presentation"),
    ("stimulus_template", "stimulus/templates"),
    ("analysis", "analysis"),
    ("intervals", "intervals"),
    ("events", "events"),
    ("lab_meta_data", "general"),
    ("scratch", "scratch"),
)


def object_path(obj: Any) -> str:
    """Path of a container inside its NWB file, e.g. ``/processing/ophys/DfOverF/RoiResponseSeries``.

    Works for files read from disk and for files built in memory (walks the parent chain).
    """
    parts: list[str] = []
    node = obj
    while getattr(node, "parent", None) is not None:
        parent = node.parent
        if isinstance(parent, NWBFile):
            parts.append(_nwbfile_slot(parent, node))
            break
        parts.append(node.name)
        node = parent
    else:
        if not isinstance(node, NWBFile):
            parts.append(node.name)
    return "/" + "/".join(reversed(parts))


def _nwbfile_slot(nwbfile: NWBFile, child: Any) -> str:
    if child is nwbfile.units:
        return "units"
    if child is nwbfile.electrodes:
        return "general/extracellular_ephys/electrodes"
    for attr, prefix in _NWBFILE_SLOTS:
        holder = getattr(nwbfile, attr, None)
        if isinstance(holder, dict) and holder.get(child.name) is child:
            return f"{prefix}/{child.name}"
    return child.name


def _shape(data: Any) -> tuple[int, ...]:
    shape = getattr(data, "shape", None)
    if shape is None:
        shape = getattr(getattr(data, "data", None), "shape", None)  # DataIO wrappers
    return tuple(int(s) for s in (shape if shape is not None else np.shape(data)))


def _is_own(obj: Any) -> bool:
    return getattr(obj, "namespace", None) == _OWN_NAMESPACE


def _series_candidates(nwbfile: NWBFile) -> Iterator[Any]:
    for obj in nwbfile.all_children():
        if _is_own(obj):
            continue
        if isinstance(obj, TimeSeries) and obj.data is not None and len(_shape(obj.data)) == 2:
            if _shape(obj.data)[0] > 0:
                yield obj
        elif isinstance(obj, Units) and "spike_times" in obj.colnames and len(obj) > 0:
            yield obj


def _container_kind(obj: Any) -> str:
    parent = getattr(obj, "parent", None)
    return type(parent).__name__ if parent is not None else ""


def list_series(nwbfile: NWBFile) -> pd.DataFrame:
    """All series of ``nwbfile`` that the analysis can read.

    Parameters
    ----------
    nwbfile : pynwb.NWBFile
        An open NWB file.

    Returns
    -------
    pandas.DataFrame
        One row per series, sorted by path, with columns ``path``, ``name``, ``neurodata_type``,
        ``container`` (DfOverF, Fluorescence, ...), ``shape`` ((frames, channels); for Units
        (units, spikes)), ``rate`` (Hz or None), ``unit``, ``description`` and ``object_id``.
    """
    rows = []
    for obj in _series_candidates(nwbfile):
        if isinstance(obj, Units):
            n_spikes = len(obj["spike_times"].target.data)
            shape, rate, unit = (len(obj), n_spikes), None, "spikes"
        else:
            shape, rate, unit = _shape(obj.data), obj.rate, obj.unit
        rows.append(
            (
                obj,
                {
                    "container": _container_kind(obj),
                    "shape": shape,
                    "rate": rate,
                    "unit": unit,
                    "object_id": obj.object_id,
                },
            )
        )
    columns = ["path", "name", "neurodata_type", "container", "shape", "rate", "unit", "description", "object_id"]
    return _listing(rows, columns)


def _listing(rows: list[tuple[Any, dict[str, Any]]], columns: list[str]) -> pd.DataFrame:
    """A table of ``(object, fields)`` rows: each object's path, name, type and description plus its fields.

    ``columns`` gives the column order; the rows are sorted by path.
    """
    records = [
        {
            "path": object_path(obj),
            "name": obj.name,
            "neurodata_type": obj.neurodata_type,
            "description": getattr(obj, "description", "") or "",
            **fields,
        }
        for obj, fields in rows
    ]
    return pd.DataFrame(records, columns=columns).sort_values("path", ignore_index=True)


def _describe(candidates: list[Any]) -> str:
    if not candidates:
        return "none"
    return ", ".join(f"{object_path(c)} ({c.neurodata_type} {_shape_text(c)})" for c in candidates)


def _shape_text(obj: Any) -> str:
    if isinstance(obj, Units):
        return f"{len(obj)} units"
    return "×".join(str(s) for s in _shape(obj.data))


def _primary(candidates: list[Any]) -> list[Any]:
    """Drop secondary ROI series (neuropil, deconvolved, ...) when a primary one remains."""
    primary = [c for c in candidates if not any(word in c.name.lower() for word in _SECONDARY_NAMES)]
    return primary or candidates


def find_series(nwbfile: NWBFile, series: str | None = None) -> Any:
    """The series to analyse: the user's choice, or the default.

    Parameters
    ----------
    nwbfile : pynwb.NWBFile
        An open NWB file.
    series : str, optional
        Path inside the file (``/processing/ophys/DfOverF/RoiResponseSeries``, leading slash
        optional), a unique trailing part of a path or bare name (``RoiResponseSeries``), or
        ``"units"`` for the Units table. If None, the default is, in order: the series in a
        ``DfOverF`` container, then in ``Fluorescence`` (neuropil and deconvolved series set
        aside), then the only other 2-D TimeSeries (raw ``ElectricalSeries`` excluded), then Units.

    Returns
    -------
    pynwb.TimeSeries or pynwb.misc.Units

    Raises
    ------
    SeriesNotFoundError
        No series at all, an unknown ``series``, or an ambiguous choice (the message lists the
        candidates and how to choose).
    """
    candidates = sorted(_series_candidates(nwbfile), key=object_path)
    if not candidates:
        raise SeriesNotFoundError(
            "the NWB file holds no analysable series: expected a 2-D TimeSeries (frames × channels, e.g. a "
            "RoiResponseSeries in DfOverF/Fluorescence) or a non-empty Units table; found none. "
            "Check the file with `causal-emergence list` or nwbinspector."
        )
    if series is not None:
        return _match_series(candidates, series)
    for container in ("DfOverF", "Fluorescence"):
        found = _primary([c for c in candidates if _container_kind(c) == container])
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise SeriesNotFoundError(
                f"several series in {container}: {_describe(found)}; choose one with series=PATH (--series PATH)"
            )
    generic = [c for c in candidates if isinstance(c, TimeSeries) and c.neurodata_type not in _NOT_DEFAULT]
    if len(generic) == 1:
        return generic[0]
    if len(generic) > 1:
        raise SeriesNotFoundError(
            f"several 2-D time series and no DfOverF/Fluorescence container: {_describe(generic)}; choose one "
            "with series=PATH (--series PATH)"
        )
    units = [c for c in candidates if isinstance(c, Units)]
    if units:
        return units[0]
    raise SeriesNotFoundError(
        f"no default series: the file holds only {_describe(candidates)}; choose one with series=PATH (--series PATH)"
    )


def _match_series(candidates: list[Any], series: str) -> Any:
    query = series.strip().rstrip("/")
    if query.lower() in ("units", "/units"):
        units = [c for c in candidates if isinstance(c, Units)]
        if units:
            return units[0]
    exact = [c for c in candidates if object_path(c) == "/" + query.lstrip("/")]
    if exact:
        return exact[0]
    tail = [c for c in candidates if object_path(c).endswith("/" + query.lstrip("/"))]
    if len(tail) == 1:
        return tail[0]
    if len(tail) > 1:
        raise SeriesNotFoundError(f"series {series!r} is ambiguous: it matches {_describe(tail)}; give the full path")
    raise SeriesNotFoundError(f"no series {series!r} in the file; the analysable series are: {_describe(candidates)}")


def _text_columns(table: DynamicTable) -> list[str]:
    """Columns usable as condition labels: text or categorical, one value per row (``tags`` allowed)."""
    names = []
    for col in table.columns:
        if isinstance(col, VectorIndex):
            continue
        if col.name in ("start_time", "stop_time", "timestamp", "duration", "timeseries", "id"):
            continue
        if col.name == "tags" or isinstance(col, DynamicTableRegion) or _is_text(col.data) or _has_meanings(table, col):
            names.append(col.name)
    return names


def _is_text(data: Any) -> bool:
    dtype = getattr(data, "dtype", None)
    if dtype is not None:
        return dtype.kind in "OSU" or str(dtype).startswith("|O")
    return len(data) > 0 and isinstance(data[0], str | bytes)


def _has_meanings(table: DynamicTable, column: Any) -> bool:
    return any(m.target is column for m in (getattr(table, "meanings_tables", None) or []))


def _condition_candidates(nwbfile: NWBFile) -> Iterator[tuple[Any, str]]:
    for obj in nwbfile.all_children():
        if _is_own(obj):
            continue
        if isinstance(obj, TimeIntervals):
            yield obj, "intervals"
        elif isinstance(obj, EventsTable):
            yield obj, "events"
        elif (
            getattr(obj, "neurodata_type", None) in LEGACY_EVENT_TYPES
            and getattr(obj, "namespace", None) == "ndx-events"
        ):
            yield obj, "legacy-events"


def list_condition_tables(nwbfile: NWBFile) -> pd.DataFrame:
    """All objects of ``nwbfile`` that can label frames with conditions.

    Parameters
    ----------
    nwbfile : pynwb.NWBFile
        An open NWB file.

    Returns
    -------
    pandas.DataFrame
        One row per object, sorted by path, with columns ``path``, ``name``, ``neurodata_type``,
        ``kind`` (``"intervals"``, ``"events"`` for a core EventsTable, ``"legacy-events"`` for
        ndx-events objects), ``n_rows``, ``columns`` (the text columns usable as labels) and
        ``description``.
    """
    rows = []
    for obj, kind in _condition_candidates(nwbfile):
        if isinstance(obj, DynamicTable):
            n_rows, columns = len(obj), _text_columns(obj)
        else:  # legacy LabeledEvents / TTLs: a TimeSeries-like object
            n_rows, columns = len(obj.timestamps), ["labels"]
        rows.append((obj, {"kind": kind, "n_rows": n_rows, "columns": columns}))
    return _listing(rows, ["path", "name", "neurodata_type", "kind", "n_rows", "columns", "description"])


def find_condition_source(nwbfile: NWBFile, conditions: str) -> tuple[Any, str]:
    """The condition object named by ``conditions`` and its kind.

    Parameters
    ----------
    nwbfile : pynwb.NWBFile
        An open NWB file.
    conditions : str
        Path inside the file (``/intervals/epochs``) or a unique bare name (``epochs``).

    Returns
    -------
    (object, kind)
        ``kind`` is ``"intervals"``, ``"events"`` or ``"legacy-events"``.

    Raises
    ------
    ConditionError
        Unknown or ambiguous name (the message lists the candidates).
    """
    candidates = sorted(_condition_candidates(nwbfile), key=lambda c: object_path(c[0]))
    query = "/" + conditions.strip().strip("/")
    for obj, kind in candidates:
        if object_path(obj) == query:
            return obj, kind
    tail = [(obj, kind) for obj, kind in candidates if object_path(obj).endswith(query)]
    if len(tail) == 1:
        return tail[0]
    listed = ", ".join(object_path(obj) for obj, _ in (tail or candidates)) or "none"
    if tail:
        raise ConditionError(f"conditions {conditions!r} is ambiguous: it matches {listed}; give the full path")
    raise ConditionError(f"no intervals or events table {conditions!r} in the file; the condition tables are: {listed}")


def condition_intervals(obj: Any, kind: str, column: str | None = None) -> pd.DataFrame:
    """The labelled time intervals a condition object defines.

    Intervals tables give one interval per row. Events (a core ``EventsTable`` or legacy
    ndx-events objects) mark condition *starts*: each event's label holds from its time until
    its ``duration`` ends, or, without a duration, until the next event (the last one until the
    end of the recording).

    Parameters
    ----------
    obj : object
        An object returned by :func:`find_condition_source`.
    kind : {"intervals", "events", "legacy-events"}
        Its kind.
    column : str, optional
        Column holding the labels. Default: the table's only text column (``annotation`` and
        ``tags`` only when nothing else is there).

    Returns
    -------
    pandas.DataFrame
        Columns ``start``, ``stop`` (seconds) and ``label`` (str), sorted by start; rows without a
        label are left out.

    Raises
    ------
    ConditionError
        Unknown or missing label column.
    """
    if kind == "intervals":
        column = _label_column(obj, column)
        frame = pd.DataFrame(
            {
                "start": np.asarray(obj["start_time"].data[:], dtype=float),
                "stop": np.asarray(obj["stop_time"].data[:], dtype=float),
                "label": _column_labels(obj, column),
            }
        )
    else:
        times, durations, labels = _event_rows(obj, column)
        order = np.argsort(times, kind="stable")
        times, durations, labels = times[order], durations[order], [labels[i] for i in order]
        following = np.append(times[1:], np.inf)
        has_duration = np.isfinite(durations) & (durations > 0)
        frame = pd.DataFrame(
            {"start": times, "stop": np.where(has_duration, times + durations, following), "label": labels}
        )
    frame = frame[frame["label"].notna()].sort_values("start", kind="stable", ignore_index=True)
    return frame


def _event_rows(obj: Any, column: str | None) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """(times, durations, labels) of every event of a core or legacy events object."""
    if not isinstance(obj, DynamicTable):  # legacy LabeledEvents / TTLs
        if column not in (None, "labels"):
            raise ConditionError(f"{obj.neurodata_type} {object_path(obj)!r} has labels only; got column {column!r}")
        times = np.asarray(obj.timestamps[:], dtype=float)
        names = [_text(v) for v in obj.labels]
        labels = [names[int(v)] if 0 <= int(v) < len(names) and names[int(v)] else None for v in obj.data[:]]
        return times, np.full(times.shape, np.nan), labels
    if "timestamp" in obj.colnames:  # core EventsTable, ndx-events 0.3/0.4 EventsTable
        column = _label_column(obj, column)
        times = np.asarray(obj["timestamp"].data[:], dtype=float)
        durations = (
            np.asarray(obj["duration"].data[:], dtype=float)
            if "duration" in obj.colnames
            else np.full(times.shape, np.nan)
        )
        return times, durations, _column_labels(obj, column)
    if "event_times" in obj.colnames:  # ndx-events 0.2 AnnotatedEventsTable: one row per event type
        column = _label_column(obj, column or "label")
        per_row = _column_labels(obj, column)
        times, labels = [], []
        for row, label in enumerate(per_row):
            row_times = np.asarray(obj["event_times"][row], dtype=float)
            times.append(row_times)
            labels.extend([label] * row_times.size)
        all_times = np.concatenate(times) if times else np.zeros(0)
        return all_times, np.full(all_times.shape, np.nan), labels
    raise ConditionError(f"{obj.neurodata_type} {object_path(obj)!r} has no event times (timestamp/event_times)")


def _label_column(table: DynamicTable, column: str | None) -> str:
    text = _text_columns(table)
    if column is not None:
        if column not in table.colnames:
            raise ConditionError(
                f"{table.neurodata_type} {object_path(table)!r} has no column {column!r}; its columns are "
                f"{', '.join(table.colnames) or 'none'} (label columns: {', '.join(text) or 'none'})"
            )
        return column
    preferred = [c for c in text if c not in ("tags", "annotation")] or [c for c in text if c == "tags"] or text
    if len(preferred) == 1:
        return preferred[0]
    if not preferred:
        raise ConditionError(
            f"{table.neurodata_type} {object_path(table)!r} has no text column to take condition labels from; "
            f"its columns are {', '.join(table.colnames) or 'none'}"
        )
    raise ConditionError(
        f"{table.neurodata_type} {object_path(table)!r} has several label columns ({', '.join(preferred)}); "
        "choose one with condition_column=NAME (--condition-column NAME)"
    )


def _column_labels(table: DynamicTable, column: str) -> list[str | None]:
    """One label (or None) per row of ``table[column]``; ragged ``tags`` are joined with "+"."""
    col = table[column]
    if isinstance(col, VectorIndex):
        return [_text("+".join(_text(v) or "" for v in row)) for row in col[:]]
    if isinstance(col, DynamicTableRegion):
        target = col.table
        target_text = [c for c in _text_columns(target) if not isinstance(target[c], DynamicTableRegion)]
        rows = np.asarray(col.data[:], dtype=int)
        if target_text:
            names = _column_labels(target, target_text[0])
            return [names[r] for r in rows]
        return [str(target.id[r]) for r in rows]
    values = list(col.data[:])
    for meanings in getattr(table, "meanings_tables", None) or []:
        if meanings.target is col:
            lookup = {
                _text(v): _text(m) for v, m in zip(meanings["value"].data[:], meanings["meaning"].data[:], strict=True)
            }
            return [lookup.get(_text(v), _text(v)) for v in values]
    return [_text(v) for v in values]


def _text(value: Any) -> str | None:
    """A label as text; None for missing (None, NaN, empty)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    text = str(value)
    return text or None
