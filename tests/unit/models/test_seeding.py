"""Fits run at once in threads of one process get the models they get one after the other."""

from __future__ import annotations

import threading

import numpy as np
import torch

from ndx_causal_emergence.models import MultiscaleNISPlus


def _fit(seed: int, X: np.ndarray, out: dict, start: threading.Barrier | None = None) -> None:
    if start is not None:
        start.wait()  # both threads build their models at the same moment
    model = MultiscaleNISPlus(preset="fast", seed=seed, max_steps=10, eval_every=5, polish_steps=0).fit(X)
    out[seed] = [p.detach().clone() for p in model.model_.parameters()]
    out[seed] += [p.detach().clone() for p in model.observed_model_.parameters()]


def test_fits_in_threads_at_once_are_the_fits_one_after_the_other() -> None:
    X = np.random.default_rng(0).normal(size=(300, 24))
    alone: dict = {}
    for seed in (0, 1, 2, 3):
        _fit(seed, X, alone)
    for _ in range(2):
        together: dict = {}
        start = threading.Barrier(4)
        threads = [threading.Thread(target=_fit, args=(seed, X, together, start)) for seed in (0, 1, 2, 3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for seed in (0, 1, 2, 3):
            assert all(torch.equal(a, b) for a, b in zip(alone[seed], together[seed], strict=True)), seed
