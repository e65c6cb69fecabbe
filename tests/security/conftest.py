"""Crafted inputs for the security tests: tiny NWB files built here, the smallest fits, the CLI in-process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from pynwb import NWBHDF5IO
from pynwb.ophys import DfOverF
from pynwb.testing.mock.file import mock_NWBFile
from pynwb.testing.mock.ophys import mock_PlaneSegmentation

from ndx_causal_emergence.cli.main import cli
from ndx_causal_emergence.testing.simulated import write_two_condition_nwb
from tests.conftest import PHASE_LINE

#: The smallest fit the pipeline runs (a few seconds on 2 cores): ladder 4 -> 1, 20 steps, 8-wide networks.
TINY_TOML = """coarsening = 4
device = "cpu"
n_monte_carlo = 50

[model_params]
max_steps = 20
hidden_width = 8
dynamics_width = 8
n_coupling_layers = 2
eval_every = 10
weight_refresh = 10
batch_size = 32
"""
#: A line that ``run`` prints (stderr) when a fit starts.
FIT_LINE = "fitting seed"


@pytest.fixture(scope="session")
def tiny_nwb(tmp_path_factory) -> Path:
    """A 4-ROI dF/F recording, 2 x 200 frames labelled ``awake`` / ``anesthesia`` in ``epochs.stage``."""
    return write_two_condition_nwb(tmp_path_factory.mktemp("tiny") / "tiny.nwb", n_channels=4, n_frames=200)


@pytest.fixture(scope="session")
def tiny_toml(tmp_path_factory) -> Path:
    """The analysis parameters of :data:`TINY_TOML` as a ``--config`` file."""
    path = tmp_path_factory.mktemp("config") / "tiny.toml"
    path.write_text(TINY_TOML)
    return path


def invoke(*args: str | Path) -> Result:
    """``causal-emergence ARGS`` in this process (stderr kept apart from stdout)."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def one_line_error(result: Result, *needles: str) -> str:
    """Assert exit code 2 and exactly one ``Error:`` line (containing ``needles``, any case); return it."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.stderr)
    lines = [
        line
        for line in result.stderr.strip().splitlines()
        if line and not line.startswith("…") and not PHASE_LINE.match(line)
    ]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output + result.stderr
    for needle in needles:
        assert needle.lower() in lines[0].lower(), lines[0]
    return lines[0]


def write_recording(
    path: Path,
    *,
    n_channels: int = 4,
    n_frames: int = 200,
    labels: tuple[str, ...] = (),
    timestamps: np.ndarray | None = None,
) -> Path:
    """A dF/F recording of random traces; ``labels`` split the frames into equal ``epochs.stage`` intervals.

    Frames are 0.1 s apart unless ``timestamps`` (any values, stored as given) is passed.
    """
    rng = np.random.default_rng(0)
    nwbfile = mock_NWBFile(identifier="crafted-recording")
    plane = mock_PlaneSegmentation(n_rois=n_channels, nwbfile=nwbfile)
    rois = plane.create_roi_table_region(region=list(range(n_channels)), description="all ROIs")
    dff = DfOverF(name="DfOverF")
    nwbfile.processing["ophys"].add(dff)
    timing = {"timestamps": timestamps} if timestamps is not None else {"rate": 10.0, "starting_time": 0.0}
    data = rng.standard_normal((n_frames, n_channels)).cumsum(axis=0).astype(np.float32)
    dff.create_roi_response_series(name="RoiResponseSeries", data=data, rois=rois, unit="dF/F", **timing)
    if labels:
        nwbfile.add_epoch_column(name="stage", description="condition")
        span = n_frames / 10.0 / len(labels)
        for i, label in enumerate(labels):
            nwbfile.add_epoch(start_time=i * span, stop_time=(i + 1) * span, stage=label)
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    return path


@pytest.fixture(scope="session")
def fitted(tmp_path_factory, tiny_toml):
    """(input file, Results) of the smallest fit of a recording with conditions ``awake`` and ``anesthesia``."""
    from ndx_causal_emergence.pipeline.config import AnalysisConfig
    from ndx_causal_emergence.pipeline.run import analyze

    source = write_recording(tmp_path_factory.mktemp("fitted") / "in.nwb", labels=("awake", "anesthesia"))
    config = AnalysisConfig.from_toml(tiny_toml, conditions="epochs", condition_column="stage")
    return source, analyze(str(source), config=config)


@pytest.fixture(scope="session")
def results_file(fitted, tmp_path_factory) -> Path:
    """The fitted analyses written to a new NWB file (copy it before changing it)."""
    _, results = fitted
    return results.write(tmp_path_factory.mktemp("results") / "results.nwb")


def declare_dataset(path: Path, dataset: str, shape: tuple[int, int], dtype: str) -> None:
    """Replace ``dataset`` of an HDF5 file by an empty, chunked, compressed one of ``shape``: a few kB on disk."""
    import h5py

    with h5py.File(path, "a") as f:
        attrs = dict(f[dataset].attrs)
        del f[dataset]
        new = f.create_dataset(
            dataset, shape=shape, dtype=dtype, chunks=(min(shape[0], 65536), shape[1]), compression="gzip", fillvalue=0
        )
        new.attrs.update(attrs)
