"""Item 5: two writers of one file at once: every analysis is kept, or its writer gets a clear error.

Both writers run the code ``run`` runs after its fit (``Results.write``), in two forked
processes released together by a barrier; the analyses come from one small fit.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import shutil

import pytest

from ndx_causal_emergence.errors import OutputError
from ndx_causal_emergence.pipeline.results import read_results

TRIALS = 10
_FORK = multiprocessing.get_context("fork")


@pytest.fixture(scope="module")
def two_results(fitted):
    """The ``awake`` and ``anesthesia`` analyses as two single-condition Results."""
    source, results = fitted
    return source, [dataclasses.replace(results, conditions={k: v}) for k, v in results.conditions.items()]


def _writer(results, target, in_place, barrier, outcomes):
    barrier.wait()
    try:
        results.write(None if in_place else target, in_place=in_place)
        outcomes.put((next(iter(results.conditions.values())).analysis_name, "ok"))
    except OutputError as err:
        outcomes.put((next(iter(results.conditions.values())).analysis_name, f"error: {err}"))


def _stored_names(path) -> set[str]:
    return {r.analysis_name for r in read_results(path, load_models=False).conditions.values()}


def _race(pair, target, *, in_place):
    barrier, outcomes = _FORK.Barrier(2), _FORK.Queue()
    procs = [_FORK.Process(target=_writer, args=(r, target, in_place, barrier, outcomes)) for r in pair]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    return dict(outcomes.get(timeout=5) for _ in procs)


def test_same_out_keeps_one_result_and_tells_the_other(two_results, tmp_path):
    _, pair = two_results
    for trial in range(TRIALS):
        out = tmp_path / f"out{trial}.nwb"
        outcome = _race(pair, out, in_place=False)
        ok = [name for name, status in outcome.items() if status == "ok"]
        failed = {name: status for name, status in outcome.items() if status != "ok"}
        assert len(ok) == 1, outcome  # the other writer must not report success
        (message,) = failed.values()
        assert "exists" in message or "locked" in message, message
        assert _stored_names(out) == set(ok)


def test_in_place_keeps_both_analyses_or_says_locked(two_results, tmp_path):
    source, pair = two_results
    for trial in range(TRIALS):
        target = tmp_path / f"in{trial}.nwb"
        shutil.copyfile(source, target)
        moved = [dataclasses.replace(r, source=dataclasses.replace(r.source, location=str(target))) for r in pair]
        outcome = _race(moved, target, in_place=True)
        stored = _stored_names(target)
        for name, status in outcome.items():
            assert (status == "ok" and name in stored) or ("locked" in status and name not in stored), (name, outcome)
