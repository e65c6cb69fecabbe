"""Item 7: the dashboard of a batch's local Dask cluster (no authentication) listens on loopback only."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import psutil
import pytest

from ndx_causal_emergence.pipeline.batch import _connect


def _outside_address() -> str:
    """An IPv4 address of this machine that is not loopback (how another host would reach it)."""
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not address.address.startswith("127."):
                return address.address
    pytest.skip("this machine has no non-loopback IPv4 address to try")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@pytest.mark.timeout(120)
def test_dashboard_refuses_connections_from_other_interfaces():
    outside = _outside_address()
    with _connect(1, None) as client:  # the cluster `run --out-dir` starts
        link = urlsplit(client.dashboard_link)
        assert _reachable("127.0.0.1", link.port)
        assert not _reachable(outside, link.port), f"dashboard reachable on {outside}:{link.port}"
        scheduler = urlsplit(client.scheduler.address)
        assert not _reachable(outside, scheduler.port), "the scheduler listens beyond loopback"
