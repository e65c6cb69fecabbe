"""Shared fixtures: the real data inside the repository (``tests/data``) and small helpers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO / "tests" / "data"

#: A finished phase's progress line (stderr), e.g. "read: 0.2 s (CPU 0.0 s)"; it may precede an error.
PHASE_LINE = re.compile(r"^[^:]+: (\d+ \w+, )?[\d.]+ s \(CPU [\d.]+ s\)$")


@pytest.fixture(scope="session")
def real_data() -> Path:
    """``tests/data``: subsets of real recordings, described file by file in its README.md."""
    if not (REAL_DATA / "README.md").is_file():
        pytest.fail(f"test data folder {REAL_DATA} is missing or incomplete: it is part of the repository")
    return REAL_DATA
