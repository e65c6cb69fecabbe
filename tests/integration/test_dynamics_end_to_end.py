"""End to end: simulated latents behind 40 nonlinear channels -> fast multiscale fit -> dynamics analysis.

A double-well latent must show two stable points in the support of the 1-D top scale and as many
metastable-state transitions (within 20 %) as the latent switches between its wells (counted on the
latent with the same hysteresis and minimum dwell); an Ornstein-Uhlenbeck latent with strong noise must
show one stable point and a higher noise-to-drift ratio. The attribution of the fitted encoders is
checked for completeness; its rank correlation with the channel loadings is printed, not asserted
(short fits do not weight the channels by loading; the unit tests check the recovery with a known
encoder).

Channel ``c`` is ``a_c * tanh(1.5 z + b_c) + 0.3 ε`` (``embed_nonlinear`` without noise, scaled), with
the loading ``a_c`` rising from 0 (noise only) to 1 across the 40 channels. The default run uses a short
fit (400 steps, ladder 40 -> 1); the ``slow`` run repeats the same checks with the whole ``fast``
preset (1,500 steps) and the ladder 40 -> 8 -> 1.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from ndx_causal_emergence.dynamics import integrated_gradients
from ndx_causal_emergence.testing.simulated import simulate_latent_channels

CONFIGS = {"quick": {"max_steps": 400, "ladder": [40, 1]}, "full": {"ladder": [40, 8, 1]}}
RUNS = [pytest.param("quick"), pytest.param("full", marks=pytest.mark.slow)]


@functools.cache
def _case(kind: str, config: str) -> dict[str, Any]:
    """Simulate, fit on the first 80 % of frames (the fit keeps 10 % for validation), analyse the rest."""
    torch.set_num_threads(1)
    sim = simulate_latent_channels(kind)
    model = sim.fit(**CONFIGS[config])
    return {
        "result": sim.analyze(model),
        "latent_test": sim.latent[sim.n_train :, 0],
        "true_transitions": sim.true_transitions(),
        "top": len(model.ladder_) - 1,
        "model": model,
        "x": sim.x,
        "n_train": sim.n_train,
        "loading": sim.loading,
    }


def _stable_in_support(fp: pd.DataFrame, scale: int, source: str) -> int:
    sel = (fp["scale"] == scale) & (fp["source"] == source) & fp["in_support"] & (fp["stability"] == "stable")
    return int(sel.sum())


@pytest.mark.parametrize("config", RUNS)
def test_double_well_two_stable_points_and_transitions(config: str, tmp_path: Path) -> None:
    case = _case("double_well", config)
    result, top, latent_test = case["result"], case["top"], case["latent_test"]
    fp = result.fixed_points
    n_model, n_empirical = _stable_in_support(fp, top, "model"), _stable_in_support(fp, top, "empirical")
    print(f"\n[{config}] double well, top scale: stable points in support: model {n_model}, empirical {n_empirical}")
    print(fp[fp["scale"] == top].to_string())
    assert n_model == 2 and n_empirical == 2
    true_switches = len(case["true_transitions"])
    n_transitions = len(result.transitions)
    print(f"transitions {n_transitions} (basins of the {result.transitions.attrs['source']} points), "
          f"simulated switches {true_switches} (latent, wells ±1, same hysteresis and minimum dwell)")  # fmt: skip
    assert true_switches >= 10
    assert abs(n_transitions - true_switches) <= 0.2 * true_switches
    # the states follow the wells of the latent (up to the arbitrary orientation of the encoding)
    deep = np.abs(latent_test) > 0.7
    match = np.mean((result.states[deep] == 1) == (latent_test[deep] > 0))
    assert max(match, 1.0 - match) > 0.95
    fig = result.potential_figure(top)
    fig.savefig(tmp_path / "double_well_potential.png")


@pytest.mark.parametrize("config", RUNS)
def test_ou_one_stable_point_and_more_noise(config: str) -> None:
    ou, dw = _case("ou", config), _case("double_well", config)
    fp, top = ou["result"].fixed_points, ou["top"]
    n_model, n_empirical = _stable_in_support(fp, top, "model"), _stable_in_support(fp, top, "empirical")
    print(f"\n[{config}] OU, top scale: stable points in support: model {n_model}, empirical {n_empirical}")
    print(fp[fp["scale"] == top].to_string())
    assert n_empirical == 1
    ratio_ou = ou["result"].diagnostics.set_index("scale").loc[top, "noise_to_drift_ratio"]
    ratio_dw = dw["result"].diagnostics.set_index("scale").loc[dw["top"], "noise_to_drift_ratio"]
    print(f"noise-to-drift ratio: OU {ratio_ou:.2f}, double well {ratio_dw:.2f}")
    assert ratio_ou > ratio_dw


@pytest.mark.parametrize("config", RUNS)
@pytest.mark.parametrize("kind", ["double_well", "ou"])
def test_attribution_of_the_fitted_encoder(config: str, kind: str) -> None:
    case = _case(kind, config)
    table, top = case["result"].attribution, case["top"]
    assert sorted(set(table["scale"])) == list(range(top + 1))
    np.testing.assert_allclose(table.groupby("scale")["importance"].sum(), 1.0)
    # completeness through the fitted encoder: the signed attributions add up to y(x) - y(baseline)
    model, x, n_train = case["model"], case["x"], case["n_train"]
    encoder, base = model.encoder_map(top), x[:n_train].mean(axis=0)
    frames = x[n_train : n_train + 4]
    signed = integrated_gradients(encoder, frames, baseline=base, n_steps=128, signed=True, n_samples=None)
    with torch.no_grad():
        gap = encoder(torch.as_tensor(frames, dtype=torch.float32)) - encoder(
            torch.as_tensor(base[None], dtype=torch.float32)
        )
    np.testing.assert_allclose(signed.sum(axis=0), gap.numpy().mean(axis=0), atol=0.02)
    # reported, not asserted: how far the encoder's use of the channels follows their loading
    imp = table[table["scale"] == top].sort_values("channel")["importance"].to_numpy()
    rho = pd.Series(imp).corr(pd.Series(case["loading"]), method="spearman")
    print(f"\n[{config}] {kind}: Spearman(importance, loading) at the top scale = {rho:.3f}")
