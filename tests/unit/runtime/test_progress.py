"""Phases: one line each when the stream is not a terminal, a bar with an ETA on one, timings always."""

from __future__ import annotations

import io

import pytest

from ndx_causal_emergence.runtime.progress import PhaseLog, note, phase, reporting, tracked


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_one_line_per_phase_when_not_a_terminal():
    stream = io.StringIO()
    log = PhaseLog(stream=stream)
    with reporting(log):
        assert [k for k in tracked(range(3), "fixed points", unit="scale")] == [0, 1, 2]
        with phase("fit", total=10, unit="step", label="seed 0") as bar:
            bar.update(4)
        note("a note")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("fixed points: 3 scales, ") and "CPU" in lines[0]
    assert lines[1].startswith("fit [seed 0]: 4 steps, ")
    assert lines[2] == "a note"
    assert [(t["phase"], t["units"]) for t in log.timings] == [("fixed points", 3), ("fit", 4)]
    assert all(t["wall_s"] >= 0 and t["cpu_s"] >= 0 for t in log.timings)


def test_a_bar_with_eta_on_a_terminal():
    stream = _Terminal()
    with reporting(PhaseLog(stream=stream)), phase("attribution", total=2, unit="scale") as bar:
        bar.update()
        bar.update()
    text = stream.getvalue()
    assert "attribution" in text and "2/2" in text and "<" in text  # tqdm's elapsed<remaining


def test_off_records_without_showing():
    stream = io.StringIO()
    log = PhaseLog(display="off", stream=stream)
    with reporting(log), phase("write"):
        note("not shown")
    assert stream.getvalue() == "" and [t["phase"] for t in log.timings] == ["write"]


def test_without_a_job_phases_are_silent_and_a_failed_phase_is_not_recorded():
    with phase("fit", total=3) as bar:
        bar.update()  # no log: nothing happens
    log = PhaseLog(display="lines", stream=io.StringIO())
    with reporting(log), pytest.raises(RuntimeError), phase("read"):
        raise RuntimeError("broken file")
    assert log.timings == []
    with pytest.raises(ValueError, match="display"):
        PhaseLog(display="loud")
