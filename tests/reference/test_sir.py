"""The NIS+ SIR benchmark (Yang et al. 2024, arXiv:2308.09952; docs/method.md §5).

Published set-up: Euler SIR (dt = 0.01, beta = 1, gamma = 0.5) observed twice with correlated
noise (sigma = 0.03, rho = -0.5), N = 4, 63,000 training pairs, official conventions
(``preset="sir"``: raw latents in the box, MAE as variance, the reverse term training the
encoder, lambda = 3, batch 700, hidden 64, 30,000 steps). Published: NIS+ J(q = 2) = 3.77 ± 0.11
against NIS 3.50 ± 0.10, and causal emergence J(q = 2) - J(q = 4) > 0 at every noise level.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ndx_causal_emergence.data.synthetic import sir_data
from ndx_causal_emergence.models import NIS, NISPlus

PUBLISHED_J = {"NIS+": 3.77, "NIS": 3.50}
TOLERANCE = 0.5


def sir_j(
    cls: type, q: int, seed: int, *, region_sizes: tuple[int, ...] = (5000, 3000, 1000), **params: object
) -> float:
    """J of one fit on the SIR training set, measured on a 10,000-pair test set from the whole triangle."""
    train, test = sir_data(region_sizes, seed=seed), sir_data((1000,), n_steps=10, seed=seed + 1000)
    x, labels = train.frames()
    xt, lt = test.frames()
    model = cls.from_preset("sir", q=q, seed=seed, device="cpu", observed_reference=False, **params)
    model.fit(x, segments=labels, validation=[xt])
    return float(model.emergence_table(xt, segments=lt)["dimension_averaged_ei"].iloc[0])


def test_reduced_sir_shows_causal_emergence() -> None:
    """A seventh of the data, a thirtieth of the steps: the macro model (q = 2) already beats the micro one (q = 4).

    Measured (seed 0, local CPU): ΔJ = -0.09 after 500 steps, +0.27 after 800; the full runs reach
    about 1.6 (benchmarks/RESULTS.md, models).
    """
    torch.set_num_threads(1)
    params = {"region_sizes": (500, 300, 100), "max_steps": 1000}
    j_macro = sir_j(NISPlus, 2, 0, **params)
    j_micro = sir_j(NISPlus, 4, 0, **params)
    assert j_macro > j_micro, (j_macro, j_micro)


@pytest.fixture(scope="module")
def published_runs() -> dict[str, list[float]]:
    """J of NIS+ (q = 2), NIS+ (q = 4) and NIS (q = 2) on the full set-up for seeds 1, 2, 3 (hours on 2 cores)."""
    j: dict[str, list[float]] = {name: [] for name in ("NIS+", "NIS+ micro", "NIS")}
    for seed in (1, 2, 3):
        j["NIS+"].append(sir_j(NISPlus, 2, seed))
        j["NIS+ micro"].append(sir_j(NISPlus, 4, seed))
        j["NIS"].append(sir_j(NIS, 2, seed))
    return j


@pytest.mark.slow
def test_published_sir_orderings(published_runs) -> None:
    """Full set-up, every seed: causal emergence J(q = 2) > J(q = 4), and NIS+ above NIS."""
    j = published_runs
    assert all(a > b for a, b in zip(j["NIS+"], j["NIS+ micro"], strict=True)), j
    assert all(a > b for a, b in zip(j["NIS+"], j["NIS"], strict=True)), j


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason=(
        "measured 28,000-step means J(NIS+) = 2.16, J(NIS) = 1.29 (benchmarks/RESULTS.md, models) are more than "
        "0.5 nats below the published 3.77 and 3.50, and so is the official code itself: J = 2.85-2.92 (NIS+) "
        "and 2.35-2.44 (NIS) after 30,000 steps over seeds 1-3. Under the official measure our NIS+ gives 2.42; "
        "the official code's extra 0.45 comes from its latents collapsing 2.7 times further, which the box "
        "convention rewards (benchmarks/RESULTS.md, models)"
    ),
)
def test_published_sir_values(published_runs) -> None:
    """Mean J within ±0.5 nats of the published NIS+ and NIS values."""
    mean = {name: float(np.mean(v)) for name, v in published_runs.items()}
    for name, published in PUBLISHED_J.items():
        assert abs(mean[name] - published) <= TOLERANCE, (name, mean[name], published_runs)
