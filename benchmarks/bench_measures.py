"""Speed of the measures core against the official NIS+ way of computing them.

(a) Jacobian term of EI (mean ``ln|det ∂F|`` over 1000 uniform samples) at q = 2, 10, 50, 100:
    ``ResidualMLP.batched_jacobian`` (closed form) and the generic ``torch.func.vmap(jacrev)``
    path on a plain ``nn.Sequential`` map, against a per-sample
    ``torch.autograd.functional.jacobian`` loop + ``slogdet`` (how the official code does it).
(c) Encoder Jacobians of the attribution (``--part encoder``): the ``(d_k, N)`` Jacobian of a
    ``fast``-preset encoder map (weights moved off the identity start, seeded) at 16 points, for
    N = 64, 256, 1024 at the finest and a middle scale: ``batched_jacobian`` (one pass over the
    batch replicated per output) against ``torch.func.jacrev`` of the batch sum in chunks of at most
    2**20 Jacobian entries (its earlier path).
(d) The attribution of every scale (``--part attribution``): the integrated gradients of the pipeline
    (128 held-out frames, 16 path points, float32 maps) of all the scales of one ``fast``-preset encoder
    (weights moved off the identity start, seeded) for N = 32, 114, 256: one scale at a time
    (``integrated_gradients`` of each encoder map) against one chain (``chained_integrated_gradients``:
    each coarse scale's Jacobian from the one below it), with the largest relative difference.
(b) IPW weights of 63,000 points at q = 1, 2, 10: ``ipw_weights`` (default: the exact KDE of all
    points) against ``sklearn.neighbors.KernelDensity`` fitted and scored on the full set (the
    official way), with the largest absolute and relative differences of the mean-1 weights.

Usage::

    python benchmarks/bench_measures.py            # full run (tens of minutes on 2 cores)
    python benchmarks/bench_measures.py --quick    # small sizes, a minute or two
    python benchmarks/bench_measures.py --part weights --json weights.json   # also write the tables
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from benchrun import Run, Table

from ndx_causal_emergence.measures import ipw_weights, logabsdet_jacobian
from ndx_causal_emergence.models.dynamics import ResidualMLP


def _time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Best wall time of ``repeats`` calls and the last result."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _loop_logdet(fn: Callable[[torch.Tensor], torch.Tensor], y: torch.Tensor) -> float:
    """The official way: one autograd Jacobian per sample, then slogdet."""
    vals = []
    for v in y:
        jac = torch.autograd.functional.jacobian(lambda u: fn(u.unsqueeze(0)).squeeze(0), v)
        vals.append(torch.linalg.slogdet(jac.double()).logabsdet.item())
    return float(np.mean(vals))


def _batched_logdet(fn: Callable[[torch.Tensor], torch.Tensor], y: torch.Tensor) -> float:
    return logabsdet_jacobian(fn, y).mean().item()


def _compare(fn: Callable[[torch.Tensor], torch.Tensor], y: torch.Tensor, repeats: int) -> dict[str, float]:
    """Times of the batched and per-sample paths, speed-up and relative difference of mean ln|det J|."""
    t_fast, v_fast = _time(partial(_batched_logdet, fn, y), repeats)
    t_loop, v_loop = _time(partial(_loop_logdet, fn, y), 1)
    return {"s": t_fast, "loop_s": t_loop, "x": t_loop / t_fast, "diff": abs(v_fast - v_loop) / abs(v_loop)}


def bench_jacobian(dims: list[int], n_samples: int, hidden: int, repeats: int) -> Iterator[dict[str, Any]]:
    for q in dims:
        torch.manual_seed(q)
        resmlp = ResidualMLP(q, hidden_width=hidden).eval()
        width = max(hidden, q)  # full rank, so that ln|det| is finite
        seq = torch.nn.Sequential(
            torch.nn.Linear(q, width), torch.nn.Tanh(), torch.nn.Linear(width, width), torch.nn.Tanh(),
            torch.nn.Linear(width, q),
        ).eval()  # fmt: skip
        y = torch.rand(n_samples, q, generator=torch.Generator().manual_seed(0)) * 2 - 1
        row: dict[str, Any] = {"q": q, "seq_width": width}
        row.update({f"resmlp_{k}": v for k, v in _compare(resmlp, y, repeats).items()})
        row.update({f"seq_{k}": v for k, v in _compare(seq, y, repeats).items()})
        yield row


def _latents(n: int, q: int, seed: int = 0) -> np.ndarray:
    """A double-well-like latent cloud in about [-1, 1]^q: two clusters along the first axis."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 0.3, size=(n, q))
    x[:, 0] = rng.choice([-0.5, 0.5], size=n) + rng.normal(0.0, 0.2, size=n)
    return x


def _sklearn_weights(x: np.ndarray, bandwidth: float) -> np.ndarray:
    from sklearn.neighbors import KernelDensity

    w = np.exp(-KernelDensity(kernel="gaussian", bandwidth=bandwidth).fit(x).score_samples(x))
    return w / w.mean()


def bench_weights(dims: list[int], n: int, bandwidth: float, repeats: int) -> Iterator[dict[str, Any]]:
    """sklearn's and our unclipped mean-1 weights, side by side: times, speed-up, largest differences."""
    for q in dims:
        x = _latents(n, q)
        t_sk, w_sk = _time(lambda x=x: _sklearn_weights(x, bandwidth), 1)
        t_ours, w = _time(lambda x=x: ipw_weights(x, bandwidth=bandwidth, clip=None), repeats)
        yield {
            "q": q, "sklearn_s": t_sk, "ours_s": t_ours, "x": t_sk / t_ours,
            "maxdiff": float(np.max(np.abs(w - w_sk))), "maxdiff_rel": float(np.max(np.abs(w / w_sk - 1.0))),
            "w_max": float(w_sk.max()),
        }  # fmt: skip


def bench_encoder(widths: list[int], n_points: int, repeats: int) -> Iterator[dict[str, Any]]:
    from ndx_causal_emergence.measures import batched_jacobian
    from ndx_causal_emergence.models.multiscale import EncoderMap

    for n in widths:
        module, scales = _moved_encoder(n)
        y = torch.randn(n_points, n, generator=torch.Generator().manual_seed(0))
        for k in (0, len(scales) // 2):
            fn = EncoderMap(module, k, torch.zeros(scales[k]), torch.ones(scales[k]))

            def jacrev(fn: EncoderMap = fn, y: torch.Tensor = y, m: int = scales[k]) -> torch.Tensor:
                """The earlier path: jacrev of the batch sum, in chunks of at most 2**20 Jacobian entries."""
                chunk = max(1, 2**20 // (m * y.shape[1]))
                with torch.no_grad():
                    return torch.cat([torch.func.jacrev(lambda u: fn(u).sum(dim=0))(y[i : i + chunk]).transpose(0, 1)
                                      for i in range(0, len(y), chunk)])  # fmt: skip

            jacrev(y=y[:1])  # first calls build what later ones reuse
            t_new, new = _time(partial(batched_jacobian, fn, y), repeats)
            t_old, old = _time(jacrev, 1)
            diff = float((new - old).abs().max() / old.abs().max())
            yield {"n": n, "d": scales[k], "new_s": t_new, "old_s": t_old, "x": t_old / t_new, "diff": diff}


def _moved_encoder(n: int) -> tuple[Any, list[int]]:
    """A ``fast``-preset multiscale module on ``n`` channels, its weights moved off the identity start (seeded)."""
    from ndx_causal_emergence.models import MultiscaleNISPlus

    model = MultiscaleNISPlus(preset="fast", device="cpu")
    p = model._resolved()
    scales = model._ladder(n, p)
    torch.manual_seed(n)
    module = model._build(n, scales, p).eval()
    with torch.no_grad():
        for w in module.parameters():
            w.add_(0.1 * torch.randn_like(w))
    return module, scales


def bench_attribution(widths: list[int], repeats: int) -> Iterator[dict[str, Any]]:
    from ndx_causal_emergence.dynamics.attribution import chained_integrated_gradients, integrated_gradients
    from ndx_causal_emergence.models.multiscale import EncoderMap

    for n in widths:
        module, scales = _moved_encoder(n)
        ones = [(torch.zeros(d), torch.ones(d)) for d in scales]
        maps = [EncoderMap(module, k, *ones[k], source=None if k == 0 else (k - 1, *ones[k - 1]))
                for k in range(len(scales))]  # fmt: skip
        x = np.random.default_rng(0).standard_normal((1000, n))
        kw = {"baseline": "mean", "n_steps": 16, "n_samples": 128, "precision": "float32"}

        def one_by_one(x: np.ndarray = x, module: Any = module, ones: list = ones, kw: dict = kw) -> list[np.ndarray]:
            return [integrated_gradients(EncoderMap(module, k, *one), x, **kw) for k, one in enumerate(ones)]

        t_old = t_new = float("inf")
        for _ in range(repeats):  # alternated, best of each: the box's speed drifts over minutes
            t, old = _time(one_by_one, 1)
            t_old = min(t_old, t)
            t, new = _time(partial(chained_integrated_gradients, maps, x, **kw), 1)
            t_new = min(t_new, t)
        diff = max(float(np.abs(a - b).max() / np.abs(b).max()) for a, b in zip(new, old, strict=True))
        yield {"n": n, "scales": len(scales), "old_s": t_old, "new_s": t_new, "x": t_old / t_new, "diff": diff}


def _print_table(title: str, rows: Iterable[dict[str, Any]], columns: list[tuple[str, str, str]]) -> Table:
    """Print a markdown table, one row as soon as it is measured; the table."""
    table = Table(title, [name for _, name, _ in columns])
    print("\n".join(table.markdown().splitlines()[:2]), flush=True)
    for r in rows:
        table.add(*(format(r[key], fmt) for key, _, fmt in columns))
        print(table.markdown().splitlines()[-1], flush=True)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (q up to 50, 10,000 points)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (sklearn's KDE uses one)")
    parser.add_argument("--part", choices=["all", "jacobian", "encoder", "attribution", "weights"], default="all",
                        help="which part to run")  # fmt: skip
    parser.add_argument("--dims", type=str, default=None, help="comma-separated q values replacing the defaults")
    parser.add_argument("--json", type=Path, help="also write the tables to this JSON file")
    args = parser.parse_args()
    run, tables = Run("measures"), []
    torch.set_num_threads(args.threads)
    cpu = platform.processor() or platform.machine()
    setup = f"torch {torch.__version__}, {torch.get_num_threads()} torch thread(s), {os.cpu_count()} CPUs ({cpu})"
    print(f"# {setup}")
    if args.part in ("all", "jacobian"):
        dims = [2, 10, 50] if args.quick else [2, 10, 50, 100]
        dims = [int(d) for d in args.dims.split(",")] if args.dims else dims
        n_samples = 200 if args.quick else 1000
        title = f"(a) Jacobian term, {n_samples} samples, ResidualMLP hidden 64 x 2, float32 maps"
        print(f"\n## {title}\n")
        rows = bench_jacobian(dims, n_samples, hidden=64, repeats=3)
        tables.append(_print_table(title, rows, [
            ("q", "q", "d"), ("resmlp_s", "ResidualMLP closed form (s)", ".4f"),
            ("resmlp_loop_s", "per-sample loop (s)", ".2f"), ("resmlp_x", "speed-up", ".0f"),
            ("resmlp_diff", "rel diff", ".1e"), ("seq_width", "Sequential width", "d"),
            ("seq_s", "Sequential generic (s)", ".4f"), ("seq_loop_s", "per-sample loop (s)", ".2f"),
            ("seq_x", "speed-up", ".0f"), ("seq_diff", "rel diff", ".1e"),
        ]))  # fmt: skip
        run.write(args.json, tables, setup=setup)
    if args.part in ("all", "encoder"):
        widths = [int(d) for d in args.dims.split(",")] if args.dims else ([64, 256] if args.quick else [64, 256, 1024])
        title = "(c) Encoder Jacobians (d_k x N) of the attribution at 16 points, fast preset, float32"
        print(f"\n## {title}\n")
        tables.append(_print_table(title, bench_encoder(widths, 16, repeats=3), [
            ("n", "N", "d"), ("d", "d_k", "d"), ("new_s", "replicated batch (s)", ".3f"),
            ("old_s", "jacrev of the batch sum (s)", ".2f"), ("x", "speed-up", ".1f"), ("diff", "max rel diff", ".1e"),
        ]))  # fmt: skip
        run.write(args.json, tables, setup=setup)
    if args.part in ("all", "attribution"):
        widths = [int(d) for d in args.dims.split(",")] if args.dims else ([32, 114] if args.quick else [32, 114, 256])
        title = "(d) Attribution of every scale of one encoder: 128 frames x 16 path points, fast preset, float32"
        print(f"\n## {title}\n")
        tables.append(_print_table(title, bench_attribution(widths, repeats=3), [
            ("n", "N", "d"), ("scales", "scales", "d"), ("old_s", "one scale at a time (s)", ".2f"),
            ("new_s", "one chain (s)", ".2f"), ("x", "speed-up", ".2f"), ("diff", "max rel diff", ".1e"),
        ]))  # fmt: skip
        run.write(args.json, tables, setup=setup)
    if args.part in ("all", "weights"):
        n = 10_000 if args.quick else 63_000
        title = f"(b) IPW weights, {n} points, bandwidth 0.05, unclipped, mean 1"
        print(f"\n## {title}\n")
        dims = [int(d) for d in args.dims.split(",")] if args.dims else [1, 2, 10]
        rows = bench_weights(dims, n, bandwidth=0.05, repeats=3)
        tables.append(_print_table(title, rows, [
            ("q", "q", "d"), ("sklearn_s", "sklearn (s)", ".2f"), ("ours_s", "ipw_weights (s)", ".3f"),
            ("x", "speed-up", ".0f"), ("maxdiff", "max abs diff w", ".1e"), ("maxdiff_rel", "max rel diff w", ".1e"),
            ("w_max", "largest w", ".1f"),
        ]))  # fmt: skip
        run.write(args.json, tables, setup=setup)


if __name__ == "__main__":
    main()
