"""Time of the fixed-point search against the dimension q, for two residual MLP maps.

Run: ``python benchmarks/bench_fixed_points.py [--json PATH]`` (one CPU thread). ``random``: ``F(y) = y + f(y)`` with
``f = ResidualMLP(q, hidden_width=64)`` at its default initialisation (roots may not exist in high q);
``contracting``: ``F(y) = 0.5 y + f(y)`` with the same ``f`` (it has a stable root; its Jacobian is
``∂F_random - 0.5 I``, exact). Data: 2,000 uniform points in ``[-1, 1]^q``. Prints (``--json``: also
writes) one row per q.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from benchrun import Run, Table

from ndx_causal_emergence.dynamics import find_fixed_points
from ndx_causal_emergence.models.dynamics import ResidualMLP


class Contracting(torch.nn.Module):
    """``F(y) = 0.5 y + f(y)`` for a residual MLP ``y + f(y)``."""

    def __init__(self, net: ResidualMLP) -> None:
        super().__init__()
        self.net = net

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.net(y) - 0.5 * y

    def batched_jacobian(self, y: torch.Tensor) -> torch.Tensor:
        return self.net.batched_jacobian(y) - 0.5 * torch.eye(y.shape[1], dtype=y.dtype)


def _roots(fp: object) -> str:
    """The roots found, e.g. "2 stable, 1 saddle", or "none"."""
    counts = fp["stability"].value_counts().to_dict()
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "none"


def main() -> None:
    """Command line: time the search for each q and map, print the table, write it with ``--json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    run = Run("fixed_points")
    torch.set_num_threads(1)
    table = Table("", ["q", "starts", "random: s", "random: roots", "contracting: s", "contracting: roots"])
    for q in (1, 2, 3, 8, 16, 32, 64, 128):
        torch.manual_seed(0)
        net = ResidualMLP(q, hidden_width=64)
        data = np.random.default_rng(0).uniform(-1, 1, (2000, q))
        n_grid = int(np.floor(1000 ** (1 / q))) ** q if q <= 3 else 0
        n_starts = n_grid + min(256, max(64, 8192 // q))
        row: list[object] = [q, n_starts]
        for fmap in (net, Contracting(net)):
            t0 = time.perf_counter()
            fp = find_fixed_points(fmap, data, support="range")
            row += [f"{time.perf_counter() - t0:.2f}", _roots(fp)]
        table.add(*row)
        print(f"| {' | '.join(str(c) for c in table.rows[-1])} |", flush=True)
    print(table.markdown())
    run.write(args.json, [table])


if __name__ == "__main__":
    main()
