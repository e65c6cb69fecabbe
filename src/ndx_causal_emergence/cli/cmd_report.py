"""``causal-emergence report``: tables, JSON and figures of the analyses in an NWB file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..pipeline.report import GLOSSARY
from .main import Context, handle_errors, max_memory_option


@click.command("report", epilog=GLOSSARY)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON document instead of tables.")
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write one self-contained HTML page (figures embedded, loads nothing from the network) to this file.",
)
@click.option("--plots", type=click.Path(file_okay=False, path_type=Path), help="Write the figures into this folder.")
@click.option(
    "--plot-format",
    "plot_formats",
    type=click.Choice(["png", "svg"]),
    multiple=True,
    default=("png",),
    show_default=True,
    help="Format of the --plots figures (repeat for both).",
)
@max_memory_option
@click.pass_obj
@handle_errors
def report(
    obj: Context, file: Path, as_json: bool, html_out: Path | None, plots: Path | None, plot_formats: tuple[str, ...]
) -> None:
    """Summarise every causal-emergence analysis in FILE (per condition and scale).

    For each analysis: the per-scale table (EI, J, dJ with its interval and p-value, the fit
    gate, NMSE beside persistence), sentences saying what can and cannot be concluded, and the
    comparisons with the other conditions of the same series. --html writes all of it with every
    figure into one page; --plots writes the figures one by one and prints their paths.
    """
    from ..pipeline.html_report import check_html_target
    from ..pipeline.report import report_document, report_text

    if html_out is not None:
        check_html_target(html_out)  # before any work
    doc = report_document(file)
    if plots is not None:
        from ..pipeline.figures import save_figures

        doc["plots"] = [str(p) for p in save_figures(file, plots, formats=plot_formats)]
    if html_out is not None:
        from ..pipeline.html_report import write_html

        doc["html"] = str(write_html(file, html_out))
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo(report_text(doc))
    for path in doc.get("plots", []):
        click.echo(f"figure: {path}")
    if "html" in doc:
        click.echo(f"HTML report: {doc['html']}")
