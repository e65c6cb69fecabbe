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
    AttributionTable,
    CausalEmergenceAnalysis,
    EmergenceTable,
    FixedPointTable,
    LearnedDynamicsModel,
    MacroVariableSeries,
    ModelParameter,
)

__all__ = [
    "NAMESPACE",
    "AnalysisProvenance",
    "AttributionTable",
    "CausalEmergenceAnalysis",
    "EmergenceTable",
    "FixedPointTable",
    "LearnedDynamicsModel",
    "MacroVariableSeries",
    "ModelParameter",
    "__version__",
]
