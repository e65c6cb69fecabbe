"""The main job: analyse a source (:func:`analyze`), results (:class:`Results`), reading them back."""

from .batch import batch_summary_dataset, run_batch
from .config import AnalysisConfig
from .results import ConditionResult, Results, read_results
from .run import analyze

__all__ = [
    "AnalysisConfig",
    "ConditionResult",
    "Results",
    "analyze",
    "batch_summary_dataset",
    "read_results",
    "run_batch",
]
