"""Helpers for testing code that uses ndx-causal-emergence: mock objects of every type and a long
synthetic ophys file (:func:`write_long_ophys_nwb`); simulated recordings are in
:mod:`~ndx_causal_emergence.testing.simulated`, the local DANDI stand-in in
:mod:`~ndx_causal_emergence.testing.dandi_server`. Converters of real data are in
:mod:`ndx_causal_emergence.convert`.
"""

from .long_ophys import write_long_ophys_nwb
from .mock import (
    mock_AnalysisProvenance,
    mock_AttributionTable,
    mock_CausalEmergenceAnalysis,
    mock_EmergenceTable,
    mock_FixedPointTable,
    mock_LearnedDynamicsModel,
    mock_MacroVariableSeries,
    mock_nwbfile_with_analysis,
)

__all__ = [
    "mock_AnalysisProvenance",
    "mock_AttributionTable",
    "mock_CausalEmergenceAnalysis",
    "mock_EmergenceTable",
    "mock_FixedPointTable",
    "mock_LearnedDynamicsModel",
    "mock_MacroVariableSeries",
    "mock_nwbfile_with_analysis",
    "write_long_ophys_nwb",
]
