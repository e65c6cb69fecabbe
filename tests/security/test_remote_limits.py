"""Item 3: remote reads end in bounded time; a malformed Content-Length is an input error (exit 2)."""

from __future__ import annotations

import time

import pytest

from ndx_causal_emergence.dandi import remote
from ndx_causal_emergence.testing.dandi_server import DandiStandIn

from .conftest import invoke, one_line_error


@pytest.fixture
def served(tiny_nwb):
    with DandiStandIn() as server:
        yield server, server.add_asset("000123", "sub-1/tiny.nwb", tiny_nwb)


@pytest.fixture
def short_limits(monkeypatch, tmp_path):
    """Bounds scaled down so the test takes seconds (the defaults: 30 s + 16 s per MiB, 24 failed requests)."""
    monkeypatch.setattr(remote, "REQUEST_DEADLINE_BASE_S", 1.0, raising=False)
    monkeypatch.setattr(remote, "MIN_TRANSFER_RATE", 10**9, raising=False)
    monkeypatch.setattr(remote, "RETRY_BUDGET", 3, raising=False)
    monkeypatch.setattr(remote, "REQUEST_TIMEOUT_S", (2.0, 2.0))
    monkeypatch.setenv("NDX_CE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.timeout(90)
def test_trickling_server_is_abandoned_within_the_deadline(served, short_limits, tmp_path):
    server, asset = served
    for k in range(1, 200):
        server.inject_fault(on_blob_request=k, kind="trickle")  # every range request: 1 byte per 0.5 s
    start = time.perf_counter()
    result = invoke("list", server.blob_url(asset))
    elapsed = time.perf_counter() - start
    one_line_error(result)
    assert elapsed < 30, elapsed
    assert len(server.range_requests()) <= 4  # the first try and the retry budget (3), then no more


@pytest.mark.timeout(90)
@pytest.mark.parametrize("declared", ["-5", "12abc", "larger"])
def test_lying_content_length_is_an_input_error(declared, served, short_limits, tmp_path):
    server, asset = served
    server.declare_length(asset, str(asset.size + 10**6) if declared == "larger" else declared)
    start = time.perf_counter()
    result = invoke("list", server.blob_url(asset))
    one_line_error(result, "Content-Length")
    assert time.perf_counter() - start < 30
    assert not any((tmp_path / "cache").rglob("*")) or all(p.is_dir() for p in (tmp_path / "cache").rglob("*"))
