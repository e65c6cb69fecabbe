"""The main job: read a recording, fit one multiscale model per condition, measure, analyse dynamics."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, InputError
from .config import AnalysisConfig
from .provenance import now_iso, provenance_fields
from .results import ConditionResult, Results, macro_variable_arrays


def analysis_name(condition: str) -> str:
    """The NWB name of a condition's analysis: ``causal_emergence_<condition>`` (safe characters)."""
    return "causal_emergence_" + (re.sub(r"[^A-Za-z0-9_.-]+", "_", condition).strip("_") or "all")


def too_few_channels(detail: str) -> DataError:
    """The error for a recording or condition with fewer than 2 usable channels (single and batch mode alike)."""
    return DataError(
        f"{detail}; causal emergence compares coarser scales with the micro scale, so it needs at least "
        "2 channels (units or ROIs) that vary; nothing to analyse"
    )


def check_analysis_names(labels: Sequence[str | None]) -> None:
    """Raise :class:`InputError` if two condition labels map to one analysis name (``"x y"`` and ``"x/y"``)."""
    seen: dict[str, str | None] = {}
    for label in labels:
        name = analysis_name(label or "all")
        if name in seen:
            raise InputError(
                f"condition labels {seen[name]!r} and {label!r} both map to the analysis name {name!r}; "
                "rename one of them in the conditions table"
            )
        seen[name] = label


def _combine_seeds(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Mean over seeds (``fit_ok``: every seed), plus the sd of J and Delta J when there are several seeds."""
    first = tables[0]
    if len(tables) == 1:
        return first.copy()
    out = first[["scale", "dimension"]].copy()
    for col in (c for c in first.columns if c not in ("scale", "dimension")):
        values = np.array([t[col].to_numpy() for t in tables])
        out[col] = values.all(axis=0) if col == "fit_ok" else values.astype(float).mean(axis=0)
    for col in ("dimension_averaged_ei", "causal_emergence"):
        out[f"{col}_sd"] = np.array([t[col].to_numpy(dtype=float) for t in tables]).std(axis=0, ddof=1)
    return out


@dataclass
class ConditionMeasurement:
    """The fits of one condition and what its statistics are computed from.

    Attributes
    ----------
    emergence : DataFrame
        The scale table (mean over seeds) with intervals, p-values and ``significant``.
    models : list
        One fitted model per seed.
    resampled_j : ndarray, shape (n_seeds * n_bootstrap, n_scales)
        Resampled J, pooled over seeds.
    block_j : ndarray, shape (n_blocks, n_scales)
        J per held-out block, mean over seeds.
    """

    emergence: pd.DataFrame
    models: list[Any]
    resampled_j: np.ndarray
    block_j: np.ndarray


def measure_condition(prepared: Any, config: AnalysisConfig) -> ConditionMeasurement:
    """Fit one model per seed on the training block and measure every scale on the test block.

    Intervals and p-values come from moving-block bootstraps of the test pairs (one per seed,
    pooled): a scale shows ``significant`` emergence when its map and the micro map both pass
    the fit-quality gate and Holm's adjusted p-value of ``ΔJ > config.min_effect`` is below
    ``config.alpha``. Seeds are fitted at the same time where the job has the cores
    (:func:`_seeds_at_once`), with the numbers they give one after the other.
    """
    from ..measures.resampling import emergence_significance
    from ..runtime.threads import map_fits

    per_seed = map_fits(lambda seed: _fit_and_measure(prepared, config, seed), config.seeds,
                        _seeds_at_once(prepared, config))  # fmt: skip
    models, tables, draws, blocks = (list(column) for column in zip(*per_seed, strict=True))
    emergence = _combine_seeds(tables)
    pooled = np.concatenate(draws)
    stats = emergence_significance(
        emergence["dimension_averaged_ei"].to_numpy(),
        pooled,
        fit_ok=emergence["fit_ok"].to_numpy(dtype=bool),
        alpha=config.alpha,
        margin=config.min_effect,
    )
    for col in stats.columns:
        emergence[col] = stats[col].to_numpy()
    emergence.attrs.update(tables[0].attrs)
    return ConditionMeasurement(emergence=emergence, models=models, resampled_j=pooled, block_j=np.mean(blocks, axis=0))


def _fit_and_measure(
    prepared: Any, config: AnalysisConfig, seed: int
) -> tuple[Any, pd.DataFrame, np.ndarray, np.ndarray]:
    """One seed's fitted model, scale table, bootstrap draws of J and J per held-out block."""
    from ..measures.resampling import block_j, bootstrap_j
    from ..models import MultiscaleNISPlus
    from ..runtime.progress import phase

    model = MultiscaleNISPlus(**config.model_kwargs(seed)).fit(prepared.train, validation=prepared.validation)
    result = model.measure(prepared.test, n_monte_carlo=config.n_monte_carlo, seed=seed)
    with phase("intervals", label=f"seed {seed}"):
        draws, blocks = bootstrap_j(result.residuals, n_boot=config.n_bootstrap, seed=seed), block_j(result.residuals)
    return model, result.table, draws, blocks


def _seeds_at_once(prepared: Any, config: AnalysisConfig) -> int:
    """How many seeds to fit at the same time: :func:`~ndx_causal_emergence.runtime.threads.fits_at_once`, or one
    with a time budget (it hands out its shares one fit after another), off the CPU, or where that many models
    would not fit the memory budget."""
    from ..errors import MemoryBudgetError
    from ..models import MultiscaleNISPlus
    from ..models.training import resolve_device
    from ..runtime.threads import fits_at_once

    at_once = fits_at_once(len(config.seeds))
    if at_once < 2 or config.max_time is not None or resolve_device(config.device).type != "cpu":
        return 1
    try:
        MultiscaleNISPlus(**config.model_kwargs(config.seed)).ladder_for(prepared.n_features, at_once=at_once)
    except MemoryBudgetError:
        return 1
    return at_once


def _surrogate_p_values(config: AnalysisConfig, prepared: Any, observed: pd.DataFrame) -> np.ndarray:
    """P-value of Delta J per scale against refits on circularly shifted channels (docs/method.md §3.4)."""
    from ..measures.uncertainty import circular_shift_surrogate, surrogate_p_value
    from ..models import MultiscaleNISPlus

    rng = np.random.default_rng(config.seed + 10_000)
    null = []
    for _ in range(config.n_surrogates):
        train = [circular_shift_surrogate(seg, rng) for seg in prepared.train]
        validation = [circular_shift_surrogate(seg, rng) for seg in prepared.validation]
        test = [circular_shift_surrogate(seg, rng) for seg in prepared.test]
        model = MultiscaleNISPlus(**config.model_kwargs(config.seed)).fit(train, validation=validation)
        table = model.emergence_table(test, n_monte_carlo=config.n_monte_carlo, seed=config.seed)
        null.append(table["causal_emergence"])
    null_arr = np.asarray(null)
    return np.array(
        [surrogate_p_value(obs, null_arr[:, k]) for k, obs in enumerate(observed["causal_emergence"].to_numpy())]
    )


def _time_ordered(prepared: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every segment of the training, validation and test blocks with its timestamps, in time order."""
    blocks = list(
        zip(
            prepared.train + prepared.validation + prepared.test,
            prepared.timestamps["train"] + prepared.timestamps["validation"] + prepared.timestamps["test"],
            strict=True,
        )
    )
    return sorted(blocks, key=lambda b: float(b[1][0]))


def _macro_variables(model: Any, prepared: Any) -> list[Any]:
    """Encode every frame used (train, validation, test) in time order; one float32 DataArray per scale.

    The encoders run in float64, so that each frame's values do not depend on its block (see
    ``MultiscaleNISPlus.encode``): a model applied to the raw frames of the series gives them again.
    The result holds them at the precision the NWB file stores (``MacroVariableSeries`` data is
    float32), so that a result read back from its file holds the same numbers as the one that
    wrote it: 7 significant digits of latents in about [-1, 1], far below their estimation noise,
    at half the memory and file size of float64.
    """
    from ..runtime.progress import phase

    blocks = _time_ordered(prepared)
    per_scale: list[list[np.ndarray]] = []
    times = []
    with phase("macro variables", total=len(blocks), unit="block") as bar:
        for data, stamps in blocks:
            for k, values in enumerate(model.encode(data, precision="float64")):
                if len(per_scale) <= k:
                    per_scale.append([])
                per_scale[k].append(values)
            times.append(stamps)
            bar.update()
    return macro_variable_arrays(
        [np.concatenate(parts).astype(np.float32) for parts in per_scale], np.concatenate(times)
    )


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


def condition_dynamics(
    model: Any, prepared: Any, *, seed: int, scales: list[int] | None = None, attribution: bool = True
) -> Any:
    """The dynamics analysis of one condition, as :func:`analyze` runs it (docs/method.md §4).

    The training block is the start range and support reference of the fixed points, the test block
    the trajectory of the diagnostics, states and attribution, and every frame used (training,
    validation and test blocks in time order, never a pair across a gap) that of the empirical drift.
    Returns a :class:`~ndx_causal_emergence.dynamics.DynamicsAnalysis`.
    """
    from ..dynamics.analysis import analyze_dynamics

    train, _ = _joined(prepared.train, prepared.timestamps["train"])
    test, test_times = _joined(prepared.test, prepared.timestamps["test"])
    every, every_times = _joined(*zip(*_time_ordered(prepared), strict=True))
    return analyze_dynamics(
        model, train, test, timestamps_test=test_times, X_drift=every, timestamps_drift=every_times,
        scales=scales, attribution=attribution, seed=seed,
    )  # fmt: skip


def analyze_condition(recording: Any, condition: str | None, config: AnalysisConfig) -> ConditionResult:
    """Fit, measure and analyse one condition of a recording (``None``: all frames)."""
    from ..data.prepare import prepare
    from ..dynamics.attribution import coverage_table
    from ..models import MultiscaleNISPlus

    label = condition or "all"
    prepared = prepare(recording, condition=condition, cycles=config.split_cycles)
    if prepared.n_features < 2:
        dropped = ", ".join(f"{ch} ({why})" for ch, why in prepared.dropped) or "none"
        raise too_few_channels(f"condition {label!r} keeps {prepared.n_features} channel (dropped: {dropped})")
    MultiscaleNISPlus(**config.model_kwargs(config.seeds[0])).ladder_for(prepared.n_features)  # fail before any fit
    measured = measure_condition(prepared, config)
    emergence, models = measured.emergence, measured.models
    for model in models:  # stored with each model: it then maps raw frames (of any recording) to macro variables
        model.preprocessing_ = prepared.preprocessing
    if config.n_surrogates:
        emergence["causal_emergence_surrogate_p_value"] = _surrogate_p_values(config, prepared, emergence)
    from ..measures import emergent_complexity

    ec = emergent_complexity(emergence["dimension_averaged_ei"].to_numpy())
    dyn = condition_dynamics(models[0], prepared, seed=config.seed, attribution=config.attribution)
    attribution = _with_channel_ids(dyn.attribution, prepared)
    if attribution is not None:  # coverage C_d per scale (docs/method.md §4), NaN for scales not attributed
        coverage = coverage_table(attribution, centroids=recording.roi_centroids).set_index("scale")
        for column in coverage.columns:
            emergence[column] = emergence["scale"].map(coverage[column]).astype(float)
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
        attribution=attribution,
        diagnostics=dyn.diagnostics,
        dropped_channels=list(prepared.dropped),
        parameters=config.to_dict(),
        analysis_name=analysis_name(label),
        resampled_j=measured.resampled_j,
        block_j=measured.block_j,
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
    progress: bool = False,
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
    progress : bool
        Show every phase (read, fit, measures, fixed points, ...) on stderr: a progress bar with an
        ETA on a terminal, else one line per phase. The phases' wall and CPU times, the threads
        used and the fits' time estimates go into each analysis's provenance either way.

    Returns
    -------
    Results
        Per-condition tables, macro variables and fitted models; ``.write(path)`` stores them in NWB.
    """
    from ..nwb.read import input_links, open_nwb, read_recording
    from ..nwb.write import results_module
    from ..runtime.job import job_runtime
    from ..runtime.progress import phase

    if config is None:
        config = AnalysisConfig(series=series, conditions=conditions, condition_column=condition_column, **params)
    start = now_iso()
    with job_runtime(threads=config.threads, max_time=config.max_time, progress=progress) as runtime:
        with phase("read"), open_nwb(source, cache_dir=cache_dir) as opened:
            recording = read_recording(
                opened,
                series=config.series,
                conditions=config.conditions,
                condition_column=config.condition_column,
                bin_width=config.bin_width,
            )
            links = input_links(opened.nwbfile, recording.series_object_id)
            module = results_module(opened.nwbfile, recording.series_object_id)
            info = opened.info
        if recording.n_channels < 2:
            raise too_few_channels(f"{recording.series_path} has {recording.n_channels} channel")
        labels = recording.conditions() if recording.labels is not None else [None]
        check_analysis_names(labels)
        if only:
            missing = sorted(set(only) - {str(x) for x in labels})
            if missing:
                raise DataError(f"conditions {missing} not found; the recording has {[str(x) for x in labels]}.")
            labels = [x for x in labels if str(x) in only]
        runtime.plan_fits(len(labels) * config.n_seeds * (1 + config.n_surrogates))
        results = {}
        for label in labels:
            res = analyze_condition(recording, label, config)
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
            runtime=runtime.record(),
        )
    from .comparisons import attach_comparisons

    return Results(
        conditions=results,
        comparisons=attach_comparisons(results, alpha=config.alpha, seed=config.seed),
        config=config,
        source=info,
        series_path=recording.series_path,
        series_object_id=recording.series_object_id,
        roi_table_object_id=links.roi_table_object_id,
        roi_indices=None if links.roi_indices is None else list(links.roi_indices),
        module=module,
    )
