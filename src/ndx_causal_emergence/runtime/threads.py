"""Threads that fit the machine: torch and BLAS threads from the cores this process may use and that are free.

A process that starts one torch thread per core on a machine whose cores are busy makes the
threads wait for each other (OpenMP threads spin while they wait), so the same fit burns several
times the CPU time it needs. :func:`choose_threads` counts the cores this process may run on (its
CPU affinity, a cgroup CPU quota) and subtracts the load of the other processes (the 1-minute
load average); a task on a Dask worker gets one thread, as the cluster runs one task per
worker thread and sizes itself to the cores. :func:`limit_threads` applies the choice to torch
and to the BLAS/OpenMP pools of NumPy and SciPy (``threadpoolctl``) for a ``with`` block.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["ThreadChoice", "cgroup_quota", "choose_threads", "in_dask_worker", "limit_threads", "usable_cores"]

_CGROUP_ROOT = Path("/sys/fs/cgroup")


def _affinity_cores() -> int:
    """Cores in this process's CPU affinity set (all cores where the platform has no affinity)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cgroup_quota(root: Path = _CGROUP_ROOT) -> float | None:
    """The cgroup CPU quota in cores (``cpu.max`` of cgroup v2, ``cpu.cfs_quota_us`` of v1); None if unlimited."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        if quota != "max":
            return int(quota) / int(period)
        return None
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def usable_cores() -> int:
    """Cores this process may use: its affinity set, capped by the cgroup quota (at least 1)."""
    cores = _affinity_cores()
    quota = cgroup_quota()
    if quota is not None:
        cores = min(cores, max(1, math.floor(quota)))
    return max(1, cores)


@dataclass(frozen=True)
class ThreadChoice:
    """The thread count of a job and what it was chosen from (recorded in provenance).

    Attributes
    ----------
    threads : int
        Threads for torch's intra-op pool and the BLAS/OpenMP pools.
    requested : int or None
        The count the user asked for (``None``: chosen from the machine).
    usable_cores : int
        Cores in the affinity set, capped by the cgroup quota.
    load : float or None
        1-minute load average when the choice was made (``None`` where the platform has none).
    dask_worker : bool
        The job runs as a task of a Dask worker (one thread unless requested otherwise).
    """

    threads: int
    requested: int | None
    usable_cores: int
    load: float | None
    dask_worker: bool = False

    def as_dict(self) -> dict[str, int | float | None]:
        """A JSON-able dictionary."""
        return asdict(self)


def in_dask_worker() -> bool:
    """Whether this code runs as a task of a Dask ``distributed`` worker."""
    if "distributed" not in sys.modules:
        return False
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:
        return False
    return True


def choose_threads(requested: int | None = None, *, load: float | None = None) -> ThreadChoice:
    """Threads for this process: ``requested``, else 1 on a Dask worker, else the usable cores not busy.

    The free cores are the usable cores minus the 1-minute load average (rounded, at least 1):
    on an idle 2-core machine 2 threads, with one busy process beside it 1, with two 1.

    Parameters
    ----------
    requested : int, optional
        A thread count given by the user; used as it is (it must be >= 1).
    load : float, optional
        The load of the other processes (default: ``os.getloadavg()[0]``).
    """
    cores = usable_cores()
    if load is None and hasattr(os, "getloadavg"):
        load = os.getloadavg()[0]
    if requested is not None:
        if requested < 1:
            raise ValueError(f"threads must be >= 1, got {requested}")
        return ThreadChoice(threads=int(requested), requested=int(requested), usable_cores=cores, load=load)
    if in_dask_worker():
        return ThreadChoice(threads=1, requested=None, usable_cores=cores, load=load, dask_worker=True)
    free = cores if load is None else round(cores - load)
    return ThreadChoice(threads=min(cores, max(1, free)), requested=None, usable_cores=cores, load=load)


@contextlib.contextmanager
def limit_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` torch intra-op threads and BLAS/OpenMP threads, then restore them.

    torch's inter-op pool can be sized only before its first parallel work; it is set to
    ``threads`` when still possible and left as it is otherwise.
    """
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    with contextlib.suppress(RuntimeError):  # already started: torch refuses a second setting
        torch.set_num_interop_threads(threads)
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(before)
