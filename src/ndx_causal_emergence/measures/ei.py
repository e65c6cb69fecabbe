r"""Effective information of a Gaussian macro dynamics (docs/method.md §3.1, §3.5).

For ``y' = F(y) + ε`` with ``ε ~ N(0, diag(σ²))`` and the intervention ``y ~ U([-L, L]^q)``:

.. math::

    \mathrm{EI}_L(F) = \underbrace{-\tfrac{q}{2}(1 + \ln 2\pi) - \tfrac12 \sum_i \ln \sigma_i^2}_{\text{noise term}}
    + \underbrace{q \ln 2L + \mathbb{E}_{y \sim U} \ln\lvert\det \partial F(y)/\partial y\rvert}_{\text{Jacobian term}},
    \qquad J(F) = \mathrm{EI}_L(F) / q.

All values are in nats; :meth:`EIResult.to_bits` converts. torch is imported inside the
functions, so importing this module stays light.

References: Zhang & Liu, Entropy 2023 (arXiv:2201.10154); Yang et al., National Science
Review 2024 (arXiv:2308.09952).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..deprecation import renamed_keywords
from ..errors import InputError
from ._checks import as_array, as_count, as_positive, as_weights, to_numpy
from .lapack import one_thread

if TYPE_CHECKING:
    import torch

__all__ = [
    "EIResult",
    "batched_jacobian",
    "estimate_sigma2",
    "gaussian_ei",
    "linear_gaussian_ei",
    "logabsdet_jacobian",
    "noise_term",
]

#: Jacobians are built in chunks of at most this many matrix entries (8 MiB in float64); callers that
#: reduce Jacobians as they come (the attribution's integrated gradients) hold no more than this at once.
MAX_JACOBIAN_ENTRIES = 2**20


@dataclass(frozen=True)
class EIResult:
    """Effective information of one dynamics and its two terms.

    Attributes
    ----------
    ei : float
        Effective information ``noise_term + jacobian_term``.
    dei : float
        Dimension-averaged EI ``J = ei / q``.
    noise_term, jacobian_term : float
        The two terms of docs/method.md §3.1.
    q : int
        Dimension of the dynamics.
    L : float
        Half-width of the intervention box ``[-L, L]^q``.
    unit : str
        ``"nats"`` (as computed) or ``"bits"`` (after :meth:`to_bits`).
    jacobian_samples : np.ndarray or None
        ``ln|det ∂F/∂y|`` at each point of the Jacobian term (nats; ``None`` for the analytic
        :func:`linear_gaussian_ei`), for resampling.
    """

    ei: float
    dei: float
    noise_term: float
    jacobian_term: float
    q: int
    L: float
    unit: str = "nats"
    jacobian_samples: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_bits(self) -> EIResult:
        """The same result in bits (every information value divided by ``ln 2``)."""
        if self.unit == "bits":
            return self
        ln2 = math.log(2.0)
        return replace(
            self,
            ei=self.ei / ln2,
            dei=self.dei / ln2,
            noise_term=self.noise_term / ln2,
            jacobian_term=self.jacobian_term / ln2,
            unit="bits",
        )


def noise_term(sigma2: np.ndarray) -> float | np.ndarray:
    """The noise term ``−(q/2)(1 + ln 2π) − ½ Σ ln σ_i²`` of EI (nats), over the last axis of ``sigma2``.

    A float for one variance vector ``(q,)``; an array for a stack ``(..., q)``.
    """
    q = sigma2.shape[-1]
    out = -0.5 * q * (1.0 + math.log(2.0 * math.pi)) - 0.5 * np.sum(np.log(sigma2), axis=-1)
    return float(out) if np.ndim(out) == 0 else out


def _result(
    noise: float,
    mean_logdet: float,
    q: int,
    L: float,
    clip: bool,
    samples: np.ndarray | None = None,
    box_entropy: bool = True,
) -> EIResult:
    jac = (q * math.log(2.0 * L) if box_entropy else 0.0) + mean_logdet
    ei = noise + jac
    if clip:
        ei = max(ei, 0.0)
    return EIResult(ei=ei, dei=ei / q, noise_term=noise, jacobian_term=jac, q=q, L=L, jacobian_samples=samples)


def _check_sigma2(sigma2: Any, q: int | None = None) -> np.ndarray:
    s2 = as_array(sigma2, "sigma2", ndim=1)
    if q is not None and s2.shape[0] != q:
        raise InputError(f"sigma2 must hold one variance per dimension ({q}), got {s2.shape[0]} values.")
    if np.any(s2 <= 0):
        raise InputError(
            f"sigma2 must be > 0 in every dimension, got min {s2.min():g}; "
            "a zero residual variance makes EI infinite (check for a constant or leaked target)."
        )
    return s2


def _dtype_device(fn: Callable[..., Any], q: int) -> tuple[torch.dtype, torch.device]:
    """dtype and device on which ``fn`` accepts ``(B, q)`` inputs.

    A module: those of its first floating parameter or buffer. A plain callable (e.g.
    ``lambda y: y + net(y)``, the official code's call) has no parameters to read, so it is
    tried on one float64 point, then float32, on the CPU; float64 when it accepts neither
    (its own error then surfaces at the real call).
    """
    import torch

    if isinstance(fn, torch.nn.Module):
        for t in (*fn.parameters(), *fn.buffers()):
            if t.is_floating_point():
                return t.dtype, t.device
        return torch.float64, torch.device("cpu")
    cpu = torch.device("cpu")
    for dtype in (torch.float64, torch.float32):
        try:
            with torch.no_grad():
                fn(torch.zeros(1, q, dtype=dtype))
        except RuntimeError:
            continue
        return dtype, cpu
    return torch.float64, cpu


def _as_tensor(y: Any, fn: Callable[..., Any], name: str) -> torch.Tensor:
    import torch

    if isinstance(y, torch.Tensor):
        if y.ndim != 2 or not torch.isfinite(y).all():
            raise InputError(f"{name} must be a finite tensor of shape (n_samples, q), got shape {tuple(y.shape)}.")
        return y.detach()
    arr = as_array(y, name, ndim=2)
    dtype, device = _dtype_device(fn, arr.shape[1])
    return torch.as_tensor(arr, dtype=dtype, device=device)


def batched_jacobian(fn: Callable[[torch.Tensor], torch.Tensor], y: Any) -> torch.Tensor:
    r"""Jacobians ``∂F(y_b)/∂y`` of a batch of points, without a Python loop over the points.

    Uses ``fn.batched_jacobian(y)`` when the map has one (exact closed form, e.g.
    :class:`~ndx_causal_emergence.models.dynamics.ResidualMLP`), otherwise reverse-mode
    autograd over a replicated batch: the ``B`` points are repeated once per output, ``fn`` maps
    the ``m·B`` rows in one pass, and one backward pass of ``Σ_i Σ_b F_i(y_b^{(i)})`` (output
    ``i`` of the ``i``-th copy) gives every row's gradient of every output. These are the ``m``
    vector-Jacobian products that ``torch.func.jacrev`` of the batch sum computes, as plain
    batched matrix products instead of a ``vmap`` over the outputs, whose batched backward is far
    slower for wide encoders (``benchmarks/bench_measures.py --part encoder``). ``fn`` must treat
    the rows of a batch independently (no batch statistics). The result is detached (not
    differentiable).

    Parameters
    ----------
    fn : callable
        Map from ``(B, q)`` to ``(B, m)`` tensors: ``m = q`` for a dynamics, any ``m`` for
        e.g. an encoder.
    y : array-like or torch.Tensor, shape (n_samples, q)
        Points. Arrays are converted to the dtype and device of ``fn``'s parameters (float64
        when it has none); tensors are used as they are.

    Returns
    -------
    torch.Tensor, shape (n_samples, m, q)
        ``J[b, i, j] = ∂F_i/∂y_j`` at ``y_b``.

    Raises
    ------
    InputError
        ``y`` is not a finite 2-D batch, or the Jacobians are not of shape ``(n_samples, m, q)``.
    """
    import torch

    y = _as_tensor(y, fn, "y")
    n, q = y.shape
    with torch.no_grad():
        m = fn(y[:1]).shape[-1] if n else q
    own = getattr(fn, "batched_jacobian", None)
    if own is None:  # rows are independent: copy i of the batch carries output i's gradients

        def own(v: torch.Tensor) -> torch.Tensor:
            with torch.enable_grad():
                copies = v.repeat(m, 1).requires_grad_(True)  # row i * len(v) + b is point b for output i
                out = fn(copies)
                if out.ndim != 2 or out.shape != (m * len(v), m):
                    return out.new_empty(0, 0, 0)  # not a row-by-row (B, m) map: rejected below
                picked = out.view(m, len(v), m).diagonal(dim1=0, dim2=2)  # (len(v), m): output i of copy i
                used = picked.requires_grad  # False for a map that does not depend on its input
                grad = torch.autograd.grad(picked.sum(), copies, allow_unused=True)[0] if used else None
            if grad is None:
                return out.new_zeros(len(v), m, q)
            return grad.view(m, len(v), q).transpose(0, 1)

    with torch.no_grad():
        chunk = max(1, MAX_JACOBIAN_ENTRIES // max(1, m * q))
        parts = [own(y[i : i + chunk]).detach() for i in range(0, max(n, 1), chunk)]
    jac = torch.cat(parts) if len(parts) > 1 else parts[0]
    if jac.ndim != 3 or jac.shape[0] != n or jac.shape[2] != q:
        raise InputError(
            f"fn must map (B, {q}) to (B, m) tensors row by row; got Jacobians of shape {tuple(jac.shape)} for {n} "
            f"points of dimension {q}."
        )
    return jac


def logabsdet_jacobian(fn: Callable[[torch.Tensor], torch.Tensor], y: Any) -> torch.Tensor:
    r"""``ln|det ∂F(y_b)/∂y|`` for a batch of points, computed in float64.

    .. math:: \ell_b = \ln\lvert\det J_F(y_b)\rvert \quad (\text{``-inf`` where } J_F \text{ is singular})

    Uses ``fn.logabsdet_jacobian(y)`` when the map has one (e.g. the determinant-lemma path
    of :class:`~ndx_causal_emergence.models.dynamics.ResidualMLP`), otherwise
    ``slogdet`` of :func:`batched_jacobian`.

    Parameters
    ----------
    fn : callable
        Map from ``(B, q)`` to ``(B, q)`` tensors (see :func:`batched_jacobian`).
    y : array-like or torch.Tensor, shape (n_samples, q)
        Points.

    Returns
    -------
    torch.Tensor, shape (n_samples,)
        Log absolute determinants (float64, detached).
    """
    import torch

    own = getattr(fn, "logabsdet_jacobian", None)
    if own is None:
        jac = batched_jacobian(fn, y)
        n, m, q = jac.shape
        if m != q:
            raise InputError(
                f"fn must map (B, {q}) to (B, {q}) so that its Jacobian is square; got Jacobians of shape "
                f"{tuple(jac.shape)} for {n} points of dimension {q}."
            )
        with one_thread():  # see measures/lapack.py
            return torch.linalg.slogdet(jac.to(torch.float64)).logabsdet
    y = _as_tensor(y, fn, "y")
    n, q = y.shape
    chunk = max(1, MAX_JACOBIAN_ENTRIES // (q * q))
    with torch.no_grad():
        out = torch.cat([own(y[i : i + chunk]).detach().to(torch.float64) for i in range(0, n, chunk)])
    if tuple(out.shape) != (n,):
        raise InputError(f"fn.logabsdet_jacobian must return one value per point ({n}), got shape {tuple(out.shape)}.")
    return out


@renamed_keywords(n_samples="n_monte_carlo")
def gaussian_ei(
    fn: Callable[[torch.Tensor], torch.Tensor],
    sigma2: Any,
    *,
    L: float = 1.0,
    n_monte_carlo: int = 1000,
    seed: int = 0,
    clip: bool = False,
    samples: Any = None,
    weights: Any = None,
    box_entropy: bool = True,
) -> EIResult:
    r"""Effective information of ``y' = F(y) + ε``, ``ε ~ N(0, diag(σ²))``, under ``y ~ U([-L, L]^q)``.

    .. math::

        \mathrm{EI} = -\tfrac{q}{2}(1 + \ln 2\pi) - \tfrac12\sum_i \ln\sigma_i^2
        + q\ln 2L + \frac{\sum_b w_b \ln\lvert\det J_F(y_b)\rvert}{\sum_b w_b}

    with ``y_b`` uniform in the box (``w_b = 1``) unless ``samples`` are given.

    Parameters
    ----------
    fn : callable
        The (deterministic part of the) dynamics, ``(B, q) -> (B, q)`` torch tensors. Its
        ``batched_jacobian`` method is used when present (see :func:`batched_jacobian`).
    sigma2 : array-like, shape (q,)
        Per-dimension noise variances (e.g. from :func:`estimate_sigma2`); all > 0.
    L : float, default 1.0
        Half-width of the intervention box.
    n_monte_carlo : int, default 1000
        Number of uniform Monte Carlo samples of the Jacobian term.
    seed : int, default 0
        Seed of the uniform samples.
    clip : bool, default False
        Clip EI (and J) at 0. The reported value is unclipped by default (docs/method.md §3.1).
    samples : array-like, shape (n_samples, q), optional
        Points replacing the uniform samples (``jacobian_domain="data"``). The ``q ln 2L``
        entropy of the intervention is kept, so only the Jacobian average changes.
    weights : array-like, shape (n_samples,), optional
        Non-negative weights of ``samples`` (e.g. IPW weights); requires ``samples``.
    box_entropy : bool, default True
        Include the entropy ``q ln 2L`` of the intervention in the Jacobian term. False with
        ``clip=True`` is the official mice code's EI (arXiv:2509.10891), which leaves it out;
        both are reported as computed, so they differ by ``ln 2L`` per dimension where EI > 0.

    Returns
    -------
    EIResult
        EI, J, both terms, ``q`` and ``L`` in nats.

    Raises
    ------
    InputError
        Non-positive or non-finite ``sigma2``, ``L`` or weights, badly shaped samples, or a map
        whose output dimension differs from ``q``.

    Examples
    --------
    >>> import torch
    >>> res = gaussian_ei(lambda y: 0.9 * y, [0.01, 0.01])
    >>> round(res.ei, 6), round(res.dei, 6)
    (2.942866, 1.471433)
    """
    import torch

    s2 = _check_sigma2(sigma2)
    q = s2.shape[0]
    L = as_positive(L, "L")
    if samples is None:
        if weights is not None:
            raise InputError("weights apply to given samples; pass samples= as well, or drop weights.")
        n_monte_carlo = as_count(n_monte_carlo, "n_monte_carlo")
        gen = torch.Generator().manual_seed(int(seed))
        dtype, device = _dtype_device(fn, q)
        unit = torch.rand(n_monte_carlo, q, generator=gen, dtype=torch.float64)
        y = ((2.0 * unit - 1.0) * L).to(dtype=dtype, device=device)
    else:
        y = _as_tensor(samples, fn, "samples")
        if y.shape[1] != q:
            raise InputError(f"samples must have q = {q} columns (the length of sigma2), got shape {tuple(y.shape)}.")
    logdet = logabsdet_jacobian(fn, y).cpu().numpy()
    if weights is None:
        mean_logdet = float(np.mean(logdet))
    else:
        w = as_weights(weights, logdet.shape[0])
        mean_logdet = float(np.sum(w * logdet) / np.sum(w))
    return _result(noise_term(s2), mean_logdet, q, L, clip, logdet, box_entropy)


def linear_gaussian_ei(A: Any, sigma2: Any, L: float = 1.0) -> EIResult:
    r"""Analytic EI of the linear Gaussian dynamics ``y' = A y + ε`` (docs/method.md §3.5).

    .. math::

        \mathrm{EI} = q\ln 2L + \ln\lvert\det A\rvert - \tfrac{q}{2}(1 + \ln 2\pi) - \tfrac12\sum_i \ln\sigma_i^2

    Parameters
    ----------
    A : array-like, shape (q, q)
        The linear map.
    sigma2 : float or array-like, shape (q,)
        Noise variances (a scalar applies to every dimension).
    L : float, default 1.0
        Half-width of the intervention box.

    Returns
    -------
    EIResult
        In nats.

    Examples
    --------
    >>> res = linear_gaussian_ei(0.9 * np.eye(2), 0.01)
    >>> round(res.ei, 6), round(res.dei, 6)
    (2.942866, 1.471433)
    """
    a = as_array(A, "A", ndim=2)
    if a.shape[0] != a.shape[1]:
        raise InputError(f"A must be a square (q, q) matrix, got shape {a.shape}.")
    q = a.shape[0]
    s2 = to_numpy(sigma2, "sigma2")
    s2 = _check_sigma2(np.full(q, float(s2)) if s2.ndim == 0 else s2, q)
    L = as_positive(L, "L")
    return _result(noise_term(s2), float(np.linalg.slogdet(a)[1]), q, L, clip=False)


def estimate_sigma2(
    prediction: Any,
    target: Any,
    *,
    weights: Any = None,
    convention: Literal["mse", "mae", "rmse"] = "mse",
) -> np.ndarray:
    r"""Per-dimension noise variance of a one-step prediction, IPW-weighted (docs/method.md §3.1).

    .. math:: \sigma_i^2 = \frac{\sum_n w_n (\hat y_{n,i} - y_{n,i})^2}{\sum_n w_n}

    Parameters
    ----------
    prediction, target : array-like or torch.Tensor, shape (n_samples, q)
        Predicted and observed next states.
    weights : array-like, shape (n_samples,), optional
        Non-negative weights (e.g. :func:`~ndx_causal_emergence.measures.ipw_weights` with
        ``clip=None``); uniform when omitted.
    convention : {"mse", "mae", "rmse"}, default "mse"
        ``"mse"``: the weighted mean squared residual (our default). ``"mae"``: the weighted
        mean absolute residual, used as a variance as in the published NIS+ code (parity with
        its SIR numbers). ``"rmse"``: the square root of the MSE, also used as a variance.

    Returns
    -------
    numpy.ndarray, shape (q,)
        Variances (float64).

    Examples
    --------
    >>> estimate_sigma2([[0.0, 1.0], [2.0, 1.0]], [[1.0, 1.0], [1.0, 3.0]])
    array([1., 2.])
    """
    pred = as_array(prediction, "prediction", ndim=2)
    targ = as_array(target, "target", ndim=2)
    if pred.shape != targ.shape:
        raise InputError(f"prediction and target must have the same shape, got {pred.shape} and {targ.shape}.")
    w = np.ones(pred.shape[0]) if weights is None else as_weights(weights, pred.shape[0])
    w = w / w.sum()
    resid = pred - targ
    if convention == "mse":
        return w @ resid**2
    if convention == "rmse":
        return np.sqrt(w @ resid**2)
    if convention == "mae":
        return w @ np.abs(resid)
    raise InputError(f"convention must be 'mse', 'mae' or 'rmse', got {convention!r}.")
