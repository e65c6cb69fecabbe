"""Small NWB files with known content for the reader's tests."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from pynwb import NWBHDF5IO, NWBFile
from pynwb.event import EventsTable
from pynwb.ophys import DfOverF, Fluorescence, ImageSegmentation, OpticalChannel, RoiResponseSeries


def ophys_file(
    *,
    n_frames: int = 600,
    n_rois: int = 6,
    rate: float | None = 10.0,
    timestamps: np.ndarray | None = None,
    dff: bool = True,
    fluorescence: bool = True,
    seed: int = 0,
) -> NWBFile:
    """A file with a PlaneSegmentation and RoiResponseSeries in DfOverF and/or Fluorescence.

    DfOverF holds ``seed`` noise; Fluorescence holds 100 + the same noise (so the two differ).
    ROI ids are 10, 11, ... (not row numbers) so id mapping is tested.
    """
    nwbfile = NWBFile(
        session_description="test",
        identifier=f"ophys-{seed}",
        session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc),  # noqa: UP017
    )
    device = nwbfile.create_device(name="scope")
    plane = nwbfile.create_imaging_plane(
        name="plane",
        optical_channel=OpticalChannel(name="green", description="g", emission_lambda=525.0),
        description="p",
        device=device,
        excitation_lambda=920.0,
        imaging_rate=rate or 10.0,
        indicator="GCaMP6",
        location="cortex",
    )
    ophys = nwbfile.create_processing_module(name="ophys", description="ophys")
    segmentation = ImageSegmentation(name="ImageSegmentation")
    ophys.add(segmentation)
    table = segmentation.create_plane_segmentation(name="PlaneSegmentation", description="rois", imaging_plane=plane)
    for k in range(n_rois):
        table.add_roi(pixel_mask=[(k, k, 1.0)], id=10 + k)
    region = table.create_roi_table_region(region=list(range(n_rois)), description="all")
    values = np.random.default_rng(seed).standard_normal((n_frames, n_rois)).astype(np.float32)
    timing = {"timestamps": timestamps} if timestamps is not None else {"rate": rate, "starting_time": 0.0}
    if dff:
        container = DfOverF(name="DfOverF")
        ophys.add(container)
        container.add_roi_response_series(
            RoiResponseSeries(name="RoiResponseSeries", data=values, rois=region, unit="dF/F", **timing)
        )
    if fluorescence:
        container = Fluorescence(name="Fluorescence")
        ophys.add(container)
        container.add_roi_response_series(
            RoiResponseSeries(name="RoiResponseSeries", data=values + 100, rois=region, unit="a.u.", **timing)
        )
    return nwbfile


def add_stage_epochs(nwbfile: NWBFile, spans: list[tuple[float, float, str]]) -> None:
    """``epochs`` with a ``stage`` column (and the stage also as a tag)."""
    nwbfile.add_epoch_column(name="stage", description="brain state")
    for start, stop, stage in spans:
        nwbfile.add_epoch(start_time=start, stop_time=stop, tags=[stage], stage=stage)


def add_stage_events(
    nwbfile: NWBFile, events: list[tuple[float, str]], *, durations: list[float] | None = None
) -> None:
    """A core EventsTable ``stage_changes`` whose ``stage`` column marks condition starts."""
    table = EventsTable(name="stage_changes", description="start of each stage")
    table.add_column(name="stage", description="stage starting at this time")
    for k, (time, stage) in enumerate(events):
        extra = {"duration": durations[k]} if durations is not None else {}
        table.add_event(timestamp=time, stage=stage, **extra)
    nwbfile.add_events_table(table)


def write(nwbfile: NWBFile, path: Path) -> Path:
    """Write ``nwbfile`` to ``path`` and return the path."""
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    return path
