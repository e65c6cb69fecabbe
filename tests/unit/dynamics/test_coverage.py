"""Coverage C_d of the attribution (docs/method.md §4) and the ROI centroids it reads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ndx_causal_emergence.dynamics.attribution import coverage_table
from ndx_causal_emergence.errors import InputError
from ndx_causal_emergence.nwb.read import _mask_centroid


def _table(shares: dict[int, list[float]]) -> pd.DataFrame:
    rows = [{"scale": k, "channel": c, "importance": v} for k, vals in shares.items() for c, v in enumerate(vals)]
    return pd.DataFrame(rows)


def test_coverage_is_the_participation_ratio_over_n() -> None:
    out = coverage_table(_table({0: [0.25] * 4, 1: [1.0, 0, 0, 0], 2: [0.5, 0.3, 0.1, 0.1]}))
    assert out["coverage"].tolist() == pytest.approx([1.0, 0.25, 1.0 / (4 * (0.25 + 0.09 + 0.01 + 0.01))])
    assert out["coverage_top_fraction"].tolist() == [1.0, 0.25, 0.5]  # 0.5 + 0.3 reach 80 %
    assert out["coverage_extent"].isna().all()  # no centroids


def test_extent_is_the_weighted_radius_of_the_top_channels() -> None:
    centroids = np.array([[0.0, 0.0], [2.0, 0.0], [100.0, 100.0], [np.nan, np.nan]])
    out = coverage_table(_table({0: [0.45, 0.45, 0.1, 0.0], 1: [0.1, 0.1, 0.2, 0.6]}), centroids=centroids)
    assert out["coverage_extent"][0] == pytest.approx(1.0)  # two equal shares 2 pixels apart; the far ROI is outside
    assert np.isnan(out["coverage_extent"][1])  # the top channel has no centroid
    # channels are indexed by the table's channel values (recording channels, some dropped)
    sparse = pd.DataFrame({"scale": [0, 0], "channel": [0, 2], "importance": [0.5, 0.5]})
    assert coverage_table(sparse, centroids=centroids)["coverage_extent"][0] == pytest.approx(np.hypot(50, 50))


def test_bad_input_names_the_problem() -> None:
    with pytest.raises(InputError, match="mass"):
        coverage_table(_table({0: [1.0]}), mass=0.0)
    with pytest.raises(InputError, match="columns"):
        coverage_table(pd.DataFrame({"scale": [0]}))
    assert np.isnan(coverage_table(_table({0: [0.0, 0.0]}))["coverage"][0])


def test_mask_centroids_of_images_pixels_and_voxels() -> None:
    image = np.zeros((10, 12))
    image[2:5, 7:10] = 1.0
    image[0, 0] = 0.0
    np.testing.assert_allclose(_mask_centroid(image, 0), [3.0, 8.0])
    np.testing.assert_allclose(_mask_centroid([(8, 3, 1.0), (9, 3, 3.0)], 2), [8.75, 3.0])
    np.testing.assert_allclose(_mask_centroid([(1, 2, 3, 2.0)], 3), [1.0, 2.0, 3.0])
    assert np.isnan(_mask_centroid([], 3)).all() and _mask_centroid([], 3).shape == (3,)
    assert np.isnan(_mask_centroid(np.zeros((4, 4)), 0)).all()
