"""Item 10: bad input is an input error (exit 2, one line, nothing left behind), never an internal error."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest
from pynwb import NWBHDF5IO
from pynwb.testing.mock.file import mock_NWBFile

from .conftest import FIT_LINE, declare_dataset, invoke, one_line_error, write_recording


def _truncated(tmp_path, tiny_nwb):
    path = tmp_path / "truncated.nwb"
    data = tiny_nwb.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return ["run", path], ["truncated"]


def _non_utf8_labels(tmp_path, _tiny_nwb):
    path = write_recording(tmp_path / "latin1.nwb", labels=("awake", "asleep"))
    with h5py.File(path, "a") as f:
        attrs = dict(f["intervals/epochs/stage"].attrs)
        del f["intervals/epochs/stage"]
        labels = np.array([b"\xffawake", b"an\xe9sthesia"], dtype=h5py.string_dtype("utf-8"))
        f.create_dataset("intervals/epochs/stage", data=labels).attrs.update(attrs)
    return ["run", path, "--conditions", "epochs", "--condition-column", "stage"], ["utf-8"]


def _spike_times(value):
    def build(tmp_path, _tiny_nwb):
        nwbfile = mock_NWBFile()
        nwbfile.add_unit(spike_times=[0.5, value, 2.0])
        nwbfile.add_unit(spike_times=[1.0, 3.0])
        path = tmp_path / "spikes.nwb"
        with NWBHDF5IO(path, "w") as io:
            io.write(nwbfile)
        return ["run", path], ["spike times"]

    return build


def _unknown_model_parameter(tmp_path, tiny_nwb):
    config = tmp_path / "bogus.toml"
    config.write_text('device = "cpu"\n\n[model_params]\nhidden_widht = 8\n')
    return ["run", tiny_nwb, "--config", config], ["hidden_widht"]


CASES = {
    "truncated HDF5": _truncated,
    "non-UTF-8 labels": _non_utf8_labels,
    "NaN spike time": _spike_times(float("nan")),
    "infinite spike time": _spike_times(float("inf")),
    "unknown model parameter": _unknown_model_parameter,
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_exit_2_one_line(case, tmp_path, tiny_nwb, tiny_toml):
    args, words = CASES[case](tmp_path, tiny_nwb)
    out = tmp_path / "out" / "o.nwb"
    out.parent.mkdir()
    if "--config" not in args:
        args += ["--config", tiny_toml]
    result = invoke(*args, "--out", out)
    one_line_error(result, *words)
    assert FIT_LINE not in result.stderr
    assert not os.listdir(out.parent)  # nothing left behind


def test_deeply_nested_json_in_a_results_file(results_file, tmp_path):
    path = shutil.copyfile(results_file, tmp_path / "nested.nwb")
    with h5py.File(path, "a") as f:
        f["processing/ophys/causal_emergence_awake"].attrs["parameters"] = "[" * 100_000 + "]" * 100_000
        model = f["processing/ophys/causal_emergence_anesthesia/model_seed0"]
        model.attrs["architecture"] = json.dumps({"params": {}}).replace("{}", "[" * 100_000 + "]" * 100_000)
    one_line_error(invoke("report", path), "nested")
    one_line_error(invoke("report", path, "--plots", tmp_path / "plots"), "nested")


@pytest.mark.timeout(120)
def test_memory_error_is_an_input_error(tmp_path):
    """A real MemoryError (the process' address space capped below what the read needs) gives exit 2."""
    path = write_recording(tmp_path / "big.nwb")
    declare_dataset(path, "processing/ophys/DfOverF/RoiResponseSeries/data", (250_000_000, 4), "f4")  # 4 GB
    script = (
        "import resource, sys\n"
        "from ndx_causal_emergence.cli.main import main\n"
        "import numpy, torch, pynwb, h5py, dandi, remfile\n"
        "used = int(open('/proc/self/statm').read().split()[0]) * resource.getpagesize()\n"
        "resource.setrlimit(resource.RLIMIT_AS, (used + 700 * 2**20, resource.RLIM_INFINITY))\n"
        "sys.argv = ['causal-emergence', 'run', sys.argv[1], '--out', sys.argv[2], '--max-memory', '1T']\n"
        "main()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(path), str(tmp_path / "o.nwb")],
        capture_output=True,
        text=True,
        timeout=110,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    lines = [line for line in proc.stderr.strip().splitlines() if line and not line.startswith("…")]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("Error: out of memory"), proc.stderr
    assert not (tmp_path / "o.nwb").exists()
