"""Helpers for testing code that uses ndx-causal-emergence: mock objects of every type."""

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
]
