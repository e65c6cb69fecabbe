"""Build ophys NWB files from the outputs of segmentation tools, ready for :func:`ndx_causal_emergence.analyze`.

Each ``*_to_nwb`` function reads one tool's output and writes a standard NWB ophys layout: an
``ImagingPlane`` and a ``PlaneSegmentation`` (ROI masks) in ``processing/ophys``, and the traces
as ``RoiResponseSeries`` in ``DfOverF`` or ``Fluorescence``:

========================  ==========================================  ===========================
builder                   input                                       series written
========================  ==========================================  ===========================
:func:`suite2p_to_nwb`    suite2p ``plane0`` (F, Fneu, spks, stat)    Fluorescence: RoiResponseSeries,
                                                                      Neuropil, Deconvolved
:func:`caiman_to_nwb`     CaImAn ``Estimates`` HDF5                   DfOverF (F_dff), Fluorescence (C)
:func:`extract_to_nwb`    EXTRACT ``extractAnalysis.mat`` (v7.3)      Fluorescence (traces)
:func:`triplett_to_nwb`   Triplett et al. 2018 activity CSV           DfOverF
========================  ==========================================  ===========================

Frame rates that the sources do not store are parameters; when left out the series is timed in
frames (rate 1 Hz) and says so in its description. (A long synthetic series for I/O tests:
:func:`ndx_causal_emergence.testing.write_long_ophys_nwb`.)
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import h5py
import numpy as np
from pynwb import NWBHDF5IO, NWBFile
from pynwb.ophys import DfOverF, Fluorescence, ImageSegmentation, OpticalChannel, PlaneSegmentation, RoiResponseSeries

__all__ = ["caiman_to_nwb", "extract_to_nwb", "suite2p_to_nwb", "triplett_to_nwb"]

_EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)  # noqa: UP017  (explicit, portable)


def _new_file(identifier: str, description: str) -> NWBFile:
    return NWBFile(session_description=description, identifier=identifier, session_start_time=_EPOCH)


def _plane_segmentation(
    nwbfile: NWBFile, *, description: str, indicator: str = "GCaMP", location: str = "unknown", rate: float = 1.0
) -> PlaneSegmentation:
    device = nwbfile.create_device(name="Microscope", description="imaging device of the source recording")
    channel = OpticalChannel(name="OpticalChannel", description="green channel", emission_lambda=525.0)
    plane = nwbfile.create_imaging_plane(
        name="ImagingPlane",
        optical_channel=channel,
        description=description,
        device=device,
        excitation_lambda=920.0,
        imaging_rate=rate,
        indicator=indicator,
        location=location,
    )
    segmentation = ImageSegmentation(name="ImageSegmentation")
    ophys = nwbfile.create_processing_module(name="ophys", description="optical physiology processed data")
    ophys.add(segmentation)
    return segmentation.create_plane_segmentation(
        name="PlaneSegmentation", description=description, imaging_plane=plane
    )


def _add_series(
    nwbfile: NWBFile,
    container_type: type,
    series: dict[str, np.ndarray],
    plane: PlaneSegmentation,
    *,
    rate: float | None,
    unit: str = "a.u.",
    description: str = "",
) -> None:
    """Add ``{name: (frames, rois) array}`` as RoiResponseSeries in one DfOverF/Fluorescence container."""
    region = plane.create_roi_table_region(region=list(range(len(plane))), description="all ROIs")
    timing = "" if rate is not None else " Frame rate unknown: time is in frames (rate 1 Hz)."
    container = container_type(name=container_type.__name__)
    nwbfile.processing["ophys"].add(container)
    for name, values in series.items():
        container.add_roi_response_series(
            RoiResponseSeries(
                name=name,
                data=np.ascontiguousarray(values, dtype=np.float32),
                rois=region,
                unit=unit,
                rate=float(rate or 1.0),
                description=f"{description} ({name}).{timing}",
            )
        )


def _write(nwbfile: NWBFile, path: str | os.PathLike) -> Path:
    path = Path(path)
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    return path


def suite2p_to_nwb(
    plane_folder: str | os.PathLike, path: str | os.PathLike, *, rate: float | None = None, cells_only: bool = True
) -> Path:
    """Convert a suite2p ``plane0`` folder (F, Fneu, spks, iscell, stat ``.npy``) to NWB.

    suite2p stores ``stat.npy`` as a pickled object array, and loading it runs the pickle: convert
    only folders you trust.

    Parameters
    ----------
    plane_folder : path
        The suite2p output folder of one plane.
    path : path
        NWB file to write.
    rate : float, optional
        Frame rate (Hz); suite2p keeps it in ``ops.npy``, which may be missing.
    cells_only : bool
        Keep only ROIs that suite2p classified as cells (``iscell[:, 0] == 1``).

    Returns
    -------
    Path of the file: ``Fluorescence`` holds ``RoiResponseSeries`` (F), ``Neuropil`` (Fneu) and
    ``Deconvolved`` (spks); ROIs are pixel masks from ``stat``.
    """
    folder = Path(plane_folder)
    traces = {
        name: np.load(folder / f"{stem}.npy")
        for name, stem in (("RoiResponseSeries", "F"), ("Neuropil", "Fneu"), ("Deconvolved", "spks"))
    }
    stat = np.load(folder / "stat.npy", allow_pickle=True)
    keep = np.flatnonzero(np.load(folder / "iscell.npy")[:, 0] > 0) if cells_only else np.arange(len(stat))
    nwbfile = _new_file(f"suite2p-{folder.resolve().name}", f"suite2p output of {folder.name} converted to NWB")
    plane = _plane_segmentation(nwbfile, description="suite2p ROIs (pixel masks from stat.npy)", rate=rate or 1.0)
    plane.add_column(name="suite2p_roi", description="row of the ROI in suite2p's stat.npy")
    for i in keep:
        roi = stat[i]
        mask = [(int(x), int(y), float(w)) for x, y, w in zip(roi["xpix"], roi["ypix"], roi["lam"], strict=True)]
        plane.add_roi(pixel_mask=mask, suite2p_roi=int(i))
    _add_series(
        nwbfile,
        Fluorescence,
        {name: values[keep].T for name, values in traces.items()},
        plane,
        rate=rate,
        description="suite2p traces",
    )
    return _write(nwbfile, path)


def caiman_to_nwb(hdf5_path: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Convert a CaImAn ``Estimates`` HDF5 file (``save_hdf5``) to NWB.

    ``F_dff`` goes to ``DfOverF/RoiResponseSeries`` and the denoised traces ``C`` to
    ``Fluorescence/RoiResponseSeries``, at the frame rate ``params/data/fr``; ROIs are the
    spatial footprints ``A`` (sparse, Fortran pixel order) as pixel masks.
    """
    with h5py.File(hdf5_path, "r") as source:
        est = source["estimates"]
        dff, denoised = est["F_dff"][:].T, est["C"][:].T
        rate = float(source["params/data/fr"][()])
        height = int(est["dims"][0])
        n_rois = int(est["A/shape"][1])
        data, indices, indptr = est["A/data"][:], est["A/indices"][:], est["A/indptr"][:]
    nwbfile = _new_file(f"caiman-{Path(hdf5_path).stem}", "CaImAn CNMF-E result converted to NWB")
    plane = _plane_segmentation(nwbfile, description="CaImAn components (footprints A)", rate=rate)
    for k in range(n_rois):  # CSC: column k = footprint of component k; pixel p = (row p % height, col p // height)
        pixels, weights = indices[indptr[k] : indptr[k + 1]], data[indptr[k] : indptr[k + 1]]
        plane.add_roi(
            pixel_mask=[(int(p // height), int(p % height), float(w)) for p, w in zip(pixels, weights, strict=True)]
        )
    _add_series(nwbfile, DfOverF, {"RoiResponseSeries": dff}, plane, rate=rate, unit="dF/F", description="CaImAn F_dff")
    _add_series(
        nwbfile, Fluorescence, {"RoiResponseSeries": denoised}, plane, rate=rate, description="CaImAn denoised traces C"
    )
    return _write(nwbfile, path)


def extract_to_nwb(mat_path: str | os.PathLike, path: str | os.PathLike, *, rate: float | None = None) -> Path:
    """Convert an EXTRACT result (MATLAB v7.3 ``extractAnalysisOutput``) to NWB.

    ``traces`` (frames × cells) go to ``Fluorescence/RoiResponseSeries``; the spatial
    ``filters`` become pixel masks (non-zero pixels). EXTRACT stores no frame rate.
    """
    with h5py.File(mat_path, "r") as source:
        out = source["extractAnalysisOutput"]
        traces = out["traces"][:]
        filters = out["filters"][:]
    nwbfile = _new_file(f"extract-{Path(mat_path).stem}", "EXTRACT result converted to NWB")
    plane = _plane_segmentation(nwbfile, description="EXTRACT cells (spatial filters)", rate=rate or 1.0)
    for image in filters:
        ys, xs = np.nonzero(image)
        plane.add_roi(pixel_mask=[(int(x), int(y), float(image[y, x])) for y, x in zip(ys, xs, strict=True)])
    _add_series(nwbfile, Fluorescence, {"RoiResponseSeries": traces}, plane, rate=rate, description="EXTRACT traces")
    return _write(nwbfile, path)


def triplett_to_nwb(
    folder: str | os.PathLike, path: str | os.PathLike, *, fish: str = "zf_20151104-f1", rate: float | None = None
) -> Path:
    """Convert one fish of Triplett et al. 2018 (zebrafish tectum, CSV) to NWB.

    The activity matrix (cells × frames, dF/F-like) goes to ``DfOverF/RoiResponseSeries``;
    each ROI is its cell's coordinate (a one-pixel mask) and carries its published assembly
    memberships in the ``assemblies`` column (comma-separated 1-based assembly numbers).
    """
    folder = Path(folder)
    activity = np.loadtxt(folder / f"{fish}_activity_matrix.csv", delimiter=",", dtype=np.float32)
    coords = np.loadtxt(folder / f"{fish}_cell_coordinates.csv", delimiter=",")
    membership: list[list[str]] = [[] for _ in range(activity.shape[0])]
    for number, line in enumerate((folder / f"{fish}_assembly_assignments.csv").read_text().splitlines(), 1):
        for cell in (c for c in line.replace(" ", "").split(",") if c):
            membership[int(float(cell)) - 1].append(str(number))
    nwbfile = _new_file(f"triplett2018-{fish}", f"Triplett et al. 2018, larval zebrafish tectum, {fish}")
    plane = _plane_segmentation(
        nwbfile, description="tectal cells (centroid coordinates)", location="optic tectum", rate=rate or 1.0
    )
    plane.add_column(name="assemblies", description="published assemblies of the cell (1-based, comma-separated)")
    for (x, y), groups in zip(coords, membership, strict=True):
        plane.add_roi(pixel_mask=[(int(round(x)), int(round(y)), 1.0)], assemblies=",".join(groups))
    _add_series(
        nwbfile,
        DfOverF,
        {"RoiResponseSeries": activity.T},
        plane,
        rate=rate,
        unit="dF/F",
        description="spontaneous activity",
    )
    return _write(nwbfile, path)
