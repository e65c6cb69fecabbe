"""Dynamics analysis of learned macro dynamics, and attribution to the inputs (docs/method.md §4).

Functions of a fitted map and of data: fixed points of the learned map and of the empirical drift
(:mod:`.fixed_points`, :mod:`.empirical`), potentials, basins and metastable states
(:mod:`.potential`), diagnostics (:mod:`.diagnostics`), integrated-gradient attribution
(:mod:`.attribution`), figures (:mod:`.plots`) and the per-model wrapper :func:`analyze_dynamics`.
Importing this package does not import torch or matplotlib; the functions load them when called.
"""

from .analysis import DynamicsAnalysis, analyze_dynamics, state_points
from .attribution import (
    ATTRIBUTION_COLUMNS,
    COVERAGE_COLUMNS,
    attribution_table,
    chained_integrated_gradients,
    coverage_table,
    integrated_gradients,
)
from .diagnostics import (
    autocorrelation_time,
    dynamics_diagnostics,
    noise_to_drift_ratio,
    occupancy_entropy,
    occupied_extent,
)
from .empirical import conditional_drift, empirical_fixed_points
from .fixed_points import (
    FIXED_POINT_COLUMNS,
    classify_stability,
    compare_fixed_points,
    find_fixed_points,
    support_mask,
)
from .plots import (
    plot_attribution,
    plot_attribution_map,
    plot_conditions,
    plot_drift_field,
    plot_emergence,
    plot_fit_quality,
    plot_potential,
    plot_state_timeline,
)
from .potential import (
    TRANSITION_COLUMNS,
    basin_boundaries,
    drift_field,
    drift_potential,
    metastable_states,
    occupancy_potential,
)

__all__ = [
    "ATTRIBUTION_COLUMNS",
    "COVERAGE_COLUMNS",
    "FIXED_POINT_COLUMNS",
    "TRANSITION_COLUMNS",
    "DynamicsAnalysis",
    "analyze_dynamics",
    "attribution_table",
    "chained_integrated_gradients",
    "coverage_table",
    "autocorrelation_time",
    "basin_boundaries",
    "classify_stability",
    "compare_fixed_points",
    "conditional_drift",
    "drift_field",
    "drift_potential",
    "dynamics_diagnostics",
    "empirical_fixed_points",
    "find_fixed_points",
    "integrated_gradients",
    "metastable_states",
    "noise_to_drift_ratio",
    "occupancy_entropy",
    "occupancy_potential",
    "occupied_extent",
    "plot_attribution",
    "plot_attribution_map",
    "plot_conditions",
    "plot_drift_field",
    "plot_emergence",
    "plot_fit_quality",
    "plot_potential",
    "plot_state_timeline",
    "state_points",
    "support_mask",
]
