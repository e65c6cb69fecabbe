"""The cost of a fit, said before it runs: ladder, parameters, planned steps and an estimated time.

:class:`FitClock` goes with a training loop. When the loop starts it shows the ladder, the number
of trainable parameters and the planned steps; after a few timed steps on this machine (the
loop's own first steps, so the estimate costs no extra work) it shows the time per step and the
estimated time of the whole fit, and records both for the job's provenance.
"""

from __future__ import annotations

import time
from typing import Any

from .progress import active, note

__all__ = ["CALIBRATION_STEPS", "FitClock"]

#: Steps timed for the estimate (after one untimed step that pays the first-call costs).
CALIBRATION_STEPS = 5


class FitClock:
    """Shows a fit's plan and, after :data:`CALIBRATION_STEPS` timed steps, its estimated time.

    Parameters
    ----------
    what : str
        What is fitted (``"model"``, ``"observed reference"``).
    module : torch.nn.Module
        The model (its ``scales``, if any, are the ladder shown).
    planned_steps : int
        Steps the loop will run at most (early stopping or the time budget may end it sooner).
    threads : int
        torch's intra-op thread count during the fit.
    early_stopping : bool
        The loop may stop when its validation loss stops improving (said with the estimate).
    """

    def __init__(self, what: str, module: Any, planned_steps: int, threads: int, *, early_stopping: bool) -> None:
        self.what = what
        self.early_stopping = early_stopping
        self.planned_steps = int(planned_steps)
        self.threads = threads
        self.n_parameters = sum(p.numel() for p in module.parameters() if p.requires_grad)
        self.estimate: dict[str, Any] | None = None
        self._ticks = 0
        self._t0 = 0.0
        ladder = getattr(module, "scales", None)
        shown = f"ladder {list(ladder)}, " if ladder is not None else ""
        note(
            f"{what}: {shown}{self.n_parameters:,} parameters, up to {self.planned_steps} steps, "
            f"{threads} thread{'s' if threads != 1 else ''}"
        )

    def tick(self) -> None:
        """Count one finished step; after the calibration steps, show and record the estimate."""
        self._ticks += 1
        if self._ticks == 1:
            self._t0 = time.perf_counter()
        elif self._ticks == 1 + CALIBRATION_STEPS:
            per_step = (time.perf_counter() - self._t0) / CALIBRATION_STEPS
            total = per_step * self.planned_steps
            self.estimate = {
                "fit": self.what,
                "parameters": self.n_parameters,
                "planned_steps": self.planned_steps,
                "seconds_per_step": round(per_step, 5),
                "estimated_s": round(total, 1),
                "threads": self.threads,
            }
            log = active()
            if log is not None:
                log.estimates.append(self.estimate)
            sooner = " (early stopping may end it sooner)" if self.early_stopping else ""
            note(
                f"{self.what}: {1000 * per_step:.1f} ms/step on this machine -> about {_duration(total)} for "
                f"{self.planned_steps} steps{sooner}"
            )


def _duration(seconds: float) -> str:
    """``"42 s"``, ``"3.5 min"`` or ``"1.2 h"``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
