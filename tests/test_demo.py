"""The bundled demo recording is the real CaImAn result, and the demo command runs the whole job."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from pynwb import NWBHDF5IO

from ndx_causal_emergence.convert import caiman_to_nwb
from ndx_causal_emergence.demo import demo_file


def test_bundled_file_is_the_converted_real_recording(real_data, tmp_path):
    rebuilt = caiman_to_nwb(real_data / "neuroconv_ophys_segmentation" / "caiman_analysis.hdf5", tmp_path / "c.nwb")
    with NWBHDF5IO(demo_file(), "r") as bundled_io, NWBHDF5IO(rebuilt, "r") as rebuilt_io:
        a = bundled_io.read().processing["ophys"]["DfOverF"]["RoiResponseSeries"]
        b = rebuilt_io.read().processing["ophys"]["DfOverF"]["RoiResponseSeries"]
        assert a.data.shape == (1000, 72) and a.rate == 30.0
        np.testing.assert_array_equal(a.data[:], b.data[:])


@pytest.mark.slow
def test_demo_command_runs_the_whole_job(tmp_path):
    from ndx_causal_emergence.cli.main import cli

    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "caiman_cnmfe_demo_causal-emergence.nwb").exists()
    assert list((tmp_path / "figures").glob("*.png"))
    # every scale carries the fit gate and significance, and the report says what can be concluded
    from ndx_causal_emergence.pipeline.report import report_document

    (analysis,) = report_document(tmp_path / "caiman_cnmfe_demo_causal-emergence.nwb")["analyses"]
    assert all("fit_ok" in s and "significant" in s for s in analysis["scales"])
    assert analysis["conclusions"] and "dJ 95 % interval" in result.output
