"""The runs the speed issue sets targets for, each timed as a user runs it: one whole job in a fresh process.

The runs (``--preset fast``; the target is the issue's idle-box wall time on the 2-core machine):

- ``demo``: ``causal-emergence demo`` (72 ROIs × 1000 frames, the bundled recording), target 30 s;
- ``nwb_test``: ``run`` on ``tests/data/neuroconv_ophys_segmentation/nwb_test.nwb`` (15 ROIs ×
  250 frames), target 15 s;
- ``triplett``: ``run`` on Triplett et al. 2018, fish zf_20151104-f1 (114 cells × 4245 frames),
  converted to NWB from ``--shared``'s CSV files (``convert.triplett_to_nwb``, not timed), target 90 s;
- ``units_000207``: ``run --series units`` on the 000207 asset of ``tests/data/dandi_units_nwb``
  (35 units, 0.1 s bins), target 120 s;
- ``synthetic_200x20k``: ``run`` on 200 channels × 20,000 frames of seeded noise
  (``testing.write_long_ophys_nwb``, not timed), target 180 s.

Each child's wall time, CPU time and peak memory come from its ``wait4`` resource usage
(:func:`benchrun.measure_child`), with the load average before and after and the CPU time the
hypervisor gave to other machines meanwhile; before each run a fixed one-thread workload is timed
(:func:`benchrun.box_speed`, the "box probe"), so that runs at different moments can be told apart
by the box's speed as well as by their code; the threads the job
chose, its phase times, its fit's steps and its J and ΔJ come from the output file. One JSON
record per run, the Markdown table printed.

    python benchmarks/bench_targets.py --json benchmarks/results/runtime/targets_idle.json
    python benchmarks/bench_targets.py --runs demo nwb_test --json out.json
    python benchmarks/bench_targets.py --threads 1 2 --json threads.json   # each run with --threads 1, then 2

With ``--busy N``, N processes that each keep a core busy (a Python loop) run beside the jobs, as
on a shared machine; the records say how many.

    python benchmarks/bench_targets.py --runs demo nwb_test triplett --busy 2 --json shared.json

With ``--threads``, each run is repeated with ``--threads N`` for each given N, one after the other
(``auto``: the job's own choice), so the counts are compared side by side on the same machine;
with ``--seeds``, for each given fit seed (``run --seed N``), to see how far a job's numbers move
from one fit to the next.

    python benchmarks/bench_targets.py --runs units_000207 --seeds 0 1 2 --json seeds.json

With ``--n-seeds K``, each job fits K seeds per condition (``run --seeds K``), as the report asks
for real recordings; a job with the cores fits them at once.

    python benchmarks/bench_targets.py --runs nwb_test triplett --n-seeds 3 --json three_seeds.json
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from benchrun import REPO, Run, Table, box_speed, job_runtime, measure_child

TARGETS_S = {"demo": 30, "nwb_test": 15, "triplett": 90, "units_000207": 120, "synthetic_200x20k": 180}
SHARED = REPO.parent / "shared" / "data"


def _job(name: str, folder: Path, shared: Path) -> tuple[list[str], Path]:
    """The command line of run ``name`` (its input prepared in ``folder`` where needed) and its NWB output."""
    cli = [sys.executable, "-m", "ndx_causal_emergence", "-q"]
    out = folder / f"{name}_out.nwb"
    if name == "demo":
        return [*cli, "demo", "--out", str(folder / "demo"), "--overwrite"], folder / "demo"
    if name == "nwb_test":
        source = REPO / "tests" / "data" / "neuroconv_ophys_segmentation" / "nwb_test.nwb"
        return [*cli, "run", str(source), "--out", str(out), "--preset", "fast"], out
    if name == "triplett":
        from ndx_causal_emergence.convert import triplett_to_nwb

        source = triplett_to_nwb(shared / "triplett2018_zebrafish_tectum", folder / "triplett.nwb")
        return [*cli, "run", str(source), "--out", str(out), "--preset", "fast"], out
    if name == "units_000207":
        source = REPO / "tests" / "data" / "dandi_units_nwb" / "sub-4_ses-4_ecephys+image.nwb"
        return [*cli, "run", str(source), "--series", "units", "--out", str(out), "--preset", "fast"], out
    if name == "synthetic_200x20k":
        from ndx_causal_emergence.testing import write_long_ophys_nwb

        source = write_long_ophys_nwb(folder / "synthetic.nwb", n_frames=20_000, n_rois=200, rate=30.0, seed=200)
        return [*cli, "run", str(source), "--out", str(out), "--preset", "fast"], out
    raise ValueError(f"unknown run {name!r}; known: {sorted(TARGETS_S)}")


def _thread_count(text: str) -> str:
    """``auto`` or a positive integer, as the command line gives it."""
    if text != "auto" and not (text.isdigit() and int(text) >= 1):
        raise argparse.ArgumentTypeError(f"a thread count is 'auto' or an integer >= 1, got {text!r}")
    return text


@contextlib.contextmanager
def _busy(n: int) -> Iterator[None]:
    """``n`` processes that each keep one core busy, for the block."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for proc in spinners:
            proc.kill()
            proc.wait()


def _steps(record: dict) -> str:
    """The fit's last step and, in brackets, the step of the state it kept (``—`` for a failed run)."""
    fit = record.get("fit")
    return "—" if not fit else f"{fit['steps'][-1]} ({fit['best_step']})"


def main() -> None:
    """Command line: time the chosen runs one after the other, write the JSON and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="+", default=list(TARGETS_S), choices=list(TARGETS_S))
    parser.add_argument("--shared", type=Path, default=SHARED, help="Folder of the larger real data (Triplett CSV).")
    parser.add_argument("--timeout", type=float, default=1800.0, help="Seconds per run before it is stopped.")
    parser.add_argument("--threads", nargs="+", default=["auto"], type=_thread_count,
                        help="Thread counts to run each job with ('auto': the job's choice).")  # fmt: skip
    parser.add_argument("--busy", type=int, default=0, help="Processes keeping a core busy beside the jobs.")
    parser.add_argument("--seeds", nargs="+", type=int, default=[None],
                        help="Run each job with run's --seed N for each given N (not the demo).")  # fmt: skip
    parser.add_argument("--n-seeds", type=int, default=None, help="Fit this many seeds per condition (run --seeds).")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if (args.seeds != [None] or args.n_seeds is not None) and "demo" in args.runs:
        parser.error("--seeds, --n-seeds: the demo has no seed options")
    run = Run("runtime")
    columns = ["run", "status", "wall s", "target s", "CPU s", "peak MiB", "threads (asked)", "fit steps (best)",
               "load before → after", "box probe s"]  # fmt: skip
    table = Table("Whole jobs against the speed issue's targets (--preset fast)", columns)
    records = []
    with tempfile.TemporaryDirectory(prefix="bench_targets_") as tmp, _busy(args.busy):
        for name, asked, seed in [(n, a, s) for n in args.runs for a in args.threads for s in args.seeds]:
            command, out = _job(name, Path(tmp), args.shared)
            if asked != "auto":
                command = [*command, "--threads", asked]
            if seed is not None:
                command = [*command, "--seed", str(seed)]
            if args.n_seeds is not None:
                command = [*command, "--seeds", str(args.n_seeds)]
            if out.is_file():
                out.unlink()  # the run before, with another thread count or seed (run refuses to overwrite)
            probe = box_speed()
            record = {"run": name, "target_s": TARGETS_S[name], "threads_asked": asked, "busy_processes": args.busy,
                      "box_speed_s": probe,
                      **({} if seed is None else {"seed": seed}),
                      **({} if args.n_seeds is None else {"n_seeds": args.n_seeds}),
                      "command": " ".join(command[1:]).replace(tmp, "<tmp>").replace(str(REPO), "<repo>"),
                      **measure_child(command, timeout=args.timeout, log=Path(tmp) / f"{name}.log")}  # fmt: skip
            if record["status"] == "ok":
                files = sorted(out.glob("*_causal-emergence.nwb")) if out.is_dir() else [out]
                record.update(job_runtime(files[0]))
            records.append(record)
            print(record, file=sys.stderr, flush=True)
            label = name if seed is None else f"{name} (seed {seed})"
            table.add(label, record["status"], f"{record['wall_s']:.1f}", record["target_s"], f"{record['cpu_s']:.1f}",
                      f"{record['peak_rss_mib']:.0f}", f"{record.get('threads') or '—'} ({asked})", _steps(record),
                      f"{record['load_before'][0]:.2f} → {record['load_after'][0]:.2f}", f"{probe:.3f}")  # fmt: skip
            run.write(args.json, [table], records=records)
    print(table.markdown())


if __name__ == "__main__":
    main()
