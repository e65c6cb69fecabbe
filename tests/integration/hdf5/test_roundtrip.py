"""Write, read back and compare every type; export round trip; validators."""

from __future__ import annotations

import numpy as np
import pytest
from pynwb import NWBHDF5IO, validate
from pynwb.testing import TestCase

from ndx_causal_emergence.testing import mock_nwbfile_with_analysis

ANALYSIS = "causal_emergence_awake"


@pytest.fixture
def written(tmp_path):
    nwbfile = mock_nwbfile_with_analysis()
    path = tmp_path / "analysis.nwb"
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    return nwbfile, path


def _compare(expected, path):
    tc = TestCase()
    with NWBHDF5IO(path, "r") as io:
        read = io.read()
        got = read.processing["ophys"][ANALYSIS]
        want = expected.processing["ophys"][ANALYSIS]
        tc.assertContainerEqual(want, got, ignore_hdmf_attrs=True)
        # the link to the input and the ROI region survive
        series = read.processing["ophys"]["RoiResponseSeries"]
        assert got.macro_variable_series["scale1"].source_series is series
        assert got.attribution_table["roi"].table is series.rois.table
        model = got.learned_dynamics_models["model"]
        for key, value in want.learned_dynamics_models["model"].state_dict().items():
            np.testing.assert_array_equal(model.state_dict()[key], value)


def test_hdf5_round_trip(written):
    nwbfile, path = written
    _compare(nwbfile, path)


def test_export_round_trip(written, tmp_path):
    nwbfile, path = written
    exported = tmp_path / "exported.nwb"
    with NWBHDF5IO(path, "r") as read_io:
        with NWBHDF5IO(exported, "w") as export_io:
            export_io.export(src_io=read_io, nwbfile=read_io.read(), write_args={"link_data": False})
    _compare(nwbfile, exported)


def test_pynwb_validate_clean(written):
    _, path = written
    assert validate(path=str(path)) == []


def test_nwbinspector_nothing_critical_for_our_objects(written):
    from nwbinspector import Importance, inspect_nwbfile

    _, path = written
    ours = {
        "MacroVariableSeries",
        "LearnedDynamicsModel",
        "ModelParameter",
        "EmergenceTable",
        "FixedPointTable",
        "AttributionTable",
        "AnalysisProvenance",
        "CausalEmergenceAnalysis",
        "EventsTable",
    }
    bad = [
        m
        for m in inspect_nwbfile(nwbfile_path=str(path))
        if m.importance.value >= Importance.CRITICAL.value and (m.object_type in ours or ANALYSIS in (m.location or ""))
    ]
    assert bad == []
