"""NIS, NIS+ and multiscale NIS+ models (torch; imported on demand, never by the package ``__init__``)."""

from .estimator import MultiscaleNISPlus
from .nis import NIS, NISPlus

__all__ = ["NIS", "MultiscaleNISPlus", "NISPlus"]
