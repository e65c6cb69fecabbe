"""Shared fixtures: the real data inside the repository (``tests/data``) and small helpers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO / "tests" / "data"

#: A finished phase's progress line (stderr), e.g. "read: 0.2 s (CPU 0.0 s)"; it may precede an error.
#: Preamble of a script run in a subprocess that must read our files without this package: importing it fails.
WITHOUT_THIS_PACKAGE = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "ndx_causal_emergence":
            raise ImportError(name)
sys.meta_path.insert(0, Block())
"""
PHASE_LINE = re.compile(r"^[^:]+: (\d+ \w+, )?[\d.]+ s \(CPU [\d.]+ s\)$")


@pytest.fixture(scope="session")
def real_data() -> Path:
    """``tests/data``: subsets of real recordings, described file by file in its README.md."""
    if not (REAL_DATA / "README.md").is_file():
        pytest.fail(f"test data folder {REAL_DATA} is missing or incomplete: it is part of the repository")
    return REAL_DATA
