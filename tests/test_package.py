"""Packaging: the schema, the light import, the version, the wheel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import ndx_causal_emergence

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "spec"


def test_namespace_version_equals_package_version():
    ns = yaml.safe_load((SPEC / "ndx-causal-emergence.namespace.yaml").read_text())["namespaces"][0]
    assert ns["name"] == "ndx-causal-emergence"
    assert ns["version"] == ndx_causal_emergence.__version__


def test_schema_is_generated_by_the_script(tmp_path):
    """The committed YAML is exactly what the script writes (it is never hand-edited)."""
    before = {p.name: p.read_text() for p in SPEC.glob("*.yaml")}
    subprocess.run([sys.executable, str(REPO / "src" / "spec" / "create_extension_spec.py")], check=True)
    after = {p.name: p.read_text() for p in SPEC.glob("*.yaml")}
    assert before == after


def test_schema_validates_against_nwb_meta_schema():
    import pynwb
    from hdmf.testing.validate_spec import main as validate_spec  # noqa: F401 (module import checks)

    meta = Path(pynwb.__file__).parent / "nwb-schema" / "nwb.schema.json"
    proc = subprocess.run(
        [sys.executable, "-m", "hdmf.testing.validate_spec", str(SPEC), "-m", str(meta)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error" not in proc.stdout.lower()


IMPORT_PROBE = """
import sys, time, json
t = time.perf_counter()
import pynwb
t_pynwb = time.perf_counter()
import ndx_causal_emergence
t_end = time.perf_counter()
print(json.dumps({"pynwb": t_pynwb - t, "own": t_end - t_pynwb,
                  "heavy": sorted(m for m in ("torch", "dandi", "dask", "matplotlib", "xarray") if m in sys.modules)}))
"""


def test_import_is_light_and_fast():
    """Importing the package loads no heavy dependency and costs little next to pynwb itself.

    Our part is timed against pynwb's own import in the same process, so the bound holds on a
    slow machine as on a fast one (absolute seconds depend on the machine, not on this package).
    """
    runs = []
    for _ in range(5):
        proc = subprocess.run([sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, check=True)
        runs.append(json.loads(proc.stdout))
    assert all(r["heavy"] == [] for r in runs), runs
    own = min(r["own"] for r in runs)
    pynwb_seconds = min(r["pynwb"] for r in runs)
    # loading the namespace is hdmf's spec parsing: about a tenth of pynwb's import here (0.10 s against 1.2 s)
    assert own <= 0.25 * pynwb_seconds, f"loading the namespace took {own:.2f} s against pynwb's {pynwb_seconds:.2f} s"


@pytest.mark.timeout(600)
def test_built_wheel_works_on_its_own(tmp_path):
    """Build the wheel, install it alone into a venv, and use the packaged spec from there."""
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(REPO)],
        check=True,
        capture_output=True,
    )
    wheel = next(dist.glob("ndx_causal_emergence-*.whl"))
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "ndx_causal_emergence/spec/ndx-causal-emergence.namespace.yaml" in names
    assert "ndx_causal_emergence/spec/ndx-causal-emergence.extensions.yaml" in names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)], check=True)
    probe = (
        "import ndx_causal_emergence as n, ndx_causal_emergence.nwb.types as t, sys;"
        "from ndx_causal_emergence.testing import mock_nwbfile_with_analysis;"
        "from pynwb import NWBHDF5IO;"
        "f = mock_nwbfile_with_analysis();"
        "io = NWBHDF5IO('w.nwb', 'w'); io.write(f); io.close();"
        "print(n.__file__); print(t._namespace_path())"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # an empty working directory, and the editable install's path hooks removed
    proc = subprocess.run([str(py), "-I", "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    module_file, ns_path = proc.stdout.split()
    assert str(venv) in module_file
    assert str(venv) in ns_path
