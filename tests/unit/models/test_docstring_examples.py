"""The examples in the docstrings of the model modules and the synthetic generators run."""

from __future__ import annotations

import doctest

import pytest
import torch

from ndx_causal_emergence.data import synthetic
from ndx_causal_emergence.models import coupling, estimator, multiscale

torch.set_num_threads(1)


@pytest.mark.parametrize("module", [coupling, multiscale, estimator, synthetic], ids=lambda m: m.__name__)
def test_docstring_examples(module) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
