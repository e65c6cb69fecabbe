"""A long synthetic ophys NWB file (seeded noise, written block by block) for I/O tests and benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from hdmf.backends.hdf5 import H5DataIO
from pynwb.ophys import DfOverF, RoiResponseSeries

from ..convert import _new_file, _plane_segmentation, _write

__all__ = ["write_long_ophys_nwb"]


def write_long_ophys_nwb(
    path: str | os.PathLike, *, n_frames: int, n_rois: int, chunk_frames: int = 1000, rate: float = 30.0, seed: int = 0
) -> Path:
    """Write a long ``DfOverF/RoiResponseSeries`` of seeded noise, float32, chunked (chunk_frames, n_rois).

    Written block by block, so memory stays small whatever the size. For I/O tests and benchmarks.
    """
    from hdmf.data_utils import GenericDataChunkIterator

    class _Noise(GenericDataChunkIterator):
        """Noise generated per block from (seed, first row): the same file whatever the write order."""

        def __init__(self) -> None:
            super().__init__(
                buffer_shape=(chunk_frames, n_rois), chunk_shape=(chunk_frames, n_rois), display_progress=False
            )

        def _get_data(self, selection: tuple[slice, ...]) -> np.ndarray:
            rows = selection[0]
            block = np.random.default_rng([seed, rows.start]).standard_normal(
                (rows.stop - rows.start, n_rois), dtype=np.float32
            )
            return block[:, selection[1]]

        def _get_maxshape(self) -> tuple[int, int]:
            return (n_frames, n_rois)

        def _get_dtype(self) -> np.dtype:
            return np.dtype(np.float32)

    nwbfile = _new_file(f"long-{n_frames}x{n_rois}-seed{seed}", "long synthetic series for I/O tests")
    plane = _plane_segmentation(nwbfile, description="synthetic ROIs", rate=rate)
    for k in range(n_rois):
        plane.add_roi(pixel_mask=[(k % 512, k // 512, 1.0)])
    region = plane.create_roi_table_region(region=list(range(n_rois)), description="all ROIs")
    container = DfOverF(name="DfOverF")
    nwbfile.processing["ophys"].add(container)
    container.add_roi_response_series(
        RoiResponseSeries(
            name="RoiResponseSeries",
            data=H5DataIO(_Noise()),
            rois=region,
            unit="dF/F",
            rate=rate,
            description="seeded standard normal noise",
        )
    )
    return _write(nwbfile, path)
