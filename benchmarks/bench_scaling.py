"""Scaling of the whole job: wall, CPU time and peak memory of ``causal-emergence run`` against channels × frames.

For every cell of the grid (default channels 16, 64, 256, 1024 × frames 1k, 10k, 100k) the
script writes a synthetic recording (``DfOverF`` of seeded Gaussian noise,
:func:`~ndx_causal_emergence.testing.write_long_ophys_nwb`; not timed), then runs the
whole job ``python -m ndx_causal_emergence -q run FILE --out OUT --preset fast`` in a fresh
process and records, from that child's ``wait4`` resource usage, its wall time, user + system
CPU time and peak resident memory, together with the 1-minute load average before and after
(the machine may be shared: on a busy machine wall time grows, CPU time much less), the threads
the job chose (from its provenance) and the exact command. Results go to a JSON file (the
grid's command, commit, machine and wall time, :mod:`benchrun`), one record per cell, appended as
cells finish (a rerun skips the cells already there).

``--plot`` draws wall and CPU time against frames (one line per channel count) and peak memory,
and ``--table`` prints the Markdown table; both read the JSON only. The growth exponents are
the least-squares fit ``log t = a log(channels) + b log(frames) + c`` over the measured cells
(printed with the table; ``a`` needs two channel counts, ``b`` two frame counts).

Usage::

    python benchmarks/bench_scaling.py --channels 16,64 --frames 1000,10000 --json scaling.json
    python benchmarks/bench_scaling.py --json scaling.json --table --plot scaling.png
    python benchmarks/bench_scaling.py --device cuda --json scaling_cuda.json     # on a GPU machine
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from benchrun import Run, job_runtime, measure_child

CHANNELS = (16, 64, 256, 1024)
FRAMES = (1_000, 10_000, 100_000)


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def run_cell(channels: int, frames: int, folder: Path, *, device: str, timeout: float, extra: list[str]) -> dict:
    """Write the synthetic recording, run the whole job in a child process and measure it."""
    from ndx_causal_emergence.testing import write_long_ophys_nwb

    source = write_long_ophys_nwb(folder / f"c{channels}_t{frames}.nwb", n_frames=frames, n_rois=channels,
                                  rate=30.0, seed=channels * 1_000_003 + frames)  # fmt: skip
    out = folder / f"c{channels}_t{frames}_out.nwb"
    command = [sys.executable, "-m", "ndx_causal_emergence", "-q", "run", str(source), "--out", str(out),
               "--preset", "fast", "--device", device, "--overwrite", *extra]  # fmt: skip
    log = folder / "stderr.txt"
    record = {
        "channels": channels, "frames": frames, "device": device,
        "command": " ".join(command[1:]).replace(str(source.parent), "<tmp>"),
        **measure_child(command, timeout=timeout, log=log),
    }  # fmt: skip
    outcome = record["status"]
    if outcome == "ok":
        record.update(job_runtime(out))
    else:
        record["stderr_tail"] = log.read_text(errors="replace")[-500:]
    for path in (source, out):
        path.unlink(missing_ok=True)
    return record


def growth_exponents(records: list[dict], key: str) -> dict[str, float | None]:
    """Least-squares exponents of ``key`` in channels and frames over the cells that finished."""
    ok = [r for r in records if r["status"] == "ok"]
    if len(ok) < 2:
        return {"channels": None, "frames": None}
    c = np.log([r["channels"] for r in ok])
    t = np.log([r["frames"] for r in ok])
    y = np.log([r[key] for r in ok])
    columns, names = [np.ones_like(y)], []
    for name, x in (("channels", c), ("frames", t)):
        if np.ptp(x) > 0:
            columns.append(x)
            names.append(name)
    coef, *_ = np.linalg.lstsq(np.column_stack(columns), y, rcond=None)
    out: dict[str, float | None] = {"channels": None, "frames": None}
    out.update({name: round(float(v), 2) for name, v in zip(names, coef[1:], strict=True)})
    return out


def table(records: list[dict]) -> str:
    """Markdown table of the records and the growth exponents."""
    lines = ["| channels | frames | status | wall s | CPU s | peak MiB | threads | load before → after | scales |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in sorted(records, key=lambda r: (r["channels"], r["frames"])):
        lines.append(
            f"| {r['channels']} | {r['frames']:,} | {r['status']} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | "
            f"{r['peak_rss_mib']:.0f} | {r.get('threads') or '—'} | "
            f"{r['load_before'][0]:.2f} → {r['load_after'][0]:.2f} | {r.get('scales') or '—'} |"
        )
    for key in ("wall_s", "cpu_s", "peak_rss_mib"):
        exp = growth_exponents(records, key)
        lines.append(f"\n{key}: growth exponent in channels {exp['channels']}, in frames {exp['frames']}")
    return "\n".join(lines)


def plot(records: list[dict], path: Path) -> None:
    """Wall and CPU time against frames (one line per channel count), and peak memory."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in records if r["status"] == "ok"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, key, label in zip(axes, ("wall_s", "cpu_s", "peak_rss_mib"), ("wall (s)", "CPU time (s)", "peak RSS (MiB)"),
                              strict=True):  # fmt: skip
        for ch in sorted({r["channels"] for r in ok}):
            rows = sorted((r for r in ok if r["channels"] == ch), key=lambda r: r["frames"])
            ax.plot([r["frames"] for r in rows], [r[key] for r in rows], "o-", label=f"{ch} channels")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("frames")
        ax.set_ylabel(label)
        exp = growth_exponents(ok, key)
        ax.set_title(f"exponents: channels {exp['channels']}, frames {exp['frames']}", fontsize=9)
    axes[0].legend(fontsize=8)
    fig.suptitle("causal-emergence run, fast preset (synthetic, seeded)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    """Command line: run the grid cells not yet in the JSON, then optionally print the table and plot."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", type=_ints, default=list(CHANNELS))
    parser.add_argument("--frames", type=_ints, default=list(FRAMES))
    parser.add_argument("--json", type=Path, default=Path("scaling.json"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--timeout", type=float, default=3600.0, help="Seconds per cell before it is stopped.")
    parser.add_argument("--no-run", action="store_true", help="Only read the JSON (with --table / --plot).")
    parser.add_argument("--table", action="store_true")
    parser.add_argument("--plot", type=Path)
    parser.add_argument("job_options", nargs="*", help="Further options of `run` after --, e.g. -- --threads 1")
    args = parser.parse_args()
    stored = json.loads(args.json.read_text()) if args.json.exists() else {}
    records = stored.get("records", []) if isinstance(stored, dict) else stored  # a list: files before benchrun
    kept = {k: stored[k] for k in ("title", "setup", "notes", "source") if isinstance(stored, dict) and k in stored}
    run = Run("scaling")
    if not args.no_run:
        done = {(r["channels"], r["frames"], r["device"]) for r in records}
        with tempfile.TemporaryDirectory(prefix="bench_scaling_") as tmp:
            for frames in args.frames:
                for channels in args.channels:
                    if (channels, frames, args.device) in done:
                        continue
                    record = run_cell(channels, frames, Path(tmp), device=args.device, timeout=args.timeout,
                                      extra=args.job_options)  # fmt: skip
                    print(json.dumps(record), flush=True)
                    records.append(record)
                    run.write(args.json, [], records=records, **kept)
    if args.table:
        print(table(records))
    if args.plot:
        plot(records, args.plot)


if __name__ == "__main__":
    main()
