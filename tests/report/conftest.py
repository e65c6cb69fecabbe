"""Result files for the report tests: the bundled demo and a two-condition recording, each fitted the smallest way."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from ndx_causal_emergence.demo import demo_file
from ndx_causal_emergence.testing.simulated import write_two_condition_nwb
from tests.security.conftest import TINY_TOML

#: The security tests' smallest fit (20 steps, 8-wide networks): the report shows what it is given.
TINY = {k: v for k, v in tomllib.loads(TINY_TOML).items() if k != "coarsening"}


@pytest.fixture(scope="session")
def demo_results(tmp_path_factory) -> Path:
    """The bundled demo recording (72 CaImAn ROIs with pixel masks) analysed on the demo's ladder 72 -> 8 -> 1."""
    import ndx_causal_emergence as ce

    folder = tmp_path_factory.mktemp("demo")
    source = shutil.copyfile(demo_file(), folder / "demo.nwb")
    return ce.analyze(str(source), ladder=(72, 8, 1), **TINY).write(folder / "demo_results.nwb")


@pytest.fixture(scope="session")
def two_condition_fit(tmp_path_factory):
    """(Results, result file) of a simulated awake / anesthesia recording on the ladder 8 -> 2 -> 1 (a 2-D scale)."""
    import ndx_causal_emergence as ce

    folder = tmp_path_factory.mktemp("two")
    source = write_two_condition_nwb(folder / "two.nwb", n_channels=8, n_frames=400)
    results = ce.analyze(str(source), conditions="epochs", condition_column="stage", ladder=(8, 2, 1), **TINY)
    return results, results.write(folder / "two_results.nwb")


@pytest.fixture(scope="session")
def two_condition_results(two_condition_fit) -> Path:
    """The result file of :func:`two_condition_fit`."""
    return two_condition_fit[1]
