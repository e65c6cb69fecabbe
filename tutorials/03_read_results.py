# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Read results back and plot them
#
# Results live in the NWB file itself, in one `CausalEmergenceAnalysis` per condition. Any NWB
# reader can open them (the extension's schema is cached in the file); with this package,
# `read_results` returns the tables as pandas, the macro variables as xarray, and rebuilds the
# fitted models from the stored tensors. The file used here comes from the bundled demo
# recording (CaImAn CNMF-E, 72 components, 30 Hz).

# %%
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import ndx_causal_emergence as ce
from ndx_causal_emergence.demo import demo_file
from ndx_causal_emergence.pipeline.figures import condition_figures

workdir = Path(tempfile.mkdtemp())
# (model_params shortens training so the tutorial runs quickly; leave it out for real analyses)
results = ce.analyze(demo_file(), ladder=(72, 8, 1), preset="fast", model_params={"max_steps": 400})
path = results.write(workdir / "demo_causal-emergence.nwb")

# %%
loaded = ce.read_results(path)
res = loaded["all"]  # by condition label, as analyze returned it (the analysis name works too)
res.emergence[["scale", "dimension", "dimension_averaged_ei", "causal_emergence", "nmse"]]

# %% [markdown]
# The macro variables are `MacroVariableSeries` (NWB `TimeSeries`), here as xarray:

# %%
top = res.macro_variables[-1]
print(top)

# %% [markdown]
# A model rebuilt from the file reproduces the stored macro variables:

# %%

model = res.models[0]
print("rebuilt model ladder:", model.ladder_)

# %% [markdown]
# Figures: J and ΔJ per scale, the attribution of each scale to the ROIs, and the potential
# landscape of the top (1-D) scale.

# %%
figures = condition_figures(res)
for name, fig in figures.items():
    fig.savefig(workdir / f"{name}.png", dpi=100)
print(sorted(figures))
