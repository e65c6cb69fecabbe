"""Plain-data analysis content for tests of the NWB writer (no model fitting needed)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ..nwb.content import AnalysisContent, StoredModel


def mock_analysis_content(
    *,
    name: str = "causal_emergence_awake",
    n_channels: int = 4,
    n_times: int = 100,
    seed: int = 0,
    timestamps: np.ndarray | None = None,
) -> AnalysisContent:
    """An :class:`~ndx_causal_emergence.nwb.content.AnalysisContent` with random but well-formed values.

    Every part is filled, diagnostics and one dropped channel (id ``n_channels``) included.
    """
    rng = np.random.default_rng(seed)
    dims = [n_channels, 2, 1]
    stamps = np.arange(n_times) / 10.0 if timestamps is None else np.asarray(timestamps)
    emergence = pd.DataFrame(
        {
            "scale": range(len(dims)),
            "dimension": dims,
            "effective_information": rng.normal(size=3),
            "dimension_averaged_ei": [0.5, 0.9, 1.4],
            "noise_term": rng.normal(size=3),
            "jacobian_term": rng.normal(size=3),
            "causal_emergence": [0.0, 0.4, 0.9],
            "causal_power": [0.36, 0.28, 0.36],
            "nmse": [0.3, 0.4, 0.6],
            "nmse_persistence": [0.5, 0.5, 0.5],
        }
    )
    fixed = pd.DataFrame(
        {
            "scale": [2, 2, 2],
            "location": [[-0.8], [0.0], [0.8]],
            "eigenvalues_real": [[0.9], [1.1], [0.9]],
            "eigenvalues_imag": [[0.0], [0.0], [0.0]],
            "stability": ["stable", "unstable", "stable"],
            "in_support": [True, True, True],
            "source": ["model"] * 3,
            "agrees": pd.array([True, pd.NA, False], dtype="boolean"),
        }
    )
    diagnostics = pd.DataFrame(
        {
            "scale": range(len(dims)),
            "dimension": dims,
            "noise_to_drift_ratio": rng.uniform(size=3),
            "n_fixed_points_empirical": [np.nan, np.nan, 3.0],
        }
    )
    attribution = pd.DataFrame(
        [
            {"scale": k, "channel": c, "importance": 1.0 / n_channels, "attribution": list(rng.normal(size=d))}
            for k, d in enumerate(dims)
            for c in range(n_channels)
        ]
    )
    transitions = pd.DataFrame(
        {"timestamp": [1.0, 3.0], "from_state": [0, 1], "to_state": [1, 0], "dwell_time": [1.0, 2.0]}
    )
    provenance = {
        "package_name": "ndx-causal-emergence",
        "package_version": "0.1.0",
        "source_url": "https://example.org",
        "command": "test",
        "environment": json.dumps({"python": "3"}),
        "device": "cpu",
        "start_time": "2026-01-01T00:00:00+00:00",
        "end_time": "2026-01-01T00:00:01+00:00",
        "input_file": "in.nwb",
        "input_identifier": "id",
        "input_object_id": "oid",
        "input_path": "/path",
    }
    return AnalysisContent(
        name=name,
        condition=name.rsplit("_", 1)[-1],
        method="test",
        parameters=json.dumps({"preset": "fast"}),
        seeds=[seed],
        intervals=np.array([[stamps[0], stamps[-1]]]),
        emergent_complexity=1.0,
        emergent_complexity_normalized=0.5,
        emergence=emergence,
        provenance=provenance,
        macro_variables=[(k, rng.normal(size=(n_times, d)), stamps) for k, d in enumerate(dims)],
        models=[
            StoredModel(
                name="model_seed0",
                description="test",
                model_class="x",
                architecture=json.dumps({"a": 1}),
                tensors={"w": rng.normal(size=(3, 3))},
                framework_version="2",
            )
        ],
        fixed_points=fixed,
        attribution=attribution,
        transitions=transitions,
        diagnostics=diagnostics,
        dropped_channels=[(n_channels, "constant on the training block")],
    )
