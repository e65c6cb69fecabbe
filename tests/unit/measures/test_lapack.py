"""Determinants and solves of batches of large matrices come out right whatever the thread count."""

from __future__ import annotations

import torch

from ndx_causal_emergence.measures.lapack import one_thread


def test_a_batch_of_large_matrices_is_factorised_right_on_two_threads():
    """torch 2.13's CPU build gave zero pivots and other log-determinants for a batch of 200 x 200
    matrices on two threads; inside ``one_thread`` the batch gives each matrix's own values."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(16, 200, 200, generator=gen, dtype=torch.float64) + 3 * torch.eye(200, dtype=torch.float64)
    b = torch.randn(16, 200, 1, generator=gen, dtype=torch.float64)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        each = torch.stack([torch.linalg.slogdet(m).logabsdet for m in a])
        torch.set_num_threads(2)
        with one_thread():
            assert torch.get_num_threads() == 1
            batched = torch.linalg.slogdet(a).logabsdet
            _, pivots = torch.linalg.lu_factor(a)
            x, info = torch.linalg.solve_ex(a, b)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    torch.testing.assert_close(batched, each, rtol=1e-12, atol=1e-10)
    assert int(pivots.min()) >= 1 and int(info.abs().max()) == 0
    torch.testing.assert_close(a @ x, b, rtol=1e-9, atol=1e-9)
