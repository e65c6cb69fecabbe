"""The real dandi client + remfile stream a series from the stand-in: little transfer, disk cache, retries."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import remfile.RemFile

from ndx_causal_emergence.dandi import remote
from ndx_causal_emergence.errors import SourceError, StreamingError
from ndx_causal_emergence.nwb.read import open_nwb, read_recording
from ndx_causal_emergence.testing import write_long_ophys_nwb
from ndx_causal_emergence.testing.dandi_server import STALL_S, DandiStandIn, point_dandi_client_at

REF = "DANDI:000321/sub-long/sub-long_ophys.nwb"
RATE = 30.0
#: 1 % of the 100,000 frames, starting at frame 30,000
WINDOW = (30_000 / RATE, 31_000 / RATE)


@pytest.fixture(scope="module")
def long_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~50 MB: 100,000 frames × 125 ROIs float32 in chunks of 1000 frames."""
    path = tmp_path_factory.mktemp("long") / "long.nwb"
    return write_long_ophys_nwb(path, n_frames=100_000, n_rois=125, chunk_frames=1000, rate=RATE)


@pytest.fixture
def archive(long_file: Path) -> Iterator[DandiStandIn]:
    with DandiStandIn() as server, point_dandi_client_at(server):
        server.add_asset("000321", "sub-long/sub-long_ophys.nwb", long_file)
        yield server


def test_slice_transfers_little_and_second_read_hits_disk_cache(
    archive: DandiStandIn, long_file: Path, tmp_path: Path
) -> None:
    size = long_file.stat().st_size
    assert 45e6 < size < 55e6
    rec = read_recording(REF, time_range=WINDOW, cache_dir=tmp_path / "cache")
    assert rec.data.shape == (1000, 125)
    local = read_recording(long_file, time_range=WINDOW)
    np.testing.assert_array_equal(rec.data, local.data)
    np.testing.assert_allclose(rec.timestamps, local.timestamps)
    assert archive.blob_bytes <= 0.03 * size, f"{archive.blob_bytes} bytes of {size} for a 1 % slice"
    assert rec.source.kind == "dandi" and rec.source.dandiset_id == "000321"
    assert rec.source.asset_path == "sub-long/sub-long_ophys.nwb" and rec.source.dandiset_version == "draft"
    assert rec.source.asset_digest.startswith("dandi:sha2-256:") and rec.source.url.startswith(archive.base_url)
    archive.reset_log()
    again = read_recording(REF, time_range=WINDOW, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(again.data, rec.data)
    assert archive.range_requests() == [] and archive.blob_bytes == 0
    assert not list((tmp_path / "cache").rglob(".part-*"))  # every cached block was completed and renamed


def test_dropped_connection_is_retried(archive: DandiStandIn, long_file: Path, tmp_path: Path) -> None:
    archive.inject_fault(on_blob_request=2, kind="drop")
    archive.inject_fault(on_blob_request=4, kind="500")
    rec = read_recording(REF, time_range=WINDOW, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(rec.data, read_recording(long_file, time_range=WINDOW).data)
    blob_gets = [r for r in archive.log if r.path.startswith("/blobs/") and r.method == "GET"]
    dropped = blob_gets[1]
    assert (
        dropped.range
        and dropped.body_bytes < int(dropped.range.split("-")[1]) - int(dropped.range.split("=")[1].split("-")[0]) + 1
    )  # the server really cut the body short
    assert blob_gets[2].range == dropped.range  # the same range asked again
    assert blob_gets[3].status == 500 and blob_gets[4].range == blob_gets[3].range


def test_plain_url(archive: DandiStandIn, tmp_path: Path) -> None:
    asset = next(iter(archive._assets.values()))
    with open_nwb(archive.blob_url(asset), cache_dir=tmp_path / "cache") as opened:
        assert opened.streamed and opened.info.kind == "url"
        assert opened.nwbfile.identifier == "long-100000x125-seed0"


def test_dandi_instance_environment_variable(long_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``DANDI_INSTANCE=<api url>`` alone (known_instances untouched) routes ``DANDI:`` references."""
    with DandiStandIn() as server:
        server.add_asset("000321", "sub-long/sub-long_ophys.nwb", long_file)
        monkeypatch.setenv("DANDI_INSTANCE", server.api_url)
        monkeypatch.setenv("DANDI_NO_ET", "1")
        with open_nwb(REF, cache_dir=tmp_path / "cache") as opened:
            assert opened.info.url.startswith(server.base_url)
            assert opened.info.dandiset_id == "000321"


def test_cache_dir_from_environment(archive: DandiStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NDX_CE_CACHE_DIR", str(tmp_path / "env-cache"))
    with open_nwb(REF) as opened:
        assert opened.nwbfile.identifier == "long-100000x125-seed0"
    assert any((tmp_path / "env-cache").rglob("*"))


def _blob_gets(archive: DandiStandIn) -> list:
    return [r for r in archive.log if r.path.startswith("/blobs/") and r.method == "GET"]


@pytest.mark.timeout(120)
def test_stalled_request_times_out_and_is_retried(
    archive: DandiStandIn, long_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that takes the request and never answers is abandoned after the read timeout."""
    monkeypatch.setattr(remote, "REQUEST_TIMEOUT_S", (5.0, 1.0))
    archive.inject_fault(on_blob_request=2, kind="stall")
    start = time.perf_counter()
    rec = read_recording(REF, time_range=WINDOW, cache_dir=tmp_path / "cache")
    elapsed = time.perf_counter() - start
    np.testing.assert_array_equal(rec.data, read_recording(long_file, time_range=WINDOW).data)
    stalled, retried = _blob_gets(archive)[1:3]
    assert stalled.status == 0 and retried.range == stalled.range and retried.status == 206
    assert elapsed < STALL_S / 3, f"the read waited {elapsed:.0f} s on a request stalled for {STALL_S:.0f} s"


def _byte_spans(records: list) -> list[tuple[int, int]]:
    spans = []
    for record in records:
        start, stop = record.range.split("=")[1].split("-")
        spans.append((int(start), int(stop)))
    return spans


def test_connection_lost_for_good_is_a_clear_error_and_a_rerun_resumes(
    archive: DandiStandIn, long_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When every retry of a range fails, the read raises StreamingError; a rerun fetches only the rest."""
    monkeypatch.setattr(remfile.RemFile, "_num_request_retries", 2)  # 3 tries instead of 9 (25 s of back-off)
    cache = tmp_path / "cache"
    with open_nwb(REF, cache_dir=cache) as opened:
        series = opened.nwbfile.processing["ophys"]["DfOverF"]["RoiResponseSeries"]
        for k in (1, 2, 3):
            archive.inject_fault(on_blob_request=k, kind="drop")
        with pytest.raises(StreamingError, match="streaming .*blobs.* stopped") as failure:
            series.data[30_000:31_000]
        assert str(cache) in str(failure.value) and "running again fetches only the rest" in str(failure.value)
        assert isinstance(failure.value, SourceError)  # the command line's exit code 2 and one-line message
    first = _blob_gets(archive)
    spans = _byte_spans(first)
    whole = [r.status == 206 and r.body_bytes == b - a + 1 for (a, b), r in zip(spans, first, strict=True)]
    dropped = [record.range for record, ok in zip(first, whole, strict=True) if not ok]
    assert len(dropped) == 3 and len(set(dropped)) == 1  # the same range, dropped on every try (other reads may follow)
    fetched = [span for span, ok in zip(spans, whole, strict=True) if ok]
    archive.reset_log()
    rec = read_recording(REF, time_range=WINDOW, cache_dir=cache)
    np.testing.assert_array_equal(rec.data, read_recording(long_file, time_range=WINDOW).data)
    again = _byte_spans(archive.range_requests())
    assert again, "the failed range must be fetched on the rerun"
    assert not any(a0 <= f1 and f0 <= a1 for a0, a1 in again for f0, f1 in fetched), "a cached block was fetched again"
