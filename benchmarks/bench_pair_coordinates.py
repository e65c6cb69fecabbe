"""The double-well / single-well pair measured in three coordinate conventions (docs/method.md §3.6).

Fits one default (``fast``) model per condition of :func:`~ndx_causal_emergence.testing.calibration.double_well_pair`
and prints J and ΔJ per scale measured on the test block in the default coordinates (held-out
principal axes, percentile range), per dimension standardised on the held-out states
(``Z99 · sd``), and in the training block's percentile range; then the awake − anesthesia
differences of J_1 and ΔJ_1 under each.

    python benchmarks/bench_pair_coordinates.py SEED [--json PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from benchrun import Run, Table

from ndx_causal_emergence.data.prepare import prepare
from ndx_causal_emergence.data.recording import Recording
from ndx_causal_emergence.measures import estimate_sigma2, gaussian_ei
from ndx_causal_emergence.models import MultiscaleNISPlus
from ndx_causal_emergence.models.dynamics import AffineConjugate
from ndx_causal_emergence.models.training import Z99, TransitionData
from ndx_causal_emergence.testing.calibration import double_well_pair


def _j(fn: torch.nn.Module, u0: np.ndarray, u1: np.ndarray) -> float:
    with torch.no_grad():
        pred = fn(torch.as_tensor(u0, dtype=torch.float32)).double().numpy()
    return gaussian_ei(fn, estimate_sigma2(pred, u1), n_monte_carlo=500, seed=0).dei


def measure(model: MultiscaleNISPlus, test: list[np.ndarray]) -> pd.DataFrame:
    """J per scale on the test pairs in the three conventions (``default``, ``std``, ``train_percentile``)."""
    data = TransitionData.build(np.concatenate(test), np.repeat(np.arange(len(test)), [len(s) for s in test]))
    t = data.starts[1]
    rows = []
    for k, d in enumerate(model.ladder_):
        both = model._encode_raw(np.concatenate([data.frames[t], data.frames[t + 1]]), upto=k)[k]
        r0, r1 = both[: len(t)], both[len(t) :]
        net = model.model_.forward_maps[k]
        u0, u1, fn = model._in_measurement_coordinates(net, r0, r1, {"ei_domain": "normalized"})
        row = {"d": d, "default": _j(fn, u0, u1)}
        sd = r0.std(axis=0)
        for name, (c, h) in {
            "std": (r0.mean(axis=0), np.where(sd > 0, Z99 * sd, 1.0)),
            "train_percentile": (model.latent_center_[k], model.latent_half_range_[k]),
        }.items():
            row[name] = _j(AffineConjugate(net, c, h).eval(), (r0 - c) / h, (r1 - c) / h)
        rows.append(row)
    return pd.DataFrame(rows)


def _table(title: str, frame: pd.DataFrame) -> Table:
    table = Table(title, [str(c) for c in frame.columns])
    for values in frame.round(3).itertuples(index=False):
        table.add(*(str(v) for v in values))
    return table


def main() -> None:
    """Command line: fit the pair for SEED, print (and with ``--json`` write) J per scale and the differences."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("seed", type=int, nargs="?", default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    run, seed = Run("pair_coordinates"), args.seed
    torch.set_num_threads(1)
    tables = {}
    for label, system in double_well_pair(48, n_frames=3000, seed=seed).items():
        prepared = prepare(Recording.from_array(system.frames, rate=10.0))
        model = MultiscaleNISPlus.from_preset("fast", seed=seed).fit(prepared.train, validation=prepared.validation)
        tables[label] = measure(model, prepared.test)
        print(label, "\n", tables[label].round(3).to_string(), flush=True)
    a, b = tables["awake"], tables["anesthesia"]
    notes = []
    for col in ("default", "std", "train_percentile"):
        dj = (a[col].iloc[-1] - a[col].iloc[0]) - (b[col].iloc[-1] - b[col].iloc[0])
        notes.append(f"{col}: awake - anesthesia J_1 {a[col].iloc[-1] - b[col].iloc[-1]:+.3f}, dJ_1 {dj:+.3f}")
        print(notes[-1])
    run.write(args.json, [_table(f"{label}, J per scale (nats)", t) for label, t in tables.items()], notes=notes)


if __name__ == "__main__":
    main()
