"""Item 4: the block cache never serves a damaged block, and a download must match the archive's digest."""

from __future__ import annotations

import numpy as np
import pytest

from ndx_causal_emergence.errors import SourceError
from ndx_causal_emergence.nwb.read import read_recording
from ndx_causal_emergence.testing.dandi_server import DandiStandIn


def test_poisoned_cache_blocks_are_fetched_again(tiny_nwb, tmp_path):
    cache = tmp_path / "cache"
    local = read_recording(str(tiny_nwb)).data
    with DandiStandIn() as server:
        url = server.blob_url(server.add_asset("000123", "sub-1/tiny.nwb", tiny_nwb))
        np.testing.assert_array_equal(read_recording(url, cache_dir=cache).data, local)
        blocks = [p for p in cache.rglob("*") if p.is_file()]
        assert blocks
        for block in blocks:  # poison every cached block: one bit flipped in the middle
            data = bytearray(block.read_bytes())
            data[len(data) // 2] ^= 0x01
            block.write_bytes(bytes(data))
        server.reset_log()
        again = read_recording(url, cache_dir=cache).data
        assert server.range_requests(), "the damaged blocks were served from the cache"
    np.testing.assert_array_equal(again, local)


def test_download_must_match_the_archive_digest(tiny_nwb, tmp_path):
    from ndx_causal_emergence.dandi.remote import download

    served = tmp_path / "served.nwb"
    served.write_bytes(tiny_nwb.read_bytes())
    with DandiStandIn() as server:
        asset = server.add_asset("000123", "sub-1/tiny.nwb", served)  # the archive's digest of these bytes
        download(server.blob_url(asset), tmp_path / "good.nwb", sha256=asset.sha256)
        assert (tmp_path / "good.nwb").read_bytes() == served.read_bytes()
        data = bytearray(served.read_bytes())
        data[len(data) // 2] ^= 0x01  # the server now serves other bytes of the same size
        served.write_bytes(bytes(data))
        with pytest.raises(SourceError, match="differ from the archive's digest"):
            download(server.blob_url(asset), tmp_path / "bad.nwb", sha256=asset.sha256)
    assert not (tmp_path / "bad.nwb").exists()
