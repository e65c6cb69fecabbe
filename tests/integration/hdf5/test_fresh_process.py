"""A file with every type opens in a process where ndx_causal_emergence cannot be imported."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from pynwb import NWBHDF5IO

from ndx_causal_emergence.testing import mock_nwbfile_with_analysis

READER = textwrap.dedent(
    """
    import json, sys
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "ndx_causal_emergence":
                raise ImportError("blocked: " + name)
    sys.meta_path.insert(0, Block())
    try:
        import ndx_causal_emergence  # noqa: F401
        raise SystemExit("the package could be imported")
    except ImportError:
        pass
    from pynwb import NWBHDF5IO, validate
    with NWBHDF5IO(sys.argv[1], "r", load_namespaces=True) as io:
        f = io.read()
        a = f.processing["ophys"]["causal_emergence_awake"]
        out = {
            "type": a.neurodata_type,
            "namespace": a.namespace,
            "series": sorted(a.macro_variable_series),
            "series_type": a.macro_variable_series["scale1"].neurodata_type,
            "emergence_rows": len(a.emergence_table),
            "fixed_points": a.fixed_point_table.to_dataframe()["stability"].tolist(),
            "attribution_rows": len(a.attribution_table),
            "transitions": len(a.state_transitions),
            "provenance": a.analysis_provenance.package_name,
            "model_tensors": sorted(a.learned_dynamics_models["model"].model_parameters),
            "module_loaded": "ndx_causal_emergence" in sys.modules,
        }
    out["validate"] = [str(e) for e in validate(path=sys.argv[1])]
    print(json.dumps(out))
    """
)


def test_opens_without_the_package(tmp_path):
    path = tmp_path / "analysis.nwb"
    with NWBHDF5IO(path, "w") as io:
        io.write(mock_nwbfile_with_analysis())
    proc = subprocess.run([sys.executable, "-c", READER, str(path)], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["type"] == "CausalEmergenceAnalysis" and out["namespace"] == "ndx-causal-emergence"
    assert out["series"] == ["scale0", "scale1", "scale2"]
    assert out["series_type"] == "MacroVariableSeries"
    assert out["emergence_rows"] == 3
    assert out["fixed_points"] == ["stable", "unstable", "stable", "saddle"]
    assert out["attribution_rows"] == 8
    assert out["transitions"] == 2
    assert out["provenance"] == "ndx-causal-emergence"
    assert out["model_tensors"] == ["log_scale", "net.0.bias", "net.0.weight", "net.2.weight"]
    assert out["module_loaded"] is False
    assert out["validate"] == []
