"""ndx-causal-emergence: multiscale causal emergence of neural time series, stored in NWB.

Importing the package loads the ``ndx-causal-emergence`` NWB namespace and exposes its
neurodata types. Heavy parts (torch, dandi, dask, matplotlib) are imported lazily, only
when the analysis functions that need them are used.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ndx-causal-emergence")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.1.0"

from .nwb.types import (  # noqa: E402  (the namespace must be loaded first, in nwb.types)
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
    ModelParameter,
)

# the analysis API resolves lazily, so that importing the package never loads torch
_LAZY = {
    "analyze": "ndx_causal_emergence.pipeline.run",
    "apply_model": "ndx_causal_emergence.pipeline.apply",
    "read_results": "ndx_causal_emergence.pipeline.results",
    "read_all_results": "ndx_causal_emergence.pipeline.results",
    "AnalysisConfig": "ndx_causal_emergence.pipeline.config",
    "MultiscaleNISPlus": "ndx_causal_emergence.models",
    "NISPlus": "ndx_causal_emergence.models",
    "NIS": "ndx_causal_emergence.models",
    "run_batch": "ndx_causal_emergence.pipeline.batch",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ndx_causal_emergence' has no attribute {name!r}")


__all__ = [
    "NAMESPACE",
    "AnalysisConfig",
    "MultiscaleNISPlus",
    "NIS",
    "NISPlus",
    "analyze",
    "apply_model",
    "read_all_results",
    "read_results",
    "run_batch",
    "AnalysisProvenance",
    "AppliedModelAnalysis",
    "AttributionTable",
    "CausalEmergenceAnalysis",
    "ConditionComparisonTable",
    "EmergenceTable",
    "FixedPointTable",
    "LearnedDynamicsModel",
    "MacroVariableSeries",
    "ModelParameter",
    "__version__",
]
