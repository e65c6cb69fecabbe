"""The main job: analyse a source (:func:`analyze`), results (:class:`Results`), reading them back."""

from .config import AnalysisConfig
from .results import ConditionResult, Results, read_results
from .run import analyze

__all__ = ["AnalysisConfig", "ConditionResult", "Results", "analyze", "read_results"]
