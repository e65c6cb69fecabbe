"""Two conditions of one recording: the comparison table, in NWB and in the report, and the fit gate."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import ndx_causal_emergence as ce
from ndx_causal_emergence.pipeline.report import report_document, report_text
from ndx_causal_emergence.testing.simulated import write_two_condition_nwb

CONFIG = {"conditions": "epochs", "condition_column": "stage", "preset": "fast", "ladder": (8, 4, 1),
          "n_bootstrap": 200, "model_params": {"max_steps": 300, "observed_reference": False}}  # fmt: skip


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("comparisons")
    source = write_two_condition_nwb(folder / "two.nwb", n_channels=8, n_frames=800)
    results = ce.analyze(str(source), **CONFIG)
    out = results.write(folder / "results.nwb")
    return results, out


def test_every_pair_is_compared_per_scale_and_measure(analysed):
    results, _ = analysed
    table = results.comparisons
    assert set(zip(table["condition_a"], table["condition_b"], strict=True)) == {("awake", "anesthesia")}
    assert sorted(table.loc[table["measure"] == "J", "dimension"]) == [1, 4, 8]
    assert sorted(table.loc[table["measure"] == "delta_J", "dimension"]) == [1, 4]  # no delta J at the micro level
    awake, anesthesia = (results.conditions[c].emergence.set_index("dimension") for c in ("awake", "anesthesia"))
    for row in table.to_dict("records"):
        col = "dimension_averaged_ei" if row["measure"] == "J" else "causal_emergence"
        d = row["dimension"]
        assert row["difference"] == pytest.approx(awake.loc[d, col] - anesthesia.loc[d, col])
        assert 0 < row["p_value"] <= 1
    # each condition sees the comparison from its side
    mine = results.conditions["anesthesia"].comparisons
    assert set(mine["other_condition"]) == {"awake"}
    assert np.allclose(np.sort(mine["difference"]), np.sort(-table["difference"]))


def test_every_scale_carries_fit_quality_and_significance(analysed):
    results, _ = analysed
    for res in results.conditions.values():
        e = res.emergence
        assert e["fit_ok"].dtype == bool and e["significant"].dtype == bool
        assert (e["fit_ok"] == (e["latent_nmse"] < np.minimum(1.0, e["latent_nmse_persistence"]))).all()
        assert not e["significant"].iloc[0]  # the micro level has no emergence of its own
        macro = e.iloc[1:]
        assert (macro["causal_emergence_ci_low"] <= macro["causal_emergence"] + 1e-9).all()
        assert (macro["causal_emergence_ci_high"] >= macro["causal_emergence"] - 1e-9).all()
        assert (~macro["significant"] | (macro["causal_emergence_p_holm"] < 0.05)).all()


def test_written_file_holds_the_comparisons_and_reads_back(analysed):
    results, out = analysed
    loaded = ce.read_results(out, load_models=False)
    stored = loaded["causal_emergence_awake"].comparisons
    expected = results.conditions["awake"].comparisons
    assert stored["other_analysis"].tolist() == ["causal_emergence_anesthesia"] * len(expected)
    assert np.allclose(stored["difference"], expected["difference"])
    assert stored["significant"].tolist() == expected["significant"].tolist()
    emergence = loaded["causal_emergence_awake"].emergence
    assert emergence["fit_ok"].tolist() == results.conditions["awake"].emergence["fit_ok"].tolist()


def test_comparisons_open_without_this_package(analysed):
    _, out = analysed
    code = (
        "import pynwb, sys\n"
        "with pynwb.NWBHDF5IO(sys.argv[1], 'r') as io:\n"
        "    f = io.read()\n"
        "    a = f.processing['ophys']['causal_emergence_awake']\n"
        "    df = a.condition_comparison_table.to_dataframe()\n"
        "    print(sorted(set(df['measure'])), len(df), 'ndx_causal_emergence' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["['J',", "'delta_J']", "5", "False"]


def test_report_says_what_can_be_concluded(analysed):
    _, out = analysed
    doc = report_document(out)
    json.dumps(doc)  # one JSON document
    for analysis in doc["analyses"]:
        assert analysis["conclusions"] and analysis["comparisons"]
    text = report_text(doc)
    assert "J (nats)" in text and "dJ 95 % interval" in text and "persist." in text
    for analysis in doc["analyses"]:
        other = "anesthesia" if analysis["condition"] == "awake" else "awake"
        assert any(f"'{other}'" in s for s in analysis["conclusions"])  # the comparison is put in words
        assert all(s in text for s in analysis["conclusions"])


def test_results_round_trip_through_the_file(analysed):
    """Every field of what ``analyze`` returned comes back from the written file: tables exactly, macro variables
    bit for bit (float32 in memory as in the file), models that encode the original frames bit for bit."""
    from pandas.testing import assert_frame_equal

    from ndx_causal_emergence.data.prepare import prepare
    from ndx_causal_emergence.nwb.read import read_recording

    results, out = analysed
    loaded = ce.read_results(out)
    assert isinstance(loaded, type(results))
    assert list(loaded.conditions) == list(results.conditions) == ["awake", "anesthesia"]
    assert loaded.config == results.config
    assert (loaded.series_path, loaded.series_object_id, loaded.module) == (
        results.series_path, results.series_object_id, results.module)  # fmt: skip
    assert loaded.roi_table_object_id == results.roi_table_object_id is not None
    assert loaded.roi_indices == results.roi_indices is not None
    assert loaded.source.location == str(out)  # the file read, which holds a copy of the input
    assert_frame_equal(loaded.comparisons, results.comparisons)
    recording = read_recording(results.source.location, conditions="epochs", condition_column="stage")
    for label, fitted in results.conditions.items():
        stored = loaded[label]
        assert stored is loaded[fitted.analysis_name]
        for table in ("emergence", "fixed_points", "transitions", "attribution", "diagnostics", "comparisons"):
            # the schema orders the emergence table's columns: compared by name
            assert_frame_equal(getattr(stored, table), getattr(fitted, table), check_like=True, obj=f"{label}.{table}")
        for field in ("condition", "emergent_complexity", "emergent_complexity_normalized", "seeds", "provenance",
                      "parameters", "analysis_name", "dropped_channels"):  # fmt: skip
            assert getattr(stored, field) == getattr(fitted, field), (label, field)
        assert np.array_equal(stored.intervals, fitted.intervals)
        assert [name for name, _ in stored.stored_models] == [f"model_seed{s}" for s in fitted.seeds]
        for new, old in zip(stored.macro_variables, fitted.macro_variables, strict=True):
            assert new.dtype == old.dtype == np.float32 and new.name == old.name and new.attrs == old.attrs
            assert np.array_equal(new["time"], old["time"]) and np.array_equal(new["variable"], old["variable"])
            assert np.array_equal(new.to_numpy(), old.to_numpy())
        prepared = prepare(recording, condition=label)
        assert len(stored.models) == len(fitted.models)
        for new, old in zip(stored.models, fitted.models, strict=True):
            for frames in prepared.train + prepared.test:
                for precision in ("float32", "float64"):
                    for a, b in zip(new.encode(frames, precision=precision), old.encode(frames, precision=precision),
                                    strict=True):  # fmt: skip
                        assert np.array_equal(a, b)
