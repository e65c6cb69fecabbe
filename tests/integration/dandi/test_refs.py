"""Every accepted form of DANDI reference resolves to the same asset through the real dandi client."""

from __future__ import annotations

import pytest

from ndx_causal_emergence.dandi.refs import is_dandi_reference, resolve_asset
from ndx_causal_emergence.errors import SourceError
from ndx_causal_emergence.nwb.read import open_nwb
from ndx_causal_emergence.testing.dandi_server import DandiStandIn

PATH = "sub-anm372793/sub-anm372793_ses-20170508.nwb"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("DANDI:000006/draft/sub-x/sub-x.nwb", True),
        ("dandi:000006", True),
        ("dandi://dandi/000006@draft/sub-x.nwb", True),
        ("https://dandiarchive.org/dandiset/000006/draft/files?location=sub-x", True),
        ("https://api.dandiarchive.org/api/assets/0a1b-2c/download/", True),
        ("https://api.dandiarchive.org/api/dandisets/000006/versions/draft/assets/?path=sub-x", True),
        ("https://example.org/data/file.nwb", False),
        ("https://dandiarchive.s3.amazonaws.com/blobs/0a1/b2c/0a1b2c", False),
        ("/home/me/DANDI/file.nwb", False),
    ],
)
def test_is_dandi_reference(text: str, expected: bool) -> None:
    assert is_dandi_reference(text) is expected


def test_all_forms_resolve_to_one_asset(standin: DandiStandIn) -> None:
    reference = resolve_asset(f"DANDI:000006/draft/{PATH}")
    forms = [
        f"DANDI:000006/{PATH}",
        "DANDI:000006/draft/sub-anm372793/",  # a folder holding exactly one asset
        f"dandi://dandi/000006@draft/{PATH}",
        f"{standin.base_url}/dandiset/000006/draft/files?location={PATH}",
        f"{standin.api_url}/dandisets/000006/versions/draft/assets/?path={PATH}",
        f"{standin.api_url}/dandisets/000006/versions/draft/assets/{reference.asset_id}/download/",
    ]
    for form in forms:
        asset = resolve_asset(form)
        assert (asset.asset_id, asset.path, asset.url, asset.digest) == (
            reference.asset_id,
            reference.path,
            reference.url,
            reference.digest,
        ), form
    by_id = resolve_asset(f"{standin.api_url}/assets/{reference.asset_id}/download/")
    assert by_id.asset_id == reference.asset_id and by_id.dandiset_id is None  # an id alone names no Dandiset


def test_open_streams_with_provenance(standin: DandiStandIn, tmp_path) -> None:
    with open_nwb(f"DANDI:000006/{PATH}", cache_dir=tmp_path) as opened:
        assert opened.streamed and opened.nwbfile.identifier == "anm372793_2017-05-08_2"
        info = opened.info
    assert (info.kind, info.dandiset_id, info.dandiset_version, info.asset_path) == ("dandi", "000006", "draft", PATH)
    assert info.identifier == "anm372793_2017-05-08_2" and info.asset_digest.startswith("dandi:sha2-256:")


def test_unknown_instance_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="not a DANDI reference the dandi client can resolve"):
        resolve_asset("dandi://no-such-instance/000006/sub-x.nwb")
