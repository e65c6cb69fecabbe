"""Measures of causal emergence (docs/method.md §2.3, §3): pure functions, no NWB, no fitting.

Importing this package does not import torch; the functions that need it import it when called.
"""

from .discrete import TPMResult, coarse_grain, tpm_ei
from .ei import EIResult, batched_jacobian, estimate_sigma2, gaussian_ei, linear_gaussian_ei, logabsdet_jacobian
from .emergence import ECResult, causal_emergence, causal_power, emergent_complexity
from .uncertainty import circular_shift_surrogate, summarize, surrogate_p_value
from .weights import ipw_weights, kde_log_density

__all__ = [
    "ECResult",
    "EIResult",
    "TPMResult",
    "batched_jacobian",
    "causal_emergence",
    "causal_power",
    "circular_shift_surrogate",
    "coarse_grain",
    "emergent_complexity",
    "estimate_sigma2",
    "gaussian_ei",
    "ipw_weights",
    "kde_log_density",
    "linear_gaussian_ei",
    "logabsdet_jacobian",
    "summarize",
    "surrogate_p_value",
    "tpm_ei",
]
