"""What the extension's containers hold, as plain data: the writer takes these, the reader returns them.

:func:`~ndx_causal_emergence.nwb.write.add_analyses` turns an :class:`AnalysisContent` into a
``CausalEmergenceAnalysis`` (an :class:`AppliedContent` into an ``AppliedModelAnalysis``), and
:func:`~ndx_causal_emergence.nwb.read_results.read_analyses` turns each stored
``CausalEmergenceAnalysis`` back into an :class:`AnalysisContent`. Nothing here is a pynwb object
or a torch model: DataFrames, arrays, JSON text and ``{name: array}`` tensors only, so the
pipeline builds and reads results without touching NWB.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class StoredModel:
    """A learned model as data: its name, JSON architecture and tensors.

    ``object_id`` is the ``LearnedDynamicsModel``'s object id in the file it was read from (empty
    before it is written).
    """

    name: str
    description: str
    model_class: str
    architecture: str
    tensors: dict[str, Any]
    framework: str = "torch"
    framework_version: str = ""
    object_id: str = ""


@dataclass(frozen=True)
class InputLinks:
    """Objects of the input the results point to: the series, and the ROI/unit table of its channels.

    ``roi_indices`` holds the row of that table (or of the electrode table) of every channel of
    the series, in channel order; ``None`` where the channels are plain columns.
    """

    series_object_id: str
    roi_table_object_id: str | None = None
    roi_indices: Sequence[int] | None = None


@dataclass
class AnalysisContent:
    """Everything one ``CausalEmergenceAnalysis`` holds, as plain data.

    ``macro_variables`` holds one ``(scale, data (T, d), timestamps (T,))`` per scale;
    ``provenance`` the fields of :class:`~ndx_causal_emergence.AnalysisProvenance`;
    ``dropped_channels`` one ``(channel id, reason)`` per input channel left out. ``module`` (the
    processing module) and ``links`` (the series and channel table it points to) are filled when
    read from a file; the writer chooses the module from the series and takes the links apart.
    """

    name: str
    condition: str
    method: str
    parameters: str
    seeds: Sequence[int]
    intervals: np.ndarray
    emergent_complexity: float
    emergent_complexity_normalized: float
    emergence: pd.DataFrame
    provenance: dict[str, str]
    macro_variables: list[tuple[int, np.ndarray, np.ndarray]] = field(default_factory=list)
    models: list[StoredModel] = field(default_factory=list)
    fixed_points: pd.DataFrame | None = None
    attribution: pd.DataFrame | None = None
    transitions: pd.DataFrame | None = None
    comparisons: pd.DataFrame | None = None
    diagnostics: pd.DataFrame | None = None
    dropped_channels: list[tuple[Any, str]] = field(default_factory=list)
    module: str = ""
    links: InputLinks | None = None


@dataclass
class AppliedContent:
    """One ``AppliedModelAnalysis`` as plain data: the macro variables of a recording under a stored model.

    ``macro_variables`` as in :class:`AnalysisContent`; ``provenance`` the fields of
    :class:`~ndx_causal_emergence.AnalysisProvenance`, with ``model_file``, ``model_analysis``,
    ``model_name`` (and ``model_digest``, ``model_object_id``) naming the model applied.
    """

    name: str
    model_condition: str
    provenance: dict[str, str]
    macro_variables: list[tuple[int, np.ndarray, np.ndarray]] = field(default_factory=list)


__all__ = ["AnalysisContent", "AppliedContent", "InputLinks", "StoredModel"]
