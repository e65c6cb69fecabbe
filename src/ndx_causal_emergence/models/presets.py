"""Named hyperparameter sets of the NIS estimators.

- ``fast``: tests, tutorials and demos (a whole job took 8.8 s for 15 ROIs × 250 frames and 126 s for 200
  channels × 20,000 frames on an idle 2-core machine, ``benchmarks/results/runtime/targets_adam.json``): small networks,
  a higher learning rate, few steps, and early stopping on the validation loss (checked every
  100 steps, or every 10 passes over the training pairs when that comes sooner, patience 3 with
  gains under 1 % not counted, best model kept): on short recordings the model overfits within a
  few hundred steps (the bundled 700-frame demo: test NMSE 0.96 after 1,500 steps, 0.61 when
  stopped at its best validation loss, against 0.70 for persistence), and a recording whose batch
  holds all its pairs passes over them at every step.
- ``fmri``: the defaults of the group's multiscale fMRI code (called ``paper`` in earlier versions; that
  name stays as a deprecated alias): hidden width 256, Adam lr 1e-4, batches of 100 pairs,
  10,000 steps, weights refreshed every 1,000 steps, forward + 0.5 x reverse, decoder padding
  noise 1/3. It is not the protocol of the mice paper (Wang et al. 2025, arXiv:2509.10891),
  whose published code differs at many points.
- ``sir``: the published NIS+ SIR set-up with the official conventions (Yang et al. 2024,
  arXiv:2308.09952; docs/method.md §5): 3 coupling layers (the official SIR flow builds 6 masks
  but uses ``len(masks) // 2`` layers), hidden width 64, batches of 700, 30,000 steps, λ = 3,
  ``tanh`` squash, raw latents in a fixed box (``ei_domain="box"``), MAE as variance weighted by
  inverse-probability weights, the reverse term training the encoder, no latent forward term, no
  principal-axes start of the encoder and no polishing of the maps before they are measured.
- ``wang2025``: a replica of the protocol of the mice paper's published code (Wang et al. 2025,
  arXiv:2509.10891; ``WZPBelieveFuture/Causal-Emergence-of-Consciousness-in-Mice``: ``NIS.py``,
  ``src/models.py``, ``src/EI_calculation.py``), for comparing with published numbers, not for
  new analyses (docs/method.md §2.4). Stage 1 (the warm-up, half the
  steps): all scales on the mean micro L1 error, no reverse term, no weights, Adam lr 1e-4
  with weight decay 1e-4. Stage 2: a new Adam with weight decay 1e-5; the unweighted forward
  micro L1 plus λ = 1 times the IPW-weighted reverse latent L1 whose gradient reaches the
  encoder; weights ``w = 1`` for 1000 steps, then refreshed every 1000 steps from an unclipped
  Gaussian KDE (bandwidth 0.05) of the raw latents, PCA to 100 dimensions above 200. Width 50
  everywhere; dynamics ``y + f(y)`` with 4 hidden LeakyReLU layers and ``tanh`` on every
  predicted latent (forward and reverse); 4 coupling layers for the first (N → N) flow and for
  flows reading more than 64 coordinates, 6 for the others, starting as random maps, each encoder
  applying its coupling layers' inverses ``(x − t) e^{−s}`` and the decoder the layers; decoder
  padding noise 1/3; batches of 512 distinct pairs; no principal-axes start, no polishing, no
  observed reference. EI:
  ``ei_convention="official"`` (no ``q ln 2L``, clipped at 0, Jacobian without ``tanh``) in
  raw latents on the box ``[-1, 1]^q``, σ² the IPW-weighted per-dimension MSE of the ``tanh``
  prediction. Stage 2 runs separately for each scale on its own copy of the stage-1 model
  (``stage2_per_scale=True``), each scale read from its copy. What it does not replicate (each
  states a reason in docs/method.md):

  * the official code measures EI on (up to 1000) training pairs; the pipeline measures on the
    held-out test block (``emergence_table`` measures whatever frames it is given);
  * odd-sized flows: the official code drops the last coordinate of an odd-sized input (with N
    odd, one channel is never read); ours transforms every coordinate;
  * the official KDE reads the starting frames of the training pairs, ours every training frame;
  * step counts: the official scripts run 1,000,001 steps per stage; the preset runs 10,000 in
    stage 1 and 10,000 per scale in stage 2 (``max_steps=20000``, ``warmup_fraction=0.5``).

A preset sets the parameters the constructor was not given: an explicit argument always wins,
whatever its value, and ``get_params()`` reports the values ``fit`` uses.
"""

from __future__ import annotations

import warnings
from typing import Any

from ..errors import InputError

__all__ = ["DEPRECATED_PRESETS", "PRESETS", "canonical_preset"]

PRESETS: dict[str, dict[str, Any]] = {
    "fast": {
        "n_coupling_layers": 4,
        "hidden_width": 64,
        "dynamics_width": 64,
        "batch_size": 256,
        "max_steps": 1500,
        "learning_rate": 1e-3,
        "weight_refresh": 250,
        "eval_every": 100,
        "eval_passes": 10,
        "patience": 3,
        "min_improvement": 0.01,
    },
    "fmri": {
        "n_coupling_layers": 6,
        "hidden_width": 256,
        "dynamics_width": 256,
        "batch_size": 100,
        "max_steps": 10000,
        "learning_rate": 1e-4,
        "weight_refresh": 1000,
        "reverse_weight": 0.5,
        "decoder_noise": 1.0 / 3.0,
    },
    "sir": {
        "n_coupling_layers": 3,
        "hidden_width": 64,
        "dynamics_width": 64,
        "batch_size": 700,
        "max_steps": 30000,
        "learning_rate": 1e-4,
        "weight_refresh": 1000,
        "reverse_weight": 3.0,
        "squash": True,
        "decoder_noise": 1.0,
        "ei_domain": "box",
        "sigma_convention": "mae",
        "reverse_trains_encoder": True,
        "latent_forward_weight": 0.0,
        "weighted_measures": True,
        "pca_init": False,
        "polish_steps": 0,
        "eval_every": 500,
        "keep_best": "joint",
    },
    "wang2025": {
        "n_coupling_layers": 6,
        "coupling_layout": "wang2025",
        "coupling_init": "random",
        "coupling_form": "inverse_affine",
        "hidden_width": 50,
        "dynamics_width": 50,
        "dynamics_depth": 4,
        "dynamics_activation": "leaky_relu",
        "squash": True,
        "squash_reverse": True,
        "decoder_noise": 1.0 / 3.0,
        "learning_rate": 1e-4,
        "weight_decay": 1e-4,
        "weighted_weight_decay": 1e-5,
        "batch_size": 512,
        "batch_replacement": False,
        "max_steps": 20000,
        "warmup_fraction": 0.5,
        "warmup_reverse": False,
        "latent_forward_weight": 0.0,
        "reverse_weight": 1.0,
        "reverse_trains_encoder": True,
        "forward_weighted": False,
        "weight_refresh": 1000,
        "weight_delay": 1000,
        "weight_clip": None,
        "kde_bandwidth": 0.05,
        "kde_max_dims": 200,
        "kde_components": 100,
        "ei_domain": "box",
        "sigma_convention": "mse",
        "weighted_measures": True,
        "ei_convention": "official",
        "intervention_half_width": 1.0,
        "pca_init": False,
        "polish_steps": 0,
        "eval_every": 1000,
        "patience": None,
        "observed_reference": False,
        "stage2_per_scale": True,
        "keep_best": "joint",
    },
}

#: Old preset names and the names that replace them (accepted with a ``DeprecationWarning``).
DEPRECATED_PRESETS: dict[str, str] = {"paper": "fmri"}


def canonical_preset(name: str) -> str:
    """The current name of preset ``name`` (a deprecated alias warns); raises InputError if unknown."""
    if name in DEPRECATED_PRESETS:
        new = DEPRECATED_PRESETS[name]
        warnings.warn(f"preset {name!r} is deprecated; it is now called {new!r}.", DeprecationWarning, stacklevel=3)
        return new
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}.")
    return name
