"""Dynamics analysis end to end on simulated data; writes ``docs/figures/double_well_potential.png``.

Run: ``python benchmarks/dynamics_end_to_end.py [--steps N] [--json PATH]`` from the repository root (one CPU
thread).
A double-well latent (30,000 frames, noise 0.6) and an Ornstein-Uhlenbeck latent (10,000 frames,
theta 0.2, sigma 1) are each observed through 40 channels ``a_c tanh(1.5 z + b_c) + 0.3 ε`` with loadings
``a_c`` from 0 to 1; a ``fast``-preset MultiscaleNISPlus (ladder 40 -> 8 -> 1) is fitted on the first 80 %
of frames and analysed on the last 20 % (states: core fraction 0.5, minimum dwell 2 s). Prints the
top-scale fixed points, transitions against the simulated switches, diagnostics, the attribution rank
correlation and the quality of the learned top map, with timings.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from benchrun import Run, Table

from ndx_causal_emergence.testing.simulated import LatentChannels, simulate_latent_channels

FIGURE = Path(__file__).resolve().parents[1] / "docs" / "figures" / "double_well_potential.png"


def run(name: str, sim: LatentChannels, steps: int | None, *, wells: bool) -> tuple:
    """Fit and analyse one simulated latent; print the details; the result, the top scale and its measures."""
    extra = {} if steps is None else {"max_steps": steps}
    t0 = time.perf_counter()
    model = sim.fit(ladder=[40, 8, 1], **extra)
    t1 = time.perf_counter()
    result = sim.analyze(model)
    t2 = time.perf_counter()
    top = len(model.ladder_) - 1
    fp = result.fixed_points
    print(f"\n=== {name}: fit {t1 - t0:.1f} s, analysis {t2 - t1:.1f} s")
    print(fp[fp["scale"] == top].to_string())
    print(result.diagnostics.to_string())
    attr = result.attribution[result.attribution["scale"] == top].sort_values("channel")
    rho = pd.Series(attr["importance"].to_numpy()).corr(pd.Series(sim.loading), method="spearman")
    transitions = f"{len(result.transitions)} ({result.transitions.attrs.get('source')} basins)"
    print(f"transitions {transitions}")
    if wells:
        truth = sim.true_transitions()
        print(f"simulated switches {len(truth)} (latent, wells +-1, same hysteresis and minimum dwell)")
        transitions += f" / {len(truth)}"
    latent, u = sim.latent[sim.n_train :, 0], model.transform(sim.x[sim.n_train :])[:, 0]
    pred = model.dynamics_map(top).double()(torch.as_tensor(u[:-1, None])).detach().numpy()[:, 0]
    ch0 = attr["importance"].iloc[0]
    print(f"Spearman(importance, loading) {rho:.3f}; importance of channel 0 (loading 0) {ch0:.3f}")
    corr, mse, persistence = abs(np.corrcoef(u, latent)[0, 1]), np.mean((pred - u[1:]) ** 2), np.mean(np.diff(u) ** 2)
    print(f"|corr(top variable, latent)| {corr:.3f}; one-step MSE of the learned top map {mse:.4f} vs persistence "
          f"{persistence:.4f}")  # fmt: skip
    stable = fp[(fp["scale"] == top) & fp["in_support"] & (fp["stability"] == "stable")]
    measures = {
        "fit / analysis (s)": f"{t1 - t0:.1f} / {t2 - t1:.1f}",
        "|corr(top variable, latent)|": f"{corr:.3f}",
        "stable points in support (by source)": str(stable["source"].value_counts().to_dict()),
        "transitions (states' source) / simulated switches": transitions,
        "one-step MSE of learned top map / persistence": f"{mse:.4f} / {persistence:.4f}",
        "Spearman(top-scale importance, loading)": f"{rho:.3f}",
    }
    return result, top, measures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the fast preset's)")
    parser.add_argument("--json", type=Path, help="also write the table of measures to this JSON file")
    args = parser.parse_args()
    record = Run("dynamics")
    torch.set_num_threads(1)
    pd.set_option("display.width", 250)
    result, top, well = run("double well", simulate_latent_channels("double_well"), args.steps, wells=True)
    _, _, ou = run("Ornstein-Uhlenbeck", simulate_latent_channels("ou"), args.steps, wells=False)
    table = Table("", ["", "double well", "Ornstein-Uhlenbeck"])
    for name in well:
        table.add(name, well[name], ou[name])
    print(table.markdown())
    record.write(args.json, [table])
    fig = result.potential_figure(top, title="Double-well latent: top scale (q = 1)")
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURE, dpi=120)
    print(f"\nwrote {FIGURE}")


if __name__ == "__main__":
    main()
