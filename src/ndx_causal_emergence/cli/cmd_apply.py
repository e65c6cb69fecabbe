"""``causal-emergence apply``: the macro variables of another recording under a stored model, written into NWB."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .main import Context, handle_errors, max_memory_option


@click.command("apply")
@click.argument("results_file", metavar="RESULTS.nwb", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("source", metavar="OTHER")
@click.option("--analysis", required=True, metavar="NAME", help="Analysis whose model to apply (see `report`).")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output NWB file: a copy of OTHER plus the macro variables.",
)
@click.option("--series", metavar="PATH", help="Series of OTHER to encode (default: the series the analysis used).")
@click.option("--name", metavar="NAME", help="Name of the result in OUT (default: <analysis>_applied).")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Disk cache for a streamed OTHER (default: the user cache).",
)
@max_memory_option
@click.pass_obj
@handle_errors
def apply(
    obj: Context,
    results_file: Path,
    source: str,
    analysis: str,
    out: Path,
    series: str | None,
    name: str | None,
    overwrite: bool,
    cache_dir: Path | None,
) -> None:
    """Map the raw frames of OTHER through the model of analysis NAME in RESULTS.nwb (not refitted).

    OTHER (a local NWB file, an http(s) URL or a DANDI reference: another session, another
    condition) must have the channels the model was fitted on: the same count, and the same ROI or
    unit ids where both files have them. OUT receives a copy of OTHER with one
    AppliedModelAnalysis: the macro variables of every scale, and a provenance naming the model
    applied (file, analysis, model).
    """
    from ..pipeline.apply import apply_model
    from ..runtime.progress import PhaseLog, reporting

    with reporting(PhaseLog(display="auto" if obj.progress else "off")):
        path = apply_model(
            results_file,
            source,
            analysis=analysis,
            out=out,
            series=series,
            name=name,
            overwrite=overwrite,
            cache_dir=str(cache_dir) if cache_dir else None,
            command="causal-emergence " + " ".join(sys.argv[1:]),
        )
    obj.echo(f"Wrote {path}")
