"""Write analysis results into NWB: a new file (export) or an atomic in-place append.

HDF5 gives no crash consistency (NWB-NOTES 7): a process killed mid-write leaves a broken or
bloated file. So nothing here writes to the target directly. A new file is written to a
temporary file in the target's folder, flushed, fsynced and renamed over the target; an
in-place append copies the original to such a temporary file, appends there, and renames.
At every moment the target is either the original or the complete result.

This module takes plain data (:class:`AnalysisContent`: DataFrames, arrays, JSON); it never
computes anything, and it does not import the pipeline.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hdmf.common import DynamicTable, VectorData
from pynwb import NWBHDF5IO, NWBFile, ProcessingModule, TimeSeries, get_type_map
from pynwb.event import EventsTable

from ..errors import OutputError
from ..safety.locks import write_lock
from .content import AnalysisContent, AppliedContent, InputLinks, StoredModel
from .types import (
    NAMESPACE,
    AnalysisProvenance,
    AppliedModelAnalysis,
    AttributionTable,
    CausalEmergenceAnalysis,
    ConditionComparisonTable,
    EmergenceTable,
    FixedPointTable,
    LearnedDynamicsModel,
    MacroVariableSeries,
)

# ---------------------------------------------------------------------------------------------
# building containers


def _filled_table(cls: type, df: pd.DataFrame, **kwargs: Any) -> Any:
    """A table of type ``cls`` with the rows of ``df`` (the columns its schema defines, cast to their dtypes)."""
    table = cls(**kwargs)
    spec = {c["name"]: c for c in cls.__columns__}
    missing = [name for name, col in spec.items() if col["required"] and name not in df.columns]
    if missing:
        raise ValueError(f"{cls.__name__} lacks required columns {missing}")
    casts = {"int32": int, "bool": bool, "text": str}
    dtypes = {c.name: c.dtype for c in get_type_map().namespace_catalog.get_spec(NAMESPACE, cls.__name__).datasets}
    df = df[[c for c in spec if c in df.columns]]  # columns the schema defines, in its order
    for row in df.to_dict("records"):
        table.add_row(**{k: casts.get(dtypes.get(k), float)(v) for k, v in row.items()})
    return table


def _emergence_table(df: pd.DataFrame) -> EmergenceTable:
    return _filled_table(EmergenceTable, df, name="emergence",
                         description="EI and causal emergence per scale, in nats.")  # fmt: skip


def _comparison_table(df: pd.DataFrame) -> ConditionComparisonTable:
    return _filled_table(ConditionComparisonTable, df, name="comparisons",
                         description="Differences of J and Delta J from the other conditions, in nats.")  # fmt: skip


def _fixed_point_table(df: pd.DataFrame) -> FixedPointTable:
    table = FixedPointTable(name="fixed_points", description="Fixed points of the learned macro dynamics F_k.")
    for row in df.to_dict("records"):
        values = dict(
            scale=int(row["scale"]),
            location=[float(v) for v in row["location"]],
            eigenvalues_real=[float(v) for v in row["eigenvalues_real"]],
            eigenvalues_imag=[float(v) for v in row["eigenvalues_imag"]],
            stability=str(row["stability"]),
            in_support=bool(row["in_support"]),
        )
        if "source" in df.columns:
            values["source"] = str(row["source"])
        if "agrees" in df.columns:  # nullable boolean: NaN where not compared
            values["agrees"] = np.nan if pd.isna(row["agrees"]) else float(bool(row["agrees"]))
        table.add_row(**values)
    return table


def _attribution_table(df: pd.DataFrame, roi_table: Any, roi_indices: Sequence[int] | None) -> AttributionTable:
    with_roi = roi_table is not None and roi_indices is not None
    table = AttributionTable(
        name="attribution",
        description="Integrated-gradient attribution of each scale's macro variables to the input channels.",
        target_tables={"roi": roi_table} if with_roi else None,
    )
    for row in df.to_dict("records"):
        values = dict(
            scale=int(row["scale"]),
            channel=int(row["channel"]),
            importance=float(row["importance"]),
            attribution=[float(v) for v in row["attribution"]],
        )
        if with_roi:
            values["roi"] = int(roi_indices[int(row["channel"])])
        table.add_row(**values)
    return table


def _transitions_table(df: pd.DataFrame) -> EventsTable:
    table = EventsTable(
        name="state_transitions",
        description="Transitions between metastable states of the top-scale macro variable.",
        source_description="Basins of the stable fixed points of the top-scale dynamics, encoded trajectory.",
    )
    table.add_column(name="from_state", description="Index of the metastable state left.")
    table.add_column(name="to_state", description="Index of the metastable state entered.")
    table.add_column(name="dwell_time", description="Time spent in the state left, in seconds.")
    for row in df.to_dict("records"):
        table.add_row(
            timestamp=float(row["timestamp"]),
            from_state=int(row["from_state"]),
            to_state=int(row["to_state"]),
            dwell_time=float(row["dwell_time"]),
        )
    return table


#: What the columns of the ``diagnostics`` (:func:`~ndx_causal_emergence.dynamics.dynamics_diagnostics`) and
#: ``dropped_channels`` tables mean.
COLUMN_DESCRIPTIONS = {
    "scale": "Index of the scale (0 = micro level).",
    "dimension": "Number of macro variables of the scale.",
    "noise_to_drift_ratio": "Mean residual sd over mean drift |F(u) - u| of one step; above 1: noise dominates.",
    "occupied_extent": "5-95 % range of the held-out trajectory, mean over dimensions (normalised coordinates).",
    "occupancy_entropy": "Entropy of the per-dimension occupancy histograms over ln(bins), mean over dimensions.",
    "autocorrelation_time": "Lag at which the autocorrelation falls below 1/e, mean over dimensions, in seconds.",
    "channel": "Id of the channel (ROI, unit or column id of the input series).",
    "reason": "Why the channel was left out.",
}


def _column_description(name: str) -> str:
    if name in COLUMN_DESCRIPTIONS:
        return COLUMN_DESCRIPTIONS[name]
    for prefix, what in (("n_fixed_points_", "Fixed points in the data support"), ("n_stable_", "Stable ones")):
        if name.startswith(prefix):
            return f"{what}, source '{name.removeprefix(prefix)}' (NaN: not searched)."
    return name.replace("_", " ")


def _plain_table(name: str, description: str, df: pd.DataFrame) -> DynamicTable:
    """A ``DynamicTable`` with the columns of ``df``, in its order and with its dtypes (text as str)."""
    columns = []
    for col in df.columns:
        values = df[col].to_numpy()
        data = [str(v) for v in values] if values.dtype == object else values
        columns.append(VectorData(name=str(col), description=_column_description(str(col)), data=data))
    return DynamicTable(name=name, description=description, columns=columns)


def _dropped_table(dropped: Sequence[tuple[Any, str]]) -> DynamicTable:
    frame = pd.DataFrame({"channel": [c for c, _ in dropped], "reason": [r for _, r in dropped]})
    return _plain_table("dropped_channels", "Input channels left out of the analysis, and why.", frame)


def _time_fields(timestamps: np.ndarray) -> dict[str, Any]:
    """``starting_time`` and ``rate`` when the timestamps are regular (one step to 1e-9 s, as nwbinspector tests)."""
    t = np.asarray(timestamps, dtype=np.float64)
    steps = np.unique(np.diff(t).round(decimals=9))
    if len(t) > 2 and len(steps) == 1 and steps[0] > 0:
        return {"starting_time": float(t[0]), "rate": float(1.0 / steps[0])}
    return {"timestamps": t}


def _macro_series(scale: int, data: np.ndarray, timestamps: np.ndarray, source: Any) -> MacroVariableSeries:
    data = np.asarray(data, dtype=np.float32)
    return MacroVariableSeries(
        name=f"scale{scale}",
        description=f"Macro variables of scale {scale} ({data.shape[1]} variables), normalised latent coordinates.",
        data=data,
        unit="a.u.",
        **_time_fields(timestamps),
        scale=int(scale),
        dimension=int(data.shape[1]),
        source_series=source if isinstance(source, TimeSeries) else None,
    )


def _stored_model(model: StoredModel) -> LearnedDynamicsModel:
    return LearnedDynamicsModel.from_state_dict(
        model.tensors,
        name=model.name,
        description=model.description,
        model_class=model.model_class,
        architecture=model.architecture,
        framework=model.framework,
        framework_version=model.framework_version,
    )


#: The processing module of each modality's results, for series outside any module.
_MODULES = {
    "Units": "ecephys",
    "ElectricalSeries": "ecephys",
    "TwoPhotonSeries": "ophys",
    "OnePhotonSeries": "ophys",
    "RoiResponseSeries": "ophys",
}
_MODULE_DESCRIPTIONS = {
    "ecephys": "Processed extracellular electrophysiology data.",
    "ophys": "Processed optical physiology data.",
    "misc": "Processed data.",
}


def results_module(nwbfile: NWBFile, series_object_id: str) -> str:
    """The name of the processing module the results of a series go to: the series' own module, else by type."""
    parent = nwbfile.objects[series_object_id]
    while parent is not None:
        if isinstance(parent, ProcessingModule):
            return parent.name
        parent = parent.parent
    return _MODULES.get(nwbfile.objects[series_object_id].neurodata_type, "misc")


def _module_for(nwbfile: NWBFile, series: Any) -> ProcessingModule:
    """The processing module of the input's modality (:func:`results_module`), created if absent."""
    name = results_module(nwbfile, series.object_id)
    if name in nwbfile.processing:
        return nwbfile.processing[name]
    return nwbfile.create_processing_module(name=name, description=_MODULE_DESCRIPTIONS[name])


def _analysis(content: AnalysisContent, series: Any) -> CausalEmergenceAnalysis:
    return CausalEmergenceAnalysis(
        name=content.name,
        condition=content.condition,
        method=content.method,
        parameters=content.parameters,
        emergent_complexity=float(content.emergent_complexity),
        emergent_complexity_normalized=float(content.emergent_complexity_normalized),
        intervals=np.asarray(content.intervals, dtype=np.float64).reshape(-1, 2),
        seeds=np.asarray(content.seeds, dtype=np.int64),
        macro_variable_series=[_macro_series(k, d, t, series) for k, d, t in content.macro_variables],
        learned_dynamics_models=[_stored_model(m) for m in content.models],
        emergence_table=_emergence_table(content.emergence),
        fixed_point_table=_fixed_point_table(content.fixed_points) if content.fixed_points is not None else None,
        condition_comparison_table=_comparison_table(content.comparisons)
        if content.comparisons is not None and len(content.comparisons)
        else None,
        state_transitions=_transitions_table(content.transitions)
        if content.transitions is not None and len(content.transitions)
        else None,
        diagnostics=_plain_table("diagnostics", "Diagnostics of the macro dynamics per scale.", content.diagnostics)
        if content.diagnostics is not None
        else None,
        dropped_channels=_dropped_table(content.dropped_channels) if content.dropped_channels else None,
        analysis_provenance=AnalysisProvenance(name="provenance", **content.provenance),
    )


def _applied(content: AppliedContent, series: Any) -> AppliedModelAnalysis:
    return AppliedModelAnalysis(
        name=content.name,
        model_condition=content.model_condition,
        macro_variable_series=[_macro_series(k, d, t, series) for k, d, t in content.macro_variables],
        analysis_provenance=AnalysisProvenance(name="provenance", **content.provenance),
    )


def add_analyses(
    nwbfile: NWBFile,
    contents: Sequence[AnalysisContent | AppliedContent],
    links: InputLinks,
    *,
    overwrite: bool = False,
) -> list[CausalEmergenceAnalysis | AppliedModelAnalysis]:
    """Add one ``CausalEmergenceAnalysis`` (or ``AppliedModelAnalysis``) per content to the processing module of
    the input's modality.

    Raises :class:`~ndx_causal_emergence.errors.OutputError` when an analysis of that name exists
    and ``overwrite`` is False (an existing object in a file cannot be replaced in place; write a new
    file instead).
    """
    try:
        series = nwbfile.objects[links.series_object_id]
    except KeyError:
        raise OutputError(f"the input series (object_id {links.series_object_id}) is not in the file.") from None
    roi_table = nwbfile.objects.get(links.roi_table_object_id) if links.roi_table_object_id else None
    module = _module_for(nwbfile, series)
    added = []
    for content in contents:
        if content.name in module.data_interfaces:
            if not overwrite:
                raise OutputError(
                    f"an analysis named '{content.name}' already exists in processing/{module.name}; "
                    "choose another name or write to a new file."
                )
            module.data_interfaces.pop(content.name)
        analysis = _applied(content, series) if isinstance(content, AppliedContent) else _analysis(content, series)
        module.add(analysis)
        if getattr(content, "attribution", None) is not None:
            # set once the analysis sits in the file, so the ROI region and its table share an ancestor
            analysis.attribution_table = _attribution_table(content.attribution, roi_table, links.roi_indices)
        added.append(analysis)
    return added


# ---------------------------------------------------------------------------------------------
# safe file writing


def _output_error(err: OSError, target: Path) -> OutputError:
    if err.errno == errno.ENOSPC:
        return OutputError(f"no space left on the device while writing {target}; nothing was changed.")
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError(f"cannot write {target}: permission denied (read-only?); nothing was changed.")
    if err.errno == errno.EAGAIN or "unable to lock" in str(err).lower() or "lock" in str(err).lower():
        return OutputError(f"{target} is locked by another process (HDF5 file lock); close it and retry.")
    return OutputError(f"cannot write {target}: {err}; nothing was changed.")


def _umask() -> int:
    """The process' umask, read without changing it (Linux), else by setting and restoring it."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _new_file_mode(target: Path) -> int:
    """The mode of a file written over ``target``: its current mode if it exists, else 0666 less the umask."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_target(target: str | os.PathLike, *, copy_from: str | os.PathLike | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success fsync it and rename it over ``target``.

    With ``copy_from``, the temporary file starts as a copy of that file. The file gets the mode
    of the ``target`` it replaces, or ``0666`` less the umask when new (so colleagues read what
    the umask lets them read). A dangling symbolic link as ``target`` is refused. On any error
    the temporary file is removed and ``target`` is untouched.
    """
    if Path(target).is_symlink() and not Path(target).exists():
        raise OutputError(f"{target} is a symbolic link to nothing; refusing to follow it (give a regular file)")
    target = Path(target).resolve()
    folder = target.parent
    if not folder.is_dir():
        raise OutputError(f"the folder of {target} does not exist.")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"cannot write into {folder}: permission denied (read-only?); nothing was changed.")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp.nwb", dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if copy_from is not None:
            shutil.copyfile(copy_from, tmp)
        yield tmp
        os.chmod(tmp, _new_file_mode(target))
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OutputError):
            raise
        raise _output_error(err, target) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def export_with_results(
    src_io: NWBHDF5IO,
    nwbfile: NWBFile,
    contents: Sequence[AnalysisContent | AppliedContent],
    links: InputLinks,
    out_path: str | os.PathLike,
    *,
    overwrite: bool = False,
) -> Path:
    """Write a new file ``out_path`` holding the input's content plus the results (NWB export).

    Data are copied, never linked (``link_data=False``), so the output stands alone and exporting
    from a streamed input is safe (NWB-NOTES 4). The input is not modified.
    """
    out_path = Path(out_path)
    _check_new(out_path, overwrite)
    add_analyses(nwbfile, contents, links)
    with write_lock(out_path):
        _check_new(out_path, overwrite)  # again under the lock: another run may have written it meanwhile
        with atomic_target(out_path) as tmp, NWBHDF5IO(str(tmp), "w") as out_io:
            out_io.export(src_io=src_io, nwbfile=nwbfile, write_args={"link_data": False})
    return out_path


def _check_new(out_path: Path, overwrite: bool) -> None:
    if (out_path.exists() or out_path.is_symlink()) and not overwrite:
        raise OutputError(f"{out_path} exists; pass overwrite=True (--overwrite) or choose another --out.")


def copy_with_results(
    source_path: str | os.PathLike,
    out_path: str | os.PathLike,
    contents: Sequence[AnalysisContent | AppliedContent],
    links: InputLinks,
    *,
    overwrite: bool = False,
) -> Path:
    """Write ``out_path`` = a byte copy of the local file ``source_path`` plus the results appended.

    The copy keeps the input exactly as it was (no re-encoding through export, which some older
    files do not survive); the append happens in a temporary file beside ``out_path`` that is
    fsynced and renamed over it. With ``out_path == source_path`` this is an atomic in-place append.
    """
    source_path, out_path = Path(source_path), Path(out_path)
    if not source_path.is_file():
        raise OutputError(f"{source_path} is not a local file.")
    _check_new(out_path, overwrite)
    with write_lock(out_path):  # in place (out_path == source_path) the lock also covers the copy of the input
        _check_new(out_path, overwrite)
        try:
            # fails early if another process holds the file (HDF5 locking)
            with NWBHDF5IO(str(source_path), "r"):
                pass
        except OSError as err:
            raise _output_error(err, source_path) from None
        with atomic_target(out_path, copy_from=source_path) as tmp:
            with NWBHDF5IO(str(tmp), "a", load_namespaces=False) as io:
                nwbfile = io.read()
                add_analyses(nwbfile, contents, links)
                io.write(nwbfile)
    return out_path


def append_in_place(path: str | os.PathLike, contents: Sequence[AnalysisContent], links: InputLinks) -> Path:
    """Append the results to the local file ``path`` atomically (copy, append, fsync, rename)."""
    if not Path(path).is_file():
        raise OutputError(f"--in-place needs a local file; {path} is not one.")
    return copy_with_results(path, path, contents, links, overwrite=True)
