"""Seeded draws from torch's global generator, one thread at a time.

``nn.Linear`` and ``nn.init`` draw a new layer's weights from torch's global CPU generator. A fit
builds its model under ``torch.manual_seed(seed)`` inside :func:`torch.random.fork_rng`, so the
model depends on the seed only; but two fits building at once in two threads of one process (a
Dask worker with several threads, a user's thread pool) would interleave their draws from the one
generator, and each would get weights that depend on the other's timing. :func:`seeded` holds a
process-wide lock for the block, so concurrent fits get the weights they get one after the other.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import torch

__all__ = ["seeded"]

_GLOBAL_GENERATOR = threading.Lock()


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the block with torch's global CPU generator seeded with ``seed``, alone, and restore it after."""
    with _GLOBAL_GENERATOR, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
