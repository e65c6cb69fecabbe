"""One-scale estimators: NIS+ (Yang et al. 2024, arXiv:2308.09952) and NIS (Zhang & Liu 2023, arXiv:2201.10154).

Both are the model of :class:`~ndx_causal_emergence.models.MultiscaleNISPlus` with the
one-rung ladder ``[q]``: an invertible encoder on the ``N`` channels keeps ``q`` coordinates,
one forward dynamics (and, for NIS+, one reverse dynamics) acts on them. NIS is NIS+ without
the reverse term and without inverse-probability weights. The published SIR comparison fits
``NISPlus(q=2)``, ``NISPlus(q=4)`` and ``NIS(q=2)`` separately.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..errors import InputError
from .estimator import _NISEstimator

__all__ = ["NIS", "NISPlus"]


def _one_scale(q: int | None, n_features: int) -> list[int]:
    if q is None or not 1 <= int(q) <= n_features:
        raise InputError(f"q must be an integer in 1..N={n_features} (the number of macro variables), got {q}.")
    return [int(q)]


class NISPlus(_NISEstimator):
    """NIS+ at one scale: ``q`` macro variables, reverse dynamics, inverse-probability weights.

    Other parameters are those of :class:`~ndx_causal_emergence.models.MultiscaleNISPlus`.

    Parameters
    ----------
    q : int
        Number of macro variables (``q = N`` gives the micro-level model of the SIR benchmark).
    """

    def __init__(
        self, *, q: int = 2, preset: str | None = None, n_coupling_layers: int = 6, hidden_width: int = 256,
        dynamics_width: int = 256, dynamics_depth: int = 2, reverse_weight: float = 1.0, use_weights: bool = True,
        reverse_trains_encoder: bool = False, latent_forward_weight: float = 1.0, squash: bool = False,
        decoder_noise: float | None = None, kde_bandwidth: float = 0.05, learning_rate: float = 1e-4,
        batch_size: int = 100, max_steps: int = 10000, warmup_fraction: float = 0.1, weight_refresh: int = 1000,
        multi_lag: bool = False, eval_every: int = 250, patience: int | None = None, observed_reference: bool = True,
        intervention_half_width: float = 1.0, ei_domain: str = "normalized", sigma_convention: str = "mse",
        weighted_measures: bool = False, pca_init: bool = True, polish_steps: int = 2000,
        checkpoint_path: str | None = None, device: str = "auto", seed: int = 0, verbose: bool = False,
    ) -> None:  # fmt: skip
        self.q = q
        self.preset = preset
        self.n_coupling_layers = n_coupling_layers
        self.hidden_width = hidden_width
        self.dynamics_width = dynamics_width
        self.dynamics_depth = dynamics_depth
        self.reverse_weight = reverse_weight
        self.use_weights = use_weights
        self.reverse_trains_encoder = reverse_trains_encoder
        self.latent_forward_weight = latent_forward_weight
        self.squash = squash
        self.decoder_noise = decoder_noise
        self.kde_bandwidth = kde_bandwidth
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_steps = max_steps
        self.warmup_fraction = warmup_fraction
        self.weight_refresh = weight_refresh
        self.multi_lag = multi_lag
        self.eval_every = eval_every
        self.patience = patience
        self.observed_reference = observed_reference
        self.intervention_half_width = intervention_half_width
        self.ei_domain = ei_domain
        self.sigma_convention = sigma_convention
        self.weighted_measures = weighted_measures
        self.pca_init = pca_init
        self.polish_steps = polish_steps
        self.checkpoint_path = checkpoint_path
        self.device = device
        self.seed = seed
        self.verbose = verbose
        self._apply_preset()

    def _ladder(self, n_features: int, params: dict[str, Any]) -> list[int]:
        return _one_scale(params["q"], n_features)


class NIS(_NISEstimator):
    """NIS at one scale: ``q`` macro variables, forward dynamics only, unweighted loss.

    Other parameters are those of :class:`~ndx_causal_emergence.models.MultiscaleNISPlus`
    (without the reverse-term and weighting ones). Training is unweighted; Σ in
    :meth:`emergence_table` follows ``weighted_measures`` as for NIS+, so that the two J compare
    (the ``sir`` preset weights both, as the official code does).

    Parameters
    ----------
    q : int
        Number of macro variables.
    """

    _fixed: ClassVar[dict[str, Any]] = {
        "use_reverse": False, "use_weights": False, "reverse_trains_encoder": False,
    }  # fmt: skip

    def __init__(
        self, *, q: int = 2, preset: str | None = None, n_coupling_layers: int = 6, hidden_width: int = 256,
        dynamics_width: int = 256, dynamics_depth: int = 2, latent_forward_weight: float = 1.0, squash: bool = False,
        decoder_noise: float | None = None, learning_rate: float = 1e-4, batch_size: int = 100,
        max_steps: int = 10000, warmup_fraction: float = 0.1, multi_lag: bool = False, eval_every: int = 250,
        patience: int | None = None, observed_reference: bool = True, intervention_half_width: float = 1.0,
        ei_domain: str = "normalized", sigma_convention: str = "mse", weighted_measures: bool = False,
        pca_init: bool = True, polish_steps: int = 2000, checkpoint_path: str | None = None,
        device: str = "auto", seed: int = 0, verbose: bool = False,
    ) -> None:  # fmt: skip
        self.q = q
        self.preset = preset
        self.n_coupling_layers = n_coupling_layers
        self.hidden_width = hidden_width
        self.dynamics_width = dynamics_width
        self.dynamics_depth = dynamics_depth
        self.latent_forward_weight = latent_forward_weight
        self.squash = squash
        self.decoder_noise = decoder_noise
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_steps = max_steps
        self.warmup_fraction = warmup_fraction
        self.multi_lag = multi_lag
        self.eval_every = eval_every
        self.patience = patience
        self.observed_reference = observed_reference
        self.intervention_half_width = intervention_half_width
        self.ei_domain = ei_domain
        self.sigma_convention = sigma_convention
        self.weighted_measures = weighted_measures
        self.pca_init = pca_init
        self.polish_steps = polish_steps
        self.checkpoint_path = checkpoint_path
        self.device = device
        self.seed = seed
        self.verbose = verbose
        self._apply_preset()

    def _ladder(self, n_features: int, params: dict[str, Any]) -> list[int]:
        return _one_scale(params["q"], n_features)
