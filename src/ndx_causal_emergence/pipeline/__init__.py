"""The main job: analyse a source (:func:`analyze`), results (:class:`Results`), reading them back, applying a
stored model to another recording (:func:`apply_model`)."""

from .apply import apply_model
from .batch import batch_summary_dataset, run_batch
from .config import AnalysisConfig
from .results import ConditionResult, Results, read_all_results, read_results
from .run import analyze

__all__ = [
    "AnalysisConfig",
    "ConditionResult",
    "Results",
    "analyze",
    "apply_model",
    "batch_summary_dataset",
    "read_all_results",
    "read_results",
    "run_batch",
]
