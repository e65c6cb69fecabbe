"""benchmarks/RESULTS.md is generated from the benchmarks' JSON files (no benchmark is run here)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def renderer():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import render_results

        yield render_results
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_results_md_is_the_rendering_of_its_files(renderer):
    page = renderer.render(renderer.SECTIONS.read_text())
    assert page == renderer.render(renderer.SECTIONS.read_text())  # deterministic
    assert renderer.RESULTS.read_text() == page, "run: python benchmarks/render_results.py"


def test_every_results_file_is_shown(renderer):
    assert renderer.unlisted() == [], "name each on a line {{ folder/file.json }} of benchmarks/results/sections.md"


def test_every_file_says_how_it_was_made(renderer):
    for path in sorted(renderer.RESULTS_DIR.rglob("*.json")):
        doc = json.loads(path.read_text())
        assert {"benchmark", "command", "commit", "machine"} <= set(doc), path
        assert doc.get("tables") or doc.get("records") or doc.get("notes"), path
        if "source" in doc:
            assert doc["source"].startswith(("transcribed from benchmarks/RESULTS.md at commit", "records written")), (
                path
            )


def test_index_names_every_table(renderer):
    page = renderer.RESULTS.read_text()
    index = page.split("## Index", 1)[1].split("\n## ", 1)[0]
    tables = sum(len(json.loads(p.read_text()).get("tables", [])) or 1 for p in renderer.RESULTS_DIR.rglob("*.json"))
    assert index.count("\n| ") - 1 == tables  # one row per table (per file without tables), after the header


def test_cells_keep_the_text_shown(renderer):
    from benchrun import Table, cell

    assert cell("2.138") == 2.138 and cell("12") == 12
    assert cell("0.0430") == "0.0430" and cell("1.0e-12") == "1.0e-12" and cell("22,816") == "22,816"
    table = Table("t", ["a", "b"])
    table.add("|corr|", "0.0430")
    stored = Table.from_dict(json.loads(json.dumps(table.to_dict())))
    assert stored.markdown().splitlines()[-1] == "| \\|corr\\| | 0.0430 |"
