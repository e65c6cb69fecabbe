r"""Residual-MLP macro dynamics with closed-form Jacobians, and their affine conjugates (docs/method.md §2.1, §3.0).

``ResidualMLP`` is the forward (``F(y) = y + f(y)``) and reverse (``G``) dynamics of NIS+.
Its Jacobian is computed exactly from the layer weights and the activation derivatives with
batched matrix products:

.. math::

    J_F(y) = D_{\tanh}\Big(I + W_L\, D_{L-1} W_{L-1} \cdots D_1 W_1\Big), \qquad
    D_k = \operatorname{diag}\sigma'(z_k(y)),

where ``z_k`` are the pre-activations and ``D_tanh = diag(1 − F(y)²)`` only with ``squash=True``.
``AffineConjugate`` expresses a map in normalised coordinates ``u = (y − c) / h``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ..measures.lapack import one_thread

__all__ = ["AffineConjugate", "ResidualMLP"]


def _tanh_grad(z: torch.Tensor) -> torch.Tensor:
    return 1.0 - torch.tanh(z) ** 2


def _silu_grad(z: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


def _leaky_relu_grad(z: torch.Tensor) -> torch.Tensor:
    return torch.where(z > 0, torch.ones_like(z), torch.full_like(z, _LEAKY_SLOPE))


_LEAKY_SLOPE = 0.01  # torch's default negative slope
_ACTIVATIONS = {
    "tanh": (torch.tanh, _tanh_grad),
    "silu": (nn.functional.silu, _silu_grad),
    "leaky_relu": (nn.functional.leaky_relu, _leaky_relu_grad),
}


class ResidualMLP(nn.Module):
    r"""Residual dynamics ``F(y) = y + f(y)`` (or ``tanh(y + f(y))``) with an MLP ``f``.

    ``f`` is ``Linear(dim, H) → σ → [Linear(H, H) → σ] × (n_hidden − 1) → Linear(H, dim)``
    with a smooth activation ``σ``, so that the Jacobian is meaningful everywhere (``leaky_relu``,
    the official mice code's choice, is piecewise linear: its Jacobian is exact almost everywhere).

    Parameters
    ----------
    dim : int
        Dimension ``q`` of the state.
    hidden_width : int, default 64
        Width ``H`` of the hidden layers.
    n_hidden : int, default 2
        Number of hidden layers (≥ 1).
    squash : bool, default False
        Apply ``tanh`` to the output (as in the official SIR and fMRI code).
    activation : {"tanh", "silu", "leaky_relu"}, default "tanh"
        Hidden activation (``leaky_relu``: negative slope 0.01).

    Examples
    --------
    >>> net = ResidualMLP(3, hidden_width=8).double()
    >>> net.batched_jacobian(torch.zeros(5, 3, dtype=torch.float64)).shape
    torch.Size([5, 3, 3])
    """

    def __init__(
        self,
        dim: int,
        hidden_width: int = 64,
        n_hidden: int = 2,
        squash: bool = False,
        activation: Literal["tanh", "silu", "leaky_relu"] = "tanh",
    ) -> None:
        super().__init__()
        for name, value in (("dim", dim), ("hidden_width", hidden_width), ("n_hidden", n_hidden)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise InputError(f"{name} must be an integer >= 1, got {value!r}.")
        if activation not in _ACTIVATIONS:
            raise InputError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}.")
        self.dim = int(dim)
        self.squash = bool(squash)
        self.activation = activation
        self.hidden_width = int(hidden_width)
        widths = [self.dim] + [int(hidden_width)] * int(n_hidden) + [self.dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))

    def _residual(self, y: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Pre-activations of the hidden layers and ``f(y)``."""
        act = _ACTIVATIONS[self.activation][0]
        *hidden, last = self.layers  # unpacked: a slice of a ModuleList builds a new ModuleList at every call
        pre = []
        h = y
        for layer in hidden:
            z = layer(h)
            pre.append(z)
            h = act(z)
        return pre, last(h)

    def _check_batch(self, y: torch.Tensor) -> None:
        if y.ndim != 2 or y.shape[1] != self.dim:
            raise InputError(f"y must have shape (B, {self.dim}), got {tuple(y.shape)}.")

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """``F(y)`` for a batch ``y`` of shape ``(B, dim)``."""
        out = y + self._residual(y)[1]
        return torch.tanh(out) if self.squash else out

    def _jacobian_t(self, y: torch.Tensor) -> torch.Tensor:
        """Transposed Jacobians ``J_F(y_b)^T``, contiguous, shape ``(B, dim, dim)``."""
        self._check_batch(y)
        grad = _ACTIVATIONS[self.activation][1]
        pre, f = self._residual(y)
        # mt = (D_k W_k ... D_1 W_1)^T, shape (B, dim, H): each step is one GEMM of (B·dim, H) by (H, H)
        mt = self.layers[0].weight.T * grad(pre[0]).unsqueeze(1)
        for layer, z in zip(self.layers[1:-1], pre[1:], strict=True):
            mt = torch.matmul(mt, layer.weight.T) * grad(z).unsqueeze(1)
        jac_t = torch.matmul(mt, self.layers[-1].weight.T)
        jac_t = jac_t + torch.eye(self.dim, dtype=jac_t.dtype, device=jac_t.device)
        if self.squash:  # J = diag(1 - F²) (I + J_f): scales the columns of J^T
            jac_t = jac_t * (1.0 - torch.tanh(y + f) ** 2).unsqueeze(1)
        return jac_t

    def batched_jacobian(self, y: torch.Tensor) -> torch.Tensor:
        """Exact Jacobians ``∂F/∂y`` at a batch of points, shape ``(B, dim, dim)``, from the weights in closed form."""
        return self._jacobian_t(y).transpose(1, 2)

    def logabsdet_jacobian(self, y: torch.Tensor) -> torch.Tensor:
        r"""``ln|det ∂F/∂y|`` at a batch of points, shape ``(B,)``, float64.

        When ``dim`` exceeds the hidden width ``H``, the determinant lemma gives an ``H × H``
        determinant instead of a ``dim × dim`` one (``M = D_{L-1} W_{L-1} ⋯ D_1 W_1``):

        .. math::

            \det(I_q + W_L M) = \det(I_H + M W_L), \qquad
            M W_L = D_{L-1} W_{L-1} \cdots D_1 (W_1 W_L),

        and ``squash`` adds ``Σ_i ln(1 − F_i²)``, evaluated stably as ``2(ln 2 − |a| − softplus(−2|a|))``.
        """
        if self.dim <= self.hidden_width:  # det J^T = det J, and slogdet is faster on contiguous input
            with one_thread():  # see measures/lapack.py
                return torch.linalg.slogdet(self._jacobian_t(y).to(torch.float64)).logabsdet
        self._check_batch(y)
        grad = _ACTIVATIONS[self.activation][1]
        pre, f = self._residual(y)
        core = self.layers[0].weight @ self.layers[-1].weight  # W_1 W_L, (H, H), shared by the batch
        mt = core.T * grad(pre[0]).unsqueeze(1)  # (D_1 W_1 W_L)^T
        for layer, z in zip(self.layers[1:-1], pre[1:], strict=True):
            mt = torch.matmul(mt, layer.weight.T) * grad(z).unsqueeze(1)
        eye = torch.eye(self.hidden_width, dtype=torch.float64, device=mt.device)
        with one_thread():
            logdet = torch.linalg.slogdet(eye + mt.to(torch.float64)).logabsdet
        if self.squash:
            a = (y + f).to(torch.float64).abs()
            logdet = logdet + (2.0 * (math.log(2.0) - a - nn.functional.softplus(-2.0 * a))).sum(dim=1)
        return logdet


class AffineConjugate(nn.Module):
    r"""A map seen in affine coordinates ``u = A(y) = ((y − c) V) / h`` (docs/method.md §3.0).

    .. math::

        \tilde F(u) = A\big(F(A^{-1}(u))\big), \qquad
        J_{\tilde F}(u) = \operatorname{diag}(1/h)\, V^\top J_F(A^{-1} u)\, V \operatorname{diag}(h)

    with ``V`` orthogonal (principal axes; the identity by default, i.e. per-dimension
    coordinates), so ``ln|det J|`` is unchanged while residuals (and hence σ²) are measured
    along the axes in units of ``h``.

    Parameters
    ----------
    fn : callable
        The map ``F`` on ``(B, q)`` tensors (an ``nn.Module`` is registered as a submodule).
        Its ``batched_jacobian`` is used when it has one, else ``torch.func`` autograd.
    center : array-like or torch.Tensor, shape (q,)
        ``c``.
    half_range : array-like or torch.Tensor, shape (q,)
        ``h`` (all > 0).
    axes : array-like or torch.Tensor, shape (q, q), optional
        ``V``, an orthogonal matrix whose columns are the new axes (default: the identity).

    Examples
    --------
    >>> net = ResidualMLP(2, hidden_width=4).double()
    >>> conj = AffineConjugate(net, [0.5, -1.0], [2.0, 0.1])
    >>> conj(torch.zeros(3, 2, dtype=torch.float64)).shape
    torch.Size([3, 2])
    """

    center: torch.Tensor
    half_range: torch.Tensor
    axes: torch.Tensor | None

    def __init__(
        self, fn: Callable[[torch.Tensor], torch.Tensor], center: Any, half_range: Any, axes: Any = None
    ) -> None:
        super().__init__()
        c = torch.as_tensor(np.asarray(_cpu(center), dtype=np.float64))
        h = torch.as_tensor(np.asarray(_cpu(half_range), dtype=np.float64))
        if c.ndim != 1 or h.shape != c.shape:
            raise InputError(
                f"center and half_range must be vectors of the same length q, got shapes {tuple(c.shape)} and "
                f"{tuple(h.shape)}."
            )
        if not (torch.isfinite(c).all() and torch.isfinite(h).all() and (h > 0).all()):
            raise InputError(f"center must be finite and half_range finite and > 0, got {c.tolist()}, {h.tolist()}.")
        v = None
        if axes is not None:
            v = torch.as_tensor(np.asarray(_cpu(axes), dtype=np.float64))
            eye = torch.eye(c.shape[0], dtype=v.dtype)
            if v.shape != eye.shape or not torch.allclose(v.T @ v, eye, atol=1e-6):
                raise InputError(f"axes must be an orthogonal ({c.shape[0]}, {c.shape[0]}) matrix.")
        self.fn = fn
        self.register_buffer("center", c)
        self.register_buffer("half_range", h)
        self.register_buffer("axes", v)

    @classmethod
    def from_percentiles(
        cls, fn: Callable[[torch.Tensor], torch.Tensor], data: Any, *, lower: float = 1.0, upper: float = 99.0
    ) -> AffineConjugate:
        """Conjugate sending the ``lower`` and ``upper`` percentiles of ``data`` (n, q) per dimension to −1 and +1."""
        arr = np.asarray(_cpu(data), dtype=np.float64)
        if arr.ndim != 2 or arr.shape[0] < 2 or not np.all(np.isfinite(arr)):
            raise InputError(f"data must be a finite (n_samples >= 2, q) array, got shape {arr.shape}.")
        if not 0.0 <= lower < upper <= 100.0:
            raise InputError(f"need 0 <= lower < upper <= 100, got lower={lower}, upper={upper}.")
        lo, hi = np.percentile(arr, [lower, upper], axis=0)
        if np.any(hi <= lo):
            raise InputError(
                f"dimensions {np.flatnonzero(hi <= lo).tolist()} of data are constant between the {lower}th and "
                f"{upper}th percentiles; drop them or fit the map on varying data."
            )
        return cls(fn, (hi + lo) / 2.0, (hi - lo) / 2.0)

    def normalize(self, y: torch.Tensor) -> torch.Tensor:
        """``A(y) = ((y − c) V) / h``."""
        centred = y - self.center.to(y)
        return (centred if self.axes is None else centred @ self.axes.to(y)) / self.half_range.to(y)

    def denormalize(self, u: torch.Tensor) -> torch.Tensor:
        """``A⁻¹(u) = c + (h u) Vᵀ``."""
        scaled = self.half_range.to(u) * u
        return self.center.to(u) + (scaled if self.axes is None else scaled @ self.axes.to(u).T)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """``F̃(u) = A(F(A⁻¹(u)))`` for a batch ``u`` of shape ``(B, q)``."""
        return self.normalize(self.fn(self.denormalize(u)))

    def batched_jacobian(self, u: torch.Tensor) -> torch.Tensor:
        """Jacobians ``diag(1/h) Vᵀ J_F(A⁻¹ u) V diag(h)``, shape ``(B, q, q)``."""
        from ..measures.ei import batched_jacobian

        h = self.half_range.to(u)
        jac = batched_jacobian(self.fn, self.denormalize(u))
        if self.axes is not None:
            v = self.axes.to(jac)
            jac = v.T @ jac @ v
        return jac * h.unsqueeze(0) / h.unsqueeze(1)

    def logabsdet_jacobian(self, u: torch.Tensor) -> torch.Tensor:
        """``ln|det J_F(A⁻¹ u)|`` (the conjugation leaves it unchanged), shape ``(B,)``, float64."""
        from ..measures.ei import logabsdet_jacobian

        return logabsdet_jacobian(self.fn, self.denormalize(u))


def _cpu(x: Any) -> Any:
    """Tensors to CPU numpy (detached); anything else unchanged."""
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x
