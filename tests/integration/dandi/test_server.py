"""The stand-in speaks the DANDI API and HTTP Range the way the real clients expect."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import requests
from dandi.dandiapi import DandiAPIClient

from ndx_causal_emergence.dandi.refs import resolve_asset
from ndx_causal_emergence.errors import SourceError
from ndx_causal_emergence.testing.dandi_server import REAL_UNITS_ASSETS, DandiStandIn

PATH_207 = "sub-4/sub-4_ses-4_ecephys+image.nwb"


def test_range_requests(standin: DandiStandIn, real_data: Path) -> None:
    asset = resolve_asset(f"DANDI:000207/{PATH_207}")
    data = (real_data / "dandi_units_nwb" / "sub-4_ses-4_ecephys+image.nwb").read_bytes()
    head = requests.head(asset.url)
    assert head.status_code == 200 and head.headers["Accept-Ranges"] == "bytes"
    assert int(head.headers["Content-Length"]) == len(data) == asset.size
    for header, first, last in [
        ("bytes=0-9", 0, 9),
        ("bytes=1000-", 1000, len(data) - 1),
        ("bytes=-16", len(data) - 16, len(data) - 1),
        ("bytes=5-99999999", 5, len(data) - 1),
    ]:
        response = requests.get(asset.url, headers={"Range": header})
        assert response.status_code == 206
        assert response.headers["Content-Range"] == f"bytes {first}-{last}/{len(data)}"
        assert response.content == data[first : last + 1]
    assert requests.get(asset.url, headers={"Range": f"bytes={len(data)}-"}).status_code == 416
    assert requests.get(asset.url).content == data


def test_download_redirects_to_blob(standin: DandiStandIn) -> None:
    asset = resolve_asset(f"DANDI:000207/draft/{PATH_207}")
    for method in ("GET", "HEAD"):
        response = requests.request(
            method, f"{standin.api_url}/assets/{asset.asset_id}/download/", allow_redirects=False
        )
        assert response.status_code == 302 and response.headers["Location"] == asset.url
    assert asset.url.startswith(f"{standin.base_url}/blobs/")


def test_real_assets_at_real_paths_with_digests(standin: DandiStandIn, real_data: Path) -> None:
    from dandischema.digests.dandietag import DandiETag

    client = DandiAPIClient(api_url=standin.api_url)
    for dandiset_id, path, name in REAL_UNITS_ASSETS:
        remote = client.get_dandiset(dandiset_id).get_asset_by_path(path)
        local = real_data / "dandi_units_nwb" / name
        assert remote.size == local.stat().st_size
        assert remote.get_raw_digest("dandi:sha2-256") == hashlib.sha256(local.read_bytes()).hexdigest()
        assert remote.get_raw_digest("dandi:dandi-etag") == DandiETag.from_file(local).as_str()
    # page size 1: listing the two assets of 000006 takes two pages
    paths = [a.path for a in client.get_dandiset("000006").get_assets()]
    assert paths == sorted(p for d, p, _ in REAL_UNITS_ASSETS if d == "000006")
    assert sum("/assets/" in r.path and "page=2" in r.path for r in standin.log) >= 1


def test_version_defaults_to_latest_published(real_data: Path, tmp_path: Path) -> None:
    from ndx_causal_emergence.testing.dandi_server import point_dandi_client_at

    file = real_data / "neuroconv_ophys_segmentation" / "nwb_test.nwb"
    with DandiStandIn() as server, point_dandi_client_at(server):
        server.add_asset("000123", "sub-a/sub-a_ophys.nwb", file, versions=("0.240101.0000", "0.240301.0000"))
        server.add_asset("000124", "sub-b/sub-b_ophys.nwb", file)
        assert resolve_asset("DANDI:000123/sub-a/sub-a_ophys.nwb").version == "0.240301.0000"
        assert resolve_asset("DANDI:000123/0.240101.0000/sub-a/sub-a_ophys.nwb").version == "0.240101.0000"
        assert resolve_asset("DANDI:000123/draft/sub-a/sub-a_ophys.nwb").version == "draft"
        assert resolve_asset("DANDI:000124/sub-b/sub-b_ophys.nwb").version == "draft"


@pytest.mark.parametrize(
    "reference, match",
    [
        ("DANDI:000207/draft/sub-4/nope.nwb", "not found"),
        ("DANDI:000777/draft/sub-1/x.nwb", "not found"),
        ("DANDI:000207", "whole Dandiset 000207"),
        ("DANDI:000006/draft/", "whole Dandiset"),
        ("DANDI:000006/draft/sub-anm3", "matches 2 assets|not found"),
    ],
)
def test_bad_references(standin: DandiStandIn, reference: str, match: str) -> None:
    with pytest.raises(SourceError, match=match):
        resolve_asset(reference)


def test_dandi_download_runs_unmodified(standin: DandiStandIn, real_data: Path, tmp_path: Path) -> None:
    from dandi.download import download

    download("DANDI:000006/draft", tmp_path, get_metadata=False)
    for dandiset_id, path, name in REAL_UNITS_ASSETS:
        if dandiset_id == "000006":
            got = tmp_path / "000006" / path
            assert got.read_bytes() == (real_data / "dandi_units_nwb" / name).read_bytes()


def test_automatic_garbage_collection_is_paused_while_serving() -> None:
    """A collection in a server thread could finalise h5py objects while a streaming client holds h5py's lock."""
    import gc

    assert gc.isenabled()
    with DandiStandIn():
        assert not gc.isenabled()
        with DandiStandIn():  # a second stand-in stopping first must not resume it for the first
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with DandiStandIn():
            pass
        assert not gc.isenabled()  # restored as it was
    finally:
        gc.enable()
