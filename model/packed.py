"""Packed training: K trials of one architecture (different seeds, data sets or learning rates) in one process.

Each member is a full :class:`model.train.Trainer` -- its own data set, random stream, weights, AdamW, EMA,
evaluation and checkpoint -- so its metrics, history and checkpoint are those of an unpacked run and a member
checkpoint resumes unpacked. What packing shares is the process and, with ``vectorize``, the forward and
backward pass: the K weight sets are stacked and the network runs once under ``torch.func.vmap`` (convolutions
become grouped convolutions), in float32.

Vectorizing pays where launches dominate (a GPU running tiny models); on a CPU the grouped convolutions are
no faster per FLOP than K separate ones (bench/packed.py), so the default vectorizes on CUDA only and steps the
members one after another on a CPU -- bit for bit the unpacked runs, one worker instead of K.

Example::

    from model.config import from_preset
    from model.packed import PackedTrainer
    packed = PackedTrainer([from_preset("micro", {"train.seed": s}) for s in range(4)])
    histories = packed.run(on_eval=lambda step, metrics, member: print(member.config.train.seed, step))
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.func import functional_call, vmap
from torch.nn.attention import SDPBackend, sdpa_kernel

from model.config import Config, pack_key
from model.train import Trainer, TrainingDiverged


class PackedTrainer:
    """Trains ``configs`` side by side; a member whose loss diverges drops out while the others go on."""

    def __init__(self, configs: Sequence[Config], vectorize: bool | None = None) -> None:
        if not configs:
            raise ValueError("PackedTrainer needs at least one config")
        key = pack_key(configs[0])
        for config in configs[1:]:
            differ = sorted(k for k, v in pack_key(config).items() if key[k] != v)
            if differ:
                raise ValueError(f"packed trials must share {', '.join(differ)}; pack them separately")
        self.members = [Trainer(config) for config in configs]
        self.active = list(self.members)
        first = self.members[0]
        self.vectorize = first.device.type == "cuda" if vectorize is None else vectorize
        self._names = [name for name, _ in first.model.named_parameters()]
        self._buffers = dict(first.model.named_buffers())  # frequency tables, identical in every member
        self._shape = copy.deepcopy(first.model).to("meta")  # the architecture; weights come from the members

    @property
    def step(self) -> int:
        """Training steps taken: the active members' shared count, or the furthest member's once
        every member has dropped out."""
        return self.active[0].step if self.active else max(m.step for m in self.members)

    def _forward(self, params: dict[str, torch.Tensor], x: torch.Tensor, t: torch.Tensor,
                 cond: torch.Tensor) -> torch.Tensor:
        with sdpa_kernel(SDPBackend.MATH):  # fused attention kernels have no vmap rule; the math one batches
            return functional_call(self._shape, (params, self._buffers), (x, t, cond))

    def train_step(self) -> None:
        """One training step of every active member: one after another, or with ``vectorize``
        one vmapped forward and backward over the stacked weights, after which each member clips and updates its own."""
        if not self.vectorize:
            for member in self.active:
                member.train_step()
            return
        batches = []
        for member in self.active:  # each member draws from its own stream, in Trainer.train_step's order
            x0, centres = member.start_step()
            x_t, t, noise = member.schedule.draw(x0, member.generator)
            batches.append((x_t, t, centres, noise))
            member.optimizer.zero_grad()
        x_t, t, cond, noise = (torch.stack(v) for v in zip(*batches, strict=True))
        # Stacking is differentiable: each member's gradients land on its own parameters. vmap needs the
        # default memory format (it cannot batch channels-last tensors).
        params = {name: torch.stack([m._params[i] for m in self.active]).contiguous()
                  for i, name in enumerate(self._names)}
        # No bf16 autocast here, unlike Trainer: it does not reach the convolutions vmap batches (they run in
        # float32 whatever autocast says, and a bf16 input to one is an error), so the pack runs in float32.
        eps = vmap(self._forward)(params, x_t, t, cond)
        losses = (eps.float() - noise).square().mean(dim=(1, 2, 3, 4))
        losses.sum().backward()  # the sum's gradient on member k is member k's own loss gradient
        for member, loss in zip(self.active, losses, strict=True):
            member.finish_step(loss)

    def _settle(self, until: Callable[[list[dict[str, Any]]], bool] | None,
                on_settled: Callable[[Trainer], None] | None) -> None:
        """Members whose history satisfies ``until`` leave the pack (each passed to ``on_settled``)."""
        if until is None:
            return
        for member in list(self.active):
            if until(member.history):
                self.active.remove(member)
                if on_settled is not None:
                    on_settled(member)

    def _evaluate(self, start: float, on_eval: Callable[[int, dict[str, Any], Trainer], None] | None,
                  on_diverged: Callable[[Trainer, TrainingDiverged], None] | None,
                  on_round: Callable[[int, PackedTrainer], None] | None) -> None:
        """Evaluate every active member (a diverged one leaves the pack), then end the round."""
        for member in list(self.active):
            try:
                metrics = member.end_interval(start)
            except TrainingDiverged as error:
                self.active.remove(member)
                if on_diverged is None:
                    raise
                on_diverged(member, error)
                continue
            if on_eval is not None:
                on_eval(self.step, metrics, member)
        if on_round is not None:
            on_round(self.step, self)

    def run(
        self,
        on_eval: Callable[[int, dict[str, Any], Trainer], None] | None = None,
        on_diverged: Callable[[Trainer, TrainingDiverged], None] | None = None,
        on_round: Callable[[int, PackedTrainer], None] | None = None,
        until: Callable[[list[dict[str, Any]]], bool] | None = None,
        on_settled: Callable[[Trainer], None] | None = None,
    ) -> list[list[dict[str, Any]]]:
        """Train every member to ``train.steps``. At each evaluation step every active member is evaluated and
        ``on_eval(step, metrics, member)`` called (as ``Trainer.run`` does), then ``on_round(step, self)``.
        A diverged member goes to ``on_diverged`` (raised when that is None) and leaves the pack. With ``until``,
        a member whose history satisfies it after an evaluation round (after ``on_round``, so the round's
        checkpoint still holds it) leaves the pack and goes to ``on_settled``: stopped early, like
        ``Trainer.run(until=...)``."""
        total, every = self.members[0].config.train.steps, self.members[0].config.eval.every
        # Members' time_s is the group's wall time, summed across resumes like Trainer.run's.
        start = time.perf_counter() - max(m.elapsed for m in self.members)
        if self.step == 0 and not any(m.history for m in self.members):  # the untrained baseline, as Trainer.run
            self._evaluate(start, on_eval, on_diverged, on_round)
        self._settle(until, on_settled)
        while self.active and self.step < total:
            self.train_step()
            if self.step % every == 0 or self.step == total:
                self._evaluate(start, on_eval, on_diverged, on_round)
                self._settle(until, on_settled)
        return [m.history for m in self.members]
