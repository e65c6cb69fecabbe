"""Simulated NWB recordings with known ground truth, for tests, tutorials and benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from pynwb import NWBHDF5IO
from pynwb.ophys import DfOverF
from pynwb.testing.mock.file import mock_NWBFile
from pynwb.testing.mock.ophys import mock_PlaneSegmentation

from ..data.synthetic import double_well_latent, embed_nonlinear, ou_latent


def two_condition_latents(n_frames: int, *, seed: int = 0) -> dict[str, np.ndarray]:
    """An ``awake`` double-well latent (two metastable states) and an ``anesthesia`` noisy single well."""
    return {
        "awake": double_well_latent(n_frames, dt=0.05, noise=0.5, seed=seed)[:, 0],
        "anesthesia": ou_latent(n_frames, theta=0.5, sigma=1.0, dt=0.1, seed=seed + 1)[:, 0],
    }


def write_two_condition_nwb(
    path: str | os.PathLike, *, n_channels: int = 16, n_frames: int = 3000, rate: float = 10.0, seed: int = 0
) -> Path:
    """Write an ophys NWB file: ``awake`` then ``anesthesia``, each ``n_frames`` frames, labelled by ``epochs.stage``.

    Each condition's latent drives all ``n_channels`` ROIs through the same nonlinear tuning
    (:func:`~ndx_causal_emergence.data.synthetic.embed_nonlinear`); the ROI traces are stored as
    ``processing/ophys/DfOverF/RoiResponseSeries``. The latents are returned by
    :func:`two_condition_latents` with the same arguments.
    """
    latents = two_condition_latents(n_frames, seed=seed)
    traces = np.concatenate([embed_nonlinear(lat, n_channels, noise=0.1, seed=seed) for lat in latents.values()])
    nwbfile = mock_NWBFile(session_description="simulated awake / anesthesia recording",
                           identifier=f"simulated-two-condition-{seed}")
    plane = mock_PlaneSegmentation(n_rois=n_channels, nwbfile=nwbfile)
    rois = plane.create_roi_table_region(region=list(range(n_channels)), description="all ROIs")
    dff = DfOverF(name="DfOverF")
    nwbfile.processing["ophys"].add(dff)
    dff.create_roi_response_series(name="RoiResponseSeries", data=traces.astype(np.float32), rois=rois, unit="dF/F",
                                   rate=rate, starting_time=0.0, description="simulated dF/F")
    nwbfile.add_epoch_column(name="stage", description="behavioural state")
    for i, label in enumerate(latents):
        nwbfile.add_epoch(start_time=i * n_frames / rate, stop_time=(i + 1) * n_frames / rate, stage=label)
    path = Path(path)
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    return path
