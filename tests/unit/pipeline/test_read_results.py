"""``read_results`` keys: one ``Results`` per analysed series, by condition; analyses of the same name in two
processing modules never shadow each other."""

from __future__ import annotations

import numpy as np
import pytest
from pynwb import NWBHDF5IO, TimeSeries
from pynwb.testing.mock.file import mock_NWBFile
from pynwb.testing.mock.ophys import mock_RoiResponseSeries

import ndx_causal_emergence as ce
from ndx_causal_emergence.errors import InputError
from ndx_causal_emergence.nwb.write import InputLinks, append_in_place
from ndx_causal_emergence.pipeline.report import report_document
from ndx_causal_emergence.testing.content import mock_analysis_content


@pytest.fixture
def two_series_file(tmp_path):
    """An ophys series and a plain acquisition series, each with an analysis named ``causal_emergence_awake``."""
    path = tmp_path / "two.nwb"
    nwbfile = mock_NWBFile()
    rng = np.random.default_rng(0)
    ophys = mock_RoiResponseSeries(name="RoiResponseSeries", n_rois=4, rate=10.0, nwbfile=nwbfile,
                                   data=rng.normal(size=(100, 4)))  # fmt: skip
    plain = TimeSeries(name="lfp", data=rng.normal(size=(100, 4)), unit="V", rate=10.0)
    nwbfile.add_acquisition(plain)
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    for series, links in ((ophys, InputLinks(ophys.object_id, ophys.rois.table.object_id, [0, 1, 2, 3])),
                          (plain, InputLinks(plain.object_id))):  # fmt: skip
        content = mock_analysis_content()
        content.provenance = {**content.provenance, "input_object_id": series.object_id,
                              "input_path": f"/{series.name}"}  # fmt: skip
        append_in_place(path, [content], links)
    return path


def test_analyses_of_two_series_are_never_merged(two_series_file):
    with pytest.raises(
        InputError, match=r"analyses of 2 series \(ophys: /RoiResponseSeries \(awake\); misc: /lfp \(awake\)\); choose"
    ):
        ce.read_results(two_series_file, load_models=False)
    found = ce.read_all_results(two_series_file, load_models=False)
    assert sorted(r.module for r in found) == ["misc", "ophys"]
    ophys = ce.read_results(two_series_file, series="ophys", load_models=False)
    assert ophys.module == "ophys" and ophys.roi_indices == [0, 1, 2, 3] and ophys.roi_table_object_id
    assert ce.read_results(two_series_file, series="/lfp", load_models=False).module == "misc"
    # both stay in the report of the file, named by module
    names = [a["name"] for a in report_document(two_series_file)["analyses"]]
    assert sorted(names) == ["misc/causal_emergence_awake", "ophys/causal_emergence_awake"]


def test_results_are_keyed_by_condition_and_found_by_analysis_name(two_series_file):
    results = ce.read_results(two_series_file, series="ophys", load_models=False)
    assert list(results.conditions) == ["awake"]
    assert results["awake"] is results["causal_emergence_awake"] is results.conditions["awake"]
    assert "awake" in results and "causal_emergence_awake" in results and "other" not in results
    with pytest.raises(KeyError, match="neither a condition"):
        results["other"]
    with pytest.raises(TypeError, match="iterate over results.conditions"):
        list(results)
    assert results["awake"].dropped_channels == [(4, "constant on the training block")]
    assert list(results["awake"].diagnostics["scale"]) == [0, 1, 2]


def test_no_analysis_is_an_input_error(tmp_path):
    path = tmp_path / "empty.nwb"
    with NWBHDF5IO(path, "w") as io:
        io.write(mock_NWBFile())
    with pytest.raises(InputError, match="holds no causal-emergence analysis"):
        ce.read_results(path)
    assert ce.read_all_results(path) == []
