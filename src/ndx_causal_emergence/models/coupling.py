"""RealNVP affine coupling flows ψ for any input size (docs/method.md §2.1).

A coupling layer splits its input ``x`` of size ``d`` into a conditioning part ``x_A`` and a
transformed part ``x_B`` and maps

.. math::

    y_A = x_A, \\qquad y_B = x_B \\odot e^{s(x_A)} + t(x_A), \\qquad
    \\log|\\det \\partial y / \\partial x| = \\textstyle\\sum s(x_A),

with ``s`` and ``t`` two MLPs and ``s`` bounded by ``tanh`` (so each layer scales by at most
``e^{±1}``). Layers alternate which half is transformed: for an odd size ``d`` the halves are
``floor(d/2)`` and ``ceil(d/2)`` coordinates, so every coordinate is transformed and none is
dropped (the official code pads odd sizes and then drops one). Size 1 has nothing to condition
on: its flow is a learned scalar affine map ``y = x e^{s} + t``.

By default (``init="identity"``) the last layer of every ``s``/``t`` MLP starts at zero, so a new
flow is the identity. ``init="random"`` starts every layer as ``nn.Linear`` does, the first layer's
scale set by the layer's whole input size (the official mice code's ``s``/``t`` networks read the
whole masked input), so a new flow is a random invertible map, as in that code. The two MLPs of a
layer are evaluated as one batched product (:class:`TwinMLP`).

Two forms of the same flow (``form``): ``"affine"`` maps ``x`` with the layers above, first to
last; ``"inverse_affine"`` maps ``x`` with their inverses, ``x_B ← (x_B − t(x_A)) e^{−s(x_A)}``, last
layer first, and inverts with the layers above, as the official mice code's encoder and decoder
do (its ``InvertibleNN.f`` and ``.g``). The maps either form can reach are the same; the way
training moves through them is not (``t`` shifts before the scaling instead of after it). In both
forms the first layer applied transforms the second half of the coordinates, as in that code.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import InputError

__all__ = ["COUPLING_FORMS", "COUPLING_INITS", "AffineCoupling", "RealNVP", "ScalarAffine", "TwinMLP"]

#: How a coupling layer's ``s``/``t`` MLPs start: as the identity map, or random (the official mice code).
COUPLING_INITS = ("identity", "random")
#: Which map of the coupling layers a flow applies to its input: theirs, or their inverses (the official mice code).
COUPLING_FORMS = ("affine", "inverse_affine")


class TwinMLP(nn.Module):
    """The ``s`` and ``t`` MLPs of a coupling layer, evaluated together.

    Two independent MLPs (two hidden LeakyReLU layers each; ``s`` ends in ``tanh``), stored as
    stacked weights so that each layer of both is one batched matrix product. Layers start as
    ``nn.Linear`` does (uniform within ``±fan_in^-1/2``); with ``init="identity"`` the output
    layers start at zero. ``first_fan_in`` sets the first layer's scale (default ``n_in``).
    """

    def __init__(
        self, n_in: int, n_out: int, width: int, *, init: str = "identity", first_fan_in: int | None = None
    ) -> None:
        super().__init__()
        if init not in COUPLING_INITS:
            raise InputError(f"init must be one of {COUPLING_INITS}, got {init!r}.")
        shapes = [(n_in, width), (width, width), (width, n_out)]
        self.weights = nn.ParameterList(nn.Parameter(torch.empty(2, a, b)) for a, b in shapes)
        self.biases = nn.ParameterList(nn.Parameter(torch.empty(2, 1, b)) for _, b in shapes)
        fan_ins = [n_in if first_fan_in is None else first_fan_in, width, width]
        for fan_in, w, b in zip(fan_ins, self.weights, self.biases, strict=True):
            bound = fan_in**-0.5  # nn.Linear's default initialisation
            nn.init.uniform_(w, -bound, bound)
            nn.init.uniform_(b, -bound, bound)
        if init == "identity":
            nn.init.zeros_(self.weights[-1])
            nn.init.zeros_(self.biases[-1])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(s(x), t(x))`` for ``x`` of shape ``(B, n_in)``."""
        h = x.unsqueeze(0).expand(2, -1, -1)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = nn.functional.leaky_relu_(h)  # in place: baddbmm keeps no output for its gradient
        s, t = h.unbind(0)  # one view each; its gradient is one stack, not a zero-filled copy per index
        return torch.tanh(s), t


class AffineCoupling(nn.Module):
    """One affine coupling layer on ``dim >= 2`` inputs.

    Parameters
    ----------
    dim : int
        Input size (at least 2).
    hidden_width : int
        Width of the two hidden layers of the ``s`` and ``t`` MLPs.
    transform_first : bool
        Transform the first ``floor(dim/2)`` coordinates (conditioning on the rest) instead of
        the last ``ceil(dim/2)``.
    init : {"identity", "random"}
        Start as the identity map, or as a random one (:class:`TwinMLP`; the first layers of
        its MLPs scaled by ``dim``, as the official code's networks that read the masked input).
    """

    def __init__(self, dim: int, hidden_width: int, *, transform_first: bool, init: str = "identity") -> None:
        super().__init__()
        if dim < 2:
            raise InputError(f"an affine coupling layer needs dim >= 2, got {dim}; use ScalarAffine for size 1.")
        self.split = dim // 2
        self.transform_first = transform_first
        n_cond = dim - self.split if transform_first else self.split
        n_trans = dim - n_cond
        # the official networks read the whole masked input: with its start, the first layers are scaled by dim
        self.st = TwinMLP(n_cond, n_trans, hidden_width, init=init, first_fan_in=dim if init == "random" else None)

    def _parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        first, last = x.split([self.split, x.shape[1] - self.split], dim=1)  # gradient: one cat, not two copies
        return (last, first) if self.transform_first else (first, last)

    def _join(self, cond: torch.Tensor, trans: torch.Tensor) -> torch.Tensor:
        return torch.cat((trans, cond) if self.transform_first else (cond, trans), dim=1)

    def map(self, x: torch.Tensor, *, invert: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y, s)``: ``y_B = x_B e^{s} + t``, or with ``invert`` ``y_B = (x_B − t) e^{−s}``; ``s`` of shape
        ``(B, n_transformed)`` is the layer's log-scale, whose sum is ``± log|det ∂y/∂x|``."""
        cond, trans = self._parts(x)
        s, t = self.st(cond)
        return self._join(cond, (trans - t) * torch.exp(-s) if invert else trans * torch.exp(s) + t), s

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y, log|det J|)`` for a batch ``x`` of shape ``(B, dim)``."""
        y, s = self.map(x)
        return y, s.sum(dim=1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """Exact inverse of :meth:`forward`."""
        return self.map(y, invert=True)[0]


class ScalarAffine(nn.Module):
    """The flow of a size-1 input: ``y = x e^{s} + t`` with learned scalars (starts at the identity)."""

    def __init__(self) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(1))
        self.shift = nn.Parameter(torch.zeros(1))

    def map(self, x: torch.Tensor, *, invert: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y, s)``: ``y = x e^{s} + t``, or with ``invert`` ``y = (x − t) e^{−s}``; ``s`` of shape ``(B, 1)``."""
        y = (x - self.shift) * torch.exp(-self.log_scale) if invert else x * torch.exp(self.log_scale) + self.shift
        return y, self.log_scale.expand(x.shape[0], 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y, log|det J|)`` for a batch ``x`` of shape ``(B, 1)``."""
        y, s = self.map(x)
        return y, s.sum(dim=1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """Exact inverse of :meth:`forward`."""
        return self.map(y, invert=True)[0]


class RealNVP(nn.Module):
    """An invertible map of ``R^dim``: ``n_layers`` alternating affine couplings (a scalar affine map if ``dim = 1``).

    Parameters
    ----------
    dim : int
        Input (and output) size, at least 1.
    n_layers : int
        Number of coupling layers (ignored for ``dim = 1``).
    hidden_width : int
        Hidden width of each ``s``/``t`` MLP.
    init : {"identity", "random"}
        How the coupling layers start (:class:`AffineCoupling`); a size-1 flow always starts
        as the identity (the official code has none).
    form : {"affine", "inverse_affine"}
        Map ``x`` with the coupling layers, first to last, or with their inverses, last to first
        (the official mice code's encoder; the module docstring).

    Examples
    --------
    >>> import torch
    >>> flow = RealNVP(5, n_layers=4, hidden_width=16)
    >>> x = torch.randn(3, 5)
    >>> y, logdet = flow(x)
    >>> torch.allclose(flow.inverse(y), x)
    True
    """

    def __init__(
        self, dim: int, n_layers: int = 6, hidden_width: int = 64, *, init: str = "identity", form: str = "affine"
    ) -> None:
        super().__init__()
        if dim < 1 or n_layers < 1 or hidden_width < 1:
            raise InputError(
                f"RealNVP needs dim >= 1, n_layers >= 1 and hidden_width >= 1; got {dim}, {n_layers}, {hidden_width}."
            )
        if form not in COUPLING_FORMS:
            raise InputError(f"form must be one of {COUPLING_FORMS}, got {form!r}.")
        self.dim = dim
        self.form = form
        if dim == 1:
            self.layers = nn.ModuleList([ScalarAffine()])
        else:
            # the i-th layer applied to x transforms the second half when i is even, in both forms
            applied = range(n_layers) if form == "affine" else range(n_layers - 1, -1, -1)
            self.layers = nn.ModuleList(
                AffineCoupling(dim, hidden_width, transform_first=bool(i % 2), init=init) for i in applied
            )

    def _chain(self, x: torch.Tensor, *, invert: bool, logdet: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """The layers' maps first to last, or their inverses last to first, and the summed log-determinant
        (zeros when ``logdet`` is False: the decoder does not need it)."""
        total = x.new_zeros(x.shape[0])
        for layer in reversed(self.layers) if invert else self.layers:
            x, s = layer.map(x, invert=invert)
            if logdet:
                total = total + (-s if invert else s).sum(dim=1)
        return x, total

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Map ``x`` of shape ``(B, dim)`` to ``(y, log|det ∂y/∂x|)`` with shapes ``(B, dim)`` and ``(B,)``."""
        return self._chain(x, invert=self.form == "inverse_affine", logdet=True)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """``forward(x)[0]`` without summing the log-determinant (the encoder's use: it keeps only ``y``)."""
        return self._chain(x, invert=self.form == "inverse_affine", logdet=False)[0]

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """Exact inverse: ``x`` with ``forward(x)[0] == y``."""
        return self._chain(y, invert=self.form == "affine", logdet=False)[0]
