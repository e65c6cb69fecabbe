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

from ..errors import InputError, OutputError, SourceError
from ..nwb.write import (
    AnalysisContent,
    AppliedContent,
    InputLinks,
    StoredModel,
    append_in_place,
    copy_with_results,
    export_with_results,
)
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
            arch, tensors = model.to_state()
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
        )


@dataclass
class Results:
    """The result of :func:`~ndx_causal_emergence.analyze`: one :class:`ConditionResult` per condition.

    ``comparisons`` holds the differences of J and Delta J between every pair of conditions
    (:func:`~ndx_causal_emergence.pipeline.comparisons.compare_all`; empty for one condition).
    """

    conditions: dict[str, ConditionResult]
    config: AnalysisConfig
    source: Any
    series_path: str
    series_object_id: str
    roi_table_object_id: str | None = None
    roi_indices: list[int] | None = None
    comparisons: pd.DataFrame | None = None

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
        from ..nwb.read import open_nwb
        from .layout import layout_of_table

        if self.roi_table_object_id is None:
            return {}
        with open_nwb(self.source.location) as opened:
            layout = layout_of_table(opened.nwbfile.objects[self.roi_table_object_id])
        return dict.fromkeys(self._by_analysis(), layout)

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
        contents = [res.content(self.config.to_json()) for res in self.conditions.values()]
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


def macro_variable_arrays(per_scale: list[np.ndarray], time: np.ndarray) -> list[Any]:
    """One ``xarray.DataArray`` ``(time, variable)`` per scale, named ``scale<k>``, with ``scale`` and ``dimension``."""
    import xarray as xr

    return [
        xr.DataArray(
            values,
            dims=("time", "variable"),
            coords={"time": time, "variable": np.arange(values.shape[1])},
            name=f"scale{k}",
            attrs={"scale": k, "dimension": values.shape[1]},
        )
        for k, values in enumerate(per_scale)
    ]


def _table(container: Any) -> pd.DataFrame | None:
    if container is None:
        return None
    df = container.to_dataframe()
    return df.reset_index(drop=True)


def read_results(
    path: str | Path, *, load_models: bool = True, load_macro_variables: bool = True
) -> dict[str, ConditionResult]:
    """Read every ``CausalEmergenceAnalysis`` of an NWB file, keyed by analysis name.

    Tables come back as DataFrames, macro variables as xarray (only with ``load_macro_variables``:
    they are the largest part, and a summary needs none), and with ``load_models`` the fitted
    models are rebuilt from the stored tensors (no pickles).
    """
    from pynwb import NWBHDF5IO

    from ..nwb.types import CausalEmergenceAnalysis

    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path} does not exist.")
    out: dict[str, ConditionResult] = {}
    try:
        io = NWBHDF5IO(str(path), "r", load_namespaces=True)
        nwbfile = io.read()
    except Exception as err:  # h5py/hdmf raise many kinds for a bad file
        raise SourceError(f"cannot read {path} as NWB: {err}") from None
    with io:
        for obj in nwbfile.objects.values():
            if not isinstance(obj, CausalEmergenceAnalysis):
                continue
            models = []
            stored_models = [(m.name, m.object_id) for m in obj.learned_dynamics_models.values()]
            if load_models:
                from ..models import MultiscaleNISPlus

                for stored in obj.learned_dynamics_models.values():
                    models.append(_stored_model(MultiscaleNISPlus, stored, f"{path}: {obj.name}/{stored.name}"))
            emergence = _table(obj.emergence_table)
            result = ConditionResult(
                condition=obj.condition,
                emergence=emergence,
                emergent_complexity=float(obj.emergent_complexity),
                emergent_complexity_normalized=float(obj.emergent_complexity_normalized),
                intervals=np.asarray(obj.intervals[:]),
                seeds=[int(s) for s in obj.seeds[:]],
                macro_variables=_macro_variables(obj) if load_macro_variables else [],
                models=models,
                fixed_points=_table(obj.fixed_point_table),
                comparisons=_table(obj.condition_comparison_table),
                transitions=_table(obj.state_transitions),
                attribution=_attribution_frame(obj.attribution_table),
                provenance=_provenance_dict(obj.analysis_provenance),
                parameters=parse_json(obj.parameters, f"the parameters of {obj.name} in {path}"),
                analysis_name=obj.name,
                stored_models=stored_models,
            )
            out[obj.name] = result
    return out


def _macro_variables(analysis: Any) -> list[Any]:
    """The macro variables of a stored analysis as xarray, each checked against the memory budget before reading."""
    from ..safety.memory import check_allocation

    series = sorted(analysis.macro_variable_series.values(), key=lambda s: s.scale)
    for s in series:
        check_allocation(
            8.0 * np.prod(s.data.shape),
            f"macro variables {s.name} of {analysis.name} {s.data.shape}",
            remedy="report without --plots or --html",
        )
    return [s.to_xarray() for s in series]


def _stored_model(cls: Any, stored: Any, where: str) -> Any:
    """A fitted model rebuilt from a stored one; a malformed architecture or tensors are an input error."""
    try:
        return cls.from_state(parse_json(stored.architecture, f"the architecture of {where}"), stored.state_dict())
    except InputError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, RecursionError) as err:
        raise SourceError(f"the stored model {where} is malformed: {type(err).__name__}: {err}") from None


def _attribution_frame(table: Any) -> pd.DataFrame | None:
    if table is None:
        return None
    columns = ["scale", "channel", "importance", "attribution"]
    df = pd.DataFrame({c: list(table[c][:]) for c in columns})
    if "roi" in table.colnames:
        df["roi"] = list(table["roi"].data[:])
    return df


def _provenance_dict(prov: Any) -> dict[str, str]:
    args = prov.__class__.__init__.__docval__["args"]
    keys = [a["name"] for a in args if a["name"] not in ("name", "skip_post_init")]
    return {k: getattr(prov, k) for k in keys if getattr(prov, k, None) is not None}
