"""Deprecated module: the converters moved to :mod:`ndx_causal_emergence.convert`, and
``write_long_ophys_nwb`` to :mod:`ndx_causal_emergence.testing`. Importing a name from here still
works, with a ``DeprecationWarning`` naming the new place.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

_MOVED = {
    "caiman_to_nwb": "ndx_causal_emergence.convert",
    "extract_to_nwb": "ndx_causal_emergence.convert",
    "suite2p_to_nwb": "ndx_causal_emergence.convert",
    "triplett_to_nwb": "ndx_causal_emergence.convert",
    "write_long_ophys_nwb": "ndx_causal_emergence.testing",
}

__all__ = sorted(_MOVED)


def __getattr__(name: str) -> Any:
    """The moved function ``name``, with a warning that says where to import it from."""
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"ndx_causal_emergence.testing.convert is deprecated: import {name} from {_MOVED[name]} instead.",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(_MOVED[name]), name)
