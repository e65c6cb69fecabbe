"""LU-based batched linear algebra kept on one thread.

The CPU build of torch 2.13 used here factorises a batch of 200 × 200 matrices wrongly when it
runs on two threads: ``torch.linalg.lu_factor`` returns zero pivots, ``torch.linalg.slogdet``
returns other values than on one thread (silently) and ``torch.linalg.solve`` fails with "Pivots
given to lu_solve must all be greater or equal to 1"; batches of 100 × 100 matrices came out
right. Measured on the 2-core box (tests/unit/measures/test_lapack.py). The package's
determinants and solves therefore run on one thread whatever the job chose.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["one_thread"]


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the block with one torch intra-op thread, then restore the count."""
    import torch

    before = torch.get_num_threads()
    if before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
