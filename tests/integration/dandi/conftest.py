"""The DANDI stand-in, pointed at by the real ``dandi`` client, serving the real units assets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ndx_causal_emergence.testing.dandi_server import DandiStandIn, point_dandi_client_at


@pytest.fixture
def standin(real_data: Path) -> Iterator[DandiStandIn]:
    """A started stand-in (page size 1, so every list is paginated) serving the four real DANDI assets."""
    with DandiStandIn(page_size=1) as server, point_dandi_client_at(server):
        server.add_real_units_assets(real_data / "dandi_units_nwb")
        yield server
