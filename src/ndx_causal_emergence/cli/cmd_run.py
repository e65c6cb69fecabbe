"""``causal-emergence run``: analyse one source, or a batch of sources on a Dask cluster; results go into NWB."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from ..pipeline.config import DEPRECATED_PRESETS, PRESETS
from .main import Context, handle_errors, max_memory_option, max_time_option, threads_option

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline.config import AnalysisConfig


def _ladder(_ctx: click.Context, _param: click.Parameter, value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        ladder = tuple(int(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter("must be comma-separated integers, e.g. 64,16,4,1") from None
    if any(d < 1 for d in ladder) or list(ladder) != sorted(ladder, reverse=True):
        raise click.BadParameter("must be decreasing positive integers, e.g. 64,16,4,1")
    return ladder


def _record_full_paths(value: bool) -> bool:
    import os

    from ..safety.redact import FULL_PATHS_ENV

    if value:
        os.environ[FULL_PATHS_ENV] = "1"  # read when provenance is made, here and in batch workers
    return value


@click.command("run")
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option("--series", metavar="PATH", help="Series to analyse (path in the file; see `list`). Default: dF/F first.")
@click.option("--conditions", metavar="TABLE", help="Intervals or events table with condition labels (e.g. epochs).")
@click.option("--condition-column", metavar="COL", help="Column of --conditions holding the labels (e.g. stage).")
@click.option(
    "--ladder",
    "--scales",
    "ladder",
    callback=_ladder,
    metavar="N,...,1",
    help="Explicit scale ladder: the dimension of each scale, e.g. 64,16,4,1 (--scales: its old name).",
)
@click.option(
    "--coarsening",
    type=click.IntRange(min=2),
    metavar="C",
    help="Factor c of the automatic ladder d_{k+1} = floor(d_k / c) (default 2).",
)
@click.option(
    "--q",
    "--cut",
    "q",
    type=click.IntRange(min=1),
    metavar="D",
    help="Dimension q of the automatic ladder's top scale, its coarsest macro variable (default 1), e.g. --q 4 "
    "ends at a 4-D scale (--cut: its old name).",
)
@click.option(
    "--preset",
    type=click.Choice([*PRESETS, *DEPRECATED_PRESETS]),
    default="fast",
    help="Model preset: fast (default), fmri (the group's fMRI defaults; 'paper' is its deprecated old name), "
    "sir (official NIS+ conventions) or wang2025 (a replica of the mice paper's official protocol).",
)
@click.option(
    "--split-cycles",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Train/validation/test cycles: each cycle of the frames is split 70/10/20 % in time order, so every "
    "block samples the whole recording; 1 = one chronological split.",
)
@click.option("--seeds", "n_seeds", type=click.IntRange(min=1), default=1, help="Number of seeds (fits) per condition.")
@click.option("--seed", type=int, default=0, help="First seed.")
@click.option(
    "--surrogates",
    "n_surrogates",
    type=click.IntRange(min=0),
    default=0,
    help="Surrogate refits for the p-value of causal emergence.",
)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", help="Compute device.")
@click.option("--bin-width", type=float, default=0.1, help="Bin width in seconds for spike Units.")
@click.option(
    "--attribution/--no-attribution",
    default=True,
    show_default=True,
    help="Attribute each scale's macro variables to the input channels (integrated gradients) and give their "
    "coverage; a long phase on wide recordings (1,024 channels x 1,000 frames: 763 s of a 995 s job).",
)
@threads_option
@max_time_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Output NWB file (input + results).")
@click.option("--in-place", is_flag=True, help="Append the results to the (local) input file, atomically.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML file with analysis parameters (options given on the command line win).",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Disk cache for streamed files (default: the user cache).",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Batch mode: one output NWB per input in this folder, plus summary.csv and summary.parquet.",
)
@click.option(
    "--path-glob",
    metavar="GLOB",
    help="Batch mode: glob on asset paths of Dandisets and file paths in folders, e.g. 'sub-*/*.nwb' "
    "(default: every .nwb file).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Batch mode: worker processes of the local Dask cluster (default: one per CPU core).",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Batch mode: use the running Dask cluster at ADDRESS (e.g. tcp://host:8786) instead.",
)
@click.option(
    "--dashboard-address",
    default="127.0.0.1:0",
    metavar="HOST:PORT",
    help="Batch mode: where the local cluster's dashboard listens (no authentication: loopback unless the "
    "network is trusted).",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=2,
    help="Batch mode: retries of a task that failed with a possibly transient error (I/O, network, memory).",
)
@click.option(
    "--record-full-paths",
    is_flag=True,
    callback=lambda _c, _p, v: _record_full_paths(v),
    expose_value=False,
    help="Record the full local paths of inputs and arguments in the provenance (default: file names only).",
)
@max_memory_option
@click.pass_obj
@handle_errors
def run(
    obj: Context,
    sources: tuple[str, ...],
    out: Path | None,
    in_place: bool,
    overwrite: bool,
    config_file: Path | None,
    cache_dir: Path | None,
    out_dir: Path | None,
    path_glob: str | None,
    workers: int | None,
    scheduler: str | None,
    retries: int,
    dashboard_address: str,
    **options: object,
) -> None:
    """Fit one multiscale NIS+ model per condition of each SOURCE and write the results into NWB.

    A SOURCE is a local NWB file, an http(s) URL or a DANDI reference. With one SOURCE the default
    output is a new file (--out) holding the input's content plus one CausalEmergenceAnalysis per
    condition; the input is never modified unless --in-place is given.

    \b
    Batch mode (--out-dir DIR): SOURCEs may also be folders, glob patterns or whole Dandisets
    (DANDI:000123[/VERSION], filtered with --path-glob). One task per (input, condition) runs on
    a Dask cluster; each input gets its own output file (DANDI assets mirrored under
    DIR/<dandiset>/), and DIR/summary.csv lists every input and condition with its status. A
    rerun skips the inputs whose output exists with the same parameters.
    """
    from ..errors import InputError
    from ..pipeline.config import AnalysisConfig

    if config_file is not None:  # only options given on the command line override the file
        ctx = click.get_current_context()
        given = {k: v for k, v in options.items() if ctx.get_parameter_source(k) != ParameterSource.DEFAULT}
        config = AnalysisConfig.from_toml(config_file, **given)
    else:
        config = AnalysisConfig(**options)
    command = "causal-emergence " + " ".join(sys.argv[1:])
    batch_only = {"--path-glob": path_glob, "--workers": workers, "--scheduler": scheduler}
    if out_dir is not None:
        if out or in_place:
            raise InputError("--out-dir (batch mode) writes one file per input; drop --out / --in-place.")
        _run_batch(
            obj,
            sources,
            out_dir,
            config=config,
            path_glob=path_glob,
            workers=workers,
            scheduler=scheduler,
            overwrite=overwrite,
            cache_dir=cache_dir,
            retries=retries,
            command=command,
            dashboard_address=dashboard_address,
        )
        return
    given = [name for name, value in batch_only.items() if value is not None]
    if len(sources) > 1 or given:
        raise InputError(
            f"{'several sources' if len(sources) > 1 else ' and '.join(given)} need batch mode: add --out-dir DIR."
        )
    if bool(out) == in_place:
        raise InputError("give exactly one of --out FILE or --in-place (or --out-dir DIR for a batch).")
    _run_one(
        obj,
        sources[0],
        out,
        in_place=in_place,
        overwrite=overwrite,
        config=config,
        cache_dir=cache_dir,
        command=command,
    )


def _run_one(
    obj: Context,
    source: str,
    out: Path | None,
    *,
    in_place: bool,
    overwrite: bool,
    config: AnalysisConfig,
    cache_dir: Path | None,
    command: str,
) -> None:
    from ..pipeline.report import analysis_summary, report_text
    from ..pipeline.run import analyze
    from ..runtime.progress import PhaseLog, phase, reporting
    from ..safety.outputs import check_in_place_target, check_out_file

    if in_place:  # checks that need no results: before reading any data
        check_in_place_target(source)
    else:
        check_out_file(out, source=source, overwrite=overwrite)
    results = analyze(
        source, config=config, cache_dir=str(cache_dir) if cache_dir else None, command=command, progress=obj.progress
    )
    with reporting(PhaseLog(display="auto" if obj.progress else "off")), phase("write"):
        path = results.write(out, in_place=in_place, overwrite=overwrite)
    doc = {"file": str(path), "analyses": [analysis_summary(r.analysis_name, r) for r in results.conditions.values()]}
    obj.echo(report_text(doc))
    obj.echo(f"\nWrote {path}")


def _run_batch(obj: Context, sources: tuple[str, ...], out_dir: Path, **kwargs: Any) -> None:
    from ..pipeline.batch import batch_summary_dataset, run_batch

    summary = run_batch(sources, out_dir, progress=not obj.quiet, **kwargs)
    per_input = batch_summary_dataset(summary)[["status", "error", "output"]].to_dataframe()
    for label, row in per_input.iterrows():
        detail = f"\n         {row['error']}" if row["status"] == "error" else f" -> {row['output']}"
        obj.echo(f"{row['status']:8} {label}{detail}")
    obj.echo(f"\nSummary: {out_dir / 'summary.csv'} (and summary.parquet)")
    n_failed = int((per_input["status"] == "error").sum())
    if n_failed:
        raise click.ClickException(
            f"{n_failed} of {len(per_input)} inputs failed; see the error column of {out_dir / 'summary.csv'}"
        )
