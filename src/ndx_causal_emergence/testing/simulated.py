"""Simulated recordings with known ground truth (NWB files, channel arrays) for tests, tutorials and benchmarks."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pynwb import NWBHDF5IO
from pynwb.ophys import DfOverF
from pynwb.testing.mock.file import mock_NWBFile
from pynwb.testing.mock.ophys import mock_PlaneSegmentation

from ..data.synthetic import double_well_latent, embed_nonlinear, ou_latent
from ..errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..dynamics import DynamicsAnalysis
    from ..models import MultiscaleNISPlus

#: Shortest visit (seconds, 20 frames) counted as a metastable state when a :class:`LatentChannels` is analysed.
MIN_DWELL = 2.0


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
    nwbfile = mock_NWBFile(
        session_description="simulated awake / anesthesia recording", identifier=f"simulated-two-condition-{seed}"
    )
    plane = mock_PlaneSegmentation(n_rois=n_channels, nwbfile=nwbfile)
    rois = plane.create_roi_table_region(region=list(range(n_channels)), description="all ROIs")
    dff = DfOverF(name="DfOverF")
    nwbfile.processing["ophys"].add(dff)
    dff.create_roi_response_series(
        name="RoiResponseSeries",
        data=traces.astype(np.float32),
        rois=rois,
        unit="dF/F",
        rate=rate,
        starting_time=0.0,
        description="simulated dF/F",
    )
    nwbfile.add_epoch_column(name="stage", description="behavioural state")
    for i, label in enumerate(latents):
        nwbfile.add_epoch(start_time=i * n_frames / rate, stop_time=(i + 1) * n_frames / rate, stage=label)
    path = Path(path)
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    return path


@dataclass(frozen=True)
class LatentChannels:
    """A simulated 1-D latent behind 40 channels of rising loading, split into training and test frames.

    Channel ``c`` is ``a_c tanh(1.5 z + b_c) + 0.3 ε``
    (:func:`~ndx_causal_emergence.data.synthetic.embed_nonlinear` without noise, scaled by the
    loading ``a_c``, which rises from 0 (noise only) to 1); frames are 0.1 s apart and the first
    80 % are the training frames. Built by :func:`simulate_latent_channels`.

    Attributes
    ----------
    latent : np.ndarray, shape (n_frames, 1)
        The simulated latent.
    x : np.ndarray, shape (n_frames, 40)
        The channels.
    loading : np.ndarray, shape (40,)
        ``a_c``.
    n_train : int
        Number of training frames.
    """

    latent: np.ndarray
    x: np.ndarray
    loading: np.ndarray
    n_train: int

    @property
    def timestamps_test(self) -> np.ndarray:
        """Times (s) of the test frames."""
        return 0.1 * np.arange(self.n_train, len(self.x))

    def fit(self, **options: Any) -> MultiscaleNISPlus:
        """A ``fast``-preset MultiscaleNISPlus (no observed reference, seed 0) fitted on the training frames.

        ``options`` (e.g. ``scales``, ``max_steps``) go to
        :meth:`~ndx_causal_emergence.models.MultiscaleNISPlus.from_preset`.
        """
        from ..models import MultiscaleNISPlus

        model = MultiscaleNISPlus.from_preset("fast", observed_reference=False, seed=0, **options)
        return model.fit(self.x[: self.n_train])

    def analyze(self, model: MultiscaleNISPlus) -> DynamicsAnalysis:
        """:func:`~ndx_causal_emergence.dynamics.analyze_dynamics` of the test frames (64 attribution samples)."""
        from ..dynamics import analyze_dynamics

        return analyze_dynamics(
            model,
            self.x[: self.n_train],
            self.x[self.n_train :],
            self.timestamps_test,
            attribution_samples=64,
            min_dwell=MIN_DWELL,
        )

    def true_transitions(self) -> pd.DataFrame:
        """Switches of the test part of the latent between the wells ±1 (unstable point 0, dwell :data:`MIN_DWELL`)."""
        from ..dynamics import metastable_states

        _, transitions = metastable_states(
            self.latent[self.n_train :, 0],
            self.timestamps_test,
            [-1.0, 1.0],
            unstable_points=[0.0],
            min_dwell=MIN_DWELL,
        )
        return transitions


def simulate_latent_channels(kind: Literal["double_well", "ou"]) -> LatentChannels:
    """The latents of the dynamics end-to-end test and benchmark behind 40 loaded channels.

    Parameters
    ----------
    kind : {"double_well", "ou"}
        ``"double_well"``: 30,000 frames of a double-well latent (noise 0.6, seed 0; stable points
        ±1). ``"ou"``: 10,000 frames of an Ornstein-Uhlenbeck latent (theta 0.2, sigma 1, seed 1).

    Returns
    -------
    LatentChannels

    Raises
    ------
    InputError
        Unknown ``kind``.
    """
    if kind == "double_well":
        latent = double_well_latent(30000, noise=0.6, seed=0)
    elif kind == "ou":
        latent = ou_latent(10000, theta=0.2, sigma=1.0, seed=1)
    else:
        raise InputError(f"kind must be 'double_well' or 'ou', got {kind!r}.")
    loading = np.linspace(0.0, 1.0, 40)
    x = loading * embed_nonlinear(latent, len(loading), noise=0.0, seed=0)
    x = x + 0.3 * np.random.default_rng(100).standard_normal(x.shape)
    return LatentChannels(latent=latent, x=x, loading=loading, n_train=int(0.8 * len(x)))
