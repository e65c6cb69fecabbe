"""The runtime of one analysis job: its threads, its phase log and its time budget, set up together."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .budget import TimeBudget, spending
from .progress import PhaseLog, reporting
from .threads import ThreadChoice, choose_threads, using

__all__ = ["JobRuntime", "job_runtime"]


@dataclass
class JobRuntime:
    """What a job ran with and how long its phases took (:meth:`record` goes into provenance)."""

    threads: ThreadChoice
    log: PhaseLog
    budget: TimeBudget | None

    def plan_fits(self, n_fits: int) -> None:
        """Start the time budget (if any) for ``n_fits`` model fits."""
        if self.budget is not None:
            self.budget.begin(n_fits)

    def record(self) -> dict[str, Any]:
        """Threads, phase timings, fit estimates and the budget, JSON-able."""
        out: dict[str, Any] = {"threads": self.threads.as_dict(), "phases": list(self.log.timings)}
        if self.log.estimates:
            out["fit_estimates"] = list(self.log.estimates)
        if self.budget is not None:
            out["time_budget"] = self.budget.as_dict()
        return out


@contextlib.contextmanager
def job_runtime(
    *, threads: int | None = None, max_time: float | None = None, progress: bool = False
) -> Iterator[JobRuntime]:
    """Run the block with threads chosen for this machine, its phases logged and a training time budget.

    Parameters
    ----------
    threads : int, optional
        torch and BLAS threads (default: :func:`~ndx_causal_emergence.runtime.threads.choose_threads`).
    max_time : float, optional
        Seconds of training for all the fits of the job (default: no limit).
    progress : bool
        Show the phases on stderr (bars with an ETA on a terminal, else one line per phase).
    """
    choice = choose_threads(threads)
    log = PhaseLog(display="auto" if progress else "off")
    budget = TimeBudget(max_time) if max_time is not None else None
    with using(choice), reporting(log), spending(budget):
        yield JobRuntime(threads=choice, log=log, budget=budget)
