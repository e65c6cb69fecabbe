"""A wall-clock budget for the training of a job (``max_time``): fits stop early when it runs out.

The budget covers every training loop of the job: the model fit of each seed (and surrogate) and
its observed-space reference; its clock starts with the first of them. Time is handed out as the
job goes: a model fit gets an equal share of what is left for the fits still to come, 80 % of it
for the model and the rest (plus whatever the model did not use) for its observed reference. A
loop that reaches its deadline ends after the current step, validates and keeps its best state,
so the result is a complete, valid (shorter) fit. The same happens to the fits still running beside
one that failed or was interrupted (:func:`abandoning`), so that the job ends soon.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

__all__ = ["TimeBudget", "abandoning", "deadline_for", "past", "spending", "stopped_early"]

_ACTIVE: ContextVar[TimeBudget | None] = ContextVar("ndx_causal_emergence_time_budget", default=None)
_MODEL_SHARE = 0.8
#: The flag of the block of fits running at once that this code runs in (:func:`abandoning`), if any: a context
#: variable, so that giving up one job's fits leaves the loops of other jobs in the same process running.
_ABANDONED: ContextVar[threading.Event | None] = ContextVar("ndx_causal_emergence_abandoned", default=None)


class TimeBudget:
    """``seconds`` of training time shared by the model fits of a job (each with its observed reference).

    Parameters
    ----------
    seconds : float
        The budget (> 0). :meth:`begin` sets the number of fits; the clock starts with the first loop.
    """

    def __init__(self, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError(f"max_time must be > 0 seconds, got {seconds}")
        self.seconds = float(seconds)
        self.stops: list[dict[str, Any]] = []
        self.begin(1)

    def begin(self, n_fits: int) -> None:
        """Plan ``n_fits`` model fits (seeds times one plus surrogates, over all conditions).

        The clock starts with the first training loop, so reading and preparing the data do not count.
        """
        self.fits_left = max(1, int(n_fits))
        self.end: float | None = None
        self._fit_end = 0.0

    def deadline(self, loop: str) -> float:
        """The ``time.monotonic()`` deadline of the training loop starting now (``"model"`` or ``"observed"``)."""
        now = time.monotonic()
        if self.end is None:
            self.end = now + self.seconds
            self._fit_end = self.end
        if loop == "model":
            self._fit_end = now + max(self.end - now, 0.0) / self.fits_left
            self.fits_left = max(1, self.fits_left - 1)
            return now + _MODEL_SHARE * (self._fit_end - now)
        return self._fit_end

    def as_dict(self) -> dict[str, Any]:
        """The budget and the training loops it stopped (for provenance)."""
        return {"max_time_s": self.seconds, "stopped": list(self.stops)}


def deadline_for(loop: str) -> float | None:
    """Deadline (``time.monotonic()``) of a training loop starting now; ``None`` without a budget."""
    budget = _ACTIVE.get()
    return None if budget is None else budget.deadline(loop)


def past(deadline: float | None) -> bool:
    """Whether a training loop with ``deadline`` (:func:`deadline_for`) should end after its current step:
    its time is up, or the fits running at once are being given up (:func:`abandoning`)."""
    if deadline is not None and time.monotonic() >= deadline:
        return True
    flag = _ABANDONED.get()
    return flag is not None and flag.is_set()


@contextlib.contextmanager
def abandoning() -> Iterator[Callable[[], None]]:
    """A block of fits running at once, each started in a copy of the block's context; calling what it yields
    (when one of them failed, or on Ctrl-C) ends their training loops after their current step, as when their time
    is up. Loops outside the block (other jobs of the process, later fits) are not affected."""
    flag = threading.Event()
    token = _ABANDONED.set(flag)
    try:
        yield flag.set
    finally:
        _ABANDONED.reset(token)


def stopped_early(loop: str, steps: int, planned: int) -> None:
    """Record that a training loop ran out of its share of the budget after ``steps`` of ``planned`` steps."""
    budget = _ACTIVE.get()
    if budget is not None:
        budget.stops.append({"loop": loop, "steps": int(steps), "planned_steps": int(planned)})


@contextlib.contextmanager
def spending(budget: TimeBudget | None) -> Iterator[TimeBudget | None]:
    """Let the training loops inside the block spend ``budget`` (``None``: no budget)."""
    token = _ACTIVE.set(budget)
    try:
        yield budget
    finally:
        _ACTIVE.reset(token)
