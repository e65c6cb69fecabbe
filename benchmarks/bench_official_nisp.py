"""Speed of the official NIS+ code (Matthew-ymz/Code-for-Finding-emergence-in-data-) on the SIR set-up.

The official code is NOT part of this repository. Fetch it, export its tree outside the
checkout, and give its path::

    git --git-dir=<bare mirror> archive HEAD | tar -x -C OFFICIAL_CHECKOUT
    python benchmarks/bench_official_nisp.py OFFICIAL_CHECKOUT --steps 3001

Measured, on the published SIR configuration (N = 4, q = 2, 63,000 pairs, batch 700, hidden
64, sigma = 0.03, rho = -0.5, lambda = 3):

1. ``samples/s``: the official NIS+ weighted-stage training step (``net.forward`` +
   ``net.back_forward``, weighted MAE losses, one Adam step), timed over ``--timed-steps`` steps
   in 5 rounds alternating with the same step of this package (preset ``sir``); with
   ``--channels N`` (N > 4) the two steps run on N-channel batches (seeded standard normal
   frames: a step's time does not depend on the values), the issue's N = 100 and N = 300 figures;
2. ``wall-clock``: the official ``exp/sir/train.py::train(framework='nis+')`` for ``--steps``
   steps (EI on the test set every 500 steps and sklearn-KDE weights every 1000), split into
   the KDE + EI part and the rest; ``--framework nis`` runs the official NIS instead. The
   final J, its two terms and the latents' 1-99 % half-range are printed.

It also prints the floating-point operations of one step of each (``torch``'s
``FlopCounterMode``) and the time they would take at this machine's rate for the hidden
layers' matrix products: the floor of a step that does the same arithmetic.

The same numbers for this package come from ``benchmarks/bench_models.py --part sir``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from benchrun import Run, Table


def _gemm_rate(torch, rows: int, width: int) -> float:  # noqa: ANN001  (torch is imported late, after the env)
    """FLOP/s of this machine's ``(rows, width) @ (width, width)`` float32 products, the hidden layers' shape."""
    a, b = torch.randn(rows, width), torch.randn(width, width)
    for _ in range(50):
        a @ b
    t0 = time.perf_counter()
    for _ in range(2000):
        a @ b
    return 2 * rows * width * width * 2000 / (time.perf_counter() - t0)


def _row(table: Table, name: str, value: str) -> None:
    """Print one measure and add it to ``table`` (columns: measure, value)."""
    print(f"{name:<44} {value:>12}", flush=True)
    table.add(name, value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("official", type=Path, help="root of an exported checkout of the official code")
    parser.add_argument("--steps", type=int, default=3001, help="steps of the full official train() run (0: skip)")
    parser.add_argument("--timed-steps", type=int, default=200, help="steps for the samples/s measurement")
    parser.add_argument("--channels", type=int, default=4, help="micro channels N of the samples/s comparison")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    parser.add_argument("--warmup", type=int, default=None, help="forward-only steps T1 (default: 10 %% of --steps)")
    parser.add_argument("--framework", choices=["nis+", "nis"], default="nis+", help="official model of the full run")
    parser.add_argument("--seed", type=int, default=1, help="seed of torch and of numpy's global generator")
    parser.add_argument(
        "--exact-kde",
        action="store_true",
        help="replace the official sklearn KDE (weights and EI) by this package's exact KDE (same density to 2e-9, "
        "minutes instead of hours for 30,000 steps); the J trajectory is printed every 500 steps",
    )
    parser.add_argument("--json", type=Path, help="also write the measures to this JSON file")
    args = parser.parse_args()
    run = Run("official_nisp")
    # the official modules pick CUDA when they see it but build some tensors on the CPU: compare on the CPU
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    import torch

    root = args.official.resolve()
    if not (root / "models_new.py").is_file():
        sys.exit(f"{root} does not look like the official checkout (no models_new.py)")
    if args.threads:
        torch.set_num_threads(args.threads)
    # the official SIR run loads a pickled initial model from exp/sir/mdl_data (a whole module, not weights)
    os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    sys.path.insert(0, str(root))
    os.chdir(root / "exp" / "sir")
    import ei.EI_calculation as eic
    from exp.sir.dynamic_models_sis_new import Simple_Spring_Model
    from exp.sir.train import train
    from models_new import Renorm_Dynamic

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)  # noqa: NPY002  (the official code draws its batches from the legacy global generator)
    spring = Simple_Spring_Model(device=torch.device("cpu"))
    test_data = spring.generate_multistep_sir(size_list=[500, 500], steps=10, sigma=0.03, rou=-0.5, lam=1, miu=0.5)
    train_data = spring.generate_multistep_sir(
        size_list=[0, 5000, 3000, 1000], steps=7, sigma=0.03, rou=-0.5, lam=1, miu=0.5
    )
    n_pairs = train_data[0].shape[0]
    batch = 700
    n_ch = args.channels
    if n_ch < 4:
        sys.exit("--channels must be at least 4 (the SIR observation)")

    # 1. samples/s of the weighted-stage step
    net = Renorm_Dynamic(sym_size=n_ch, latent_size=2, effect_size=n_ch, hidden_units=64, normalized_state=True,
                         device=torch.device("cpu"))  # fmt: skip
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=1e-4)
    mae = torch.nn.L1Loss(reduction="none")
    ss, sps = train_data[0], train_data[1]
    if n_ch > 4:
        ss, sps = torch.randn(2, n_pairs, n_ch, generator=torch.Generator().manual_seed(args.seed))
    weights = torch.ones(n_pairs)
    rng = np.random.default_rng(1)

    def step() -> None:
        start = int(rng.integers(n_pairs - batch))
        s, sp, w = ss[start : start + batch], sps[start : start + batch], weights[start : start + batch]
        predicts1, latent1, _ = net.forward(s)
        _, _, latentp0 = net.back_forward(sp)
        loss = (mae(sp, predicts1).mean(axis=1) * w).mean() + 3 * (mae(latent1, latentp0).mean(axis=1) * w).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    # the same step of this package's NIS+ (preset "sir"), timed in alternation with the official one
    from ndx_causal_emergence.models.multiscale import MultiscaleModule
    from ndx_causal_emergence.models.presets import PRESETS
    from ndx_causal_emergence.models.training import TrainConfig, _batch_loss

    sir = PRESETS["sir"]
    ours = MultiscaleModule(n_ch, [2], n_coupling_layers=sir["n_coupling_layers"], hidden_width=sir["hidden_width"],
                            dynamics_width=sir["dynamics_width"], squash=sir["squash"])  # fmt: skip
    ours_opt = torch.optim.Adam(ours.parameters(), lr=sir["learning_rate"])
    cfg = TrainConfig(
        reverse_weight=sir["reverse_weight"],
        reverse_trains_encoder=True,
        decoder_noise=1.0,
        latent_forward_weight=sir["latent_forward_weight"],
    )
    gen = torch.Generator().manual_seed(0)
    x_all = torch.cat((ss, sps))

    def our_step() -> None:
        idx = torch.as_tensor(rng.integers(n_pairs, size=batch))
        loss = _batch_loss(ours, x_all[idx], x_all[idx + n_pairs], 1, weights[idx][None], cfg, True, gen)
        ours_opt.zero_grad()
        loss.backward()
        ours_opt.step()

    times: dict[str, list[float]] = {"official": [], "ours": []}
    for fn in (step, our_step):
        for _ in range(10):
            fn()
    for _ in range(5):  # alternate, so that a change of machine load hits both
        for name, fn in (("official", step), ("ours", our_step)):
            t0 = time.perf_counter()
            for _ in range(args.timed_steps // 5):
                fn()
            times[name].append((time.perf_counter() - t0) / (args.timed_steps // 5))
    per_step = float(np.median(times["official"]))
    our_per_step = float(np.median(times["ours"]))
    cpu = platform.processor() or platform.machine()
    title = (f"official NIS+ SIR benchmark | {cpu} | torch {torch.__version__} | threads {torch.get_num_threads()} | "
             f"N = {n_ch} | {n_pairs} pairs, batch {batch}")  # fmt: skip
    print(title)
    print(f"{'measure':<44} {'value':>12}")
    table = Table(title, ["measure", "value"])
    _row(table, "training step (ms), median of 5 rounds", f"{per_step * 1e3:.2f}")
    _row(table, "samples/s", f"{batch / per_step:.0f}")
    _row(table, "this package, same step (ms), alternated", f"{our_per_step * 1e3:.2f}")
    _row(table, "this package, samples/s", f"{batch / our_per_step:.0f}")
    _row(table, "speed-up (samples/s)", f"{per_step / our_per_step:.2f}")
    # how far each step is from its arithmetic: FLOPs of one step against this machine's GEMM rate
    from torch.utils.flop_counter import FlopCounterMode

    rate = _gemm_rate(torch, batch, sir["hidden_width"])
    _row(table, f"GEMM rate, {batch} x 64 x 64 products (GFLOP/s)", f"{rate / 1e9:.1f}")
    for name, fn, measured in (("official", step, per_step), ("this package", our_step, our_per_step)):
        with FlopCounterMode(display=False) as counter:
            fn()
        flops = counter.get_total_flops()
        floor = flops / rate
        _row(table, f"{name}: MFLOP, floor (ms), step / floor",
             f"{flops / 1e6:.1f} {floor * 1e3:.2f} {measured / floor:.1f}")  # fmt: skip
    run.write(args.json, [table])

    # 2. the full official train() run, with its KDE and EI calls timed
    spent = {"kde": 0.0, "ei": 0.0}

    def timed(name: str, fn):  # noqa: ANN001, ANN202
        def wrapper(*a, **k):  # noqa: ANN002, ANN003, ANN202
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[name] += time.perf_counter() - t

        return wrapper

    import exp.sir.train as official_train

    kde = eic.kde_density
    if args.exact_kde:
        from ndx_causal_emergence.measures import kde_log_density

        def kde(x: torch.Tensor):  # noqa: ANN202  (the official signature: log density, estimator)
            points = x.detach().cpu().double().numpy()
            return kde_log_density(points, points, 0.05), None

    official_train.kde_density = timed("kde", kde)
    eic.kde_density = kde  # the EI evaluation's own KDE
    official_train.test_model_causal_multi_sis = timed("ei", eic.test_model_causal_multi_sis)
    if args.steps <= 0:
        return
    t0 = time.perf_counter()
    warm = int(round(0.1 * args.steps)) if args.warmup is None else args.warmup
    eis, term1s, term2s, _, _, trained = train(train_data=train_data, test_data=test_data, sigma=0.03, rou=-0.5,
                                               sz=4, scale=2, L=1, mae2_w=3, dt=0.01, T1=warm, T2=args.steps,
                                               framework=args.framework)  # fmt: skip
    total = time.perf_counter() - t0
    with torch.no_grad():
        lo, hi = np.percentile(trained.encoding(train_data[0]).numpy(), [1, 99], axis=0)
    _row(table, f"train() wall-clock, {args.steps} steps (s)", f"{total:.1f}")
    _row(table, "  of which weight-refresh KDE (s)", f"{spent['kde']:.1f}")
    _row(table, "  of which EI evaluations incl. their KDE (s)", f"{spent['ei']:.1f}")
    _row(table, "final J (official measure)", f"{float(eis[-1]):.3f}")
    _row(table, "  noise term, Jacobian term (EI, nats)", f"{float(term1s[-1]):.3f} {float(term2s[-1]):.3f}")
    _row(table, "  latent 1-99 % half-range (training data)", " ".join(f"{h:.4f}" for h in (hi - lo) / 2))
    trajectory = [float(e) for e in eis]
    if args.exact_kde:
        print("J every 500 steps:", " ".join(f"{e:.3f}" for e in trajectory))
    run.write(args.json, [table], records={"j_every_500_steps": trajectory})


if __name__ == "__main__":
    main()
