"""``mock_<TypeName>`` factories for every neurodata type of the extension (as in ndx-pose).

Each takes keyword-only arguments with realistic defaults; names come from
``name or name_generator(...)``. :func:`mock_nwbfile_with_analysis` builds a whole file
holding every type, attached to a mock calcium-imaging recording.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from pynwb import NWBFile, TimeSeries
from pynwb.event import EventsTable
from pynwb.testing.mock.file import mock_NWBFile
from pynwb.testing.mock.ophys import mock_RoiResponseSeries
from pynwb.testing.mock.utils import name_generator

from ..nwb.types import (
    AnalysisProvenance,
    AttributionTable,
    CausalEmergenceAnalysis,
    EmergenceTable,
    FixedPointTable,
    LearnedDynamicsModel,
    MacroVariableSeries,
)


def mock_MacroVariableSeries(
    *,
    name: str | None = None,
    scale: int = 1,
    dimension: int = 2,
    n_times: int = 100,
    rate: float = 10.0,
    source_series: TimeSeries | None = None,
    seed: int = 0,
) -> MacroVariableSeries:
    """A MacroVariableSeries with random data, timed by ``rate`` or by ``source_series``."""
    data = np.random.default_rng(seed).uniform(-1, 1, (n_times, dimension)).astype(np.float32)
    timing: dict[str, Any] = {"starting_time": 0.0, "rate": rate}
    if source_series is not None:
        timing = (
            {"timestamps": source_series}
            if source_series.timestamps is not None
            else {"starting_time": source_series.starting_time, "rate": source_series.rate}
        )
    return MacroVariableSeries(
        name=name or name_generator("MacroVariableSeries"),
        description=f"Macro variables of scale {scale}.",
        data=data,
        unit="a.u.",
        scale=scale,
        dimension=dimension,
        source_series=source_series,
        **timing,
    )


def mock_LearnedDynamicsModel(*, name: str | None = None, seed: int = 0) -> LearnedDynamicsModel:
    """A LearnedDynamicsModel holding a small two-layer MLP's tensors (one 0-d tensor too)."""
    rng = np.random.default_rng(seed)
    state = {
        "net.0.weight": rng.normal(size=(8, 3)),
        "net.0.bias": rng.normal(size=8),
        "net.2.weight": rng.normal(size=(3, 8)),
        "log_scale": np.float32(0.5),
    }
    return LearnedDynamicsModel.from_state_dict(
        state,
        name=name or name_generator("LearnedDynamicsModel"),
        description="A residual MLP y' = y + f(y) (mock).",
        model_class="ndx_causal_emergence.models.dynamics.ResidualMLP",
        architecture=json.dumps({"input_dim": 3, "hidden_width": 8}),
        framework="torch",
        framework_version="2.13.0",
    )


def mock_EmergenceTable(*, name: str | None = None, dimensions: tuple[int, ...] = (8, 4, 2, 1)) -> EmergenceTable:
    """An EmergenceTable with one plausible row per scale (nats)."""
    table = EmergenceTable(name=name or "emergence", description="EI and causal emergence per scale (nats).")
    j0 = 0.5
    for k, q in enumerate(dimensions):
        j = j0 + 0.3 * k
        table.add_row(
            scale=k,
            dimension=q,
            effective_information=j * q,
            dimension_averaged_ei=j,
            noise_term=(j - 0.2) * q,
            jacobian_term=0.2 * q,
            causal_emergence=j - j0,
            causal_power=1.0 / len(dimensions),
            nmse=0.4,
        )
    return table


def mock_FixedPointTable(*, name: str | None = None) -> FixedPointTable:
    """A FixedPointTable with a 1-D double well (two stable points, one unstable) and a 2-D saddle."""
    table = FixedPointTable(name=name or "fixed_points", description="Fixed points of the macro dynamics.")
    for loc, ev, stab in [([-1.0], [0.98], "stable"), ([0.0], [1.01], "unstable"), ([1.0], [0.98], "stable")]:
        table.add_row(
            scale=3, location=loc, eigenvalues_real=ev, eigenvalues_imag=[0.0], stability=stab, in_support=True
        )
    table.add_row(
        scale=2,
        location=[0.1, -0.2],
        eigenvalues_real=[1.01, 0.99],
        eigenvalues_imag=[0.0, 0.0],
        stability="saddle",
        in_support=False,
    )
    return table


def mock_AttributionTable(
    *, name: str | None = None, n_channels: int = 4, dimensions: tuple[int, ...] = (2, 1), rois: Any = None
) -> AttributionTable:
    """An AttributionTable: one row per (scale, channel); ``rois`` (a table) adds the ``roi`` region column."""
    rng = np.random.default_rng(0)
    table = AttributionTable(
        name=name or "attribution",
        description="Integrated-gradient attribution.",
        target_tables={"roi": rois} if rois is not None else None,
    )
    for k, q in enumerate(dimensions, start=1):
        att = rng.normal(size=(n_channels, q))
        share = np.abs(att).sum(1) / np.abs(att).sum()
        for c in range(n_channels):
            row: dict[str, Any] = dict(scale=k, channel=c, importance=float(share[c]), attribution=list(att[c]))
            if rois is not None:
                row["roi"] = c
            table.add_row(**row)
    return table


def mock_AnalysisProvenance(*, name: str = "provenance", **overrides: str) -> AnalysisProvenance:
    """An AnalysisProvenance with plausible values; keyword arguments override fields."""
    fields = dict(
        package_name="ndx-causal-emergence",
        package_version="0.1.0",
        source_url="https://github.com/ndx-causal-emergence/ndx-causal-emergence",
        command="causal-emergence run input.nwb",
        environment=json.dumps({"python": "3.11", "torch": "2.13.0"}),
        device="cpu",
        start_time="2026-01-01T00:00:00+00:00",
        end_time="2026-01-01T00:01:00+00:00",
        input_file="input.nwb",
        input_identifier="mock-identifier",
        input_object_id="00000000-0000",
        input_path="/processing/ophys/DfOverF/RoiResponseSeries",
    )
    fields.update(overrides)
    return AnalysisProvenance(name=name, **fields)


def mock_CausalEmergenceAnalysis(
    *,
    name: str | None = None,
    condition: str = "awake",
    source_series: TimeSeries | None = None,
    with_attribution: bool = True,
) -> CausalEmergenceAnalysis:
    """A CausalEmergenceAnalysis holding one of every contained type (and transition events).

    An attribution linked to ROIs must be set once the analysis sits in the file (so that the
    region and its table share an ancestor): pass ``with_attribution=False`` and set
    ``analysis.attribution_table`` afterwards, as :func:`mock_nwbfile_with_analysis` does.
    """
    n_channels = int(np.shape(source_series.data)[1]) if source_series is not None else 4
    events = EventsTable(name="state_transitions", description="Transitions between metastable states.")
    events.add_column(name="from_state", description="State left.")
    events.add_column(name="to_state", description="State entered.")
    events.add_row(timestamp=1.5, from_state=0, to_state=1)
    events.add_row(timestamp=4.2, from_state=1, to_state=0)
    return CausalEmergenceAnalysis(
        name=name or name_generator("CausalEmergenceAnalysis"),
        condition=condition,
        method="multiscale NIS+ (ndx-causal-emergence 0.1.0)",
        parameters=json.dumps({"preset": "fast", "ladder": [n_channels, 2, 1]}),
        emergent_complexity=1.352724,
        emergent_complexity_normalized=0.676362,
        intervals=np.array([[0.0, 10.0]]),
        seeds=np.array([0, 1]),
        macro_variable_series=[
            mock_MacroVariableSeries(name=f"scale{k}", scale=k, dimension=q, source_series=source_series)
            for k, q in enumerate((n_channels, 2, 1))
        ],
        learned_dynamics_models=[mock_LearnedDynamicsModel(name="model")],
        emergence_table=mock_EmergenceTable(dimensions=(n_channels, 2, 1)),
        fixed_point_table=mock_FixedPointTable(),
        attribution_table=mock_AttributionTable(n_channels=n_channels) if with_attribution else None,
        state_transitions=events,
        analysis_provenance=mock_AnalysisProvenance(),
    )


def mock_nwbfile_with_analysis(*, n_rois: int = 4, n_times: int = 100) -> NWBFile:
    """An NWBFile with a mock ROI recording and one CausalEmergenceAnalysis in ``processing/ophys``."""
    nwbfile = mock_NWBFile()
    series = mock_RoiResponseSeries(
        name="RoiResponseSeries",
        data=np.random.default_rng(1).normal(size=(n_times, n_rois)),
        rate=10.0,
        n_rois=n_rois,
        nwbfile=nwbfile,
    )
    plane = series.rois.table
    ophys = nwbfile.processing["ophys"]
    analysis = mock_CausalEmergenceAnalysis(name="causal_emergence_awake", source_series=series, with_attribution=False)
    ophys.add(analysis)
    analysis.attribution_table = mock_AttributionTable(n_channels=n_rois, rois=plane)
    return nwbfile
