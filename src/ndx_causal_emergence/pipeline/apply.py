"""Apply a stored model to another recording: its raw frames through the model's preprocessing and encoders.

This is how the macro variables learned on one recording or condition (say, awake) are followed
through another (anesthesia, another day): the model is not refitted, so every recording is
described by the same variables. The channels must be the same ones (count, and ROI or unit ids
where both recordings have them); that is checked before any data are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from .results import ConditionResult, macro_variable_arrays

__all__ = ["AppliedMacroVariables", "apply_model", "transform_source"]


@dataclass(frozen=True)
class AppliedMacroVariables:
    """The macro variables of a recording under a stored model, and which series of which source they encode.

    Attributes
    ----------
    macro_variables : list of xarray.DataArray
        One per scale, ``(time, variable)``, normalised latent coordinates; NaN rows where a kept
        channel is NaN.
    source : SourceInfo
        Where the recording came from.
    series_path, series_object_id : str
        The series encoded.
    """

    macro_variables: list[Any]
    source: Any
    series_path: str
    series_object_id: str


def _applicable_model(result: ConditionResult) -> Any:
    """The first model of ``result``, which must carry its preprocessing."""
    name = result.analysis_name or result.condition
    if not result.models:
        raise InputError(f"the analysis {name!r} holds no model to apply (read it with load_models=True)")
    model = result.models[0]
    if getattr(model, "preprocessing_", None) is None:
        raise InputError(
            f"the model of {name!r} was stored without its preprocessing (kept channels, centre, scale), so raw "
            "frames cannot be mapped through it; rerun the analysis with this version to store it"
        )
    return model


def transform_source(
    result: ConditionResult, source: Any, *, series: str | None = None, cache_dir: str | None = None
) -> AppliedMacroVariables:
    """Map every frame of a series of ``source`` through the preprocessing and encoders of ``result``'s first model.

    ``series`` defaults to the series the analysis named, else the same automatic choice; binned
    units use the analysis's bin width. The channels are checked (from the file's metadata) before
    any data are read.

    Raises
    ------
    ChannelMismatchError
        Another number of channels, or other ROI / unit ids where both recordings have them.
    InputError
        No model, or one stored without its preprocessing.
    """
    from ..nwb.read import open_nwb, read_channels, read_recording
    from ..runtime.progress import phase

    model = _applicable_model(result)
    preprocessing = model.preprocessing_
    with open_nwb(source, cache_dir=cache_dir) as opened:
        path, n_channels, ids = read_channels(opened, series=series or result.parameters.get("series"))
        preprocessing.check_channels(n_channels, ids, where=f"{path} of {opened.info.location}")
        with phase("read"):
            recording = read_recording(opened, series=path, bin_width=result.parameters.get("bin_width", 0.1))
    with phase("macro variables"):
        per_scale = model.encode(preprocessing.apply(recording.data), precision="float64")
    return AppliedMacroVariables(
        macro_variables=macro_variable_arrays(per_scale, recording.timestamps),
        source=recording.source,
        series_path=recording.series_path,
        series_object_id=recording.series_object_id,
    )


def apply_model(
    results_file: str | Path,
    source: str | Path,
    *,
    analysis: str,
    out: str | Path,
    series: str | None = None,
    name: str | None = None,
    overwrite: bool = False,
    cache_dir: str | None = None,
    command: str | None = None,
) -> Path:
    """Write ``out`` = a copy of ``source`` plus the macro variables of its series under a stored model.

    The model is the first of the ``CausalEmergenceAnalysis`` named ``analysis`` in
    ``results_file``. ``out`` gets one ``AppliedModelAnalysis`` (named ``name``, default
    ``<analysis>_applied``) in the processing module of the series' modality, with one
    ``MacroVariableSeries`` per scale and a provenance naming the model applied (``model_file``
    with its SHA-256 ``model_digest``, ``model_analysis``, ``model_name``, ``model_object_id``).
    The output is written as ``run`` writes its outputs: to a temporary file renamed over ``out``.

    Raises
    ------
    InputError
        Unknown analysis, a model without preprocessing, mismatched channels (before any data are
        read), or ``out`` is ``source``.
    OutputError
        ``out`` exists (without ``overwrite``) or cannot be written.
    """
    from ..nwb.content import AppliedContent, InputLinks
    from ..safety.outputs import check_out_file
    from ..safety.redact import full_paths_requested
    from .provenance import file_sha256, now_iso, provenance_fields
    from .results import read_all_results, stored_analyses, write_new_file

    check_out_file(out, source=str(source), overwrite=overwrite)
    analyses = stored_analyses(read_all_results(results_file, load_macro_variables=False))
    if analysis not in analyses:
        raise InputError(f"{results_file} has no analysis {analysis!r}; it has {sorted(analyses) or 'none'}")
    result = analyses[analysis]
    start = now_iso()
    applied = transform_source(result, str(source), series=series, cache_dir=cache_dir)
    provenance = provenance_fields(
        source=applied.source,
        series_path=applied.series_path,
        series_object_id=applied.series_object_id,
        device="cpu",
        start_time=start,
        end_time=now_iso(),
        command=command,
    )
    model_name, model_object_id = result.stored_models[0]
    results_path = Path(results_file)
    provenance.update(
        model_file=str(results_path) if full_paths_requested() else results_path.name,
        model_digest=f"sha256:{file_sha256(results_path)}",
        model_analysis=result.analysis_name,
        model_name=model_name,
        model_object_id=model_object_id,
    )
    content = AppliedContent(
        name=name or f"{result.analysis_name}_applied",
        model_condition=result.condition,
        provenance=provenance,
        macro_variables=[
            (int(da.attrs["scale"]), da.to_numpy(), da["time"].to_numpy()) for da in applied.macro_variables
        ],
    )
    return write_new_file(applied.source, [content], InputLinks(applied.series_object_id), out, overwrite=overwrite)
