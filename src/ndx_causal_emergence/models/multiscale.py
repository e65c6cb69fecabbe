"""The torch model of (multiscale) NIS+: stacked shared encoders, per-scale dynamics, decoders (docs/method.md §2).

Scale ``k`` has ``d_k`` macro variables. Its encoder is the stack

.. math::

    y^{(0)} = \\chi_{d_0}(\\psi_0(x)), \\qquad y^{(k)} = \\chi_{d_k}(\\psi_k(y^{(k-1)})),

with ``ψ_0`` a RealNVP on the ``N`` input channels, ``ψ_k`` a RealNVP on ``d_{k-1}`` inputs and
``χ_d`` keeping the first ``d`` coordinates. Each scale has a forward dynamics
``F_k(y) = y + f_k(y)`` (optionally ``tanh``-squashed) and, for NIS+, a reverse dynamics
``G_k``. The decoder of scale ``k`` pads ``y^{(k)}`` back to ``d_{k-1}`` coordinates (noise of
standard deviation ``s``, or zeros for a deterministic decode) and applies ``ψ_k^{-1}``, then
the same down to ``ψ_0^{-1}``. A single-scale NIS(+) model is the ladder ``[q]``.

All scales are decoded in one pass: the rows of every scale that reach level ``k`` are
stacked and inverted through ``ψ_k`` together.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..deprecation import renamed_keywords
from ..errors import InputError
from .coupling import RealNVP
from .dynamics import ResidualMLP

__all__ = [
    "COUPLING_LAYOUTS", "EncoderMap", "MultiscaleModule", "PerScaleModule", "check_scales", "coupling_layers",
    "dyadic_ladder",
]  # fmt: skip

#: Ways of choosing the coupling layers of each encoder (see :func:`coupling_layers`).
COUPLING_LAYOUTS = ("uniform", "wang2025")
#: Layers of the official mice code's first (N → N) flow and of its flows reading more than 64 inputs.
_WANG2025_SHORT_FLOW = 4


@renamed_keywords(cut="q")
def dyadic_ladder(n_features: int, *, coarsening: int = 2, q: int = 1) -> list[int]:
    """The scale ladder ``d_0 = N, d_{k+1} = floor(d_k / c)``, ending at exactly ``q``.

    Parameters
    ----------
    n_features : int
        ``N``, the number of input channels.
    coarsening : int
        ``c >= 2``.
    q : int
        Dimension of the top scale (``1 <= q <= N``), its coarsest macro variable; the ladder
        stops before going below it and ends with ``q`` (``cut``, its old name, still works with
        a ``FutureWarning``).

    Returns
    -------
    list of int
        Strictly decreasing dimensions, first ``N``, last ``q``.

    Examples
    --------
    >>> dyadic_ladder(116)
    [116, 58, 29, 14, 7, 3, 1]
    >>> dyadic_ladder(116, q=4)
    [116, 58, 29, 14, 7, 4]
    """
    if coarsening < 2:
        raise InputError(f"need coarsening >= 2, got {coarsening}.")
    if not 1 <= q <= n_features:
        raise InputError(
            f"the top scale's dimension q={q} must be between 1 and the number of channels N={n_features}."
        )
    ladder = [n_features]
    while ladder[-1] // coarsening >= q:
        ladder.append(ladder[-1] // coarsening)
    if ladder[-1] != q:
        ladder.append(q)
    return ladder


def check_scales(scales: Sequence[int], n_features: int) -> list[int]:
    """Validate an explicit ladder: strictly decreasing positive ints, the first at most ``N``."""
    out = [int(s) for s in scales]
    if not out or out[0] > n_features or out[-1] < 1 or any(a <= b for a, b in zip(out, out[1:], strict=False)):
        raise InputError(
            f"scales must be strictly decreasing positive dimensions starting at most at N={n_features} "
            f"(e.g. [{n_features}, {max(n_features // 2, 1)}, 1]); got {list(scales)}."
        )
    return out


def coupling_layers(in_dims: Sequence[int], n_layers: int, layout: str = "uniform") -> list[int]:
    """Coupling layers of each encoder ``ψ_k`` reading ``in_dims[k]`` coordinates.

    ``"uniform"``: ``n_layers`` each. ``"wang2025"``: the layout of the official mice code
    (arXiv:2509.10891): 4 layers for ``ψ_0`` and for every encoder reading more than 64
    coordinates, ``n_layers`` (6 in its code) for the others.

    Examples
    --------
    >>> coupling_layers([100, 100, 50, 25], 6, "wang2025")
    [4, 4, 6, 6]
    """
    if layout == "uniform":
        return [int(n_layers)] * len(in_dims)
    if layout == "wang2025":
        return [_WANG2025_SHORT_FLOW if k == 0 or d > 64 else int(n_layers) for k, d in enumerate(in_dims)]
    raise InputError(f"coupling_layout must be one of {COUPLING_LAYOUTS}, got {layout!r}.")


class MultiscaleModule(nn.Module):
    """Encoders, forward and reverse dynamics of every scale.

    Parameters
    ----------
    n_features : int
        ``N`` input channels.
    scales : sequence of int
        Strictly decreasing ``d_0, ..., d_K`` with ``d_0 <= N``.
    n_coupling_layers : int or sequence of int
        Coupling layers of each RealNVP ``ψ_k`` (one number for all, or one per encoder).
    hidden_width : int
        Width of the coupling layers' MLPs.
    dynamics_width, dynamics_depth : int
        Width and number of hidden layers of ``F_k`` and ``G_k``.
    dynamics_activation : {"tanh", "silu", "leaky_relu"}
        Hidden activation of ``F_k`` and ``G_k``.
    squash : bool
        ``tanh`` on the forward dynamics output.
    squash_reverse : bool
        ``tanh`` on the reverse dynamics output too (official mice code).
    use_reverse : bool
        Build the reverse dynamics ``G_k`` (NIS+).
    coupling_init : {"identity", "random"}
        How the encoders start: as the identity, or as random invertible maps (the official
        mice code; :class:`~ndx_causal_emergence.models.coupling.AffineCoupling`).
    coupling_form : {"affine", "inverse_affine"}
        Whether the encoders apply their coupling layers' maps ``x e^{s} + t`` or their inverses
        ``(x − t) e^{−s}`` (the official mice code; :class:`~ndx_causal_emergence.models.coupling.RealNVP`);
        the decoder applies the other.

    Attributes
    ----------
    rotation : torch.Tensor (buffer)
        An orthogonal matrix applied to the input of the first encoder that drops coordinates
        (``ψ_1``, or ``ψ_0`` when ``d_0 < N``), identity until :meth:`set_rotation`. Flows start
        as the identity, so without it every coarse scale would start as the first ``d_k``
        input channels; the estimator sets it to the principal axes of the training data, so
        that they start as the top principal components (docs/method.md §2.2).
    """

    def __init__(
        self,
        n_features: int,
        scales: Sequence[int],
        *,
        n_coupling_layers: int | Sequence[int] = 6,
        hidden_width: int = 64,
        dynamics_width: int = 64,
        dynamics_depth: int = 2,
        dynamics_activation: str = "tanh",
        squash: bool = False,
        squash_reverse: bool = False,
        use_reverse: bool = True,
        coupling_init: str = "identity",
        coupling_form: str = "affine",
    ) -> None:
        super().__init__()
        self.n_features = int(n_features)
        self.scales = check_scales(scales, self.n_features)
        self.in_dims = [self.n_features, *self.scales[:-1]]
        n_dims = len(self.in_dims)
        layers = list(n_coupling_layers) if isinstance(n_coupling_layers, Sequence) else [n_coupling_layers] * n_dims
        if len(layers) != n_dims:
            raise InputError(f"need one coupling-layer count per encoder ({n_dims}), got {layers}.")
        encoders = (
            RealNVP(d, int(n), hidden_width, init=coupling_init, form=coupling_form)
            for d, n in zip(self.in_dims, layers, strict=True)
        )
        self.encoders = nn.ModuleList(encoders)

        def dynamics(d: int, squashed: bool) -> ResidualMLP:
            return ResidualMLP(d, hidden_width=dynamics_width, n_hidden=dynamics_depth, squash=squashed,
                               activation=dynamics_activation)  # fmt: skip

        self.forward_maps = nn.ModuleList(dynamics(d, squash) for d in self.scales)
        self.reverse_maps = nn.ModuleList(dynamics(d, squash_reverse) for d in self.scales) if use_reverse else None
        # the first level whose encoder keeps fewer coordinates than it reads
        self.rotated_level = next((k for k, (a, b) in enumerate(zip(self.in_dims, self.scales, strict=True)) if b < a),
                                  None)  # fmt: skip
        width = self.in_dims[self.rotated_level] if self.rotated_level is not None else 0
        self.register_buffer("rotation", torch.eye(width))

    def set_rotation(self, frames: torch.Tensor) -> None:
        """Set :attr:`rotation` to the principal axes (decreasing variance) of the encoded ``frames`` at its level."""
        if self.rotated_level is None:
            return
        with torch.no_grad():
            h = frames
            for k in range(self.rotated_level):
                h = self.level(h, k)
            centred = (h - h.mean(dim=0)).double()
            _, vectors = torch.linalg.eigh(centred.T @ centred)  # ascending eigenvalues
            self.rotation.copy_(vectors.flip(1).to(self.rotation.dtype))

    @property
    def n_scales(self) -> int:
        """Number of scales ``K + 1``."""
        return len(self.scales)

    def level(self, h: torch.Tensor, k: int) -> torch.Tensor:
        """``y^(k) = χ_{d_k}(ψ_k(h))`` from the latents ``h = y^(k−1)`` (the frames for ``k = 0``), rotated first
        at :attr:`rotated_level`: one level of the encoder."""
        if k == self.rotated_level:
            h = h @ self.rotation
        return self.encoders[k].transform(h)[:, : self.scales[k]]

    def encode(self, x: torch.Tensor, *, upto: int | None = None) -> list[torch.Tensor]:
        """Latents ``[y^(0), ..., y^(upto)]`` (all scales by default) of a batch ``x`` of shape ``(B, N)``."""
        last = self.n_scales - 1 if upto is None else upto
        out: list[torch.Tensor] = []
        h = x
        for k in range(last + 1):
            h = self.level(h, k)
            out.append(h)
        return out

    def _pad(self, y: torch.Tensor, width: int, noise_std: float, generator: torch.Generator | None) -> torch.Tensor:
        n_pad = width - y.shape[1]
        if n_pad == 0:
            return y
        if noise_std > 0:  # drawn on the CPU: the same noise whatever the device
            pad = (torch.randn(y.shape[0], n_pad, generator=generator) * noise_std).to(y.device, y.dtype)
        else:
            pad = y.new_zeros(y.shape[0], n_pad)
        return torch.cat((y, pad), dim=1)

    def decode(
        self,
        latents: Sequence[torch.Tensor | None],
        *,
        noise_std: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> list[torch.Tensor | None]:
        """Decode latents of several scales to micro space in one pass.

        Parameters
        ----------
        latents : sequence of Tensor or None
            ``latents[k]`` of shape ``(B_k, d_k)`` (``None``: skip scale ``k``); may be shorter
            than the ladder.
        noise_std : float
            Standard deviation of the padding of discarded coordinates (0: deterministic decode).
        generator : torch.Generator, optional
            CPU generator of the padding noise.

        Returns
        -------
        list of Tensor or None
            ``(B_k, N)`` micro states per scale (``None`` where skipped).
        """
        carry: torch.Tensor | None = None
        sizes: list[tuple[int, int]] = []  # (scale, rows) in the order the rows are stacked
        for k in reversed(range(len(latents))):
            block = latents[k]
            if block is not None:
                carry = block if carry is None else torch.cat((carry, block), dim=0)
                sizes.append((k, block.shape[0]))
            if carry is not None:
                carry = self.encoders[k].inverse(self._pad(carry, self.in_dims[k], noise_std, generator))
                if k == self.rotated_level:
                    carry = carry @ self.rotation.T
        out: list[torch.Tensor | None] = [None] * len(latents)
        if carry is not None:
            for (k, _), part in zip(sizes, torch.split(carry, [n for _, n in sizes]), strict=True):
                out[k] = part
        return out

    def step(self, latents: Sequence[torch.Tensor], *, lag: int = 1, reverse: bool = False) -> list[torch.Tensor]:
        """Apply ``F_k`` (or ``G_k`` with ``reverse=True``) ``lag`` times to each scale's latents."""
        maps = self.reverse_maps if reverse else self.forward_maps
        if maps is None:
            raise InputError("this model has no reverse dynamics (use_reverse=False).")
        out = []
        for k, y in enumerate(latents):
            for _ in range(lag):
                y = maps[k](y)
            out.append(y)
        return out


class PerScaleModule(nn.Module):
    """One :class:`MultiscaleModule` per scale, scale ``k`` read from its own copy (the official mice protocol).

    The official code's second stage trains a separate copy of the first-stage model for each
    scale (``stage2_per_scale=True``): scale ``k``'s encoders ``ψ_0..ψ_k`` and maps ``F_k``,
    ``G_k`` are those of ``parts[k]``, so the scales no longer share their encoders. The
    interface is that of :class:`MultiscaleModule` (``encode``, ``decode``, ``step``,
    ``forward_maps``, ``reverse_maps``).

    Parameters
    ----------
    parts : sequence of MultiscaleModule
        One module per scale, all with the same ladder.
    """

    def __init__(self, parts: Sequence[MultiscaleModule]) -> None:
        super().__init__()
        if not parts or len(parts) != parts[0].n_scales or any(m.scales != parts[0].scales for m in parts):
            raise InputError("need one MultiscaleModule per scale, all with the same ladder.")
        self.parts = nn.ModuleList(parts)
        self.n_features, self.scales, self.in_dims = parts[0].n_features, parts[0].scales, parts[0].in_dims

    @property
    def n_scales(self) -> int:
        """Number of scales ``K + 1``."""
        return len(self.scales)

    @property
    def forward_maps(self) -> list[nn.Module]:
        """``F_k`` of each scale, from its own part."""
        return [m.forward_maps[k] for k, m in enumerate(self.parts)]

    @property
    def reverse_maps(self) -> list[nn.Module] | None:
        """``G_k`` of each scale, from its own part (None without reverse dynamics)."""
        if self.parts[0].reverse_maps is None:
            return None
        return [m.reverse_maps[k] for k, m in enumerate(self.parts)]

    def encode(self, x: torch.Tensor, *, upto: int | None = None) -> list[torch.Tensor]:
        """Latents ``[y^(0), ..., y^(upto)]``, each through its own part's encoders (one pass per distinct part)."""
        last = self.n_scales - 1 if upto is None else upto
        deepest: dict[int, int] = {}  # a part shared by several scales is encoded once, to its deepest scale
        for k in range(last + 1):
            deepest[id(self.parts[k])] = k
        encoded = {key: self.parts[k].encode(x, upto=k) for key, k in deepest.items()}
        return [encoded[id(self.parts[k])][k] for k in range(last + 1)]

    def decode(
        self,
        latents: Sequence[torch.Tensor | None],
        *,
        noise_std: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> list[torch.Tensor | None]:
        """Decode each scale's latents through its own part (see :meth:`MultiscaleModule.decode`)."""
        return [
            None if y is None else self.parts[k].decode([None] * k + [y], noise_std=noise_std, generator=generator)[k]
            for k, y in enumerate(latents)
        ]

    step = MultiscaleModule.step  # each scale's F_k / G_k, the maps held the same way


class EncoderMap(nn.Module):
    """Differentiable ``x -> (y^(k) - c) / h``: encoder of one scale in normalised coordinates.

    With ``source = (j, c_j, h_j)``, a finer scale ``j < k`` of the same encoder, the map starts from that
    scale's normalised latents instead of the frames: ``u_j -> (y^(k) - c) / h`` through levels ``j + 1 .. k``
    (``y^(j) = u_j h_j + c_j``). The composition of the map of ``j`` and this one is the map of ``k``, which
    is how the attribution shares the Jacobian of the levels up to ``j`` between the scales (the chain rule).
    """

    def __init__(
        self,
        module: MultiscaleModule,
        scale: int,
        center: torch.Tensor,
        half_range: torch.Tensor,
        *,
        source: tuple[int, torch.Tensor, torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.module = module
        self.scale = scale
        self.register_buffer("center", center)
        self.register_buffer("half_range", half_range)
        if source is not None and not 0 <= source[0] < scale:
            raise InputError(f"the source scale must be one of the finer scales 0..{scale - 1}, got {source[0]}.")
        self.first = 0 if source is None else source[0] + 1
        if source is not None:
            self.register_buffer("source_center", source[1])
            self.register_buffer("source_half_range", source[2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised latents ``(B, d_k)`` of ``x``: frames ``(B, N)``, or the source scale's normalised latents."""
        h = x if self.first == 0 else x * self.source_half_range + self.source_center
        for k in range(self.first, self.scale + 1):
            h = self.module.level(h, k)
        return (h - self.center) / self.half_range
