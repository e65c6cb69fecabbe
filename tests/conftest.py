"""Shared fixtures: the real data beside the checkout and small helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real recordings); CI lays it beside the checkout."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real data folder {SHARED_DATA} is missing: it must lie beside the checkout")
    return SHARED_DATA
