# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Analyse a DANDI asset without downloading it
#
# A DANDI reference (`DANDI:<dandiset>/<version>/<path>`, `dandi://…`, or an archive URL) is
# resolved with the `dandi` client and the file is streamed with remfile: only the bytes of the
# frames and channels that are read travel, and they are kept in a disk cache.
#
# Here we use dandiset 000207 (Zheng et al. 2022, human medial temporal lobe single units): its
# 35 units are binned at 250 ms. When the tests run this tutorial, `DANDI_INSTANCE` points the
# `dandi` client at a local stand-in of the archive serving the same file; for you it is the
# real archive.

# %%
import tempfile
from pathlib import Path

import ndx_causal_emergence as ce
from ndx_causal_emergence.nwb.read import list_series, open_nwb

asset = "DANDI:000207/draft/sub-4/sub-4_ses-4_ecephys+image.nwb"

with open_nwb(asset) as opened:
    print(opened.info)
    print(list_series(opened.nwbfile))

# %% [markdown]
# `units` are binned (here 250 ms bins) into a time × units count matrix, then analysed like
# ROI traces. The scale ladder 35 → 8 → 2 → 1 keeps the example quick.

# %%
# (model_params shortens training so the tutorial runs quickly; leave it out for real analyses)
results = ce.analyze(
    asset, series="units", bin_width=0.25, ladder=(35, 8, 2, 1), preset="fast", model_params={"max_steps": 400}
)
res = results.conditions["all"]
res.emergence[["scale", "dimension", "dimension_averaged_ei", "causal_emergence", "causal_power", "nmse"]]

# %% [markdown]
# The results file records which asset it came from (dandiset, version, asset id, path, digest):

# %%
out = results.write(Path(tempfile.mkdtemp()) / "sub-4_ses-4_causal-emergence.nwb")
prov = ce.read_results(out, load_models=False)["causal_emergence_all"].provenance
{k: prov.get(k) for k in ("dandiset_id", "dandiset_version", "asset_id", "asset_path", "asset_digest")}
