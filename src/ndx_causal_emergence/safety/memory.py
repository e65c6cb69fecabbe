"""The memory budget: what a command may allocate, checked from declared sizes before allocating.

A small file can declare a huge series (its chunks compress to nothing) or spike times far
apart (one spike at 10^7 s makes 10^8 bins). Readers compute the bytes an allocation will take
from the shapes and bin counts the file declares and call :func:`check_allocation` first, so
such a file ends in a one-line error naming the size and ``--max-memory`` instead of an
exhausted machine.

The budget is ``$NDX_CE_MAX_MEMORY`` (set by ``--max-memory``; Dask workers inherit it), else
the memory available when the check runs.
"""

from __future__ import annotations

import os
import re

from ..errors import MemoryBudgetError

__all__ = ["MEMORY_ENV", "WORKING_COPIES", "check_allocation", "format_bytes", "memory_budget", "parse_size"]

MEMORY_ENV = "NDX_CE_MAX_MEMORY"
#: The pipeline holds a recording's frames a few times over (as read, standardised, split into
#: segments), so a series is counted this many times as float64.
WORKING_COPIES = 3
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes of a size such as ``512M``, ``4G``, ``1.5GiB`` or ``1000000`` (binary units).

    Raises
    ------
    MemoryBudgetError
        Not a positive size.
    """
    match = _SIZE.match(str(text))
    if not match or float(match[1]) <= 0:
        raise MemoryBudgetError(
            f"memory size must be a positive number with an optional unit K, M, G or T (e.g. 4G); got {text!r}"
        )
    return int(float(match[1]) * _UNITS[match[2].lower()])


def format_bytes(n_bytes: float) -> str:
    """``n_bytes`` in readable binary units (``3.7 GiB``)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n_bytes) < 1024 or unit == "TiB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.1f} PiB"  # pragma: no cover


def memory_budget() -> int:
    """The budget in bytes: ``$NDX_CE_MAX_MEMORY`` if set, else the memory available now."""
    if os.environ.get(MEMORY_ENV):
        return parse_size(os.environ[MEMORY_ENV])
    import psutil

    return int(psutil.virtual_memory().available)


def check_allocation(
    n_bytes: float, what: str, remedy: str = "read less (--series, a smaller time range, a wider --bin-width)"
) -> None:
    """Raise :class:`MemoryBudgetError` if allocating ``n_bytes`` for ``what`` would exceed the budget.

    Parameters
    ----------
    n_bytes : float
        Bytes the allocation will take, computed from declared sizes (may be astronomically large).
    what : str
        What would be allocated, for the message (``"series /acquisition/x (10^6 frames x 1000 channels)"``).
    remedy : str
        The other way out, for the message.
    """
    budget = memory_budget()
    if n_bytes > budget:
        raise MemoryBudgetError(
            f"{what} needs about {format_bytes(n_bytes)}, more than the memory budget of {format_bytes(budget)}; "
            f"raise it with --max-memory (e.g. --max-memory {max(1, int(-(-n_bytes // 2**30)))}G) if the machine "
            f"has that memory, or {remedy}"
        )
