"""Fit the same multiscale NIS+ model on the CPU and on a CUDA GPU; compare time and results.

Self-contained: a synthetic recording (double-well latent behind nonlinear noisy channels),
``MultiscaleNISPlus`` with the full dyadic ladder. Both fits start from the same weights and
see the same batches and decoder noise (drawn on the CPU), so they differ only by floating
point rounding; the measured tables must agree within training noise (per-scale J within
``--tol-j`` nats, top-scale NMSE within 25 %). On a machine without CUDA it stops with a message.

The default size is issue 4's multiscale benchmark: 200 channels x 20,000 frames, the full
``fast`` preset (1,500 steps, hidden width 64, batches of 256), ladder 200 -> ... -> 1.

Usage::

    python benchmarks/gpu_fit.py --threads 16    # CPU fit on 16 threads, then the same fit on CUDA
    python benchmarks/gpu_fit.py --steps 200     # quicker
    python benchmarks/gpu_fit.py --json gpu.json # also write the tables
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from benchrun import Run, Table

from ndx_causal_emergence.data.synthetic import double_well_latent, embed_nonlinear
from ndx_causal_emergence.models import MultiscaleNISPlus


def _fit(x_train: np.ndarray, x_test: np.ndarray, device: str, args: argparse.Namespace):  # noqa: ANN202
    sizes = {"hidden_width": args.hidden, "dynamics_width": args.hidden, "batch_size": args.batch}
    sizes["max_steps"] = args.steps
    model = MultiscaleNISPlus(preset="fast", device=device, seed=0, **{k: v for k, v in sizes.items() if v is not None})
    t0 = time.perf_counter()
    model.fit(x_train)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    fit_s = time.perf_counter() - t0
    return model, fit_s, model.emergence_table(x_test, n_monte_carlo=1000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the fast preset's)")
    parser.add_argument("--hidden", type=int, default=None, help="hidden width (default: the fast preset's)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default: the fast preset's)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--tol-j", type=float, default=0.3, help="largest allowed |J_cpu - J_cuda| per scale (nats)")
    parser.add_argument("--json", type=Path, help="also write the tables to this JSON file")
    args = parser.parse_args()
    run = Run("gpu_fit")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    latent = double_well_latent(args.frames, seed=0)
    x = embed_nonlinear(latent, args.channels, seed=0).astype(np.float32)
    n_train = int(0.8 * len(x))
    setup = (
        f"{args.channels} channels x {args.frames} frames, {args.steps} steps, hidden {args.hidden}, batch {args.batch}"
    )
    print(setup)
    if not torch.cuda.is_available():
        print("CUDA is not available on this machine: nothing to compare.")
        return 0
    # the CUDA fit first (after a warm-up that pays CUDA's initialisation), so that it is measured even if the
    # slower CPU fit is cut short
    _fit(x[:2000], x[2000:2400], "cuda", argparse.Namespace(**{**vars(args), "steps": 5}))
    gpu_model, gpu_s, gpu_table = _fit(x[:n_train], x[n_train:], "cuda", args)
    print(f"CUDA ({torch.cuda.get_device_name()}): fit {gpu_s:.1f} s (training {gpu_model.train_seconds_:.1f} s)")
    cpu_model, cpu_s, cpu_table = _fit(x[:n_train], x[n_train:], "cpu", args)
    print(f"CPU ({torch.get_num_threads()} threads): fit {cpu_s:.1f} s (training {cpu_model.train_seconds_:.1f} s)")
    print(f"speed-up: fit x{cpu_s / gpu_s:.2f}, training x{cpu_model.train_seconds_ / gpu_model.train_seconds_:.2f}")
    cols = ["scale", "dimension", "dimension_averaged_ei", "nmse", "fraction_in_box"]
    both = cpu_table[cols].merge(gpu_table[cols], on=["scale", "dimension"], suffixes=("_cpu", "_cuda"))
    print(both.round(4).to_string(index=False))
    times = Table("", ["device", "fit (s)", "training loop (s)"])
    times.add(f"CUDA ({torch.cuda.get_device_name()}), after a 5-step warm-up fit", f"{gpu_s:.1f}",
              f"{gpu_model.train_seconds_:.1f}")  # fmt: skip
    times.add(f"CPU, {torch.get_num_threads()} threads", f"{cpu_s:.1f}", f"{cpu_model.train_seconds_:.1f}")
    times.add("speed-up", f"{cpu_s / gpu_s:.2f} ×", f"{cpu_model.train_seconds_ / gpu_model.train_seconds_:.2f} ×")
    scales = Table("per scale, CPU and CUDA", list(both.columns))
    for values in both.round(4).itertuples(index=False):
        scales.add(*(str(v) for v in values))
    dj = np.abs(both["dimension_averaged_ei_cpu"] - both["dimension_averaged_ei_cuda"]).max()
    top = both.iloc[-1]
    rel_nmse = abs(top["nmse_cpu"] - top["nmse_cuda"]) / top["nmse_cpu"]
    ok = dj <= args.tol_j and rel_nmse <= 0.25
    verdict = (f"max |J_cpu - J_cuda| = {dj:.4f} nats (tol {args.tol_j}); top-scale NMSE relative difference "
               f"{rel_nmse:.3f} (tol 0.25): {'OK' if ok else 'MISMATCH'}")  # fmt: skip
    print(verdict)
    run.write(args.json, [times, scales], setup=setup, notes=[verdict])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
