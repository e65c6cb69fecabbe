"""Where the channels of an analysis sit: the ids of their ROIs and, when the file holds the masks, their layout.

An analysis of a ``RoiResponseSeries`` links its attribution table to the ROI table
(``PlaneSegmentation``) of the series, or to the ``Units`` table for binned spikes. The ids of that
table name the channels in figures, and the image or pixel masks of a ``PlaneSegmentation`` draw
each ROI where it lies in the field of view (:func:`~ndx_causal_emergence.dynamics.plots.plot_attribution_map`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MAX_LAYOUT_PIXELS", "RoiLayout", "layout_of_object", "layout_of_table"]

#: Largest field of view drawn (pixels); larger ones fall back to ROI ids.
MAX_LAYOUT_PIXELS = 4096 * 4096
#: Largest number of mask entries (pixels of all ROIs together) read.
MAX_MASK_ENTRIES = 50_000_000
#: Share of an ROI's largest mask weight from which a pixel counts as part of the ROI.
EXTENT_THRESHOLD = 0.2


@dataclass(frozen=True)
class RoiLayout:
    """The ROI table behind an analysis's channels.

    Attributes
    ----------
    table : str
        Name of the table (e.g. ``PlaneSegmentation``, ``units``).
    ids : np.ndarray
        Id of each row of the table.
    id_name : str
        What an id is, for axis labels (``"ROI id"``, ``"unit id"``).
    labels : np.ndarray or None
        ``(height, width)``: the row of the ROI each pixel belongs to (``-1``: none); the pixel
        ``(x, y)`` of an NWB mask is ``labels[y, x]``. ``None`` when the table has no masks.
    note : str
        Why ``labels`` is ``None`` (empty when there is a layout).
    """

    table: str
    ids: np.ndarray
    id_name: str
    labels: np.ndarray | None = None
    note: str = ""

    def channel_labels(self, attribution: pd.DataFrame) -> dict[int, str]:
        """The id of each attributed channel, from the attribution's ``roi`` column (table rows)."""
        if "roi" not in attribution:
            return {}
        pairs = attribution[["channel", "roi"]].drop_duplicates()
        return {
            int(c): str(self.ids[int(r)])
            for c, r in zip(pairs["channel"], pairs["roi"], strict=True)
            if 0 <= int(r) < len(self.ids)
        }


def _owner_image(x: np.ndarray, y: np.ndarray, weight: np.ndarray, row: np.ndarray, shape: tuple[int, int]) -> Any:
    """Label image: each pixel to the ROI whose normalised weight is largest there (at least EXTENT_THRESHOLD)."""
    top = np.zeros(int(row.max(initial=-1)) + 1)
    np.maximum.at(top, row, weight)
    norm = weight / np.where(top[row] > 0, top[row], 1.0)
    keep = norm >= EXTENT_THRESHOLD
    order = np.argsort(norm[keep], kind="stable")  # the largest weight is written last and wins
    labels = np.full(shape, -1, dtype=np.int32)
    labels[y[keep][order], x[keep][order]] = row[keep][order]
    return labels


def _pixel_mask_labels(column: Any) -> tuple[np.ndarray | None, str]:
    """Label image of a ragged ``pixel_mask`` (or ``voxel_mask``) column, all of it read at once (bounded)."""
    target = column.target.data
    n = len(target)
    if n > MAX_MASK_ENTRIES:
        return None, f"the masks hold {n} pixels, more than the {MAX_MASK_ENTRIES} drawn"
    if not n:
        return None, "the masks are empty"
    entries = np.asarray(target[:])  # compound (x, y, weight) in a file, rows of 3 numbers in memory
    if entries.dtype.names is None:
        entries = {"x": entries[:, 0], "y": entries[:, 1], "weight": entries[:, -1]}
    ends = np.asarray(column.data[:], dtype=np.int64)
    counts = np.diff(np.concatenate([[0], ends]))
    if len(ends) and (counts.min() < 0 or ends[-1] != n):
        return None, "the mask index is inconsistent with the masks"
    row = np.repeat(np.arange(len(ends)), counts)
    x, y = (np.asarray(entries[k], dtype=np.int64) for k in ("x", "y"))
    weight = np.asarray(entries["weight"], dtype=float)
    if x.min() < 0 or y.min() < 0:
        return None, "the masks hold negative pixel coordinates"
    shape = (int(y.max()) + 1, int(x.max()) + 1)
    if shape[0] * shape[1] > MAX_LAYOUT_PIXELS:
        return None, f"the field of view {shape} is larger than the {MAX_LAYOUT_PIXELS} pixels drawn"
    return _owner_image(x, y, weight, row, shape), ""


def _image_mask_labels(column: Any) -> tuple[np.ndarray | None, str]:
    """Label image of an ``image_mask`` column ``(n_rois, x, y[, z])``, read one ROI at a time."""
    data = column.data
    shape = tuple(int(s) for s in data.shape)
    if len(shape) not in (3, 4) or shape[1] * shape[2] > MAX_LAYOUT_PIXELS:
        return None, f"image masks of shape {shape} are not drawn (2-D masks up to {MAX_LAYOUT_PIXELS} pixels)"
    best = np.zeros((shape[2], shape[1]), dtype=np.float32)
    labels = np.full((shape[2], shape[1]), -1, dtype=np.int32)
    for i in range(shape[0]):
        mask = np.asarray(data[i], dtype=float)
        mask = (mask.max(axis=2) if mask.ndim == 3 else mask).T  # (y, x); a volume seen from above
        mask = np.where(np.isfinite(mask), mask, 0.0)
        top = mask.max()
        if top <= 0:
            continue
        norm = mask / top
        mine = (norm >= EXTENT_THRESHOLD) & (norm > best)
        labels[mine], best[mine] = i, norm[mine]
    return labels, ""


def layout_of_table(table: Any) -> RoiLayout:
    """The layout of an ROI table (``PlaneSegmentation`` with image, pixel or voxel masks; ``Units``; other)."""
    ids = np.asarray(table.id[:])
    columns = set(table.colnames)
    kind = getattr(table, "neurodata_type", type(table).__name__)
    id_name = "unit id" if kind == "Units" else "ROI id"
    if "image_mask" in columns:
        labels, note = _image_mask_labels(table["image_mask"])
    elif "pixel_mask" in columns or "voxel_mask" in columns:
        labels, note = _pixel_mask_labels(table["pixel_mask" if "pixel_mask" in columns else "voxel_mask"])
    else:
        labels, note = None, f"the {kind} table '{table.name}' holds no ROI masks"
    return RoiLayout(table=str(table.name), ids=ids, id_name=id_name, labels=labels, note=note)


def layout_of_object(source: Any, object_id: str) -> RoiLayout:
    """The layout of the ROI table with ``object_id`` in ``source`` (anything :func:`~.read.open_nwb` opens)."""
    from .read import open_nwb

    with open_nwb(source) as opened:
        return layout_of_table(opened.nwbfile.objects[object_id])
