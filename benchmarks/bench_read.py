"""Read a long ROI series chunk by chunk: local file vs the DANDI stand-in (cold and warm disk cache).

Builds a ``DfOverF/RoiResponseSeries`` of ``--rois`` × ``--frames`` float32 (default 500 ×
100,000 = 200 MB, chunks of 1000 frames), then reads every frame block by block with
:func:`ndx_causal_emergence.nwb.read.iter_series_chunks` (nothing kept but a running sum):

- ``local``: from the file on disk;
- ``stand-in, cold``: ``DANDI:`` reference through the real ``dandi`` client and remfile, empty cache;
- ``stand-in, warm``: the same again, every block now in the disk cache.

Each reading runs in its own process so that its peak RSS is its own; opening (imports, DANDI
resolution, NWB metadata) and reading are timed apart. Prints a table: read MB/s of series
data, Python peak allocation during the read (tracemalloc, in a second run of the same
reading), growth of peak RSS during the read, peak RSS, bytes served by the stand-in.

With ``--timeout-pairs N`` it then times N alternated cold-cache reads from the stand-in with
remfile's plain ``requests`` session and with the package's session (request timeouts,
``dandi.remote.REQUEST_TIMEOUT_S``), and prints each pair and the median ratio.

Usage::

    python benchmarks/bench_read.py                      # full size (200 MB series)
    python benchmarks/bench_read.py --frames 20000 --rois 100   # quick
    python benchmarks/bench_read.py --timeout-pairs 6    # plus the cost of request timeouts
    python benchmarks/bench_read.py --json read.json     # also write the tables
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

REFERENCE = "DANDI:000999/sub-bench/sub-bench_ophys.nwb"


def read_all(source: str, cache_dir: str | None, trace: bool, plain_session: bool = False) -> dict[str, float]:
    """Open ``source``, then read the whole series block by block (keeping only a running sum).

    With ``trace`` the read runs under tracemalloc (its Python peak allocation is reported; the
    timing of that run is not used, tracemalloc slows allocation-heavy code).
    """
    import numpy as np

    from ndx_causal_emergence.nwb.read import iter_series_chunks, open_nwb

    warnings.simplefilter("ignore")
    if plain_session:  # remfile's own session: no request timeouts
        import requests

        from ndx_causal_emergence.dandi import remote

        remote._TimeoutSession = requests.Session
    start = time.perf_counter()
    with open_nwb(source, cache_dir=cache_dir) as opened:
        series = opened.nwbfile.processing["ophys"]["DfOverF"]["RoiResponseSeries"]
        opened_at = time.perf_counter()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if trace:
            tracemalloc.start()
        total, n_bytes = 0.0, 0
        for _, block in iter_series_chunks(series):
            total += float(block.sum(dtype=np.float64))
            n_bytes += block.nbytes
        done = time.perf_counter()
        peak = tracemalloc.get_traced_memory()[1] if trace else float("nan")
    return {
        "open_s": opened_at - start,
        "read_s": done - opened_at,
        "data_mb": n_bytes / 1e6,
        "checksum": total,
        "tracemalloc_peak_mb": peak / 1e6,
        "rss_growth_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1e3,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3,
    }


def run_child(
    source: str, cache_dir: str | None, env: dict[str, str], *, trace: bool = False, plain_session: bool = False
) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", source, "--cache-dir", cache_dir or ""]
    command += (["--trace"] if trace else []) + (["--plain-session"] if plain_session else [])
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--rois", type=int, default=500)
    parser.add_argument("--chunk-frames", type=int, default=1000)
    parser.add_argument("--workdir", type=Path, default=None, help="where to build the file (default: a temp dir)")
    parser.add_argument(
        "--timeout-pairs",
        type=int,
        default=0,
        help="alternated cold reads without and with request timeouts (default 0: none)",
    )
    parser.add_argument("--json", type=Path, help="also write the tables to this JSON file")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--plain-session", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(read_all(args.child, args.cache_dir or None, args.trace, args.plain_session)))
        return

    from benchrun import Run, Table

    from ndx_causal_emergence.testing import write_long_ophys_nwb
    from ndx_causal_emergence.testing.dandi_server import DandiStandIn

    run = Run("read")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        path = Path(tmp) / "bench.nwb"
        start = time.perf_counter()
        write_long_ophys_nwb(path, n_frames=args.frames, n_rois=args.rois, chunk_frames=args.chunk_frames)
        setup = (
            f"built {path.stat().st_size / 1e6:.1f} MB ({args.frames} frames × {args.rois} ROIs float32, chunks "
            f"of {args.chunk_frames} frames) in {time.perf_counter() - start:.1f} s"
        )
        print(setup)
        local = dict(os.environ)
        rows = [("local file", run_child(str(path), None, local), run_child(str(path), None, local, trace=True), None)]
        with DandiStandIn() as server:
            server.add_asset("000999", "sub-bench/sub-bench_ophys.nwb", path)
            env = dict(os.environ, DANDI_INSTANCE=server.api_url, DANDI_NO_ET="1")
            cache, cache_traced = str(Path(tmp) / "cache"), str(Path(tmp) / "cache-traced")
            server.reset_log()
            cold = run_child(REFERENCE, cache, env)
            served = server.blob_bytes
            cold_traced = run_child(REFERENCE, cache_traced, env, trace=True)
            rows.append(("stand-in, cold cache", cold, cold_traced, served))
            server.reset_log()
            warm = run_child(REFERENCE, cache, env)
            served = server.blob_bytes
            rows.append(("stand-in, warm cache", warm, run_child(REFERENCE, cache, env, trace=True), served))
            pairs = [
                [
                    run_child(REFERENCE, str(Path(tmp) / f"cache-{i}-{plain}"), env, plain_session=plain)["read_s"]
                    for plain in (True, False)
                ]
                for i in range(args.timeout_pairs)
            ]
    sums = {round(r["checksum"], 3) for _, r, t, _ in rows} | {round(t["checksum"], 3) for _, r, t, _ in rows}
    table = Table("", ["source", "data MB", "open s", "read s", "read MB/s", "tracemalloc peak MB", "RSS growth MB",
                       "peak RSS MB", "bytes served"])  # fmt: skip
    for label, r, t, served in rows:
        table.add(label, f"{r['data_mb']:.0f}", f"{r['open_s']:.2f}", f"{r['read_s']:.2f}",
                  f"{r['data_mb'] / r['read_s']:.0f}", f"{t['tracemalloc_peak_mb']:.1f}", f"{r['rss_growth_mb']:.0f}",
                  f"{r['max_rss_mb']:.0f}", "-" if served is None else f"{served / 1e6:.1f} MB")  # fmt: skip
    print(table.markdown())
    notes = [f"identical data in every reading: {len(sums) == 1}"]
    tables = [table]
    if pairs:
        timeouts = Table("cold reads without and with request timeouts, alternated",
                         ["pair", "cold read s, no timeouts", "cold read s, timeouts", "ratio"])  # fmt: skip
        for i, (plain, timed) in enumerate(pairs, 1):
            timeouts.add(i, f"{plain:.2f}", f"{timed:.2f}", f"{timed / plain:.2f}")
        print("\n" + timeouts.markdown())
        tables.append(timeouts)
        notes.append(f"median ratio (timeouts / none): {statistics.median(t / p for p, t in pairs):.2f}")
    print("\n".join(notes))
    run.write(args.json, tables, setup=setup, notes=notes)


if __name__ == "__main__":
    main()
