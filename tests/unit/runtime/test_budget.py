"""The time budget's shares: equal per fit of what is left, 80 % model, the rest its observed reference."""

from __future__ import annotations

import time

import pytest

from ndx_causal_emergence.runtime.budget import TimeBudget, deadline_for, spending, stopped_early


def test_shares():
    budget = TimeBudget(100.0)
    budget.begin(2)
    now = time.monotonic()
    model = budget.deadline("model")
    observed = budget.deadline("observed")
    assert model - now == pytest.approx(40.0, abs=0.5)  # half of 100 s for this fit, 80 % of it for the model
    assert observed - now == pytest.approx(50.0, abs=0.5)
    assert budget.deadline("model") - now == pytest.approx(0.8 * 100.0, abs=0.5)  # the last fit: all that is left


def test_no_budget_no_deadline_and_stops_recorded():
    assert deadline_for("model") is None
    stopped_early("model", 10, 100)  # nothing to record into
    budget = TimeBudget(5.0)
    with spending(budget):
        assert deadline_for("model") is not None
        stopped_early("model", 10, 100)
    assert budget.as_dict() == {"max_time_s": 5.0, "stopped": [{"loop": "model", "steps": 10, "planned_steps": 100}]}
    with pytest.raises(ValueError, match="max_time"):
        TimeBudget(0)


def test_the_clock_starts_with_the_first_training_loop():
    budget = TimeBudget(10.0)
    budget.begin(1)
    time.sleep(0.5)  # reading and preparing the data: not counted
    now = time.monotonic()
    assert budget.deadline("model") - now == pytest.approx(8.0, abs=0.1)
