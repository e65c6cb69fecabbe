"""``causal-emergence demo``: the whole job on real data bundled with the package."""

from __future__ import annotations

from pathlib import Path

import click

from .main import Context, handle_errors, max_time_option, threads_option


@click.command("demo")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("causal-emergence-demo"),
    help="Folder for the input copy, the result file and the figures.",
)
@click.option("--overwrite", is_flag=True, help="Replace a result file left by an earlier demo run.")
@threads_option
@max_time_option
@click.pass_obj
@handle_errors
def demo(obj: Context, out_dir: Path, overwrite: bool, threads: int | None, max_time: float | None) -> None:
    """Run the whole analysis on a small real recording bundled with the package.

    The recording is the CaImAn CNMF-E result on CaImAn's 1-photon demo movie (72 components,
    1000 frames at 30 Hz). The demo fits the multiscale model (fast preset), writes the results
    into a new NWB file, prints the report and saves the figures.
    """
    from ..demo import run_demo
    from ..pipeline.report import report_document, report_text

    output, figures = run_demo(out_dir, progress=obj.progress, overwrite=overwrite, threads=threads, max_time=max_time)
    click.echo(report_text(report_document(output)))
    obj.echo(f"\nResults: {output}")
    obj.echo("Figures: " + ", ".join(str(p) for p in figures))
    obj.echo(f"Next: causal-emergence report {output} --json")
