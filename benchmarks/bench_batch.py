"""Batch scaling: the same small inputs analysed by ``run_batch`` on a LocalCluster of 1 vs 2 workers.

Writes ``--inputs`` small ophys NWB files (``DfOverF`` of ``--rois`` × ``--frames`` seeded
noise, one file per seed: the numbers are timings only), then for each worker count starts a
``distributed.LocalCluster`` (single-threaded worker processes, torch at one thread per task)
and runs :func:`ndx_causal_emergence.pipeline.batch.run_batch` on it into a fresh folder.
Cluster start-up and the batch are timed apart; the batch time includes each worker's first
imports (torch, pynwb), as in real use. "worker CPU s" sums the CPU time of the worker
processes, so "CPU s / batch s" is the number of cores the batch actually got. Worker counts
are run in turn ``--repeats`` times (1, 2, 1, 2, ...) so that a change of machine load hits
both alike. Prints a table and the ratio of the median batch times (``--json``: also writes them).

Usage::

    python benchmarks/bench_batch.py                 # 8 inputs, 1 vs 2 workers
    python benchmarks/bench_batch.py --repeats 2 --json batch.json
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from benchrun import Run, Table

MODEL = {
    "max_steps": 200,
    "hidden_width": 16,
    "dynamics_width": 16,
    "n_coupling_layers": 2,
    "eval_every": 100,
    "weight_refresh": 100,
    "batch_size": 128,
}


def make_inputs(folder: Path, n_inputs: int, n_frames: int, n_rois: int) -> list[Path]:
    """``n_inputs`` NWB files of seeded noise."""
    from ndx_causal_emergence.testing import write_long_ophys_nwb

    return [
        write_long_ophys_nwb(folder / f"rec{seed:02d}.nwb", n_frames=n_frames, n_rois=n_rois, rate=10.0, seed=seed)
        for seed in range(n_inputs)
    ]


def one_run(inputs: list[Path], out: Path, n_workers: int) -> dict[str, float]:
    """Start a cluster of ``n_workers``, run the batch on it; times in seconds."""
    from distributed import Client, LocalCluster

    from ndx_causal_emergence.pipeline.batch import run_batch
    from ndx_causal_emergence.pipeline.config import AnalysisConfig

    config = AnalysisConfig(coarsening=4, device="cpu", n_monte_carlo=200, model_params=MODEL)
    start = time.perf_counter()
    with (
        LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        started = time.perf_counter()
        summary = run_batch(inputs, out, config=config, scheduler=cluster.scheduler_address, progress=False)
        done = time.perf_counter()
        cpu = sum(client.run(_cpu_seconds).values())
    failed = summary[summary["status"] != "ok"]
    if len(failed):
        raise RuntimeError(f"the batch had failures: {failed[['input', 'error']].to_string()}")
    return {
        "startup": started - start,
        "batch": done - started,
        "total": done - start,
        "cpu": cpu,
        "outputs": summary["output"].nunique(),
    }


def _cpu_seconds() -> float:
    """CPU time (user + system) of the calling worker process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=8, help="number of input files")
    parser.add_argument("--frames", type=int, default=1500, help="frames per input")
    parser.add_argument("--rois", type=int, default=16, help="ROIs per input")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to compare")
    parser.add_argument("--repeats", type=int, default=1, help="runs per worker count (interleaved)")
    parser.add_argument("--json", type=Path, help="also write the table and the runs to this JSON file")
    args = parser.parse_args()
    run = Run("batch")
    warnings.simplefilter("ignore")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = make_inputs(Path(tmp), args.inputs, args.frames, args.rois)
        for repeat in range(args.repeats):
            for n_workers in args.workers:
                times = one_run(inputs, Path(tmp) / f"out-{n_workers}-{repeat}", n_workers)
                rows.append({"workers": n_workers, "repeat": repeat, **times, "load": os.getloadavg()[0]})
    print(f"{args.inputs} inputs of {args.frames} frames x {args.rois} ROIs; model {MODEL}; {os.cpu_count()} cores")
    table = Table("", ["workers", "run", "cluster start s", "batch s", "total s", "worker CPU s", "CPU s / batch s",
                       "outputs", "load avg (1 min) after"])  # fmt: skip
    for r in rows:
        table.add(r["workers"], r["repeat"] + 1, f"{r['startup']:.1f}", f"{r['batch']:.1f}", f"{r['total']:.1f}",
                  f"{r['cpu']:.1f}", f"{r['cpu'] / r['batch']:.2f}", r["outputs"], f"{r['load']:.1f}")  # fmt: skip
    print(table.markdown())
    medians = {w: statistics.median(r["batch"] for r in rows if r["workers"] == w) for w in args.workers}
    base = medians[args.workers[0]]
    notes = [
        f"batch time ratio {args.workers[0]} / {w} workers (median): {base / medians[w]:.2f}x" for w in args.workers[1:]
    ]
    print("\n".join(notes))
    setup = f"{args.inputs} inputs of {args.frames} frames x {args.rois} ROIs; model {MODEL}; {os.cpu_count()} cores"
    run.write(args.json, [table], setup=setup, notes=notes, records=rows)


if __name__ == "__main__":
    main()
