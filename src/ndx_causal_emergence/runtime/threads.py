"""Threads that fit the machine: torch and BLAS threads from the cores this process may use and that are free.

A process that starts one torch thread per core on a machine whose cores are busy makes the
threads wait for each other (OpenMP threads spin while they wait), so the same fit burns several
times the CPU time it needs. :func:`choose_threads` counts the cores this process may run on (its
CPU affinity, a cgroup CPU quota) and subtracts the cores that other processes keep busy
(:func:`busy_cores`: measured over a tenth of a second from ``/proc/stat``, where the 1-minute
load average would still count a job that has just ended; the load average where there is no
``/proc/stat``), within ``OMP_NUM_THREADS`` when that is set; a task on a Dask worker gets one
thread, as the cluster runs one task per worker thread and sizes itself to the cores.
:func:`limit_threads` applies the choice to torch and to the BLAS/OpenMP pools of NumPy and SciPy
(``threadpoolctl``) for a ``with`` block. :func:`map_on_spare_cores` runs independent pieces of
a one-thread training loop on the job's other cores, and :func:`map_fits` whole fits (the seeds of
a condition) at once, one per training thread's worth of the job's cores.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TypeVar

__all__ = [
    "ThreadChoice",
    "busy_cores",
    "cgroup_quota",
    "choose_threads",
    "environment_cap",
    "in_dask_worker",
    "fits_at_once",
    "limit_threads",
    "map_fits",
    "map_on_spare_cores",
    "training_threads",
    "usable_cores",
    "using",
]

T = TypeVar("T")
R = TypeVar("R")

_CGROUP_ROOT = Path("/sys/fs/cgroup")
_PROC_STAT = Path("/proc/stat")
_IDLE_FIELDS = (3, 4)  # idle and iowait among the ``cpuN`` fields of /proc/stat
#: torch threads of a job's training loops unless the user set the count (docs/user-guide.md §6, "Threads"):
#: on the 2-core box a second thread changed the fit phase's wall time of three real jobs by -19 %,
#: +13 % and +1 % for 1.4-2x the job's CPU time (benchmarks/results/runtime/targets_threads.json),
#: and one thread makes a fit the same whatever the machine's load.
TRAINING_THREADS = 1


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


def _cpu_ticks(stat: Path) -> dict[int, tuple[int, int]]:
    """``{cpu: (busy ticks, all ticks)}`` of every core in ``stat`` (the format of ``/proc/stat``)."""
    out = {}
    for line in stat.read_text().splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit():
            ticks = [int(f) for f in fields[:8]]  # guest time is already counted in user time
            idle = sum(ticks[i] for i in _IDLE_FIELDS)
            out[int(name[3:])] = (sum(ticks) - idle, sum(ticks))
    return out


def busy_cores(interval: float = 0.1, *, stat: Path = _PROC_STAT, cores: set[int] | None = None) -> float | None:
    """Cores of ``cores`` (default: this process's affinity set) that other processes kept busy, measured now.

    Read from the per-core tick counters of ``/proc/stat`` before and after a sleep of
    ``interval`` seconds; this process's own CPU time in that interval is subtracted.
    ``None`` where ``stat`` cannot be read.
    """
    if cores is None:
        cores = set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    try:
        before, own_before = _cpu_ticks(stat), time.process_time()
        time.sleep(interval)
        after, own_after = _cpu_ticks(stat), time.process_time()
    except (OSError, ValueError):
        return None
    busy = 0.0
    for cpu, (busy1, total1) in after.items():
        busy0, total0 = before.get(cpu, (busy1, total1))
        if (cores is None or cpu in cores) and total1 > total0:
            busy += (busy1 - busy0) / (total1 - total0)
    return max(0.0, busy - (own_after - own_before) / interval)


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
        Cores that other processes kept busy when the choice was made (:func:`busy_cores`, or
        the 1-minute load average where it cannot measure; ``None`` where neither exists).
    dask_worker : bool
        The job runs as a task of a Dask worker (one thread unless requested otherwise).
    environment_cap : int or None
        ``OMP_NUM_THREADS`` when it is set, as the cap of the choice (:func:`environment_cap`).
    """

    threads: int
    requested: int | None
    usable_cores: int
    load: float | None
    dask_worker: bool = False
    environment_cap: int | None = None

    def as_dict(self) -> dict[str, int | float | None]:
        """A JSON-able dictionary."""
        return asdict(self)


_JOB: ContextVar[ThreadChoice | None] = ContextVar("ndx_causal_emergence_threads", default=None)


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


def environment_cap() -> int | None:
    """``OMP_NUM_THREADS`` when it holds a positive integer (the usual way to cap a process's threads), else None."""
    text = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(text) if text.isdigit() and int(text) >= 1 else None


def choose_threads(requested: int | None = None, *, load: float | None = None) -> ThreadChoice:
    """Threads for this process: ``requested``, else 1 on a Dask worker, else the usable cores not busy.

    The free cores are the usable cores minus those other processes keep busy (rounded, at
    least 1): on an idle 2-core machine 2 threads, with one busy process beside it 1, with two 1.
    ``OMP_NUM_THREADS``, when set, caps the choice (a job under ``OMP_NUM_THREADS=1`` takes one
    thread without measuring the machine).

    Parameters
    ----------
    requested : int, optional
        A thread count given by the user; used as it is (it must be >= 1).
    load : float, optional
        Cores busy with other work (default: :func:`busy_cores`, else ``os.getloadavg()[0]``).
    """
    cores = usable_cores()
    if requested is not None:
        if requested < 1:
            raise ValueError(f"threads must be >= 1, got {requested}")
        return ThreadChoice(threads=int(requested), requested=int(requested), usable_cores=cores, load=load)
    if in_dask_worker():
        return ThreadChoice(threads=1, requested=None, usable_cores=cores, load=load, dask_worker=True)
    cap = environment_cap()
    if load is None and cap != 1:
        load = busy_cores()
        if load is None and hasattr(os, "getloadavg"):
            load = os.getloadavg()[0]
    free = cores if load is None else round(cores - load)
    threads = min(cores, max(1, free), cap or cores)
    return ThreadChoice(threads=threads, requested=None, usable_cores=cores, load=load, environment_cap=cap)


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


@contextlib.contextmanager
def using(choice: ThreadChoice) -> Iterator[ThreadChoice]:
    """Run the block as a job with ``choice``: its threads (:func:`limit_threads`) and its training threads."""
    token = _JOB.set(choice)
    try:
        with limit_threads(choice.threads):
            yield choice
    finally:
        _JOB.reset(token)


@contextlib.contextmanager
def training_threads() -> Iterator[None]:
    """Run a training loop on :data:`TRAINING_THREADS` threads inside a job whose threads come from the machine.

    Outside a job (:func:`using`), or when the user set the count, the threads are left as they are.
    """
    choice = _JOB.get()
    if choice is None or choice.requested is not None or choice.threads <= TRAINING_THREADS:
        yield
        return
    with limit_threads(TRAINING_THREADS):
        yield


def map_on_spare_cores(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``[fn(item) for item in items]``, run on the job's cores that torch's own threads leave unused.

    Inside a job whose threads came from the machine, a training loop runs torch on
    :data:`TRAINING_THREADS` threads; independent pieces of work of that loop (the weights of
    each scale) then run in ``job threads // torch threads`` Python threads at once, so an idle
    2-core machine does two at a time and a busy one (or a job outside :func:`using`) one. The
    results are those of the plain loop, in order: each item runs the same code on its own.
    """
    import torch

    choice = _JOB.get()
    workers = 1 if choice is None else max(1, choice.threads // max(1, torch.get_num_threads()))
    items = list(items)
    if workers == 1 or len(items) < 2:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


def fits_at_once(n_fits: int) -> int:
    """How many of a job's ``n_fits`` independent fits :func:`map_fits` runs at the same time.

    One per :data:`TRAINING_THREADS` of the job's threads when they came from the machine (an idle
    2-core machine: two), else one: when the user set the count (a fit then trains on all of them),
    outside a job, and on a busy machine (the job chose one thread).
    """
    choice = _JOB.get()
    if choice is None or choice.requested is not None or n_fits < 2:
        return 1
    return max(1, min(n_fits, choice.threads // TRAINING_THREADS))


def map_fits(fn: Callable[[T], R], items: Sequence[T], at_once: int) -> list[R]:
    """``[fn(item) for item in items]`` with ``at_once`` items running at the same time (threads), in order.

    Each item runs as a job of :data:`TRAINING_THREADS` threads, measures included (a lone fit
    measures on all the job's threads; the scale tables were the same bit for bit in
    ``test_fits_at_once_give_the_numbers_of_the_fits_one_after_the_other`` and on the 15 × 250
    test file), in a copy of the job's context (its phase log). A fit draws its initial weights
    under :func:`~ndx_causal_emergence.models.seeding.seeded`, so fits at once are the fits one
    after the other, bit for bit. When one fails (or on Ctrl-C) the others end after their current
    step (:func:`~ndx_causal_emergence.runtime.budget.abandoning`) and the error is raised.
    """
    items = list(items)
    if at_once < 2 or len(items) < 2:
        return [fn(item) for item in items]
    choice = _JOB.get()
    one = replace(choice, threads=TRAINING_THREADS) if choice is not None else None

    def run(item: T) -> R:
        if one is not None:
            _JOB.set(one)  # in this item's own copy of the context: its training and spare-core maps see one thread
        return fn(item)

    from .budget import abandoning

    with limit_threads(TRAINING_THREADS), abandoning() as give_up, ThreadPoolExecutor(min(at_once, len(items))) as pool:
        futures = [pool.submit(contextvars.copy_context().run, run, item) for item in items]
        try:
            return [future.result() for future in futures]
        except BaseException:  # a fit failed, or Ctrl-C: the others end after their current step, not their last
            give_up()
            for future in futures:
                future.cancel()
            raise
