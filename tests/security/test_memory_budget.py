"""Item 2: tiny files that declare gigabytes, and hostile model sizes, are refused before anything is allocated."""

from __future__ import annotations

import json
import shutil
import time
import tracemalloc

import h5py
import numpy as np
import pytest
from pynwb import NWBHDF5IO
from pynwb.testing.mock.file import mock_NWBFile

from .conftest import FIT_LINE, declare_dataset, invoke, one_line_error, write_recording

SERIES = "processing/ophys/DfOverF/RoiResponseSeries/data"
MODEL = "processing/ophys/causal_emergence_awake/model_seed0"
MEMORY_ENV = "NDX_CE_MAX_MEMORY"  # what --max-memory sets (safety.memory.MEMORY_ENV)


@pytest.fixture(autouse=True)
def _no_inherited_budget(monkeypatch):
    monkeypatch.delenv(MEMORY_ENV, raising=False)  # --max-memory sets it for workers; undone after each test


@pytest.mark.timeout(60)
def test_declared_huge_series_is_refused_before_reading(tmp_path, tiny_toml, monkeypatch):
    monkeypatch.setenv(MEMORY_ENV, "1G")  # the budget as Dask workers get it from --max-memory
    path = write_recording(tmp_path / "huge.nwb")
    declare_dataset(path, SERIES, (50_000_000, 4), "f4")  # 800 MB as stored, 4.8 GB as the pipeline holds it
    assert path.stat().st_size < 300_000  # the NWB file with its cached schema
    start = time.perf_counter()
    result = invoke("run", path, "--out", tmp_path / "o.nwb", "--config", tiny_toml)
    line = one_line_error(result, "50000000 frames", "GiB", "--max-memory")
    assert "1.0 GiB" in line
    assert time.perf_counter() - start < 10
    assert not (tmp_path / "o.nwb").exists()


def test_far_apart_spikes_are_refused_before_binning(tmp_path, tiny_toml):
    nwbfile = mock_NWBFile()
    nwbfile.add_unit(spike_times=[0.0, 1.0e7])  # 10^8 bins of 0.1 s
    nwbfile.add_unit(spike_times=[1.0, 2.0])
    with NWBHDF5IO(tmp_path / "spikes.nwb", "w") as io:
        io.write(nwbfile)
    result = invoke(
        "run", tmp_path / "spikes.nwb", "--out", tmp_path / "o.nwb", "--config", tiny_toml, "--max-memory", "1G"
    )
    one_line_error(result, "bins of 0.1 s", "--max-memory")
    assert FIT_LINE not in result.stderr


def test_report_without_plots_reads_no_macro_variables(results_file, tmp_path):
    path = shutil.copyfile(results_file, tmp_path / "r.nwb")
    declare_dataset(path, "processing/ophys/causal_emergence_awake/scale0/data", (10_000_000, 4), "f8")  # 320 MB
    tracemalloc.start()
    try:
        result = invoke("report", path, "--json")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.exit_code == 0, result.output
    assert {a["name"] for a in json.loads(result.stdout)["analyses"]} >= {"causal_emergence_awake"}
    assert peak < 64 * 2**20, peak


def _hostile(results_file, tmp_path, **params):
    path = shutil.copyfile(results_file, tmp_path / "hostile.nwb")
    with h5py.File(path, "a") as f:
        arch = json.loads(f[MODEL].attrs["architecture"])
        arch["params"].update(params)
        f[MODEL].attrs["architecture"] = json.dumps(arch)
    return path


@pytest.mark.timeout(120)
@pytest.mark.parametrize("params", [{"hidden_width": 20000}, {"n_coupling_layers": 10**6}, {"dynamics_depth": -3}])
def test_hostile_architecture_fields_are_bounded(params, results_file, tmp_path):
    path = _hostile(results_file, tmp_path, **params)
    start = time.perf_counter()
    result = invoke("report", path, "--plots", tmp_path / "plots")
    one_line_error(result, next(iter(params)))
    assert time.perf_counter() - start < 20


def test_model_hyperparameters_are_checked_against_the_budget(tmp_path, tiny_nwb, tiny_toml):
    config = tmp_path / "wide.toml"
    config.write_text(tiny_toml.read_text().replace("hidden_width = 8", "hidden_width = 60000"))
    result = invoke("run", tiny_nwb, "--out", tmp_path / "o.nwb", "--config", config, "--max-memory", "2G")
    one_line_error(result, "parameters", "--max-memory")
    assert FIT_LINE not in result.stderr
    assert not (tmp_path / "o.nwb").exists()


def test_budget_parsing(monkeypatch):
    from ndx_causal_emergence.safety.memory import memory_budget, parse_size

    assert parse_size("1.5GiB") == 3 * 2**29 and parse_size("512M") == 2**29 and parse_size("1000") == 1000
    monkeypatch.setenv(MEMORY_ENV, "3G")
    assert memory_budget() == 3 * 2**30
    assert invoke("run", "x.nwb", "--out", "o.nwb", "--max-memory", "lots").exit_code == 2
    assert np.isfinite(memory_budget())
