"""Time of the fixed-point search against the dimension q, for two residual MLP maps.

Run: ``python benchmarks/bench_fixed_points.py`` (one CPU thread). ``random``: ``F(y) = y + f(y)`` with
``f = ResidualMLP(q, hidden_width=64)`` at its default initialisation (roots may not exist in high q);
``contracting``: ``F(y) = 0.5 y + f(y)`` with the same ``f`` (it has a stable root; its Jacobian is
``∂F_random - 0.5 I``, exact). Data: 2,000 uniform points in ``[-1, 1]^q``. Prints one row per q and map.
"""

from __future__ import annotations

import time

import numpy as np
import torch

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


def main() -> None:
    torch.set_num_threads(1)
    print(f"{'q':>4} {'map':>12} {'starts':>7} {'seconds':>8} {'roots':>6}  stability")
    for q in (1, 2, 3, 8, 16, 32, 64, 128):
        torch.manual_seed(0)
        net = ResidualMLP(q, hidden_width=64)
        data = np.random.default_rng(0).uniform(-1, 1, (2000, q))
        n_grid = int(np.floor(1000 ** (1 / q))) ** q if q <= 3 else 0
        n_starts = n_grid + min(256, max(64, 8192 // q))
        for name, fmap in (("random", net), ("contracting", Contracting(net))):
            t0 = time.perf_counter()
            fp = find_fixed_points(fmap, data, support="range")
            dt = time.perf_counter() - t0
            kinds = fp["stability"].value_counts().to_dict()
            print(f"{q:>4} {name:>12} {n_starts:>7} {dt:>8.2f} {len(fp):>6}  {kinds}")


if __name__ == "__main__":
    main()
