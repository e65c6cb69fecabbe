"""Threads chosen from the cores this process may use and that other work leaves free."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from threadpoolctl import threadpool_info

from ndx_causal_emergence.runtime.threads import (
    TRAINING_THREADS,
    ThreadChoice,
    busy_cores,
    cgroup_quota,
    choose_threads,
    fits_at_once,
    limit_threads,
    map_on_spare_cores,
    training_threads,
    usable_cores,
    using,
)

SRC = Path(__file__).resolve().parents[3] / "src"
needs_affinity = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform")


@pytest.fixture(autouse=True)
def no_thread_cap(monkeypatch):
    """These tests choose from the machine; CI caps its processes with OMP_NUM_THREADS=1."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


def test_omp_num_threads_caps_the_choice(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    choice = choose_threads()
    assert (choice.threads, choice.environment_cap, choice.load) == (1, 1, None)  # one thread, nothing measured
    monkeypatch.setenv("OMP_NUM_THREADS", "64")
    assert choose_threads(load=0.0).threads == usable_cores()
    monkeypatch.setenv("OMP_NUM_THREADS", "many")
    assert choose_threads(load=0.0).environment_cap is None
    assert choose_threads(2).threads == 2  # an explicit count wins over the environment


def _in_subprocess(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@needs_affinity
def test_a_restricted_affinity_set_limits_the_threads():
    """A process pinned to one core gets one thread even on an idle machine (a real affinity change)."""
    core = sorted(os.sched_getaffinity(0))[0]
    out = _in_subprocess(
        "import os; from ndx_causal_emergence.runtime.threads import choose_threads; "
        f"os.sched_setaffinity(0, {{{core}}}); c = choose_threads(load=0.0); print(c.usable_cores, c.threads)"
    )
    assert out == "1 1"


@needs_affinity
def test_the_whole_affinity_set_is_used_when_idle():
    cores = len(os.sched_getaffinity(0))
    assert choose_threads(load=0.0).threads == usable_cores() == min(cores, usable_cores())


def test_busy_cores_are_not_taken():
    cores = usable_cores()
    assert choose_threads(load=float(cores)).threads == 1  # every core busy: one thread
    assert choose_threads(load=10.0 * cores).threads == 1
    assert choose_threads(load=cores - 0.8).threads == 1  # 0.8 cores free: one thread
    assert choose_threads(load=0.3).threads == max(1, round(cores - 0.3))


@pytest.fixture
def spinner():
    """A real process that keeps one core busy (pinned to the first core of this process's set)."""
    core = sorted(os.sched_getaffinity(0))[0]
    code = f"import os; os.sched_setaffinity(0, {{{core}}}); print('spinning', flush=True)\nwhile True: pass"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "spinning"
        yield core
    finally:
        proc.kill()
        proc.wait()


@needs_affinity
def test_a_busy_core_is_measured_at_once(spinner):
    """A core that another process has just started to keep busy counts as busy (the 1-minute load
    average would still say it is free); the choice leaves it to that process."""
    assert busy_cores(cores={spinner}) >= 0.8
    choice = choose_threads()
    assert choice.load >= 0.8
    assert choice.threads <= max(1, usable_cores() - 1)


def test_busy_cores_without_a_stat_file(tmp_path):
    assert busy_cores(0.01, stat=tmp_path / "absent") is None


def test_a_requested_count_wins_and_is_recorded():
    choice = choose_threads(3, load=100.0)
    assert choice.threads == 3 and choice.requested == 3 and choice.as_dict()["load"] == 100.0
    with pytest.raises(ValueError, match="threads must be >= 1"):
        choose_threads(0)


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 0.5),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),
    ],
)
def test_cgroup_quota_files(tmp_path, files, quota):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cgroup_quota(tmp_path) == quota


def test_limit_threads_sets_torch_and_blas_then_restores():
    before = torch.get_num_threads()
    wanted = 2 if before == 1 else 1
    with limit_threads(wanted):
        assert torch.get_num_threads() == wanted
        assert all(pool["num_threads"] == wanted for pool in threadpool_info())
    assert torch.get_num_threads() == before


def test_a_dask_task_gets_one_thread_unless_told():
    """On a real Dask worker a job takes one thread (the cluster splits the cores between workers)."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster, \
            Client(cluster) as client:  # fmt: skip
        auto = client.submit(choose_threads, load=0.0).result()
        told = client.submit(choose_threads, 2, load=0.0).result()
    assert (auto.threads, auto.dask_worker) == (1, True)
    assert told.threads == 2
    assert not choose_threads(load=0.0).dask_worker


@pytest.mark.parametrize(("requested", "inside"), [(None, TRAINING_THREADS), (2, 2)])
def test_training_loops_of_a_job_take_one_thread_unless_told(requested, inside):
    """A job whose threads come from the machine trains on one thread; a count the user gave holds everywhere."""
    choice = ThreadChoice(threads=2, requested=requested, usable_cores=2, load=0.0)
    with using(choice):
        assert torch.get_num_threads() == 2
        with training_threads():
            assert torch.get_num_threads() == inside
        assert torch.get_num_threads() == 2


@pytest.mark.parametrize(("requested", "workers"), [(None, 2), (2, 1)])
def test_independent_work_of_a_training_loop_runs_on_the_spare_cores(requested, workers):
    """On one training thread of a 2-thread job, two pieces run at once; with the user's 2 torch threads, one."""
    import threading
    import time

    seen: list[int] = []

    def work(i: int) -> int:
        seen.append(threading.get_ident())
        time.sleep(0.05)  # long enough that a second worker takes the next item
        return i * i

    with using(ThreadChoice(threads=2, requested=requested, usable_cores=2, load=0.0)), training_threads():
        assert map_on_spare_cores(work, range(6)) == [i * i for i in range(6)]
    assert len(set(seen)) == workers
    seen.clear()
    assert map_on_spare_cores(work, [3, 1]) == [9, 1]  # outside a job: the plain loop, on this thread
    assert set(seen) == {threading.get_ident()}


def test_training_threads_outside_a_job_change_nothing():
    before = torch.get_num_threads()
    with training_threads():
        assert torch.get_num_threads() == before


def test_a_fit_is_the_same_whatever_threads_the_job_chose():
    """Inside a job, everything the learned parameters depend on runs on the training threads, so a
    job that took two threads fits the very model that one thread fits (bit for bit)."""
    from ndx_causal_emergence.models import MultiscaleNISPlus

    rng = np.random.default_rng(0)
    x = rng.standard_normal((1200, 24)).cumsum(axis=0) * 0.05 + rng.standard_normal((1200, 24))

    def fit() -> MultiscaleNISPlus:
        return MultiscaleNISPlus(
            preset="fast", hidden_width=16, max_steps=40, eval_every=20, polish_steps=60, seed=0
        ).fit(x)

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        alone = fit()
        with using(ThreadChoice(threads=2, requested=None, usable_cores=2, load=0.0)):
            in_job = fit()
    finally:
        torch.set_num_threads(before)
    a, b = alone.model_.state_dict(), in_job.model_.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert np.array_equal(alone.sigma2_[-1], in_job.sigma2_[-1])


@pytest.mark.parametrize(
    ("choice", "n_fits", "at_once"),
    [
        (None, 3, 1),  # outside a job
        (ThreadChoice(threads=2, requested=None, usable_cores=2, load=0.0), 3, 2),
        (ThreadChoice(threads=2, requested=None, usable_cores=2, load=0.0), 1, 1),
        (ThreadChoice(threads=8, requested=None, usable_cores=8, load=0.0), 3, 3),
        (ThreadChoice(threads=1, requested=None, usable_cores=2, load=1.0), 3, 1),  # a busy machine
        (ThreadChoice(threads=2, requested=2, usable_cores=2, load=0.0), 3, 1),  # the user's count: each fit on all
    ],
)
def test_fits_at_once_take_a_training_thread_each(choice, n_fits, at_once):
    with using(choice) if choice is not None else contextlib.nullcontext():
        assert fits_at_once(n_fits) == at_once


def test_fits_at_once_give_the_numbers_of_the_fits_one_after_the_other():
    """Two seeds of a condition, fitted at once in a 2-thread job (each on one thread, measured on it too), and one
    after the other on one thread: the same models and the same scale table, bit for bit."""
    from ndx_causal_emergence.data.prepare import prepare
    from ndx_causal_emergence.data.recording import Recording
    from ndx_causal_emergence.pipeline.config import AnalysisConfig
    from ndx_causal_emergence.pipeline.run import _seeds_at_once, measure_condition
    from ndx_causal_emergence.testing.calibration import independent_null

    prepared = prepare(Recording.from_array(independent_null(12, n_frames=1200, seed=0).frames, rate=10.0))
    config = AnalysisConfig(preset="fast", n_seeds=2, n_bootstrap=200, n_monte_carlo=200,
                            model_params={"max_steps": 60, "eval_every": 20, "polish_steps": 60})  # fmt: skip
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        alone = measure_condition(prepared, config)
    finally:
        torch.set_num_threads(before)
    with using(ThreadChoice(threads=2, requested=None, usable_cores=2, load=0.0)):
        assert _seeds_at_once(prepared, config) == 2
        assert _seeds_at_once(prepared, AnalysisConfig(**{**config.to_dict(), "max_time": 60.0})) == 1
        together = measure_condition(prepared, config)
    pd.testing.assert_frame_equal(alone.emergence, together.emergence, check_exact=True)
    assert np.array_equal(alone.resampled_j, together.resampled_j)
    for a, b in zip(alone.models, together.models, strict=True):
        sa, sb = a.model_.state_dict(), b.model_.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_map_fits_runs_items_at_once_each_as_a_one_thread_job():
    import threading
    import time

    from ndx_causal_emergence.runtime.threads import map_fits

    seen: list[tuple[int, int, int]] = []

    def work(i: int) -> int:
        with training_threads():  # a fit's loop inside: already one thread, nothing to change
            seen.append((threading.get_ident(), torch.get_num_threads(), map_on_spare_cores(lambda x: x, [i])[0]))
        time.sleep(0.05)  # long enough that the second worker takes the next item
        return i * i

    with using(ThreadChoice(threads=2, requested=None, usable_cores=2, load=0.0)):
        assert map_fits(work, range(4), at_once=2) == [0, 1, 4, 9]
        assert torch.get_num_threads() == 2  # the job's threads again after the fits
    assert len({ident for ident, _, _ in seen}) == 2 and {n for _, n, _ in seen} == {1}


def test_when_one_fit_fails_the_others_end_after_their_current_step():
    """A fit that raises makes the training loops running beside it end soon (as when their time is up), the error
    reaches the caller, and loops after the block run their full course again."""
    import time

    from ndx_causal_emergence.runtime.budget import past
    from ndx_causal_emergence.runtime.threads import map_fits

    def work(i: int) -> int:
        if i == 0:
            time.sleep(0.2)
            raise ValueError("this fit failed")
        steps = 0
        while not past(None) and steps < 3000:  # a long loop, 30 s if nobody gives it up
            time.sleep(0.01)
            steps += 1
        return steps

    start = time.monotonic()
    with using(ThreadChoice(threads=2, requested=None, usable_cores=2, load=0.0)):
        with pytest.raises(ValueError, match="this fit failed"):
            map_fits(work, [0, 1], at_once=2)
    assert time.monotonic() - start < 5.0
    assert not past(None)


def test_giving_up_one_block_of_fits_leaves_other_loops_running():
    """The flag belongs to the block's context: a loop of another job (another thread, its own context) and code
    after the block do not see it."""
    import threading

    from ndx_causal_emergence.runtime.budget import abandoning, past

    seen: dict[str, bool] = {}
    with abandoning() as give_up:
        give_up()
        seen["inside"] = past(None)
        other = threading.Thread(target=lambda: seen.update(other=past(None)))  # a new thread: a fresh context
        other.start()
        other.join()
    assert seen == {"inside": True, "other": False}
    assert not past(None)
