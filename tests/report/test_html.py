"""The HTML report of the bundled demo and of a two-condition result: complete, self-contained, escaped."""

from __future__ import annotations

import html
import shutil
import xml.etree.ElementTree as ET

import h5py
from click.testing import CliRunner

from ndx_causal_emergence.cli.main import cli
from ndx_causal_emergence.pipeline.html_report import html_report
from ndx_causal_emergence.pipeline.report import report_document
from tests.report.pages import check_page

SECTIONS = {"summary", "emergence", "scales", "fit", "comparisons", "dynamics", "attribution", "provenance", "glossary"}


def _invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _captions(parsed) -> list[str]:
    return [img["alt"] for img in parsed.images]


def test_demo_page_from_the_command_line(demo_results, tmp_path):
    out = tmp_path / "demo.html"
    result = _invoke("report", demo_results, "--html", out)
    assert result.exit_code == 0, result.output
    assert f"HTML report: {out}" in result.output
    page = out.read_text(encoding="utf-8")
    parsed = check_page(page)
    assert SECTIONS <= parsed.ids
    captions = _captions(parsed)
    for words in ("every condition overlaid", "beside persistence", "drift potentials", "over time",
                  "on the field of view", "each input channel"):  # fmt: skip
        assert sum(words in c for c in captions) == 1, (words, captions)
    text = html.unescape("".join(parsed.text))
    (analysis,) = report_document(demo_results)["analyses"]
    assert all(sentence in text for sentence in analysis["conclusions"])
    assert "drawn from the masks of 'PlaneSegmentation'" in text  # the demo's CaImAn footprints
    assert "One condition only" in text


def test_two_condition_page_from_the_file_and_from_memory(two_condition_fit):
    results, path = two_condition_fit
    from_file = check_page(html_report(path))
    from_memory = check_page(results.to_html())
    for parsed in (from_file, from_memory):
        captions = _captions(parsed)
        assert SECTIONS <= parsed.ids
        for condition in ("awake", "anesthesia"):  # both conditions' dynamics and attribution, incl. the 2-D flow
            for words in ("drift potentials", "drift field", "over time", "on the field of view"):
                assert sum(c.startswith(f"{condition}:") and words in c for c in captions) == 1, (condition, words)
        text = html.unescape("".join(parsed.text))
        assert "permutation" in text and "awake" in text and "anesthesia" in text
        assert text.count("coverage C_d") == 2  # one coverage table per condition
    assert sorted(_captions(from_file)) == sorted(_captions(from_memory))


def test_text_from_the_file_is_escaped(two_condition_results, tmp_path):
    path = shutil.copyfile(two_condition_results, tmp_path / "hostile.nwb")
    hostile = '<script>alert("x")</script><img src="https://example.org/x.png">&'
    with h5py.File(path, "a") as f:
        f["processing/ophys/causal_emergence_awake"].attrs["condition"] = hostile
        f["processing/ophys/causal_emergence_awake/provenance"].attrs["command"] = hostile
    page = html_report(path)
    parsed = check_page(page)  # no script, no external image
    assert hostile not in page and "<script>" not in page
    assert html.escape(hostile, quote=True) in page
    assert hostile in "".join(parsed.text)  # shown as text, as the file holds it


def test_plots_prints_every_figure_it_writes(two_condition_results, tmp_path):
    folder = tmp_path / "plots"
    result = _invoke("report", two_condition_results, "--plots", folder, "--plot-format", "png",
                     "--plot-format", "svg")  # fmt: skip
    assert result.exit_code == 0, result.output
    printed = [line.removeprefix("figure: ") for line in result.output.splitlines() if line.startswith("figure: ")]
    assert sorted(printed) == sorted(str(p) for p in folder.iterdir())
    names = {p.stem for p in folder.iterdir()}
    assert {"conditions", "fit_quality", "causal_emergence_awake_flow_scale1", "causal_emergence_awake_states"} <= names
    for svg in folder.glob("*.svg"):
        assert ET.parse(svg).getroot().tag.endswith("svg")


def test_html_into_a_missing_folder_is_a_one_line_error(two_condition_results, tmp_path):
    from tests.security.conftest import invoke, one_line_error

    one_line_error(invoke("report", two_condition_results, "--html", tmp_path / "absent" / "r.html"), "does not exist")
    assert not (tmp_path / "absent").exists()


def test_roi_rows_the_table_lacks_are_not_drawn(two_condition_results, tmp_path):
    path = shutil.copyfile(two_condition_results, tmp_path / "rows.nwb")
    with h5py.File(path, "a") as f:
        rows = f["processing/ophys/causal_emergence_awake/attribution/roi"]
        rows[0], rows[1] = 10**12, -5  # beyond the 8-row ROI table
    parsed = check_page(html_report(path))
    assert any(c.startswith("awake:") and "on the field of view" in c for c in _captions(parsed))
