"""Shared fixtures: the real data inside the repository (``tests/data``) and small helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO / "tests" / "data"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """``tests/data``: subsets of real recordings, described file by file in its README.md."""
    if not (REAL_DATA / "README.md").is_file():
        pytest.fail(f"test data folder {REAL_DATA} is missing or incomplete: it is part of the repository")
    return REAL_DATA
