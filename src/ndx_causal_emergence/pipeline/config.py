"""Parameters of one analysis: a dataclass with presets, JSON and TOML round trips."""

from __future__ import annotations

import dataclasses
import inspect
import json
import tomllib
import warnings
from dataclasses import InitVar, dataclass, field
from pathlib import Path
from typing import Any

from ..deprecation import renamed_keys, warn_renamed
from ..errors import InputError

#: The model presets an analysis accepts: the keys of ``models.presets.PRESETS`` (listed here: no torch import).
PRESETS = ("fast", "fmri", "sir", "wang2025")
#: Old preset names an analysis still accepts (with a DeprecationWarning): ``models.presets.DEPRECATED_PRESETS``.
DEPRECATED_PRESETS = {"paper": "fmri"}
#: Old names of fields, accepted (with a FutureWarning from code and config files) and read from stored parameters.
RENAMED_FIELDS = {"n_samples": "n_monte_carlo", "cut": "q", "scales": "ladder"}
#: Fields that set how a job runs, not what it computes: outputs that differ only in them are the same analysis.
RUNTIME_FIELDS = ("threads",)


@dataclass(frozen=True)
class AnalysisConfig:
    """Everything that decides the result of an analysis (recorded in the file as JSON).

    Parameters
    ----------
    series : str, optional
        Path of the input series inside the file (``None``: the package chooses, preferring dF/F).
    conditions, condition_column : str, optional
        Intervals or events table and its label column giving per-frame condition labels.
    bin_width : float
        Bin width in seconds for spike ``Units``.
    ladder : list of int, optional
        Explicit scale ladder, the dimension of each scale (``[N, ..., 1]``; ``--ladder`` on the
        command line); ``None`` for the ladder ``d_{k+1} = floor(d_k / c)``. ``scales``, its old
        name, still works with a ``FutureWarning``.
    coarsening : int, optional
        The ladder's factor ``c`` (default 2; ``--coarsening`` on the command line).
    q : int, optional
        Dimension ``q`` of the ladder's top scale, its coarsest macro variable (default 1; ``--q``
        on the command line): the ladder stops before going below it and ends with it, as
        ``MultiscaleNISPlus(q=...)``. ``cut``, its old name, still works with a ``FutureWarning``.
    preset : {"fast", "fmri", "sir", "wang2025"}
        Model preset (``"paper"``, the old name of ``"fmri"``, is accepted with a DeprecationWarning and
        stored as ``"fmri"``).
    split_cycles : int
        Train/validation/test cycles the condition's frames are cut into (docs/method.md §1):
        each cycle is split 70/10/20 % in time order, so with several cycles every block samples
        the whole recording; ``1`` is one chronological split (fewer cycles are used when a cycle
        would hold under 200 frames).
    seed, n_seeds : int
        Fits use seeds ``seed, seed + 1, ..., seed + n_seeds - 1``.
    n_surrogates : int
        Surrogate refits (circular shifts per channel) for a further p-value of Delta J (0: none).
    n_bootstrap : int
        Moving-block bootstrap resamples of the test block per seed, for the intervals and
        p-values of J and Delta J.
    alpha : float
        Family-wise error rate (Holm over the macro scales) of the ``significant`` flag, and the
        level of the condition comparisons.
    min_effect : float
        Smallest Delta J (nats) reported as significant emergence: the tests are of Delta J >
        min_effect, above the estimator's bias on data without emergence (docs/method.md §3.6).
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    n_monte_carlo : int
        Monte Carlo draws (uniform in the intervention box) for the Jacobian term of EI; was
        ``n_samples``, which still works with a ``FutureWarning``.
    model_params : dict
        Further keyword arguments of :class:`~ndx_causal_emergence.models.MultiscaleNISPlus`.
    threads : int, optional
        torch and BLAS threads (``None``: the cores this process may use that other work leaves
        free; see :func:`~ndx_causal_emergence.runtime.threads.choose_threads`). It sets how the
        job runs, not its result (:data:`RUNTIME_FIELDS`).
    max_time : float, optional
        Seconds of training for all fits of the job; fits stop early (keeping their best
        validated state) when it runs out. ``None``: no limit.
    attribution : bool
        Attribute each scale's macro variables to the input channels (integrated gradients) and
        give their coverage C_d (docs/method.md §4). On wide recordings it is a long phase
        (1,024 channels × 1,000 frames: 763 s of a 995 s job,
        ``benchmarks/results/scaling/scaling_cpu_wide_2026-12-07.json``); ``False`` skips it, and
        the analysis then has no attribution table and no coverage columns.
    """

    series: str | None = None
    conditions: str | None = None
    condition_column: str | None = None
    bin_width: float = 0.1
    ladder: tuple[int, ...] | None = None
    coarsening: int | None = None
    q: int | None = None
    preset: str = "fast"
    split_cycles: int = 5
    seed: int = 0
    n_seeds: int = 1
    n_surrogates: int = 0
    n_bootstrap: int = 1000
    alpha: float = 0.05
    min_effect: float = 0.1
    device: str = "auto"
    n_monte_carlo: int = 1000
    model_params: dict[str, Any] = field(default_factory=dict)
    threads: int | None = None
    max_time: float | None = None
    attribution: bool = True
    n_samples: InitVar[int | None] = None  # the old name of n_monte_carlo
    cut: InitVar[int | None] = None  # the old name of q
    scales: InitVar[tuple[int, ...] | None] = None  # the old name of ladder

    def __post_init__(self, n_samples: int | None, cut: int | None, scales: tuple[int, ...] | None) -> None:
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        for old, value in (("n_samples", n_samples), ("cut", cut), ("scales", scales)):
            if value is not None:
                new = RENAMED_FIELDS[old]
                if getattr(self, new) != defaults[new]:
                    raise InputError(f"give {new!r} or its old name {old!r}, not both.")
                warn_renamed(old, new, "AnalysisConfig", stacklevel=4)
                object.__setattr__(self, new, value)
        if self.preset in DEPRECATED_PRESETS:
            new = DEPRECATED_PRESETS[self.preset]
            warnings.warn(f"preset {self.preset!r} is deprecated; it is now called {new!r}.", DeprecationWarning,
                          stacklevel=3)  # fmt: skip
            object.__setattr__(self, "preset", new)
        if self.preset not in PRESETS:
            raise InputError(f"preset must be one of {PRESETS}, got {self.preset!r}.")
        if self.split_cycles < 1:
            raise InputError(f"split_cycles must be >= 1, got {self.split_cycles}.")
        if self.n_seeds < 1:
            raise InputError(f"n_seeds must be >= 1, got {self.n_seeds}.")
        if self.n_surrogates < 0:
            raise InputError(f"n_surrogates must be >= 0, got {self.n_surrogates}.")
        if self.n_bootstrap < 100:
            raise InputError(f"n_bootstrap must be >= 100 (p-values need resolution), got {self.n_bootstrap}.")
        if not 0.0 < self.alpha < 1.0:
            raise InputError(f"alpha must lie in (0, 1), got {self.alpha}.")
        if self.min_effect < 0:
            raise InputError(f"min_effect must be >= 0 nats, got {self.min_effect}.")
        if self.ladder is not None and (self.coarsening is not None or self.q is not None):
            raise InputError("give either an explicit ladder or coarsening / q, not both.")
        if self.coarsening is not None and self.coarsening < 2:
            raise InputError(f"coarsening must be >= 2, got {self.coarsening}.")
        if self.q is not None and self.q < 1:
            raise InputError(f"q (the top scale's dimension) must be >= 1, got {self.q}.")
        if self.ladder is not None:
            object.__setattr__(self, "ladder", tuple(int(d) for d in self.ladder))
        if self.bin_width <= 0:
            raise InputError(f"bin_width must be > 0 seconds, got {self.bin_width}.")
        if self.model_params:
            from ..models import MultiscaleNISPlus

            known = set(inspect.signature(MultiscaleNISPlus.__init__).parameters) - {"self"}
            unknown = sorted(set(self.model_params) - known)
            if unknown:
                raise InputError(f"unknown model parameters {unknown}; known: {sorted(known)}.")
        if self.threads is not None and self.threads < 1:
            raise InputError(f"threads must be >= 1, got {self.threads}.")
        if self.max_time is not None and self.max_time <= 0:
            raise InputError(f"max_time must be > 0 seconds, got {self.max_time}.")
        if not isinstance(self.attribution, bool):
            raise InputError(f"attribution must be true or false, got {self.attribution!r}.")

    @property
    def seeds(self) -> list[int]:
        """The seeds of the fits."""
        return list(range(self.seed, self.seed + self.n_seeds))

    def model_kwargs(self, seed: int) -> dict[str, Any]:
        """Keyword arguments for ``MultiscaleNISPlus`` for one seed."""
        kwargs: dict[str, Any] = {"preset": self.preset, "seed": seed, "device": self.device}
        if self.ladder is not None:
            kwargs["ladder"] = list(self.ladder)
        if self.coarsening is not None:
            kwargs["coarsening"] = self.coarsening
        if self.q is not None:
            kwargs["q"] = self.q
        kwargs.update(self.model_params)
        return kwargs

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dictionary."""
        out = dataclasses.asdict(self)
        out["ladder"] = list(self.ladder) if self.ladder is not None else None
        return out

    def result_parameters(self) -> dict[str, Any]:
        """:meth:`to_dict` without the :data:`RUNTIME_FIELDS`: what two analyses must share to be the same."""
        return {k: v for k, v in self.to_dict().items() if k not in RUNTIME_FIELDS}

    def to_json(self) -> str:
        """JSON text (sorted keys), as stored in the NWB file."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, stored: bool = False) -> AnalysisConfig:
        """Build from a dictionary; unknown keys are an error naming the known ones.

        Old names (:data:`RENAMED_FIELDS`) are read as the new ones: with a ``FutureWarning``, or
        silently with ``stored=True`` (parameters written into a file, which keep their names).
        """
        known = {f.name for f in dataclasses.fields(cls)}
        values = renamed_keys(values, RENAMED_FIELDS, where=None if stored else "analysis parameters")
        unknown = set(values) - known
        if unknown:
            raise InputError(f"unknown analysis parameters {sorted(unknown)}; known: {sorted(known)}.")
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> AnalysisConfig:
        """Inverse of :meth:`to_json`."""
        from ..safety.text import parse_json

        return cls.from_dict(parse_json(text, "analysis parameters"))

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> AnalysisConfig:
        """Read a TOML file (keys as the dataclass fields); ``overrides`` win over the file."""
        try:
            values = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise InputError(f"cannot read config file {path}: {err}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(values)
