"""Image comparison: each figure type, drawn from fixed inputs, must look as it did (a perceptual hash with tolerance).

The hash is the sign of the horizontal brightness steps of a 64 x 65 grey thumbnail (8192 bits:
where edges rise and where they fall), so it ignores the exact pixels and sees lost curves, panels,
bars or colour bars. Measured on the figures here: redrawing them with the same data under
``matplotlib.rc_context({"font.family": "DejaVu Serif"})`` changes 0.8-1.3 % of the bits for six figure types, 2.9 % and
4.1 % for the attribution heat map and the fit-quality figure (their text is most of them);
removing a figure's data (curves, bars, images, arrows) changes 3.8-12.4 %. The tolerance, 2 %,
admits rendering differences, not a serif font. After an intended change of a figure, regenerate
the references:

    PYTHONPATH=src python -m tests.report.test_figure_images --update
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from ndx_causal_emergence.dynamics import plots
from ndx_causal_emergence.dynamics.fixed_points import find_fixed_points
from ndx_causal_emergence.dynamics.potential import drift_field, drift_potential

REFERENCES = Path(__file__).with_name("figure_hashes.json")
#: Largest share of hash bits that may differ from the reference.
TOLERANCE = 0.02


def _well(y: torch.Tensor) -> torch.Tensor:
    return y + 0.1 * (y - y**3)


def _saddle(y: torch.Tensor) -> torch.Tensor:
    return y + 0.1 * y * torch.tensor([1.0, -1.0], dtype=y.dtype)


def _emergence(shift: float) -> pd.DataFrame:
    j = np.array([0.2, 0.5, 0.9]) + shift
    return pd.DataFrame({
        "scale": [0, 1, 2], "dimension": [16, 4, 1], "dimension_averaged_ei": j, "causal_emergence": j - j[0],
        "dimension_averaged_ei_ci_low": j - 0.1, "dimension_averaged_ei_ci_high": j + 0.1,
        "causal_emergence_ci_low": j - j[0] - 0.05, "causal_emergence_ci_high": j - j[0] + 0.05,
        "fit_ok": [True, False, True], "significant": [False, False, True],
        "latent_nmse": [0.5, 1.1, 0.4 + shift], "latent_nmse_persistence": [0.7, 0.9, 0.8],
    })  # fmt: skip


def _potential():
    grid = np.linspace(-1.6, 1.6, 101)
    _, pot = drift_potential(_well, grid)
    fp = find_fixed_points(_well, grid[:, None], support="range")
    empirical = np.where(np.abs(grid) < 1.2, pot, np.nan)
    return plots.plot_potential(grid, pot, occupancy=pot * 3, empirical_potential=empirical, fixed_points=fp,
                                boundaries=[0.0], title="double well")  # fmt: skip


def _drift_field():
    y1, y2, drift = drift_field(_saddle, [-1, -1], [1, 1])
    fp = find_fixed_points(_saddle, np.zeros((5, 2)))
    trajectory = np.random.default_rng(0).normal(scale=0.4, size=(200, 2))
    return plots.plot_drift_field(y1, y2, drift, fixed_points=fp, trajectory=trajectory, title="saddle")


def _attribution_table() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    shares = {s: rng.dirichlet(np.ones(12)) for s in (0, 1, 2)}
    rows = [{"scale": s, "channel": c, "importance": v} for s, row in shares.items() for c, v in enumerate(row)]
    return pd.DataFrame(rows)


def _attribution_map():
    labels = np.full((40, 60), -1)
    for i in range(12):
        y, x = 5 + 10 * (i // 4), 6 + 15 * (i % 4)
        labels[y - 3 : y + 3, x - 4 : x + 4] = i
    importance = _attribution_table().pivot(index="channel", columns="scale", values="importance")
    return plots.plot_attribution_map(labels, importance, title="ROIs")


def _state_timeline():
    t = np.arange(600) * 0.1
    u = np.where((t // 15) % 2 == 0, -0.8, 0.8) + 0.1 * np.random.default_rng(2).standard_normal(600)
    transitions = pd.DataFrame({"timestamp": [15.0, 30.0, 45.0], "from_state": [0, 1, 0], "to_state": [1, 0, 1],
                                "dwell_time": [np.nan, 15.0, 15.0]})  # fmt: skip
    return plots.plot_state_timeline(t, u, transitions, stable_points=[-0.8, 0.8], title="states")


#: One drawing per figure type, from fixed inputs.
FIGURES: dict[str, Callable[[], object]] = {
    "potential": _potential,
    "drift_field": _drift_field,
    "emergence": lambda: plots.plot_emergence(_emergence(0.0), title="J per scale"),
    "conditions": lambda: plots.plot_conditions({"awake": _emergence(0.3), "anesthesia": _emergence(0.0)}),
    "fit_quality": lambda: plots.plot_fit_quality({"awake": _emergence(0.3), "anesthesia": _emergence(0.0)}),
    "attribution": lambda: plots.plot_attribution(_attribution_table(), channel_labels={i: f"R{i}" for i in range(12)}),
    "attribution_map": _attribution_map,
    "state_timeline": _state_timeline,
}


def png(fig) -> bytes:
    """The figure as PNG at a low resolution."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=50)
    return buffer.getvalue()


def phash(data: bytes) -> np.ndarray:
    """Perceptual hash of a PNG (8192 bits): rising and falling brightness steps of a 64 x 65 grey thumbnail."""
    with Image.open(io.BytesIO(data)) as image:
        grey = np.asarray(image.convert("L").resize((65, 64), Image.Resampling.LANCZOS), dtype=float)
    steps = np.diff(grey, axis=1)
    return np.concatenate([(steps > 8).ravel(), (steps < -8).ravel()])


def distance(a: np.ndarray, reference: str) -> float:
    """Share of bits of ``a`` that differ from the hex ``reference``."""
    ref = np.unpackbits(np.frombuffer(bytes.fromhex(reference), dtype=np.uint8))[: len(a)].astype(bool)
    return float(np.mean(a != ref))


def _references() -> dict[str, dict]:
    return json.loads(REFERENCES.read_text())


@pytest.mark.parametrize("name", list(FIGURES))
def test_figure_looks_as_before(name):
    reference = _references()[name]
    data = png(FIGURES[name]())
    with Image.open(io.BytesIO(data)) as image:
        assert list(image.size) == reference["size"], "the figure's size changed"
    d = distance(phash(data), reference["phash"])
    assert d <= TOLERANCE, f"{name} differs from its reference in {d:.1%} of the hash (tolerance {TOLERANCE:.0%})"


@pytest.mark.parametrize("name", list(FIGURES))
def test_a_broken_figure_is_caught(name):
    """The guard has teeth: the figure without its data (curves, bars, images, arrows) is far from the reference."""
    fig = FIGURES[name]()
    for ax in fig.axes:
        for artist in [*ax.lines, *ax.images, *ax.collections, *ax.patches]:
            artist.remove()
    assert distance(phash(png(fig)), _references()[name]["phash"]) > TOLERANCE


def update() -> None:
    """Rewrite the references from the current figures."""
    refs = {}
    for name, draw in FIGURES.items():
        data = png(draw())
        with Image.open(io.BytesIO(data)) as image:
            refs[name] = {"phash": np.packbits(phash(data)).tobytes().hex(), "size": list(image.size)}
    REFERENCES.write_text(json.dumps(refs, indent=1, sort_keys=True) + "\n")
    print(f"wrote {REFERENCES}")


if __name__ == "__main__" and "--update" in sys.argv:
    update()
