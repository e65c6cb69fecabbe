# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Analyse a local NWB file
#
# This tutorial runs the whole causal-emergence job on a local NWB file with two conditions:
# an `awake` block whose activity is driven by a latent that hops between two metastable
# states, and an `anesthesia` block driven by a noisy single well. Both drive the same 16
# ROIs through nonlinear tuning curves, and the conditions are labelled in the file's `epochs`
# table (column `stage`) — the layout of a real experiment.
#
# Replace `path` by your own file; `causal-emergence list FILE` shows what can be analysed.

# %%
import tempfile
from pathlib import Path

import ndx_causal_emergence as ce
from ndx_causal_emergence.testing.simulated import write_two_condition_nwb

workdir = Path(tempfile.mkdtemp())
path = write_two_condition_nwb(workdir / "two_conditions.nwb", n_channels=16, n_frames=3000)

# %% [markdown]
# ## Fit one multiscale model per condition
# `analyze` reads the series (dF/F is preferred), labels each frame from `epochs.stage`,
# prepares each condition (z-score on its training block, 70/10/20 split in five cycles),
# fits a multiscale NIS+ model on the scale ladder 16 → 4 → 1, and measures effective
# information, causal emergence and the dynamics of every scale.

# %%
# (model_params shortens training so the tutorial runs quickly; leave it out for real analyses)
results = ce.analyze(
    path,
    conditions="epochs",
    condition_column="stage",
    ladder=(16, 4, 1),
    preset="fast",
    model_params={"max_steps": 500},
)
results.summary()[["condition", "scale", "dimension", "dimension_averaged_ei", "causal_emergence", "nmse"]]

# %% [markdown]
# With full training (the `fast` preset's 1,500 steps; `tests/integration/test_pipeline.py` checks
# it) the top scale of the awake condition shows the larger causal emergence ΔJ and two stable
# fixed points (the two metastable states) inside the data. Here, after a short training:

# %%
for name, res in results.conditions.items():
    top = res.emergence.iloc[-1]
    fp = res.fixed_points
    stable = fp[(fp["scale"] == top["scale"]) & fp["in_support"] & (fp["stability"] == "stable")]
    print(
        f"{name:>10}: ΔJ(top) = {top['causal_emergence']:.2f} nats, stable points in support: "
        f"{sorted({round(loc[0], 2) for loc in stable['location']})}"
    )

# %% [markdown]
# ## Write the results into NWB
# The default writes a new file holding the input's content plus one `CausalEmergenceAnalysis`
# per condition (`processing/ophys/causal_emergence_<condition>`); the input is not modified.

# %%
out = results.write(workdir / "two_conditions_causal-emergence.nwb")
print(out)
