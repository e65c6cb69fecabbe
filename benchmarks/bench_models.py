"""Training speed and cost of the NIS+ estimators.

Parts:

- ``sir``: the published NIS+ SIR configuration (N = 4, q = 2, 63,000 pairs, batch 700, hidden
  64, ``preset="sir"``) for ``--steps`` steps: training samples/s (weight refreshes and
  validation included), and the wall-clock of a run comparable to the official
  ``train(framework='nis+')``: the fit plus one emergence table (KDE weights + EI) per 500
  steps on the 10,000-pair test set. Compare with ``bench_official_nisp.py``. J is printed
  twice: this package's measure (EI of the map used for prediction, the ``tanh`` squash
  included, docs/method.md §3.1) and the official code's (the same noise term, the Jacobian term
  of ``y + f(y)`` without the squash that its prediction applies).
- ``multiscale``: ``MultiscaleNISPlus`` with the ``fast`` preset and the full dyadic ladder
  (200 → 100 → … → 1) on a synthetic 200-channel x 20,000-frame recording (double-well latent
  behind nonlinear noisy channels): fit + emergence table time, and peak memory (max RSS).

Usage::

    python benchmarks/bench_models.py --part sir --steps 3001
    python benchmarks/bench_models.py --part multiscale
"""

from __future__ import annotations

import argparse
import copy
import platform
import resource
import time
from pathlib import Path

import numpy as np
import torch
from benchrun import Run, Table

from ndx_causal_emergence.data.synthetic import double_well_latent, embed_nonlinear, sir_data
from ndx_causal_emergence.measures import gaussian_ei
from ndx_causal_emergence.models import NIS, MultiscaleNISPlus, NISPlus
from ndx_causal_emergence.models.dynamics import AffineConjugate


def _row(table: Table, name: str, value: float | str, fmt: str = ".1f") -> None:
    """Print one measure and add it to ``table`` (columns: measure, value)."""
    text = value if isinstance(value, str) else format(value, fmt)
    print(f"{name:<52} {text:>12}")
    table.add(name, text)


def official_jacobian_term(model: NIS | NISPlus, n_monte_carlo: int = 1000, seed: int = 0) -> float:
    """The official EI's Jacobian term: ``ln|det|`` of ``y + f(y)`` without the squash the prediction applies.

    Same box, uniform samples and coordinates as ``model.emergence_table(..., n_monte_carlo, seed)``.
    """
    measured = model.dynamics_map(0)
    unsquashed = copy.deepcopy(measured.fn)
    unsquashed.squash = False
    fn = AffineConjugate(unsquashed, measured.center, measured.half_range)
    q = measured.center.shape[0]
    return gaussian_ei(fn, np.ones(q), L=model.get_params()["intervention_half_width"], n_monte_carlo=n_monte_carlo,
                       seed=seed).jacobian_term  # fmt: skip


def bench_sir(steps: int, device: str, cls: type[NIS | NISPlus] = NISPlus) -> list[Table]:
    """Samples/s and wall-clock of the SIR configuration (``cls``: ``NISPlus`` or ``NIS``)."""
    train, test = sir_data(seed=1), sir_data((1000,), n_steps=10, seed=1001)
    x, labels = train.frames()
    xt, lt = test.frames()
    model = cls.from_preset("sir", q=2, max_steps=steps, seed=1, device=device, observed_reference=False)
    t0 = time.perf_counter()
    model.fit(x, segments=labels, validation=[xt])
    fit_s = time.perf_counter() - t0
    n_evals = steps // 500 + 1
    t0 = time.perf_counter()
    table = model.emergence_table(xt, segments=lt)
    table_s = time.perf_counter() - t0
    samples = steps * model.get_params()["batch_size"]
    title = f"SIR {cls.__name__} (q = 2) | {train.n_pairs} pairs | batch 700, hidden 64 | {steps} steps | " \
            f"device {model.device_}"  # fmt: skip
    print(title)
    out = Table(title, ["measure", "value"])
    _row(out, "training samples/s (refreshes + validation incl.)", samples / model.train_seconds_, ".0f")
    _row(out, "training step (ms)", 1e3 * model.train_seconds_ / steps, ".2f")
    _row(out, "weight refreshes", len(model.history_["weight_refresh_steps"]), ".0f")
    _row(out, "fit wall-clock (s)", fit_s)
    _row(out, "one emergence table: KDE weights + EI (s)", table_s, ".2f")
    _row(out, f"fit + {n_evals} EI evaluations (as official train()) (s)", fit_s + n_evals * table_s)
    row = table.iloc[0]
    _row(out, "J (box, MAE convention)", float(row["dimension_averaged_ei"]), ".3f")
    _row(out, "  noise term (EI, nats)", float(row["noise_term"]), ".3f")
    _row(out, "  Jacobian term (EI, nats)", float(row["jacobian_term"]), ".3f")
    official = official_jacobian_term(model)
    _row(out, "J, official measure (unsquashed map's Jacobian)", (row["noise_term"] + official) / 2, ".3f")
    _row(out, "  its Jacobian term (EI, nats)", official, ".3f")
    _row(out, "latent 1-99 % half-range (training data)", " ".join(f"{h:.4f}" for h in model.latent_half_range_[0]))
    return [out]


def bench_multiscale(n_channels: int, n_frames: int, device: str) -> list[Table]:
    """Fit + measure time and peak memory of the full ladder on a synthetic recording."""
    latent = double_well_latent(n_frames, seed=0)
    x = embed_nonlinear(latent, n_channels, seed=0).astype(np.float32)
    n_train = int(0.8 * n_frames)
    model = MultiscaleNISPlus(preset="fast", device=device)
    t0 = time.perf_counter()
    model.fit(x[:n_train])
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    table = model.emergence_table(x[n_train:])
    table_s = time.perf_counter() - t0
    top = model.transform(x[n_train:])[:, 0]
    corr = abs(np.corrcoef(top, latent[n_train:, 0])[0, 1])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    title = f"MultiscaleNISPlus fast preset | {n_channels} channels x {n_frames} frames | scales {model.ladder_}"
    print(title)
    out = Table(title, ["measure", "value"])
    _row(out, "training steps", model.history_["step"][-1], ".0f")
    _row(out, "training (s)", model.train_seconds_)
    _row(out, "fit incl. observed reference and sigma2 (s)", fit_s)
    _row(out, "emergence table (s)", table_s)
    _row(out, "fit + table (s)", fit_s + table_s)
    _row(out, "peak resident memory (MiB)", peak_mb, ".0f")
    _row(out, "|corr(top-scale variable, true latent)| (held out)", corr, ".3f")
    print(table.round(3).to_string(index=False))
    scales = Table("emergence table (held-out frames)", [str(c) for c in table.columns])
    for values in table.round(3).itertuples(index=False):
        scales.add(*(str(v) for v in values))
    return [out, scales]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["sir", "multiscale"], required=True)
    parser.add_argument("--steps", type=int, default=3001, help="SIR training steps")
    parser.add_argument("--model", choices=["nis+", "nis"], default="nis+", help="SIR: NISPlus or NIS")
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    parser.add_argument("--json", type=Path, help="also write the tables to this JSON file")
    args = parser.parse_args()
    run = Run("models")
    if args.threads:
        torch.set_num_threads(args.threads)
    setup = (
        f"{platform.processor() or platform.machine()} | torch {torch.__version__} | threads {torch.get_num_threads()}"
    )
    print(setup)
    if args.part == "sir":
        tables = bench_sir(args.steps, args.device, NISPlus if args.model == "nis+" else NIS)
    else:
        tables = bench_multiscale(args.channels, args.frames, args.device)
    run.write(args.json, tables, setup=setup)


if __name__ == "__main__":
    main()
