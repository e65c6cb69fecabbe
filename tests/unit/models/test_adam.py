"""The package's Adam against ``torch.optim.Adam(foreach=True)``: the same parameters bit for bit."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ndx_causal_emergence.models.adam import Adam


def _net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(7, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3))


def _train(net: nn.Module, optimizer: object, steps: int, frozen_until: int = 0) -> None:
    """``steps`` updates on seeded batches; the last layer gets no gradient before step ``frozen_until``."""
    gen = torch.Generator().manual_seed(1)
    for step in range(steps):
        x, y = torch.randn(32, 7, generator=gen), torch.randn(32, 3, generator=gen)
        net[-1].requires_grad_(step >= frozen_until)
        loss = (net(x) - y).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


@pytest.mark.parametrize("weight_decay", [0.0, 1e-4])
def test_the_parameters_are_those_of_torch_adam_bit_for_bit(weight_decay: float) -> None:
    ours, theirs = _net(0), _net(0)
    _train(ours, Adam(ours.parameters(), 1e-2, weight_decay=weight_decay), 300, frozen_until=20)
    _train(theirs, torch.optim.Adam(theirs.parameters(), lr=1e-2, weight_decay=weight_decay, foreach=True), 300,
           frozen_until=20)  # fmt: skip
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.equal(a, b)
    changed = [not torch.equal(a, b) for a, b in zip(ours.parameters(), _net(0).parameters(), strict=True)]
    assert all(changed)  # every parameter moved, the late one too


def test_a_state_dict_resumes_with_either_optimizer() -> None:
    resumed, via_torch, into_torch = _net(2), _net(2), _net(2)
    first = Adam(resumed.parameters(), 1e-2)
    _train(resumed, first, 25)
    second = Adam(resumed.parameters(), 1e-2)
    second.load_state_dict(first.state_dict())
    _train(resumed, second, 15)
    torch_opt = torch.optim.Adam(via_torch.parameters(), lr=1e-2, foreach=True)
    _train(via_torch, torch_opt, 25)
    ours = Adam(via_torch.parameters(), 1e-2)
    ours.load_state_dict(torch_opt.state_dict())
    _train(via_torch, ours, 15)
    first_ours = Adam(into_torch.parameters(), 1e-2)
    _train(into_torch, first_ours, 25)
    then_torch = torch.optim.Adam(into_torch.parameters(), lr=1e-2, foreach=True)
    then_torch.load_state_dict(first_ours.state_dict())
    _train(into_torch, then_torch, 15)
    reference = _net(2)
    ref_opt = torch.optim.Adam(reference.parameters(), lr=1e-2, foreach=True)
    _train(reference, ref_opt, 25)
    _train(reference, ref_opt, 15)
    for a, b, c, d in zip(resumed.parameters(), via_torch.parameters(), into_torch.parameters(),
                          reference.parameters(), strict=True):  # fmt: skip
        assert torch.equal(a, d) and torch.equal(b, d) and torch.equal(c, d)


def test_a_state_dict_of_other_parameters_is_refused() -> None:
    net = _net(0)
    optimizer = Adam(net.parameters(), 1e-2)
    with pytest.raises(ValueError, match="other parameters"):
        Adam(list(net.parameters())[:2], 1e-2).load_state_dict(optimizer.state_dict())


def test_a_fit_does_not_import_the_torch_compiler() -> None:
    """Every torch.optim optimizer imports torch._dynamo, a second or more of each job's start and exit."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from ndx_causal_emergence.models import MultiscaleNISPlus\n"
        "X = np.random.default_rng(0).normal(size=(300, 6))\n"
        "MultiscaleNISPlus(preset='fast', max_steps=20, eval_every=10, polish_steps=20).fit(X)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert out.stdout.split()[-1] == "False"
