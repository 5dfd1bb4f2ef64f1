"""AdamW without ``torch.optim.Optimizer``: torch's own fused AdamW update over one list of parameters.

``torch.optim.Optimizer`` imports ``torch._dynamo`` the first time it is built or stepped, a slow import in every
new trial worker that delays a sweep's first report (bench/sweep_overhead.py measures it). The update here is
torch's functional ``adamw`` with ``fused=True``, the kernel ``torch.optim.AdamW(fused=True)`` runs, so the weights
are bit for bit the same; ``param_groups`` and the state dict have ``torch.optim.AdamW``'s layout, so code that sets
a group's ``lr`` and checkpoints written by either class work with both (tests/model_tests/test_optim.py).

Example::

    import torch
    from model.optim import AdamW
    w = torch.zeros(3, requires_grad=True)
    opt = AdamW([w], lr=0.1, weight_decay=0.0)
    (w - 1).square().sum().backward()
    opt.step()
    opt.zero_grad()
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch.optim.adamw import adamw


class AdamW:
    """Decoupled-weight-decay Adam over ``params`` (one group); parameters without a gradient are skipped."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float, weight_decay: float,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.params = list(params)
        self.param_groups = [{"params": self.params, "lr": lr, "betas": betas, "eps": eps,
                              "weight_decay": weight_decay}]
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        # The fused kernel counts steps in float32 tensors on the parameters' device, as torch.optim does.
        self.steps = [torch.zeros((), dtype=torch.float32, device=p.device) for p in self.params]

    @torch.no_grad()
    def step(self) -> None:
        """One fused AdamW update, in place, of every parameter that has a gradient, with the group's
        current ``lr``, ``betas``, ``eps`` and ``weight_decay``."""
        group = self.param_groups[0]
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        adamw(
            [self.params[i] for i in live], [self.params[i].grad for i in live],
            [self.exp_avg[i] for i in live], [self.exp_avg_sq[i] for i in live], [], [self.steps[i] for i in live],
            fused=True, amsgrad=False, beta1=group["betas"][0], beta2=group["betas"][1], lr=group["lr"],
            weight_decay=group["weight_decay"], eps=group["eps"], maximize=False,
        )

    def zero_grad(self) -> None:
        """Drop every parameter's gradient (set it to None)."""
        for p in self.params:
            p.grad = None

    def state_dict(self) -> dict[str, Any]:
        """``torch.optim.AdamW(fused=True)``'s layout: per-parameter state by index, then the group."""
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        group.update(amsgrad=False, maximize=False, foreach=None, capturable=False, differentiable=False,
                     fused=True, decoupled_weight_decay=True, params=list(range(len(self.params))))
        state = {i: {"step": self.steps[i].clone(), "exp_avg": self.exp_avg[i].clone(),
                     "exp_avg_sq": self.exp_avg_sq[i].clone()} for i in range(len(self.params))}
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore step counts, moments and the group's lr, betas, eps and weight decay from a
        ``state_dict`` of this class or of ``torch.optim.AdamW``; a different parameter count raises ValueError."""
        (group,) = state_dict["param_groups"]
        if len(group["params"]) != len(self.params):
            raise ValueError(f"optimizer state for {len(group['params'])} parameters, this model has "
                             f"{len(self.params)}; the checkpoint belongs to a different architecture")
        self.param_groups[0].update({k: group[k] for k in ("lr", "betas", "eps", "weight_decay")})
        for i, s in state_dict["state"].items():
            self.steps[i].copy_(s["step"])
            self.exp_avg[i].copy_(s["exp_avg"])
            self.exp_avg_sq[i].copy_(s["exp_avg_sq"])
