"""``causal-emergence report``: tables, JSON and figures of the analyses in an NWB file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .main import Context, handle_errors, max_memory_option


@click.command("report")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON document instead of tables.")
@click.option("--plots", type=click.Path(file_okay=False, path_type=Path), help="Write PNG figures into this folder.")
@max_memory_option
@click.pass_obj
@handle_errors
def report(obj: Context, file: Path, as_json: bool, plots: Path | None) -> None:
    """Summarise every causal-emergence analysis in FILE (per condition and scale)."""
    from ..pipeline.report import report_document, report_text

    doc = report_document(file)
    if plots is not None:
        from ..pipeline.figures import save_figures

        doc["plots"] = [str(p) for p in save_figures(file, plots)]
    click.echo(json.dumps(doc, indent=2) if as_json else report_text(doc))
