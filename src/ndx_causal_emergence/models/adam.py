"""Adam (Kingma & Ba 2015) with the multi-tensor update of ``torch.optim.Adam(foreach=True)``, without ``torch.optim``.

Building any ``torch.optim`` optimizer imports ``torch._dynamo`` (the compiler), a second or more of
every job's start and exit on the 2-core box, where a small recording's whole job takes about ten
(``benchmarks/results/runtime/adam_side_by_side.json``). :class:`Adam` applies the same ``torch._foreach_*``
operations in the same order as ``torch.optim.adam._multi_tensor_adam`` with ``amsgrad``,
``maximize``, ``capturable`` and ``differentiable`` off, so the parameters it gives are the same
bit for bit (``tests/unit/models/test_adam.py`` checks them against ``torch.optim.Adam`` over
many steps, with and without weight decay), and its :meth:`~Adam.state_dict` has the layout of
``torch.optim.Adam``'s, so checkpoints written by either resume with either.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

__all__ = ["Adam"]


class Adam:
    """Adam on a list of parameters, with Adam's L2 penalty ``weight_decay`` (``torch.optim.Adam``'s meaning).

    Parameters
    ----------
    params : iterable of torch.Tensor
        The parameters, updated in place by :meth:`step`.
    lr : float
        Learning rate.
    betas : (float, float)
        Decay rates of the first and second moment estimates.
    eps : float
        Added to the square root of the second moment estimate.
    weight_decay : float
        L2 penalty added to the gradient (not decoupled: the official mice code's convention).
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float,
        *,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        self.params = list(params)
        self.lr, self.betas, self.eps, self.weight_decay = float(lr), tuple(betas), float(eps), float(weight_decay)
        self.state: dict[int, dict[str, torch.Tensor]] = {}  # by position in params, created at a first gradient

    def zero_grad(self) -> None:
        """Drop every parameter's gradient (``set_to_none``)."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One Adam update of the parameters that have a gradient; those without one are left as they are."""
        groups: dict[tuple[torch.device, torch.dtype], list[int]] = {}
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            if i not in self.state:  # the moments start at zero, the step count on the CPU in float32, as torch's
                self.state[i] = {"step": torch.tensor(0.0), "exp_avg": torch.zeros_like(p),
                                 "exp_avg_sq": torch.zeros_like(p)}  # fmt: skip
            groups.setdefault((p.device, p.dtype), []).append(i)
        beta1, beta2 = self.betas
        for members in groups.values():
            params = [self.params[i] for i in members]
            grads = [p.grad for p in params]
            states = [self.state[i] for i in members]
            steps = [s["step"] for s in states]
            exp_avgs = [s["exp_avg"] for s in states]
            exp_avg_sqs = [s["exp_avg_sq"] for s in states]
            torch._foreach_add_(steps, torch.tensor(1.0), alpha=1.0)
            if self.weight_decay != 0:
                grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
            torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
            torch._foreach_mul_(exp_avg_sqs, beta2)
            torch._foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - beta2)
            counts = [s.item() for s in steps]
            step_size = [(self.lr / (1 - beta1**t)) * -1 for t in counts]
            correction2_sqrt = [(1 - beta2**t) ** 0.5 for t in counts]
            denom = torch._foreach_sqrt(exp_avg_sqs)
            torch._foreach_div_(denom, correction2_sqrt)
            torch._foreach_add_(denom, self.eps)
            torch._foreach_addcdiv_(params, exp_avgs, denom, step_size)

    def state_dict(self) -> dict[str, Any]:
        """The moments and step counts in ``torch.optim.Adam``'s layout (parameters by position)."""
        group = {"lr": self.lr, "betas": self.betas, "eps": self.eps, "weight_decay": self.weight_decay,
                 "amsgrad": False, "maximize": False, "foreach": True, "capturable": False,
                 "differentiable": False, "fused": None, "decoupled_weight_decay": False,
                 "params": list(range(len(self.params)))}  # fmt: skip
        return {"state": {i: dict(s) for i, s in self.state.items()}, "param_groups": [group]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume from :meth:`state_dict` (or from a ``torch.optim.Adam`` state dict of one parameter group)."""
        groups = state_dict["param_groups"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(self.params):
            raise ValueError("the optimizer state holds other parameters than this optimizer's.")
        group = groups[0]
        self.lr, self.betas, self.eps = float(group["lr"]), tuple(group["betas"]), float(group["eps"])
        self.weight_decay = float(group["weight_decay"])
        position = {pid: i for i, pid in enumerate(group["params"])}
        self.state = {}
        for pid, s in state_dict["state"].items():
            p = self.params[position[pid]]
            self.state[position[pid]] = {
                "step": torch.as_tensor(s["step"], dtype=torch.float32).detach().clone().cpu(),
                "exp_avg": s["exp_avg"].detach().clone().to(p.device, p.dtype),
                "exp_avg_sq": s["exp_avg_sq"].detach().clone().to(p.device, p.dtype),
            }
