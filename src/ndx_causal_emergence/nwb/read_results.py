"""Read the analyses of an NWB file back into the plain data the writer takes (:class:`~.content.AnalysisContent`).

The inverse of :func:`~ndx_causal_emergence.nwb.write.add_analyses`: each ``CausalEmergenceAnalysis``
becomes an ``AnalysisContent`` with its tables as DataFrames (integer columns as ``int64``, as
pandas builds them), its macro variables as arrays, its models as ``{name: array}`` tensors with
their JSON architecture, its diagnostics and dropped channels, the processing module it sits in and
the input objects it links to. No torch and no pipeline: rebuilding models and results is the
pipeline's job (:func:`~ndx_causal_emergence.read_results`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SourceError
from .content import AnalysisContent, StoredModel

__all__ = ["read_analyses"]


def read_analyses(
    path: str | Path, *, load_models: bool = True, load_macro_variables: bool = True
) -> list[AnalysisContent]:
    """Every ``CausalEmergenceAnalysis`` of the NWB file ``path``, in the order the file lists them.

    ``load_macro_variables=False`` leaves ``macro_variables`` empty (they are the largest part; a
    summary needs none); ``load_models=False`` leaves each model's ``tensors`` empty (its name,
    architecture and object id are read). Files written before diagnostics and dropped channels
    were stored give ``diagnostics=None`` and ``dropped_channels=[]``.

    Raises
    ------
    SourceError
        ``path`` is not a file, or not one NWB can read.
    """
    from pynwb import NWBHDF5IO

    from .read import input_links
    from .types import CausalEmergenceAnalysis

    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path} does not exist.")
    try:
        io = NWBHDF5IO(str(path), "r", load_namespaces=True)
        nwbfile = io.read()
    except Exception as err:  # h5py/hdmf raise many kinds for a bad file
        raise SourceError(f"cannot read {path} as NWB: {err}") from None
    out = []
    with io:
        for obj in nwbfile.objects.values():
            if not isinstance(obj, CausalEmergenceAnalysis):
                continue
            provenance = _provenance(obj.analysis_provenance)
            series_id = provenance.get("input_object_id", "")
            out.append(
                AnalysisContent(
                    name=obj.name,
                    condition=obj.condition,
                    method=obj.method,
                    parameters=obj.parameters,
                    seeds=[int(s) for s in obj.seeds[:]],
                    intervals=np.asarray(obj.intervals[:], dtype=np.float64).reshape(-1, 2),
                    emergent_complexity=float(obj.emergent_complexity),
                    emergent_complexity_normalized=float(obj.emergent_complexity_normalized),
                    emergence=_frame(obj.emergence_table),
                    provenance=provenance,
                    macro_variables=_macro_variables(obj) if load_macro_variables else [],
                    models=[_model(m, load_models) for m in obj.learned_dynamics_models.values()],
                    fixed_points=_fixed_points(obj.fixed_point_table),
                    attribution=_attribution(obj.attribution_table),
                    transitions=_frame(obj.state_transitions),
                    comparisons=_frame(obj.condition_comparison_table),
                    diagnostics=_frame(obj.diagnostics),
                    dropped_channels=_dropped(obj.dropped_channels),
                    module=obj.parent.name if obj.parent is not None else "",
                    links=input_links(nwbfile, series_id),
                )
            )
    return out


def _frame(table: Any, exclude: frozenset[str] = frozenset()) -> pd.DataFrame | None:
    """A table as a DataFrame with a plain index, as the pipeline builds it: integer columns as ``int64``, the rows
    of ragged columns as lists; without the columns ``exclude``."""
    if table is None:
        return None
    df = table.to_dataframe(exclude=set(exclude) & set(table.colnames)).reset_index(drop=True)
    for col in df.columns:
        if pd.api.types.is_integer_dtype(df[col].dtype) and not pd.api.types.is_bool_dtype(df[col].dtype):
            df[col] = df[col].astype(np.int64)
        elif df[col].dtype == object and len(df) and isinstance(df[col].iloc[0], np.ndarray):
            df[col] = [v.tolist() for v in df[col]]
    return df


def _fixed_points(table: Any) -> pd.DataFrame | None:
    """The fixed points; ``agrees`` back to a nullable boolean (stored as 1, 0 or NaN)."""
    df = _frame(table)
    if df is not None and "agrees" in df:
        df["agrees"] = pd.array([pd.NA if np.isnan(v) else bool(v) for v in df["agrees"]], dtype="boolean")
    return df


def _attribution(table: Any) -> pd.DataFrame | None:
    """The attribution rows without the ``roi`` link, which is not read: the pipeline derives it from the rows of the
    series' own ROI table (:func:`~.read.input_links`), so a damaged link cannot point outside that table."""
    return _frame(table, exclude=frozenset({"roi"}))


def _dropped(table: Any) -> list[tuple[Any, str]]:
    if table is None:
        return []
    channels = [c.item() if isinstance(c, np.generic) else c for c in table["channel"].data[:]]
    return [(c, str(r)) for c, r in zip(channels, table["reason"].data[:], strict=True)]


def _macro_variables(analysis: Any) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """``(scale, data, timestamps)`` per stored scale, each checked against the memory budget before reading."""
    from ..safety.memory import check_allocation

    series = sorted(analysis.macro_variable_series.values(), key=lambda s: s.scale)
    for s in series:
        check_allocation(
            8.0 * np.prod(s.data.shape),
            f"macro variables {s.name} of {analysis.name} {s.data.shape}",
            remedy="report without --plots or --html",
        )
    return [(int(s.scale), np.asarray(s.data[:]), np.asarray(s.get_timestamps())) for s in series]


def _model(stored: Any, load_tensors: bool) -> StoredModel:
    return StoredModel(
        name=stored.name,
        description=stored.description,
        model_class=stored.model_class,
        architecture=stored.architecture,
        tensors=stored.state_dict() if load_tensors else {},
        framework=stored.framework,
        framework_version=stored.framework_version or "",
        object_id=stored.object_id,
    )


def _provenance(prov: Any) -> dict[str, str]:
    """The attributes of an ``AnalysisProvenance`` that are set, by the names the schema gives them."""
    from pynwb import get_type_map

    from .types import NAMESPACE

    spec = get_type_map().namespace_catalog.get_spec(NAMESPACE, "AnalysisProvenance")
    names = [a.name for a in spec.attributes if a.name not in ("namespace", "neurodata_type", "object_id")]
    return {k: getattr(prov, k) for k in names if getattr(prov, k, None) is not None}
