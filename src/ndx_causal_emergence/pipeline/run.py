"""The main job: read a recording, fit one multiscale model per condition, measure, analyse dynamics."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from .config import AnalysisConfig
from .provenance import now_iso, provenance_fields
from .results import ConditionResult, Results

Progress = Callable[[str], None]

_SEED_COLUMNS = (
    "effective_information",
    "dimension_averaged_ei",
    "noise_term",
    "jacobian_term",
    "causal_emergence",
    "causal_power",
    "nmse",
)


def analysis_name(condition: str) -> str:
    """The NWB name of a condition's analysis: ``causal_emergence_<condition>`` (safe characters)."""
    return "causal_emergence_" + (re.sub(r"[^A-Za-z0-9_.-]+", "_", condition).strip("_") or "all")


def _combine_seeds(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Mean over seeds, plus sd and 95 % interval of J and Delta J when there are several seeds."""
    from ..measures.uncertainty import summarize

    first = tables[0]
    if len(tables) == 1:
        return first.copy()
    out = first[["scale", "dimension"]].copy()
    numeric = [c for c in first.columns if c not in ("scale", "dimension")]
    for col in numeric:
        out[col] = np.mean([t[col].to_numpy(dtype=float) for t in tables], axis=0)
    for col in ("dimension_averaged_ei", "causal_emergence"):
        stats = [summarize([t[col].iloc[i] for t in tables]) for i in range(len(first))]
        for key in ("sd", "ci_low", "ci_high"):
            out[f"{col}_{key}"] = [s[key] for s in stats]
    return out


def _surrogate_p_values(
    config: AnalysisConfig, prepared: Any, observed: pd.DataFrame, progress: Progress | None
) -> np.ndarray:
    """P-value of Delta J per scale against refits on circularly shifted channels (docs/method.md §3.4)."""
    from ..measures.uncertainty import circular_shift_surrogate, surrogate_p_value
    from ..models import MultiscaleNISPlus

    rng = np.random.default_rng(config.seed + 10_000)
    null = []
    for i in range(config.n_surrogates):
        if progress:
            progress(f"surrogate {i + 1}/{config.n_surrogates}")
        train = [circular_shift_surrogate(seg, rng) for seg in prepared.train]
        validation = [circular_shift_surrogate(seg, rng) for seg in prepared.validation]
        test = [circular_shift_surrogate(seg, rng) for seg in prepared.test]
        model = MultiscaleNISPlus(**config.model_kwargs(config.seed)).fit(train, validation=validation)
        null.append(model.emergence_table(test, n_samples=config.n_samples, seed=config.seed)["causal_emergence"])
    null_arr = np.asarray(null)
    return np.array(
        [surrogate_p_value(obs, null_arr[:, k]) for k, obs in enumerate(observed["causal_emergence"].to_numpy())]
    )


def _macro_variables(model: Any, prepared: Any) -> list[Any]:
    """Encode every frame used (train, validation, test) in time order; one DataArray per scale."""
    import xarray as xr

    blocks = list(
        zip(
            prepared.train + prepared.validation + prepared.test,
            prepared.timestamps["train"] + prepared.timestamps["validation"] + prepared.timestamps["test"],
            strict=True,
        )
    )
    blocks.sort(key=lambda b: float(b[1][0]))
    per_scale: list[list[np.ndarray]] = []
    times = []
    for data, stamps in blocks:
        for k, values in enumerate(model.encode(data)):
            if len(per_scale) <= k:
                per_scale.append([])
            per_scale[k].append(values)
        times.append(stamps)
    time = np.concatenate(times)
    out = []
    for k, parts in enumerate(per_scale):
        values = np.concatenate(parts)
        out.append(
            xr.DataArray(
                values,
                dims=("time", "variable"),
                coords={"time": time, "variable": np.arange(values.shape[1])},
                name=f"scale{k}",
                attrs={"scale": k, "dimension": values.shape[1]},
            )
        )
    return out


def _joined(segments: Sequence[np.ndarray], times: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Segments stacked in one array with a NaN row between them (a missing frame breaks transitions)."""
    rows, stamps = [], []
    for i, (seg, t) in enumerate(zip(segments, times, strict=True)):
        if i:
            rows.append(np.full((1, seg.shape[1]), np.nan, dtype=seg.dtype))
            stamps.append([(stamps[-1][-1] + t[0]) / 2.0])
        rows.append(seg)
        stamps.append(np.asarray(t, dtype=float))
    return np.concatenate(rows), np.concatenate(stamps)


def analyze_condition(
    recording: Any, condition: str | None, config: AnalysisConfig, *, progress: Progress | None = None
) -> ConditionResult:
    """Fit, measure and analyse one condition of a recording (``None``: all frames)."""
    from ..data.prepare import prepare
    from ..dynamics.analysis import analyze_dynamics
    from ..models import MultiscaleNISPlus

    label = condition or "all"
    prepared = prepare(recording, condition=condition)
    MultiscaleNISPlus(**config.model_kwargs(config.seeds[0])).scales_for(prepared.n_features)  # fail before any fit
    models, tables = [], []
    for seed in config.seeds:
        if progress:
            progress(f"{label}: fitting seed {seed}")
        model = MultiscaleNISPlus(**config.model_kwargs(seed)).fit(prepared.train, validation=prepared.validation)
        models.append(model)
        tables.append(model.emergence_table(prepared.test, n_samples=config.n_samples, seed=seed))
    emergence = _combine_seeds(tables)
    if config.n_surrogates:
        emergence["causal_emergence_p_value"] = _surrogate_p_values(config, prepared, emergence, progress)
    from ..measures import emergent_complexity

    ec = emergent_complexity(emergence["dimension_averaged_ei"].to_numpy())
    if progress:
        progress(f"{label}: dynamics analysis")
    train, _ = _joined(prepared.train, prepared.timestamps["train"])
    test, test_times = _joined(prepared.test, prepared.timestamps["test"])
    dyn = analyze_dynamics(models[0], train, test, timestamps_test=test_times, random_state=config.seed)
    return ConditionResult(
        condition=label,
        emergence=emergence,
        emergent_complexity=float(ec.bits),
        emergent_complexity_normalized=float(ec.normalized),
        intervals=np.asarray(prepared.intervals, dtype=float).reshape(-1, 2),
        seeds=config.seeds,
        macro_variables=_macro_variables(models[0], prepared),
        models=models,
        fixed_points=dyn.fixed_points,
        transitions=dyn.transitions,
        attribution=_with_channel_ids(dyn.attribution, prepared),
        diagnostics=dyn.diagnostics,
        dropped_channels=list(prepared.dropped),
        parameters=config.to_dict(),
        analysis_name=analysis_name(label),
    )


def _with_channel_ids(attribution: pd.DataFrame | None, prepared: Any) -> pd.DataFrame | None:
    """Map the model's channel index to the recording's channel index (dropped channels removed)."""
    if attribution is None:
        return None
    out = attribution.copy()
    kept = np.asarray(prepared.kept_channels)
    out["channel"] = kept[out["channel"].to_numpy(dtype=int)]
    return out


def analyze(
    source: Any,
    series: str | None = None,
    conditions: str | None = None,
    *,
    condition_column: str | None = None,
    config: AnalysisConfig | None = None,
    only: Sequence[str] | None = None,
    cache_dir: str | None = None,
    command: str | None = None,
    progress: Progress | None = None,
    **params: Any,
) -> Results:
    """Analyse one source: one multiscale NIS+ fit (per seed) and all measures per condition.

    Parameters
    ----------
    source : str, Path or NWBFile
        Local path, URL or DANDI reference (``DANDI:000123/<version>/<path>``).
    series : str, optional
        Path of the series to analyse (default: chosen automatically, dF/F first).
    conditions : str, optional
        Intervals or events table with per-frame condition labels (with ``condition_column``).
    config : AnalysisConfig, optional
        All parameters; otherwise built from ``series``, ``conditions`` and ``**params``.
    only : sequence of str, optional
        Analyse only these condition labels.
    progress : callable, optional
        Called with a short message at each step.

    Returns
    -------
    Results
        Per-condition tables, macro variables and fitted models; ``.write(path)`` stores them in NWB.
    """
    from ..nwb.read import open_nwb, read_recording

    if config is None:
        config = AnalysisConfig(series=series, conditions=conditions, condition_column=condition_column, **params)
    start = now_iso()
    with open_nwb(source, cache_dir=cache_dir) as opened:
        recording = read_recording(
            opened,
            series=config.series,
            conditions=config.conditions,
            condition_column=config.condition_column,
            bin_width=config.bin_width,
        )
        series_obj = opened.nwbfile.objects[recording.series_object_id]
        roi_table = getattr(getattr(series_obj, "rois", None), "table", None)
        if series_obj.neurodata_type == "Units":
            roi_table = series_obj
        info = opened.info
    labels = recording.conditions() if recording.labels is not None else [None]
    if only:
        missing = sorted(set(only) - {str(x) for x in labels})
        if missing:
            raise DataError(f"conditions {missing} not found; the recording has {[str(x) for x in labels]}.")
        labels = [x for x in labels if str(x) in only]
    results = {}
    for label in labels:
        res = analyze_condition(recording, label, config, progress=progress)
        results[res.condition] = res
    end = now_iso()
    device = str(results[next(iter(results))].models[0].device_) if results else "cpu"
    for res in results.values():
        res.provenance = provenance_fields(
            source=info,
            series_path=recording.series_path,
            series_object_id=recording.series_object_id,
            device=device,
            start_time=start,
            end_time=end,
            command=command,
        )
    return Results(
        conditions=results,
        config=config,
        source=info,
        series_path=recording.series_path,
        series_object_id=recording.series_object_id,
        roi_table_object_id=roi_table.object_id if roi_table is not None else None,
        roi_indices=list(np.asarray(recording.roi_indices)) if recording.roi_indices is not None else None,
    )
