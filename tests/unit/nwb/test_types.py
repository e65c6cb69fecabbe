"""Constructors and error paths of the extension's types."""

import json

import numpy as np
import pytest

from ndx_causal_emergence import LearnedDynamicsModel, MacroVariableSeries
from ndx_causal_emergence.testing import (
    mock_AnalysisProvenance,
    mock_CausalEmergenceAnalysis,
    mock_EmergenceTable,
    mock_FixedPointTable,
    mock_LearnedDynamicsModel,
    mock_MacroVariableSeries,
)


def test_macro_variable_series_fields():
    series = mock_MacroVariableSeries(name="s", scale=2, dimension=3, n_times=50)
    assert series.scale == 2 and series.dimension == 3
    assert series.data.shape == (50, 3)
    xr = series.to_xarray()
    assert xr.dims == ("time", "variable")
    assert xr.shape == (50, 3)
    assert np.allclose(xr.time.values[:3], [0.0, 0.1, 0.2])
    assert xr.attrs["scale"] == 2


def test_macro_variable_series_dimension_mismatch():
    with pytest.raises(ValueError, match="dimension=3 but data has 2 columns"):
        MacroVariableSeries(name="s", data=np.zeros((10, 2)), unit="a.u.", scale=1, dimension=3, rate=1.0)


def test_macro_variable_series_rejects_1d_and_negative_scale():
    with pytest.raises(ValueError, match="must be 2-D"):
        MacroVariableSeries(name="s", data=np.zeros(10), unit="a.u.", scale=1, dimension=1, rate=1.0)
    with pytest.raises(ValueError, match="scale must be >= 0"):
        MacroVariableSeries(name="s", data=np.zeros((10, 1)), unit="a.u.", scale=-1, dimension=1, rate=1.0)


def test_learned_dynamics_model_state_dict_round_trip():
    model = mock_LearnedDynamicsModel(name="m")
    state = model.state_dict()
    assert state["net.0.weight"].shape == (8, 3)
    assert state["log_scale"].shape == ()
    assert model.architecture_dict["input_dim"] == 3
    assert model.model_parameters["log_scale"].data.shape == (1,)


def test_learned_dynamics_model_errors():
    with pytest.raises(ValueError, match="contains '/'"):
        LearnedDynamicsModel.from_state_dict(
            {"a/b": np.zeros(2)},
            name="m",
            description="d",
            model_class="x",
            architecture="{}",
            framework="torch",
            framework_version="2",
        )
    with pytest.raises(ValueError, match="architecture must be JSON"):
        LearnedDynamicsModel(
            name="m",
            description="d",
            model_class="x",
            architecture="{not json",
            framework="torch",
            framework_version="2",
        )


def test_tables_have_required_columns():
    emergence = mock_EmergenceTable(dimensions=(8, 2, 1)).to_dataframe()
    for col in [
        "scale",
        "dimension",
        "effective_information",
        "dimension_averaged_ei",
        "noise_term",
        "jacobian_term",
        "causal_emergence",
        "causal_power",
        "nmse",
    ]:
        assert col in emergence.columns
    assert emergence["causal_emergence"].iloc[0] == 0.0
    fixed = mock_FixedPointTable().to_dataframe()
    assert set(fixed["stability"]) == {"stable", "unstable", "saddle"}
    assert list(fixed["location"].iloc[3]) == [0.1, -0.2]


def test_analysis_holds_everything():
    analysis = mock_CausalEmergenceAnalysis(name="a")
    assert json.loads(analysis.parameters)["preset"] == "fast"
    assert set(analysis.macro_variable_series) == {"scale0", "scale1", "scale2"}
    assert analysis.analysis_provenance.package_name == "ndx-causal-emergence"
    assert len(analysis.state_transitions) == 2
    assert analysis.intervals.shape == (1, 2)


def test_provenance_optional_dandi_fields():
    prov = mock_AnalysisProvenance(dandiset_id="000123", asset_id="abc")
    assert prov.dandiset_id == "000123" and prov.asset_id == "abc"
    assert mock_AnalysisProvenance().dandiset_id is None
