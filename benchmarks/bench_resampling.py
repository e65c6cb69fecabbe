"""Cost of the default intervals, significance and comparison statistics (measures.resampling).

The statistics reuse the residuals of the fitted maps (no refit): this times ``bootstrap_j``
(1000 draws), ``block_j`` and ``compare_conditions`` (9999 permutations) for ladders and test
blocks the size of the package's real inputs, to set beside the fit's own time.

    python benchmarks/bench_resampling.py --json resampling.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from benchrun import Run, Table

from ndx_causal_emergence.measures.resampling import ScaleResiduals, block_j, bootstrap_j, compare_conditions
from ndx_causal_emergence.models.multiscale import dyadic_ladder

# (name, channels, test pairs): the bundled demo, the 15 x 250 file, Triplett 114 x 4245, 200 x 20k
CASES = [("demo 72 x 1000", 72, 199), ("nwb_test 15 x 250", 15, 49), ("Triplett 114 x 4245", 114, 848),
         ("200 x 20k", 200, 3999)]  # fmt: skip


def _residuals(n_channels: int, n_pairs: int, rng: np.random.Generator) -> list[ScaleResiduals]:
    """Residuals, Jacobian points and the pairs' states (the default: ranges drawn with the pairs) per scale."""
    return [ScaleResiduals(rng.chisquare(1, size=(n_pairs, d)) * 0.05, rng.normal(size=1000) - d, 1.0, None,
                           rng.normal(size=(n_pairs, d)))
            for d in dyadic_ladder(n_channels)]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    run = Run("resampling")
    rng = np.random.default_rng(0)
    rows = []
    for name, n, pairs in CASES:
        a, b = _residuals(n, pairs, rng), _residuals(n, pairs, rng)
        t0 = time.perf_counter()
        da, db = bootstrap_j(a, n_boot=1000, seed=0), bootstrap_j(b, n_boot=1000, seed=1)
        t1 = time.perf_counter()
        ba, bb = block_j(a), block_j(b)
        t2 = time.perf_counter()
        compare_conditions([r.j() for r in a], [r.j() for r in b], da, db, ba, bb)
        t3 = time.perf_counter()
        rows.append({"case": name, "scales": len(a), "test_pairs": pairs, "bootstrap_s": (t1 - t0) / 2,
                     "blocks_s": (t2 - t1) / 2, "comparison_s": t3 - t2})  # fmt: skip
    table = Table("", ["input", "scales", "test pairs", "bootstrap (1000 draws) s", "blocks s",
                       "comparison (9999 permutations) s"])  # fmt: skip
    for r in rows:
        table.add(r["case"], r["scales"], r["test_pairs"], f"{r['bootstrap_s']:.2f}", f"{r['blocks_s']:.3f}",
                  f"{r['comparison_s']:.2f}")  # fmt: skip
    print(table.markdown())
    run.write(args.json, [table], records=rows)


if __name__ == "__main__":
    main()
