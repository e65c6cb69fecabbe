"""Phases of a job: a progress display with an ETA on stderr and the wall and CPU time of each phase.

Library code marks its phases with :func:`phase` (a no-op when no job is being reported) and
ticks the phase's units (steps, scales)::

    with phase("fit", total=n_steps, unit="step", label="seed 0") as bar:
        for step in range(n_steps):
            ...
            bar.update()

A job opens a :class:`PhaseLog` with :func:`reporting`; the log records every phase's wall and
CPU time (written into provenance) and, unless quiet, shows it: a progress bar with an ETA when
the stream is a terminal, else one line per phase when the phase ends.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TextIO

__all__ = ["Phase", "PhaseLog", "active", "note", "phase", "reporting", "tracked"]

_ACTIVE: ContextVar[PhaseLog | None] = ContextVar("ndx_causal_emergence_phase_log", default=None)
_WRITING = threading.Lock()  # one line at a time from the threads of fits running at once


@dataclass
class Phase:
    """One running phase: tick it with :meth:`update`; its bar (if shown) follows."""

    name: str
    label: str | None = None
    total: int | None = None
    unit: str = "it"
    done: int = 0
    bar: Any = None

    def update(self, n: int = 1) -> None:
        """Count ``n`` more units done."""
        self.done += n
        if self.bar is not None:
            self.bar.update(n)

    def set_total(self, total: int) -> None:
        """Change the planned number of units (e.g. when a fit stops early)."""
        self.total = total
        if self.bar is not None:
            self.bar.total = total
            self.bar.refresh()

    @property
    def title(self) -> str:
        """``name`` and, if any, ``[label]``."""
        return f"{self.name} [{self.label}]" if self.label else self.name


@dataclass
class PhaseLog:
    """Records the phases of a job and shows them on ``stream``.

    Parameters
    ----------
    display : {"auto", "bar", "lines", "off"}
        ``"bar"``: a progress bar with an ETA per phase; ``"lines"``: one line per phase when it
        ends; ``"auto"``: bars on a terminal, else lines; ``"off"``: record only.
    stream : file, optional
        Where to show the phases (default ``sys.stderr``).

    Attributes
    ----------
    timings : list of dict
        One per finished phase: ``phase``, ``label``, ``units`` done, ``unit``, ``wall_s``, ``cpu_s``
        (the process's CPU time over the phase: with fits running at once, the others' too).
    estimates : list of dict
        Fit time estimates (:class:`~ndx_causal_emergence.runtime.cost.FitClock`).
    """

    display: str = "auto"
    stream: TextIO | None = None
    timings: list[dict[str, Any]] = field(default_factory=list)
    estimates: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.display not in ("auto", "bar", "lines", "off"):
            raise ValueError(f"display must be 'auto', 'bar', 'lines' or 'off', got {self.display!r}")
        if self.stream is None:
            self.stream = sys.stderr
        if self.display == "auto":
            self.display = "bar" if getattr(self.stream, "isatty", lambda: False)() else "lines"

    @contextlib.contextmanager
    def phase(
        self, name: str, *, total: int | None = None, unit: str = "it", label: str | None = None
    ) -> Iterator[Phase]:
        """Time a phase (and show it); yields the :class:`Phase` to tick."""
        current = Phase(name=name, label=label, total=total, unit=unit)
        if self.display == "bar":
            from tqdm.auto import tqdm

            current.bar = tqdm(
                total=total,
                desc=current.title,
                unit=unit,
                file=self.stream,
                leave=True,
                dynamic_ncols=True,
                mininterval=0.5,
            )
        wall0, cpu0 = time.perf_counter(), time.process_time()
        try:
            yield current
        finally:
            if current.bar is not None:
                current.bar.close()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0  # a failed phase is not reported
        self.timings.append({
            "phase": name, "label": label, "units": current.done, "unit": unit,
            "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
        })  # fmt: skip
        if self.display == "lines":
            count = f"{current.done} {unit}{'s' if current.done != 1 else ''}, " if current.done else ""
            self.write(f"{current.title}: {count}{wall:.1f} s (CPU {cpu:.1f} s)")

    def write(self, message: str) -> None:
        """Show one line (nothing when the display is off); whole, when fits running at once both write."""
        if self.display != "off":
            with _WRITING:
                self.stream.write(message + "\n")
                self.stream.flush()


class _Unreported(Phase):
    """The phase of a job nobody reports: ticks are counted, nothing is shown or recorded."""


@contextlib.contextmanager
def phase(name: str, *, total: int | None = None, unit: str = "it", label: str | None = None) -> Iterator[Phase]:
    """A phase of the job being reported (see :func:`reporting`); a silent stand-in when there is none."""
    log = _ACTIVE.get()
    if log is None:
        yield _Unreported(name=name, label=label, total=total, unit=unit)
        return
    with log.phase(name, total=total, unit=unit, label=label) as current:
        yield current


def tracked(items: Sequence[Any], name: str, *, unit: str = "it", label: str | None = None) -> Iterator[Any]:
    """Iterate over ``items`` as the phase ``name``, one unit per item."""
    with phase(name, total=len(items), unit=unit, label=label) as current:
        for item in items:
            yield item
            current.update()


def note(message: str) -> None:
    """Show a line about the job being reported (e.g. the planned cost of a fit); nothing without one."""
    log = _ACTIVE.get()
    if log is not None:
        log.write(message)


def active() -> PhaseLog | None:
    """The phase log of the job being reported, if any."""
    return _ACTIVE.get()


@contextlib.contextmanager
def reporting(log: PhaseLog) -> Iterator[PhaseLog]:
    """Report the phases run inside the block to ``log``."""
    token = _ACTIVE.set(log)
    try:
        yield log
    finally:
        _ACTIVE.reset(token)
