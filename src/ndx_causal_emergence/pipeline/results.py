"""Results of an analysis, per condition, as pandas / xarray; written to and read from NWB."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..dynamics.potential import TRANSITION_COLUMNS
from ..errors import InputError, OutputError, SourceError
from ..nwb.content import AnalysisContent, AppliedContent, InputLinks, StoredModel
from ..nwb.write import append_in_place, copy_with_results, export_with_results
from ..safety.text import parse_json
from .config import AnalysisConfig

log = logging.getLogger(__name__)

METHOD = "multiscale NIS+ (Wang et al. 2025, arXiv:2509.10891)"
MODEL_CLASS = "ndx_causal_emergence.models.MultiscaleNISPlus"


@dataclass
class ConditionResult:
    """The result of one condition: tables (pandas), macro variables (xarray) and fitted models.

    Attributes
    ----------
    emergence : DataFrame
        One row per scale: ``scale, dimension, effective_information, dimension_averaged_ei, noise_term,
        jacobian_term, causal_emergence, causal_power, nmse, ..., fit_ok`` (nats); over seeds, the
        mean (``*_sd`` columns when there are several seeds); ``*_ci_low`` / ``*_ci_high``,
        ``causal_emergence_p_value``, ``causal_emergence_p_holm`` and ``significant`` from
        bootstraps of the test block (pooled over seeds).
    fixed_points, transitions, attribution, diagnostics : DataFrame or None
        Dynamics analysis of the first seed's model (docs/method.md §4).
    comparisons : DataFrame or None
        Differences from the other conditions of the same analysis, seen from this one
        (``difference`` = this − other; see
        :func:`~ndx_causal_emergence.pipeline.comparisons.for_condition`).
    resampled_j, block_j : ndarray or None
        Bootstrap draws of J ``(n_draws, n_scales)`` and J per held-out block ``(n_blocks,
        n_scales)`` behind the intervals and condition comparisons (not stored in NWB).
    macro_variables : list of xarray.DataArray
        One per scale, ``(time, variable)``, normalised latent coordinates.
    models : list
        The fitted :class:`~ndx_causal_emergence.models.MultiscaleNISPlus`, one per seed; each
        holds the preprocessing of the raw frames (``preprocessing_``) it was fitted after.
    stored_models : list of (str, str)
        ``(name, object_id)`` of each model's ``LearnedDynamicsModel`` in the file it was read
        from (empty before it is written).
    """

    condition: str
    emergence: pd.DataFrame
    emergent_complexity: float
    emergent_complexity_normalized: float
    intervals: np.ndarray
    seeds: list[int]
    macro_variables: list[Any] = field(default_factory=list)
    models: list[Any] = field(default_factory=list)
    fixed_points: pd.DataFrame | None = None
    transitions: pd.DataFrame | None = None
    attribution: pd.DataFrame | None = None
    diagnostics: pd.DataFrame | None = None
    dropped_channels: list[tuple[Any, str]] = field(default_factory=list)
    provenance: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    analysis_name: str = ""
    comparisons: pd.DataFrame | None = None
    resampled_j: np.ndarray | None = field(default=None, repr=False)
    block_j: np.ndarray | None = field(default=None, repr=False)
    stored_models: list[tuple[str, str]] = field(default_factory=list)

    def transform(self, source: Any, *, series: str | None = None, cache_dir: str | None = None) -> list[Any]:
        """The macro variables of every scale of another recording under this analysis's (first) model.

        The raw frames of ``series`` in ``source`` (any source :func:`~ndx_causal_emergence.analyze`
        takes; default: the series the analysis named, else the same automatic choice) go through
        the model's stored preprocessing (kept channels, centre, scale, global scale) and encoders;
        the model is not refitted. Returns one ``xarray.DataArray`` ``(time, variable)`` per scale
        over all frames of the series (NaN where a kept channel is NaN), as :attr:`macro_variables`.

        Raises
        ------
        ChannelMismatchError
            The series has another number of channels, or other ROI / unit ids (where both have
            ids), than the recording the model was fitted on.
        InputError
            No model, or a model stored without its preprocessing (written by an older version).
        """
        from .apply import transform_source

        return transform_source(self, source, series=series, cache_dir=cache_dir).macro_variables

    def content(self, parameters: str) -> AnalysisContent:
        """The plain-data form the NWB writer takes."""
        models = []
        for seed, model in zip(self.seeds, self.models, strict=False):
            arch, tensors = model.to_stored()
            import torch

            models.append(
                StoredModel(
                    name=f"model_seed{seed}",
                    description=f"Multiscale NIS+ model fitted on condition '{self.condition}' with seed {seed}.",
                    model_class=MODEL_CLASS,
                    architecture=json.dumps(arch, sort_keys=True),
                    tensors=tensors,
                    framework_version=torch.__version__,
                )
            )
        return AnalysisContent(
            name=self.analysis_name,
            condition=self.condition,
            method=METHOD,
            parameters=parameters,
            seeds=self.seeds,
            intervals=self.intervals,
            emergent_complexity=self.emergent_complexity,
            emergent_complexity_normalized=self.emergent_complexity_normalized,
            emergence=self.emergence,
            provenance=self.provenance,
            macro_variables=[
                (int(da.attrs["scale"]), np.asarray(da.values), np.asarray(da["time"].values))
                for da in self.macro_variables
            ],
            models=models,
            fixed_points=self.fixed_points,
            attribution=self.attribution,
            transitions=self.transitions,
            comparisons=self.comparisons,
            diagnostics=self.diagnostics,
            dropped_channels=list(self.dropped_channels),
        )


@dataclass
class Results:
    """The analyses of one series: one :class:`ConditionResult` per condition, keyed by condition label.

    :func:`~ndx_causal_emergence.analyze` returns it, and :func:`read_results` reads it back from
    a written file. ``comparisons`` holds the differences of J and Delta J between every pair of
    conditions (:func:`~ndx_causal_emergence.pipeline.comparisons.compare_all`; empty for one
    condition); ``config`` is ``None`` for stored analyses whose parameters this version does not
    know (they stay in each condition's ``parameters``). ``module`` is the processing module the
    analyses are (or will be) written to.
    ``source`` is where the series was read: the input for ``analyze``, the results file for
    ``read_results`` (which holds a copy of the input; the input itself is named in each
    analysis's ``provenance``).

    ``results[key]`` takes a condition label (``results["awake"]``) or an analysis name
    (``results["causal_emergence_awake"]``, the key of the dictionary that ``read_results`` returned
    up to 0.1.0).
    """

    conditions: dict[str, ConditionResult]
    config: AnalysisConfig | None
    source: Any
    series_path: str
    series_object_id: str
    roi_table_object_id: str | None = None
    roi_indices: list[int] | None = None
    comparisons: pd.DataFrame | None = None
    module: str = ""

    def __getitem__(self, key: str) -> ConditionResult:
        """The result of a condition, by condition label or analysis name."""
        if key in self.conditions:
            return self.conditions[key]
        named = [res for res in self.conditions.values() if res.analysis_name == key]
        if len(named) == 1:
            return named[0]
        raise KeyError(
            f"{key!r} is neither a condition ({sorted(self.conditions)}) nor an analysis "
            f"({sorted(r.analysis_name for r in self.conditions.values())}) of these results"
        )

    def __contains__(self, key: object) -> bool:
        return key in self.conditions or any(r.analysis_name == key for r in self.conditions.values())

    def __iter__(self) -> Any:
        raise TypeError("iterate over results.conditions (condition label -> ConditionResult)")

    def summary(self) -> pd.DataFrame:
        """One row per (condition, scale) with the emergence columns and emergent complexity."""
        frames = []
        for name, res in self.conditions.items():
            df = res.emergence.copy()
            df.insert(0, "condition", name)
            df["emergent_complexity"] = res.emergent_complexity
            df["emergent_complexity_normalized"] = res.emergent_complexity_normalized
            frames.append(df)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def to_xarray(self) -> Any:
        """The summary as an ``xarray.Dataset`` indexed by ``condition`` and ``scale``."""
        return self.summary().set_index(["condition", "scale"]).to_xarray()

    def transform(
        self, source: Any, *, series: str | None = None, analysis: str | None = None, cache_dir: str | None = None
    ) -> list[Any]:
        """The macro variables of another recording under the model of ``analysis`` (see
        :meth:`ConditionResult.transform`); ``analysis`` may be left out when there is one analysis."""
        analyses = self._by_analysis()
        if analysis is None and len(analyses) == 1:
            analysis = next(iter(analyses))
        if analysis not in analyses:
            raise InputError(f"name the analysis to apply: analysis= one of {sorted(analyses)}; got {analysis!r}")
        return analyses[analysis].transform(source, series=series, cache_dir=cache_dir)

    def _by_analysis(self) -> dict[str, ConditionResult]:
        """The conditions by analysis name, their attribution linked to the ROI table's rows (as written)."""
        out = {}
        for name, res in self.conditions.items():
            if res.attribution is not None and self.roi_indices is not None and "roi" not in res.attribution:
                rows = np.asarray(self.roi_indices)[res.attribution["channel"].to_numpy(dtype=int)]
                res = dataclasses.replace(res, attribution=res.attribution.assign(roi=rows))
            out[res.analysis_name or name] = res
        return out

    def _layouts(self) -> dict[str, Any]:
        """The ROI layout of the input's ROI table for every analysis (none without an ROI table)."""
        from ..nwb.layout import layout_of_object

        if self.roi_table_object_id is None:
            return {}
        return dict.fromkeys(self._by_analysis(), layout_of_object(self.source.location, self.roi_table_object_id))

    def figures(self) -> dict[str, Any]:
        """Every figure of the analyses, matplotlib Figures by name (see :func:`.figures.result_figures`)."""
        from .figures import result_figures

        return result_figures(self._by_analysis(), self._layouts())

    def to_html(self, path: str | Path | None = None) -> str:
        """One self-contained HTML page of the analyses (see :mod:`.html_report`); also written to ``path`` if given."""
        from ..safety.redact import redact_url
        from .html_report import render_html, save_html

        label = f"{redact_url(str(self.source.location))} (results not yet written)"
        page = render_html(self._by_analysis(), label, layouts=self._layouts())
        if path is not None:
            save_html(page, path)
        return page

    def write(self, path: str | Path | None = None, *, in_place: bool = False, overwrite: bool = False) -> Path:
        """Write the results into NWB.

        By default a new file ``path`` holding the input's content plus one
        ``CausalEmergenceAnalysis`` per condition (the input is never modified): an NWB export
        with the data copied (``link_data=False``; it refreshes the cached schema), or, for files
        that pynwb cannot export, a byte copy of the input (downloaded if streamed) with the
        results appended. With ``in_place=True`` the local input file itself is appended to,
        atomically.
        """
        stored = self.config is None  # read from a file with parameters of another version: write them as they are
        contents = [
            res.content(json.dumps(res.parameters, sort_keys=True) if stored else self.config.to_json())
            for res in self.conditions.values()
        ]
        links = InputLinks(self.series_object_id, self.roi_table_object_id, self.roi_indices)
        if in_place:
            if getattr(self.source, "kind", "local") != "local":
                raise InputError("--in-place works on local files only; write a new file with --out instead.")
            return append_in_place(self.source.location, contents, links)
        if path is None:
            raise InputError("give an output path (or in_place=True).")
        return write_new_file(self.source, contents, links, path, overwrite=overwrite)


def write_new_file(
    source: Any,
    contents: list[AnalysisContent | AppliedContent],
    links: InputLinks,
    path: str | Path,
    *,
    overwrite: bool = False,
) -> Path:
    """Write a new file ``path`` = the content of ``source`` (a ``SourceInfo``) plus ``contents``; never the input.

    An NWB export with the data copied (``link_data=False``; it refreshes the cached schema), or,
    for files that pynwb cannot export, a byte copy of the input (downloaded if streamed) with
    the contents appended; atomic either way (see :mod:`~ndx_causal_emergence.nwb.write`).
    """
    from ..nwb.read import open_nwb

    if source.kind == "local" and Path(path).resolve() == Path(str(source.location)).resolve():
        raise InputError("the output path is the input file; use in_place=True to modify the input.")
    try:
        with open_nwb(source.location) as opened:
            return export_with_results(opened.io, opened.nwbfile, contents, links, path, overwrite=overwrite)
    except OutputError:
        raise
    except Exception as err:  # noqa: BLE001  (some older files cannot be re-encoded by NWB export)
        log.info("export of %s failed (%s); copying its bytes instead", source.location, err)
    if source.kind == "local":
        return copy_with_results(source.location, path, contents, links, overwrite=overwrite)
    return _write_from_download(source, path, contents, links, overwrite=overwrite)


def _write_from_download(
    source: Any, path: str | Path, contents: list[AnalysisContent | AppliedContent], links: InputLinks, *,
    overwrite: bool,
) -> Path:  # fmt: skip
    """A streamed input's bytes downloaded beside ``path``, then the contents appended to a copy."""
    from ..dandi.remote import download

    if not source.url:
        raise OutputError(f"cannot write {path}: export of {source.location} failed and it has no URL.")
    target = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".download.tmp.nwb", dir=target.absolute().parent)
    os.close(fd)
    scratch = Path(name)  # a fresh name: never a link someone planted beside the target
    digest = getattr(source, "asset_digest", None) or ""
    try:
        download(source.url, scratch, sha256=digest.split(":")[-1] if "sha2-256" in digest else None)
        return copy_with_results(scratch, target, contents, links, overwrite=overwrite)
    finally:
        scratch.unlink(missing_ok=True)


def macro_variable_arrays(
    per_scale: list[np.ndarray], time: np.ndarray, *, scales: list[int] | None = None
) -> list[Any]:
    """One ``xarray.DataArray`` ``(time, variable)`` per scale, named ``scale<k>``, with ``scale`` and ``dimension``.

    ``scales`` gives the scale index of each array (default ``0, 1, ...``).
    """
    import xarray as xr

    return [
        xr.DataArray(
            values,
            dims=("time", "variable"),
            coords={"time": time, "variable": np.arange(values.shape[1])},
            name=f"scale{k}",
            attrs={"scale": k, "dimension": values.shape[1]},
        )
        for k, values in zip(range(len(per_scale)) if scales is None else scales, per_scale, strict=True)
    ]


def read_all_results(path: str | Path, *, load_models: bool = True, load_macro_variables: bool = True) -> list[Results]:
    """Every analysis of an NWB file as one :class:`Results` per analysed series (in the order the file lists them).

    See :func:`read_results`; a file holds several when analyses of different series were
    written to it (e.g. ``ophys`` and ``ecephys``), each in its own processing module.
    """
    from ..nwb.read_results import read_analyses

    groups: dict[tuple[str, str], list[AnalysisContent]] = {}
    for content in read_analyses(path, load_models=load_models, load_macro_variables=load_macro_variables):
        key = (content.module, content.links.series_object_id if content.links else "")
        groups.setdefault(key, []).append(content)
    return [_results_of(Path(path), contents) for contents in groups.values()]


def read_results(
    path: str | Path, *, series: str | None = None, load_models: bool = True, load_macro_variables: bool = True
) -> Results:
    """Read the analyses of one series of an NWB file: the :class:`Results` that :func:`~.run.analyze` returned.

    Tables come back as DataFrames, macro variables as xarray (only with ``load_macro_variables``:
    they are the largest part, and a summary needs none), and with ``load_models`` the fitted
    models are rebuilt from the stored tensors (no pickles), with their preprocessing. The
    conditions are keyed by condition label, in the order the recording presented them;
    ``results["causal_emergence_awake"]`` still finds one by analysis name.

    Parameters
    ----------
    series : str, optional
        The analysed series (its path, e.g. ``/processing/ophys/DfOverF/RoiResponseSeries``, or
        object id), or the processing module of its analyses (e.g. ``ophys``). Needed only when
        the file holds analyses of several series; :func:`read_all_results` reads them all.

    Raises
    ------
    SourceError
        The file cannot be read, or a stored model is malformed.
    InputError
        No analysis (of ``series``) in the file, or analyses of several series and no ``series``.
    """
    found = read_all_results(path, load_models=load_models, load_macro_variables=load_macro_variables)
    if series is not None:
        found = [r for r in found if series in (r.series_path, r.series_object_id, r.module)]
    if len(found) == 1:
        return found[0]
    where = "" if series is None else f" of the series {series!r}"
    if not found:
        raise InputError(f"{path} holds no causal-emergence analysis{where}")
    listed = "; ".join(f"{r.module}: {r.series_path} ({', '.join(sorted(r.conditions))})" for r in found)
    raise InputError(f"{path} holds analyses of {len(found)} series{where} ({listed}); choose one with series=PATH")


def _file_keys(results: list[Results]) -> list[tuple[str, Results, str]]:
    """``(key, results, analysis name)`` of every analysis; the key is the name, or ``module/name`` where the name
    is in several modules."""
    names = [name for r in results for name in r._by_analysis()]
    return [
        (name if names.count(name) == 1 else f"{r.module}/{name}", r, name)
        for r in results
        for name in r._by_analysis()
    ]


def stored_analyses(results: list[Results]) -> dict[str, ConditionResult]:
    """The analyses of several :class:`Results` (those of a file) by name; ``module/name`` where a name is in
    several processing modules. Attribution rows carry the ``roi`` row of their channel where known."""
    return {key: r._by_analysis()[name] for key, r, name in _file_keys(results)}


def stored_layouts(results: list[Results]) -> dict[str, Any]:
    """The ROI layout behind each analysis of :func:`stored_analyses` (none without an ROI table)."""
    layouts = {id(r): r._layouts() for r in results}
    return {key: layouts[id(r)][name] for key, r, name in _file_keys(results) if name in layouts[id(r)]}


def _results_of(path: Path, contents: list[AnalysisContent]) -> Results:
    """The :class:`Results` of the stored analyses of one series (conditions in the order they first appear)."""
    from ..data.recording import SourceInfo
    from .comparisons import from_condition_tables

    contents = sorted(contents, key=lambda c: (float(np.min(c.intervals[:, 0], initial=np.inf)), c.condition))
    conditions = {}
    for content in contents:
        if content.condition in conditions:
            raise SourceError(f"{path} holds two analyses of condition {content.condition!r} of one series")
        conditions[content.condition] = _condition_result(path, content)
    first = contents[0]
    links = first.links or InputLinks("")
    try:
        config = AnalysisConfig.from_dict(next(iter(conditions.values())).parameters, stored=True)
    except (InputError, TypeError):
        config = None  # parameters of another version: each ConditionResult keeps them as stored
    return Results(
        conditions=conditions,
        config=config,
        source=SourceInfo(location=str(path), kind="local"),
        series_path=first.provenance.get("input_path", ""),
        series_object_id=links.series_object_id,
        roi_table_object_id=links.roi_table_object_id,
        roi_indices=None if links.roi_indices is None else list(links.roi_indices),
        comparisons=from_condition_tables({k: r.comparisons for k, r in conditions.items()}),
        module=first.module,
    )


def _condition_result(path: Path, content: AnalysisContent) -> ConditionResult:
    """A stored analysis as a :class:`ConditionResult`; its models rebuilt where their tensors were read."""
    where = f"{path}: {content.module}/{content.name}"
    return ConditionResult(
        condition=content.condition,
        emergence=content.emergence,
        emergent_complexity=content.emergent_complexity,
        emergent_complexity_normalized=content.emergent_complexity_normalized,
        intervals=content.intervals,
        seeds=list(content.seeds),
        macro_variables=[
            macro_variable_arrays([data], time, scales=[scale])[0] for scale, data, time in content.macro_variables
        ],
        models=[_model(m, f"{where}/{m.name}") for m in content.models if m.tensors],
        fixed_points=content.fixed_points,
        # a file stores no table for "no transition"; the dynamics ran wherever there are fixed points
        transitions=(
            pd.DataFrame(columns=TRANSITION_COLUMNS)
            if content.transitions is None and content.fixed_points is not None
            else content.transitions
        ),
        attribution=content.attribution,
        diagnostics=content.diagnostics,
        dropped_channels=list(content.dropped_channels),
        provenance=content.provenance,
        parameters=parse_json(content.parameters, f"the parameters of {where}"),
        analysis_name=content.name,
        comparisons=content.comparisons,
        stored_models=[(m.name, m.object_id) for m in content.models],
    )


def _model(stored: StoredModel, where: str) -> Any:
    """A fitted model rebuilt from a stored one; a malformed architecture or tensors are a source error."""
    from ..models import MultiscaleNISPlus

    try:
        return MultiscaleNISPlus.from_stored(parse_json(stored.architecture, f"the architecture of {where}"),
                                            stored.tensors)  # fmt: skip
    except InputError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, RecursionError) as err:
        raise SourceError(f"the stored model {where} is malformed: {type(err).__name__}: {err}") from None
