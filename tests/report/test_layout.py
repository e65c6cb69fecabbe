"""ROI layouts: masks of either kind give the same picture; tables without masks name channels by their ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pynwb import NWBHDF5IO
from pynwb.ophys import ImageSegmentation
from pynwb.testing.mock.file import mock_NWBFile
from pynwb.testing.mock.ophys import mock_ImagingPlane

from ndx_causal_emergence.dynamics.plots import plot_attribution, plot_attribution_map
from ndx_causal_emergence.nwb.layout import layout_of_table

#: Two ROIs on a 6 (x) by 4 (y) plane, overlapping at x = 2: ROI 1 weighs more there.
MASKS = [
    [(0, 0, 1.0), (1, 0, 1.0), (2, 0, 0.3), (1, 1, 0.05)],  # (1, 1) is below the extent threshold
    [(2, 0, 0.9), (3, 0, 0.5), (5, 3, 1.0)],
]


def _plane(tmp_path, kind: str):
    nwbfile = mock_NWBFile()
    plane = mock_ImagingPlane(nwbfile=nwbfile)
    segmentation = ImageSegmentation()
    nwbfile.create_processing_module("ophys", "ophys").add(segmentation)
    table = segmentation.create_plane_segmentation(description="two ROIs", imaging_plane=plane, name="Plane")
    for i, mask in enumerate(MASKS):
        if kind == "pixel_mask":
            table.add_roi(pixel_mask=mask, id=100 + i)
        else:
            image = np.zeros((6, 4))  # NWB image masks are (x, y)
            for x, y, w in mask:
                image[x, y] = w
            table.add_roi(image_mask=image, id=100 + i)
    path = tmp_path / f"{kind}.nwb"
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    return path


def test_pixel_and_image_masks_give_the_same_layout(tmp_path):
    layouts = {}
    for kind in ("pixel_mask", "image_mask"):
        with NWBHDF5IO(_plane(tmp_path, kind), "r") as io:
            layouts[kind] = layout_of_table(io.read().processing["ophys"]["ImageSegmentation"]["Plane"])
    pixel = layouts["pixel_mask"].labels
    expected = np.full((4, 6), -1)
    expected[0, 0:2] = 0
    expected[0, 2:4] = 1  # x = 2: ROI 1 (0.9 of its peak) over ROI 0 (0.3 of its peak)
    expected[3, 5] = 1
    np.testing.assert_array_equal(pixel, expected)
    np.testing.assert_array_equal(layouts["image_mask"].labels, expected)
    assert list(layouts["pixel_mask"].ids) == [100, 101] and layouts["pixel_mask"].id_name == "ROI id"


def test_importance_is_drawn_on_each_roi(tmp_path):
    with NWBHDF5IO(_plane(tmp_path, "pixel_mask"), "r") as io:
        layout = layout_of_table(io.read().processing["ophys"]["ImageSegmentation"]["Plane"])
    importance = pd.DataFrame({1: [0.25, 0.75], 2: [1.0, 0.0]}, index=[0, 1])
    fig = plot_attribution_map(layout.labels, importance)
    shown = np.ma.filled(fig.axes[1].images[1].get_array(), np.nan)  # scale 2's panel: (background, values)
    np.testing.assert_array_equal(shown[0, :4], [1.0, 1.0, 0.0, 0.0])
    assert np.isnan(shown[1, 1]) and np.isnan(shown[2, 0])
    assert "importance" in fig.axes[-1].get_ylabel()  # the colour bar


def test_units_fall_back_to_their_ids():
    nwbfile = mock_NWBFile()
    for unit_id in (7, 42, 1000):
        nwbfile.add_unit(spike_times=[0.1, 0.2], id=unit_id)
    layout = layout_of_table(nwbfile.units)
    assert layout.labels is None and layout.id_name == "unit id" and "no ROI masks" in layout.note
    attribution = pd.DataFrame({"scale": [0, 0, 0], "channel": [0, 1, 2], "importance": [0.2, 0.3, 0.5],
                                "roi": [2, 0, 1]})  # fmt: skip
    labels = layout.channel_labels(attribution)
    assert labels == {0: "1000", 1: "7", 2: "42"}
    fig = plot_attribution(attribution, channel_labels=labels, channel_name=layout.id_name)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["1000", "7", "42"]
    assert fig.axes[0].get_ylabel() == "unit id" and "integrated gradients" in fig.axes[1].get_ylabel()


def test_many_channels_stay_readable():
    rng = np.random.default_rng(0)
    attribution = pd.DataFrame({"scale": 0, "channel": np.arange(2000), "importance": rng.uniform(size=2000)})
    fig = plot_attribution(attribution)
    assert len(fig.axes[0].get_yticklabels()) <= 40 and fig.get_size_inches()[1] <= 10


def test_a_large_field_of_view_is_drawn_subsampled_in_its_own_pixels():
    labels = np.full((3000, 2000), -1)
    labels[1000:1200, 500:700] = 0
    fig = plot_attribution_map(labels, pd.DataFrame({1: [1.0]}, index=[0]))
    image = fig.axes[0].images[1]
    assert max(image.get_array().shape) <= 1024 and image.get_extent() == [-0.5, 1999.5, 2999.5, -0.5]
