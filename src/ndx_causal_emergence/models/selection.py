"""Each scale read from the training state where its own macro variable predicted itself best (docs/method.md §2.4).

The training loss of the multiscale model is one number for all scales, and the state kept by
early stopping is the one where that number was lowest. On independent channels the coarse
encoders start at the top principal components (the best macro variable there: any projection of
the channels is as predictable as a channel) and then drift, while the micro terms still improve,
to nonlinear latents that predict their own future worse (docs/method.md §3.6): the measured J of
those scales falls below the truth. :class:`ScaleSelection` keeps, for every scale ``k``, the
whole model's state at the evaluation (the start included) where the scale's one-step error on
the validation pairs, in its own coordinates, was lowest (a scale that keeps every coordinate,
the micro level, stays with the state kept for the whole model):

.. math::

    e_k = \\frac{1}{d_k}\\left(\\ln\\det\\hat\\Sigma_{\\text{res}} - \\ln\\det\\hat\\Sigma_{y}\\right),

the log of the generalised variance of the residual of ``y_{t+1}`` relative to that of
``y_{t+1}``, per dimension, for the better of two predictors: ``F_k`` and the least-squares
affine map of the training latents. A state is so judged by its macro variable, not by how far its
``F_k`` has been trained (the maps are fitted again before they are measured, §3.1). ``e_k`` is
unchanged by any invertible linear map of the latent (an encoder that shrinks its output gains
nothing) and it is the Gaussian part of J's noise term (§3.2). The states are chosen on the
validation block; J is measured on the test block.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch

from ..measures.lapack import one_thread
from .multiscale import MultiscaleModule, PerScaleModule

__all__ = ["ScaleSelection", "scale_errors"]


def _log_generalized_variance(values: torch.Tensor) -> float:
    """``ln det`` of the covariance of the rows of ``values`` (float64); ``-inf`` when singular."""
    centred = values - values.mean(dim=0)
    cov = centred.T @ centred / max(len(values) - 1, 1)
    with one_thread():  # see measures/lapack.py
        sign, logdet = torch.linalg.slogdet(cov)
    return float(logdet) if float(sign) > 0 else -math.inf


def _affine_fit(now: torch.Tensor, then: torch.Tensor) -> torch.Tensor:
    """Least-squares ``[y, 1] @ A ≈ y'`` (float64), the coefficients ``A`` of shape ``(d + 1, d)``."""
    design = torch.cat((now, torch.ones_like(now[:, :1])), dim=1)
    return torch.linalg.lstsq(design, then).solution


def _error(residual: torch.Tensor, spread: float) -> float:
    value = (_log_generalized_variance(residual) - spread) / residual.shape[1]
    return value if math.isfinite(value) else math.inf


@torch.no_grad()
def scale_errors(
    module: MultiscaleModule | PerScaleModule,
    pairs: tuple[torch.Tensor, torch.Tensor],
    fit_pairs: tuple[torch.Tensor, torch.Tensor],
) -> list[float]:
    """Per scale, ``e_k`` (module docstring) of the one-step ``pairs`` ``(x_t, x_{t+1})``, by the better predictor.

    The predictors are the scale's ``F_k`` and the affine map fitted by least squares on the
    latents of ``fit_pairs`` (the training block): an encoder's start, the principal components,
    is judged by how predictable it is, not by how far its ``F_k`` has been trained. A scale whose
    latent or residual has a singular covariance gets ``+inf`` (never kept).
    """
    now, then = module.encode(pairs[0]), module.encode(pairs[1])
    fit_now, fit_then = module.encode(fit_pairs[0]), module.encode(fit_pairs[1])
    out = []
    for k, pred in enumerate(module.step(now)):
        target = then[k].double()
        spread = _log_generalized_variance(target)
        coef = _affine_fit(fit_now[k].double(), fit_then[k].double())
        affine = torch.cat((now[k].double(), torch.ones_like(target[:, :1])), dim=1) @ coef
        out.append(min(_error(pred.double() - target, spread), _error(affine - target, spread)))
    return out


class ScaleSelection:
    """The best training state of every scale by :func:`scale_errors` on validation pairs.

    Parameters
    ----------
    pairs : (Tensor, Tensor)
        Validation frames ``x_t`` and ``x_{t+1}`` (finite), on the training device.
    fit_pairs : (Tensor, Tensor)
        Training frames for the affine predictor (:func:`scale_errors`).
    """

    def __init__(self, pairs: tuple[torch.Tensor, torch.Tensor], fit_pairs: tuple[torch.Tensor, torch.Tensor]) -> None:
        self.pairs = pairs
        self.fit_pairs = fit_pairs
        self.best: list[dict[str, Any]] = []

    def update(self, step: int, module: MultiscaleModule) -> None:
        """Evaluate ``module`` at training step ``step`` and keep its state for every coarse scale it improves.

        A scale that keeps every coordinate (``d_0 = N``) is not tracked (``None``): :meth:`module` reads it
        from the state training kept for the whole model.
        """
        errors = scale_errors(module, self.pairs, self.fit_pairs)
        if not self.best:
            self.best = [None if d == module.n_features else {"error": math.inf, "state": None, "step": step}
                         for d in module.scales]  # fmt: skip
        state = None  # one copy, shared by the scales this step improves
        for best, error in zip(self.best, errors, strict=True):
            if best is not None and (error < best["error"] or best["state"] is None):
                if state is None:
                    state = copy.deepcopy(module.state_dict())
                best.update(error=error, state=state, step=step)

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint stores to resume the selection."""
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`state_dict`."""
        self.best = state["best"]

    def module(self, trained: MultiscaleModule, *, trained_step: int | None = None) -> PerScaleModule:
        """A :class:`PerScaleModule` whose part ``k`` is ``trained`` with scale ``k``'s kept state.

        A scale that keeps every coordinate (``d_0 = N``: the micro level in latent coordinates)
        is read from ``trained`` itself, the state training kept for the whole model: its
        encoder is invertible, so there is no macro variable to choose, only the reference every
        ΔJ is taken against. Scales that kept the same state share one part (one module object),
        and so do those that kept ``trained_step``, the step of ``trained``'s state, with ``trained``
        (the same parameters: one copy less, and an encoder the attribution reads once for them all).
        """
        trained.eval()
        parts: dict[int, MultiscaleModule] = {}
        for best in self.best:
            if best is not None and id(best["state"]) not in parts:
                if best["step"] == trained_step:
                    parts[id(best["state"])] = trained
                    continue
                part = copy.deepcopy(trained)
                part.load_state_dict(best["state"])
                parts[id(best["state"])] = part.eval()
        return PerScaleModule([trained if best is None else parts[id(best["state"])] for best in self.best])

    def kept_steps(self, trained_step: int) -> list[int]:
        """The training step each scale of :meth:`module` is read from (``trained_step``: the whole model's)."""
        return [trained_step if best is None else best["step"] for best in self.best]
