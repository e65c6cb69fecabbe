"""The main job end to end: simulated awake/anesthesia recording and real data, written to NWB and read back.

Slow: the module fixture fits two conditions with the full ``fast`` preset (about 12 minutes on the shared
2-core box), so the whole module runs in the slow job: ``pytest -m slow tests/integration/test_pipeline.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from pynwb import NWBHDF5IO, validate

import ndx_causal_emergence as ce
from ndx_causal_emergence.dynamics import metastable_states
from ndx_causal_emergence.testing.simulated import two_condition_latents, write_two_condition_nwb
from tests.conftest import WITHOUT_THIS_PACKAGE

pytestmark = pytest.mark.slow

CONFIG = dict(conditions="epochs", condition_column="stage", ladder=(16, 4, 1), preset="fast", seed=0)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pipeline")
    source = write_two_condition_nwb(folder / "two.nwb", n_channels=16, n_frames=3000)
    results = ce.analyze(source, **CONFIG)
    out = results.write(folder / "two_causal-emergence.nwb")
    return source, results, out


def test_awake_shows_more_emergence(simulated):
    _, results, _ = simulated
    top = results.conditions["awake"].emergence["scale"].max()
    dj = {
        name: res.emergence.set_index("scale").loc[top, "causal_emergence"] for name, res in results.conditions.items()
    }
    assert dj["awake"] > dj["anesthesia"], dj


def test_awake_top_scale_has_two_stable_points(simulated):
    _, results, _ = simulated
    awake = results.conditions["awake"]
    top = awake.emergence["scale"].max()
    fp = awake.fixed_points
    stable = fp[(fp["scale"] == top) & fp["in_support"] & (fp["stability"] == "stable")]
    assert {np.sign(loc[0]) for loc in stable["location"]} == {-1.0, 1.0}, fp
    assert awake.emergence["nmse"].iloc[-1] < 1.0
    # as many state transitions on the test block (the last 20 % of the condition) as the simulated latent makes
    latent = two_condition_latents(3000)["awake"][2400:]
    _, truth = metastable_states(latent, 0.1 * np.arange(len(latent)), [-1.0, 1.0], unstable_points=[0.0])
    assert abs(len(awake.transitions) - len(truth)) <= 1, (awake.transitions, truth)


def test_written_file_is_valid_nwb(simulated):
    _, _, out = simulated
    assert validate(path=str(out)) == []


def test_nwbinspector_nothing_critical_for_our_objects(simulated):
    from nwbinspector import Importance, inspect_nwbfile

    _, _, out = simulated
    bad = [
        m
        for m in inspect_nwbfile(nwbfile_path=str(out))
        if m.importance.value >= Importance.CRITICAL.value and "causal_emergence" in (m.location or "")
    ]
    assert bad == []


def test_dandi_validate_adds_nothing(simulated):
    from dandi.validate._core import validate as dandi_validate

    source, _, out = simulated

    def findings(path):
        return sorted((r.id, str(r.severity), r.message or "") for r in dandi_validate(str(path)))

    assert findings(out) == findings(source)


def test_pynapple_loads_macro_variables(simulated):
    import pynapple as nap

    _, results, out = simulated
    data = nap.load_file(str(out))
    frame = data["causal_emergence_awake/scale1"]
    assert isinstance(frame, nap.TsdFrame)
    expected = results.conditions["awake"].macro_variables[1]
    assert frame.shape == expected.shape == (expected.sizes["time"], 4)
    np.testing.assert_allclose(frame.t, expected["time"].to_numpy(), atol=1e-6)
    np.testing.assert_allclose(frame.values, expected.to_numpy(), atol=1e-6)


READER = WITHOUT_THIS_PACKAGE + textwrap.dedent(
    """
    import json
    from pynwb import NWBHDF5IO
    with NWBHDF5IO(sys.argv[1], "r", load_namespaces=True) as io:
        f = io.read()
        a = f.processing["ophys"]["causal_emergence_awake"]
        print(json.dumps({"condition": a.condition, "rows": len(a.emergence_table),
                          "scales": sorted(a.macro_variable_series)}))
    """
)


def test_opens_in_a_process_without_the_package(simulated):
    _, _, out = simulated
    proc = subprocess.run([sys.executable, "-c", READER, str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"condition": "awake", "rows": 3, "scales": ["scale0", "scale1", "scale2"]}


def test_rebuilt_model_reproduces_stored_macro_variables(simulated):
    from ndx_causal_emergence.data.prepare import prepare
    from ndx_causal_emergence.nwb.read import read_recording

    source, _, out = simulated
    loaded = ce.read_results(out)["causal_emergence_awake"]
    recording = read_recording(source, conditions="epochs", condition_column="stage")
    prepared = prepare(recording, condition="awake")
    model = loaded.models[0]
    first = prepared.train[0]
    encoded = model.encode(first)
    stored_time = loaded.macro_variables[0]["time"].values
    start = np.searchsorted(stored_time, prepared.timestamps["train"][0][0])
    for k, values in enumerate(encoded):
        stored = loaded.macro_variables[k].values[start : start + len(first)]
        np.testing.assert_allclose(values, stored, atol=1e-5)


def test_provenance_names_input_and_rerun_reproduces(simulated):
    source, results, out = simulated
    loaded = ce.read_results(out, load_models=False)["causal_emergence_awake"]
    prov = loaded.provenance
    with NWBHDF5IO(source, "r") as io:
        f = io.read()
        series = f.processing["ophys"]["DfOverF"]["RoiResponseSeries"]
        assert prov["input_identifier"] == f.identifier
        assert prov["input_object_id"] == series.object_id
    assert prov["input_path"] == "/processing/ophys/DfOverF/RoiResponseSeries"
    assert json.loads(prov["environment"])["torch"]
    config = ce.AnalysisConfig.from_dict(loaded.parameters)
    again = ce.analyze(source, config=config, only=["awake"])
    cols = ["dimension_averaged_ei", "causal_emergence", "nmse"]
    np.testing.assert_allclose(
        again.conditions["awake"].emergence[cols].to_numpy(), loaded.emergence[cols].to_numpy(), rtol=1e-6, atol=1e-9
    )


def test_report_json_shape(simulated):
    from click.testing import CliRunner

    from ndx_causal_emergence.cli.main import cli

    _, _, out = simulated
    result = CliRunner().invoke(cli, ["report", str(out), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    names = {a["condition"] for a in doc["analyses"]}
    assert names == {"awake", "anesthesia"}
    a = doc["analyses"][0]
    for key in ("name", "condition", "source", "emergent_complexity", "scales", "fixed_points", "provenance"):
        assert key in a
    for key in (
        "scale",
        "dimension",
        "effective_information",
        "dimension_averaged_ei",
        "causal_emergence",
        "causal_power",
        "nmse",
    ):
        assert key in a["scales"][0]
    assert {"scale", "stability", "in_support"} <= set(a["fixed_points"][0])


def test_real_triplett_recording(tmp_path, real_data):
    """Real zebrafish tectum traces (Triplett et al. 2018, 114 cells), converted to NWB, analysed and written."""
    from ndx_causal_emergence.convert import triplett_to_nwb

    source = triplett_to_nwb(real_data / "triplett2018_zebrafish_tectum", tmp_path / "zf.nwb")
    results = ce.analyze(source, ladder=(114, 8, 1), preset="fast", model_params={"max_steps": 400})
    res = results.conditions["all"]
    assert res.emergence["dimension"].tolist() == [114, 8, 1]
    assert np.isfinite(res.emergence["dimension_averaged_ei"]).all()
    out = results.write(tmp_path / "zf_causal-emergence.nwb")
    assert validate(path=str(out)) == []
    loaded = ce.read_results(out, load_models=False)
    with NWBHDF5IO(out, "r", load_namespaces=True) as io:  # the file's link from each channel to its ROI
        table = io.read().processing[loaded.module]["causal_emergence_all"].attribution_table
        assert set(table["roi"].data[:]) <= set(range(114))
    assert loaded.roi_indices == list(range(114))  # read back: the row of each channel in the ROI table
