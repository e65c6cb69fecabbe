"""Calibration of the default analysis on systems whose answer is known (issue: trustworthy results).

Each system of :mod:`ndx_causal_emergence.testing.calibration` goes through the pipeline's own
preprocessing and measurement (``prepare`` → ``measure_condition``: fit, per-scale J and ΔJ,
fit-quality gate, bootstrap intervals, Holm-adjusted p-values), seed by seed:

- ``linear``: isotropic linear-Gaussian latents (d ∈ --dims) behind --channels channels,
  linear and nonlinear embeddings: J at the true dimension against the analytic value, and
  whether the largest J is at the true dimension;
- ``null``: independent AR(1) channels (true ΔJ = 0): mean |ΔJ| per scale and the share of
  datasets flagged ``significant`` at any scale;
- ``pair``: the double-well (awake) / single-well (anesthesia) pair: ΔJ at d = 1 of both, the
  comparison's difference, interval and p-value.

Writes one JSON record per run (``--json``) and prints a Markdown table.

    python benchmarks/bench_calibration.py linear --dims 1 2 4 --channels 32 128 --seeds 0 1 2 --json out.json
    python benchmarks/bench_calibration.py null --channels 32 --datasets 20 --jobs 2 --json null.json
    python benchmarks/bench_calibration.py pair --seeds 0 1 2 --json pair.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from benchrun import commit, machine

from ndx_causal_emergence.data.prepare import prepare
from ndx_causal_emergence.data.recording import Recording
from ndx_causal_emergence.dynamics import state_points
from ndx_causal_emergence.pipeline.comparisons import compare_all
from ndx_causal_emergence.pipeline.config import AnalysisConfig
from ndx_causal_emergence.pipeline.run import condition_dynamics, measure_condition
from ndx_causal_emergence.testing.calibration import (
    CalibrationSystem,
    double_well_pair,
    independent_null,
    linear_gaussian_system,
)

RATE = 10.0


def _measure(system: CalibrationSystem, config: AnalysisConfig) -> tuple[dict, object, object]:
    start = time.perf_counter()
    prepared = prepare(Recording.from_array(system.frames, rate=RATE, name=system.name), cycles=config.split_cycles)
    measured = measure_condition(prepared, config)
    table = measured.emergence
    record = {
        "system": system.name, "params": system.params, "true_dimension": system.true_dimension,
        "true_j": system.true_j, "true_delta_j": system.true_delta_j, "seconds": time.perf_counter() - start,
        "scales": table[["scale", "dimension", "dimension_averaged_ei", "causal_emergence", "fit_ok", "significant",
                         "causal_emergence_p_holm", "causal_emergence_ci_low", "causal_emergence_ci_high",
                         "latent_nmse", "latent_nmse_persistence", "causal_emergence_observed"]]
        .to_dict("records"),
    }  # fmt: skip
    return record, measured, prepared


def _stable_points(model: object, prepared: object) -> dict[str, int]:
    """Stable points of the top scale inside the data's support, as ``analyze`` finds them (docs/method.md §4).

    ``model``: of the learned map; ``empirical``: of the drift of the encoded trajectory; ``states``:
    the metastable states the analysis reports (the map's points, or the drift's where they disagree).
    """
    top = len(model.ladder_) - 1
    points = condition_dynamics(model, prepared, scales=[top], attribution=False, seed=0).fixed_points
    counts = {}
    for source in ("model", "empirical"):
        chosen = points[(points["scale"] == top) & points["in_support"] & (points["source"] == source)]
        counts[source] = int((chosen["stability"] == "stable").sum())
    counts["states"] = len(state_points(points, top)[0])
    return counts


def _linear_record(embedding: str, n: int, d: int, seed: int, frames: int, config: AnalysisConfig) -> dict:
    system = linear_gaussian_system(d, n, embedding=embedding, n_frames=frames, seed=seed)
    record, _, _ = _measure(system, config.__class__(**{**config.to_dict(), "seed": seed}))
    scales = record["scales"]
    at_true = [r for r in scales if r["dimension"] == d]
    record["j_at_true"] = at_true[0]["dimension_averaged_ei"] if at_true else None
    record["argmax_dimension"] = max(scales, key=lambda r: r["dimension_averaged_ei"])["dimension"]
    print(f"{system.name} seed {seed}: J_true_dim={record['j_at_true']:.3f} (truth "
          f"{system.true_j:.3f}), argmax d={record['argmax_dimension']}, {record['seconds']:.0f} s",
          file=sys.stderr, flush=True)  # fmt: skip
    return record


def _null_record(n: int, i: int, frames: int, config: AnalysisConfig) -> dict:
    system = independent_null(n, n_frames=frames, seed=1000 + i)
    record, _, _ = _measure(system, config.__class__(**{**config.to_dict(), "seed": i}))
    record["any_significant"] = any(r["significant"] for r in record["scales"])
    deltas = [round(r["causal_emergence"], 3) for r in record["scales"][1:]]
    print(f"{system.name} #{i}: ΔJ={deltas} significant={record['any_significant']} "
          f"{record['seconds']:.0f} s", file=sys.stderr, flush=True)  # fmt: skip
    return record


def _one_thread() -> None:
    torch.set_num_threads(1)


def _in_order(tasks: list[tuple], jobs: int) -> Iterator[dict]:
    """``fn(*args)`` of each task ``(fn, *args)``, in order; ``jobs > 1``: that many processes of one torch thread."""
    if jobs <= 1:
        yield from (fn(*rest) for fn, *rest in tasks)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_one_thread) as pool:
        yield from (future.result() for future in [pool.submit(fn, *rest) for fn, *rest in tasks])


def run_linear(args: argparse.Namespace, config: AnalysisConfig) -> Iterator[dict]:
    """Known-answer latents: J at the true dimension against the analytic value."""
    tasks = [(_linear_record, embedding, n, d, seed, args.frames, config) for embedding in args.embeddings
             for n in args.channels for d in args.dims for seed in args.seeds]  # fmt: skip
    yield from _in_order(tasks, args.jobs)


def run_null(args: argparse.Namespace, config: AnalysisConfig) -> Iterator[dict]:
    """Independent channels: |ΔJ| and the share flagged significant."""
    tasks = [(_null_record, n, i, args.frames, config) for n in args.channels for i in range(args.datasets)]
    yield from _in_order(tasks, args.jobs)


def run_pair(args: argparse.Namespace, config: AnalysisConfig) -> Iterator[dict]:
    """Double well vs single well: the awake − anesthesia comparison at d = 1."""
    for seed in args.seeds:
        systems = double_well_pair(args.channels[0], n_frames=args.frames, seed=seed)
        cfg = config.__class__(**{**config.to_dict(), "seed": seed})
        records, measured, prepared = {}, {}, {}
        for label, system in systems.items():
            records[label], measured[label], prepared[label] = _measure(system, cfg)
        comparisons = compare_all(measured, alpha=cfg.alpha, seed=seed)
        top = comparisons[(comparisons["measure"] == "delta_J")].tail(1).to_dict("records")[0]
        found = {label: _stable_points(m.models[0], prepared[label]) for label, m in measured.items()}
        record = {"seed": seed, "conditions": records, "comparisons": comparisons.to_dict("records"), "top": top,
                  "stable_points": {label: f["model"] for label, f in found.items()},
                  "empirical_stable_points": {label: f["empirical"] for label, f in found.items()},
                  "states": {label: f["states"] for label, f in found.items()}}  # fmt: skip
        yield record
        print(
            f"pair seed {seed}: awake−anesthesia ΔJ at d={top['dimension']}: {top['difference']:.3f} "
            f"[{top['ci_low']:.3f}, {top['ci_high']:.3f}] p={top['p_value']:.4f}; stable points {found}",
            file=sys.stderr,
            flush=True,
        )


def _table(kind: str, records: list[dict]) -> str:
    lines = []
    if kind == "linear":
        lines += [
            "| system | seed | J at true d (nats) | truth | error | argmax d | fit_ok at true d |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in records:
            ok = [s["fit_ok"] for s in r["scales"] if s["dimension"] == r["true_dimension"]]
            lines.append(
                f"| {r['system']} | {r['params']['seed']} | {r['j_at_true']:.3f} | {r['true_j']:.3f} | "
                f"{r['j_at_true'] - r['true_j']:+.3f} | {r['argmax_dimension']} | {ok[0] if ok else '-'} |"
            )
    elif kind == "null":
        dims = [s["dimension"] for s in records[0]["scales"]]
        mean_abs = np.mean([[abs(s["causal_emergence"]) for s in r["scales"]] for r in records], axis=0)
        mean = np.mean([[s["causal_emergence"] for s in r["scales"]] for r in records], axis=0)
        j = np.array([[s["dimension_averaged_ei"] for s in r["scales"]] for r in records])
        share = np.mean([r["any_significant"] for r in records])
        lines += [f"| d | mean J (truth {records[0]['true_j']:.3f}) | sd J | mean ΔJ | mean abs ΔJ |",
                  "|---|---|---|---|---|"]  # fmt: skip
        lines += [
            f"| {d} | {jm:.3f} | {js:.3f} | {m:+.3f} | {a:.3f} |"
            for d, jm, js, m, a in zip(dims, j.mean(axis=0), j.std(axis=0), mean, mean_abs, strict=True)
        ]
        lines.append(f"\nmean abs ΔJ over the macro scales: {mean_abs[1:].mean():.3f}; flagged significant at any "
                     f"scale: {share * 100:.0f} % of {len(records)} datasets")  # fmt: skip
    else:
        by_source = "states" in records[0]  # the drift's points and the states are recorded since 2026-12-07
        extra = " stable points of the drift (awake, anesthesia) | metastable states (awake, anesthesia) |"
        extra = extra if by_source else ""
        lines += ["| seed | d | ΔJ awake | ΔJ anesthesia | awake − anesthesia | 95 % interval | p | stable points "
                  "of the map (awake, anesthesia) |" + extra, "|---" * (10 if by_source else 8) + "|"]  # fmt: skip
        for r in records:
            t, stable = r["top"], r.get("stable_points", {})
            own = {c: r["conditions"][c]["scales"][-1]["causal_emergence"] for c in ("awake", "anesthesia")}
            cells = [stable] + ([r["empirical_stable_points"], r["states"]] if by_source else [])
            lines.append(
                f"| {r['seed']} | {t['dimension']} | {own['awake']:+.3f} | {own['anesthesia']:+.3f} | "
                f"{t['difference']:+.3f} | [{t['ci_low']:+.3f}, {t['ci_high']:+.3f}] | {t['p_value']:.4f} | "
                + "".join(f"{c.get('awake', '-')}, {c.get('anesthesia', '-')} | " for c in cells).rstrip()
            )
    return "\n".join(lines)


def render(doc: dict) -> str:
    """A stored run as Markdown: how it was made (command, commit, machine, wall time), then its table."""
    machine = doc["machine"]
    load = ", ".join(f"{v:.1f}" for v in machine["loadavg"])
    head = (
        f"`python {doc['command']}` (commit {doc.get('commit', 'not recorded')}; {machine['platform']}, "
        f"{machine['cpus']} CPUs, load {load} at the end; {doc['wall_seconds'] / 60:.0f} min)"
    )
    notes = f"\n\n{doc['notes']}" if doc.get("notes") else ""
    return head + notes + "\n\n" + _table(doc["kind"], doc["records"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["linear", "null", "pair", "render"])
    parser.add_argument("files", nargs="*", type=Path, help="render: JSON files written by --json")
    parser.add_argument("--dims", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--channels", type=int, nargs="+", default=[32])
    parser.add_argument("--embeddings", nargs="+", default=["linear", "nonlinear"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", type=int, default=20)
    parser.add_argument("--frames", type=int, default=6000)
    parser.add_argument("--preset", default="fast")
    parser.add_argument(
        "--split-cycles",
        type=int,
        default=AnalysisConfig.split_cycles,
        help="train/validation/test cycles (1: one chronological split, as before 2026-12-06)",
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--jobs", type=int, default=1, help="linear, null: fits in this many processes (1 thread each)")
    args = parser.parse_args()
    if args.kind == "render":
        print("\n\n".join(render(json.loads(path.read_text())) for path in args.files))
        return
    config = AnalysisConfig(preset=args.preset, split_cycles=args.split_cycles)
    start, code = time.time(), commit()  # the code this run imported, not HEAD at a later write
    records = []
    for record in {"linear": run_linear, "null": run_null, "pair": run_pair}[args.kind](args, config):
        records.append(record)
        doc = {
            "benchmark": "calibration", "kind": args.kind, "command": " ".join(sys.argv), "commit": code,
            "config": config.to_dict(), "machine": machine(),
            "wall_seconds": time.time() - start, "records": records,
        }  # fmt: skip
        if args.json:  # after every run: a long grid stopped early keeps what it measured
            args.json.write_text(json.dumps(doc, indent=1, default=float))
    print(_table(args.kind, records))


if __name__ == "__main__":
    main()
