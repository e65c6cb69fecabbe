"""The neurodata types of the ``ndx-causal-emergence`` NWB extension.

Most classes are generated from the schema with ``get_class``. Two are hand-written
subclasses of their generated class, because behaviour helps users there:

- :class:`MacroVariableSeries` checks that ``dimension`` matches the data and offers
  :meth:`~MacroVariableSeries.to_xarray`;
- :class:`LearnedDynamicsModel` converts to and from a plain ``{name: array}`` state
  dictionary (no torch needed) and parses its JSON architecture.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from hdmf.spec.namespace import YAMLSpecReader
from hdmf.utils import docval, get_docval, popargs
from pynwb import get_class, get_type_map, register_class

NAMESPACE = "ndx-causal-emergence"
_NS_FILE = f"{NAMESPACE}.namespace.yaml"


def _namespace_path() -> Path:
    """The namespace YAML: the copy packaged in the wheel, else the source tree's ``spec/``."""
    packaged = Path(str(files(__package__.rsplit(".", 1)[0]))) / "spec" / _NS_FILE
    if packaged.exists():
        return packaged
    return Path(__file__).resolve().parents[3] / "spec" / _NS_FILE


class _LibYAMLSpecReader(YAMLSpecReader):
    """hdmf's YAML spec reader with PyYAML's C loader (hdmf's pure-Python parser costs ~70 ms at import)."""

    def _load(self, path: str) -> dict:
        with open(path) as stream:
            return yaml.load(stream, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))

    def read_namespace(self, namespace_path: str) -> list:
        return self._load(namespace_path)["namespaces"]

    def read_spec(self, spec_path: str) -> dict:
        return self._load(str(Path(self.source) / spec_path))


def _load_namespace() -> None:
    path = _namespace_path()
    # same as pynwb.load_namespaces(path), with the faster reader
    get_type_map(copy=False).load_namespaces(str(path), reader=_LibYAMLSpecReader(indir=str(path.parent)))


_load_namespace()

ModelParameter = get_class("ModelParameter", NAMESPACE)
EmergenceTable = get_class("EmergenceTable", NAMESPACE)
ConditionComparisonTable = get_class("ConditionComparisonTable", NAMESPACE)
FixedPointTable = get_class("FixedPointTable", NAMESPACE)
AttributionTable = get_class("AttributionTable", NAMESPACE)
AnalysisProvenance = get_class("AnalysisProvenance", NAMESPACE)
CausalEmergenceAnalysis = get_class("CausalEmergenceAnalysis", NAMESPACE)
AppliedModelAnalysis = get_class("AppliedModelAnalysis", NAMESPACE)

_GeneratedMacroVariableSeries = get_class("MacroVariableSeries", NAMESPACE)
_GeneratedLearnedDynamicsModel = get_class("LearnedDynamicsModel", NAMESPACE)


@register_class("MacroVariableSeries", NAMESPACE)
class MacroVariableSeries(_GeneratedMacroVariableSeries):
    """Learned macro variables of one scale (time x variables).

    Hand-written to validate ``scale``/``dimension`` against the data when built, and to
    offer :meth:`to_xarray`.
    """

    @docval(*get_docval(_GeneratedMacroVariableSeries.__init__))
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not self._in_construct_mode:
            shape = np.shape(self.data)
            if len(shape) != 2:
                raise ValueError(
                    f"MacroVariableSeries '{self.name}': data must be 2-D (time x variables), got shape {shape}."
                )
            if shape[1] != self.dimension:
                raise ValueError(
                    f"MacroVariableSeries '{self.name}': dimension={self.dimension} but data has {shape[1]} "
                    "columns; pass dimension=data.shape[1]."
                )
            if self.scale < 0:
                raise ValueError(f"MacroVariableSeries '{self.name}': scale must be >= 0, got {self.scale}.")

    def to_xarray(self) -> Any:
        """The series as an ``xarray.DataArray`` with ``time`` (s) and ``variable`` coordinates."""
        import xarray as xr

        data = np.asarray(self.data[:])
        time = np.asarray(self.get_timestamps())
        return xr.DataArray(
            data,
            dims=("time", "variable"),
            coords={"time": time, "variable": np.arange(data.shape[1])},
            name=self.name,
            attrs={
                "scale": int(self.scale),
                "dimension": int(self.dimension),
                "unit": self.unit,
                "object_id": self.object_id,
            },
        )


def _as_stored(value: Any) -> np.ndarray:
    """``value`` as a ``ModelParameter`` holds it: float64 if it is float64 (fitted statistics), else float32."""
    array = np.asarray(value)
    return array.astype(np.float64 if array.dtype == np.float64 else np.float32, copy=False)


@register_class("LearnedDynamicsModel", NAMESPACE)
class LearnedDynamicsModel(_GeneratedLearnedDynamicsModel):
    """A learned model stored as data: JSON architecture plus one dataset per tensor.

    Hand-written for :meth:`from_state_dict`, :meth:`state_dict` and :attr:`architecture_dict`,
    which need no torch.
    """

    @docval(*get_docval(_GeneratedLearnedDynamicsModel.__init__))
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not self._in_construct_mode:
            try:
                json.loads(self.architecture)
            except json.JSONDecodeError as err:
                raise ValueError(f"LearnedDynamicsModel '{self.name}': architecture must be JSON ({err}).") from None

    @classmethod
    def from_state_dict(cls, state: dict[str, Any], **kwargs: Any) -> LearnedDynamicsModel:
        """Build from ``{parameter name: array or tensor}``; other arguments as the constructor's.

        Zero-dimensional tensors are stored with shape ``(1,)``; the architecture records the
        original shapes so :meth:`state_dict` restores them. Float64 values (fitted statistics)
        are stored as float64, everything else as float32.
        """
        arch = json.loads(popargs("architecture", kwargs) if "architecture" in kwargs else "{}")
        params, shapes = [], {}
        for key, value in state.items():
            if "/" in key:
                raise ValueError(f"parameter name {key!r} contains '/', which HDF5 cannot store as a name.")
            array = _as_stored(value.detach().cpu().numpy() if hasattr(value, "detach") else value)
            shapes[key] = list(array.shape)
            params.append(ModelParameter(name=key, data=array.reshape(-1) if array.ndim == 0 else array))
        arch["tensor_shapes"] = shapes
        return cls(architecture=json.dumps(arch, sort_keys=True), model_parameters=params, **kwargs)

    @property
    def architecture_dict(self) -> dict[str, Any]:
        """The architecture JSON as a dictionary."""
        return json.loads(self.architecture)

    def state_dict(self) -> dict[str, np.ndarray]:
        """The parameters as ``{name: numpy array}``, with their original shapes (float64 where stored so)."""
        shapes = self.architecture_dict.get("tensor_shapes", {})
        out = {}
        for name, param in self.model_parameters.items():
            array = _as_stored(param.data[()])
            out[name] = array.reshape(shapes[name]) if name in shapes else array
        return out


__all__ = [
    "NAMESPACE",
    "AnalysisProvenance",
    "AppliedModelAnalysis",
    "AttributionTable",
    "CausalEmergenceAnalysis",
    "ConditionComparisonTable",
    "EmergenceTable",
    "FixedPointTable",
    "LearnedDynamicsModel",
    "MacroVariableSeries",
    "ModelParameter",
]
