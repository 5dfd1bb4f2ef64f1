"""Training throughput of the tiny preset against the reference a user would pick instead: Hugging Face diffusers.

    .venv/bin/python -m bench.train_step [--quick] [--threads 1] [--rounds 16]

Contenders, timed side by side in alternating rounds (bench/common.py), all at batch 64 on 16x16 images drawn
by the same on-device bump renderer, each with AdamW, gradient clipping and an EMA of the weights:

- ``phasescape``: ``model.train.Trainer.train_step`` of the tiny preset as shipped (channels-last on a CPU);
- ``before``: the same network as trained before issue 7 (default memory format, foreach AdamW), to show
  what channels-last and the fused AdamW buy;
- ``diffusers``: ``UNet2DModel`` + ``DDPMScheduler.add_noise`` + ``training_utils.EMAModel``, the loop of
  diffusers' training examples. Its width is the (c, 2c, 4c) closest to our parameter count (same depth: one
  residual block per level, attention at the 4x4 level). (x, y) are continuous, so they enter the usual way
  for a custom condition: ``class_embed_type="identity"`` plus an MLP of their sinusoidal encodings (ours)
  whose output is added to the timestep embedding; the MLP counts in its parameters.

Also prints each model's FLOPs per step (``torch.utils.flop_counter``) and our achieved FLOP/s as a fraction of
a 1024^3 fp32 matmul on this machine. On a CPU it also prints the kernel floor: the torch profiler splits our
step's time into the compute kernels (convolutions, GroupNorm, SiLU, attention, matmuls, the fused AdamW) and
everything else (elementwise glue, autograd, Python). A step that kept only the kernels would be the ratio
over diffusers divided by the kernels' share -- the most that removing overhead can buy with PyTorch's CPU
kernels for this network. (Profiling inflates the glue, so the share is underestimated and the ceiling, if
anything, too high.) Needs ``pip install -e .[bench]`` (diffusers).
"""

from __future__ import annotations

import argparse
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from bench.common import interleave, machine_line, matmul_flops, median_rate, median_ratio, set_threads
from model.config import from_preset
from model.data import BumpDataset
from model.train import Trainer
from model.unet import sinusoidal


class DiffusersReference:
    """A diffusers UNet2DModel trained the way diffusers' examples train one, conditioned on (x, y)."""

    def __init__(self, base: int, batch_size: int, device: torch.device) -> None:
        from diffusers import DDPMScheduler, UNet2DModel
        from diffusers.training_utils import EMAModel

        cfg = from_preset("tiny")
        widths = (base, 2 * base, 4 * base)
        self.unet = UNet2DModel(
            sample_size=cfg.data.image_size, in_channels=1, out_channels=1, layers_per_block=1,
            block_out_channels=widths, norm_num_groups=math.gcd(base, 8), class_embed_type="identity",
            down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
            up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        ).to(device)
        emb_dim = 4 * base  # UNet2DModel's timestep embedding width
        f = cfg.model.cond_frequencies
        periods = torch.logspace(math.log10(2 * cfg.data.image_size), math.log10(2.0), f)
        self.freq = (2 * math.pi / periods).to(device)
        self.cond = nn.Sequential(nn.Linear(4 * f, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim)).to(device)
        self.params = [*self.unet.parameters(), *self.cond.parameters()]
        self.scheduler = DDPMScheduler(num_train_timesteps=cfg.diffusion.timesteps, beta_schedule="linear")
        self.optimizer = torch.optim.AdamW(self.params, lr=cfg.train.lr)
        self.ema = EMAModel(self.params, decay=cfg.train.ema_decay)
        self.data = BumpDataset(cfg.data, seed=0, device=device)
        self.generator = torch.Generator(device).manual_seed(0)
        self.batch_size, self.device = batch_size, device

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.params)

    def train_step(self) -> None:
        x0, centres = self.data.sample(self.batch_size, self.generator)
        noise = torch.randn(x0.shape, generator=self.generator, device=self.device)
        t = torch.randint(self.scheduler.config.num_train_timesteps, (len(x0),), generator=self.generator,
                          device=self.device)
        emb = self.cond(torch.cat([sinusoidal(centres[:, 0], self.freq), sinusoidal(centres[:, 1], self.freq)], 1))
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            pred = self.unet(self.scheduler.add_noise(x0, noise, t), t, class_labels=emb).sample
        loss = F.mse_loss(pred.float(), noise)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        self.ema.step(self.params)


def matched_base(target: int, device: torch.device) -> int:
    """The diffusers base width whose parameter count is closest to ``target``."""
    counts = {c: DiffusersReference(c, 1, device).n_parameters for c in (8, 10, 12)}
    return min(counts, key=lambda c: abs(counts[c] - target))


def step_flops(step) -> float:
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


# The step's compute kernels on a CPU (leaf ATen ops, self time); everything else is overhead a leaner step could cut.
KERNELS = ("aten::mkldnn_convolution", "aten::convolution_backward", "aten::native_group_norm",
           "aten::silu", "aten::_scaled_dot_product", "aten::mm", "aten::addmm", "aten::bmm", "aten::_fused_adamw_")


def kernel_share(step, steps: int = 10) -> tuple[float, dict[str, float]]:
    """Share of the step's self CPU time spent in ``KERNELS``, and milliseconds per step of each kind."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    by_kind: dict[str, float] = {}
    for e in events:
        kind = next((k for k in KERNELS if e.key.startswith(k)), None)
        if kind is not None:
            by_kind[kind] = by_kind.get(kind, 0.0) + e.self_cpu_time_total / 1e3 / steps
    return sum(by_kind.values()) * 1e3 * steps / total, by_kind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds: about 40 s")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as a 1-CPU Ray trial)")
    parser.add_argument("--rounds", type=int, default=16, help="alternating rounds per contender")
    parser.add_argument("--steps", type=int, default=3, help="training steps per round")
    args = parser.parse_args()
    rounds, steps = (4, 3) if args.quick else (args.rounds, args.steps)
    set_threads(args.threads)
    print(machine_line(args.threads))

    ours = Trainer(from_preset("tiny", {"train.threads": args.threads}))
    before = Trainer(from_preset("tiny", {"train.threads": args.threads}))
    before.model.to(memory_format=torch.contiguous_format)
    before.optimizer = torch.optim.AdamW(before._params, lr=before.config.train.lr, foreach=True)
    device, batch = ours.device, ours.config.train.batch_size
    reference = DiffusersReference(matched_base(ours.n_parameters, device), batch, device)
    contenders = {"phasescape": ours.train_step, "before": before.train_step, "diffusers": reference.train_step}
    flops = {name: step_flops(step) for name, step in contenders.items()}  # also warms every contender up
    params = {"phasescape": ours.n_parameters, "before": before.n_parameters, "diffusers": reference.n_parameters}

    def timed(step):
        def run() -> float:
            for _ in range(steps):
                step()
            return steps * batch
        return run

    rates = interleave({name: timed(step) for name, step in contenders.items()}, rounds)
    peak = matmul_flops(device)
    print(f"batch {batch}, 16x16, {rounds} rounds x {steps} steps; matmul 1024^3 fp32: {peak / 1e9:.1f} GFLOP/s")
    print(f"{'contender':<16} {'params':>8} {'GFLOP/step':>10} {'img/s':>7} {'img/cpu-s':>9} {'of matmul':>9}")
    for name, r in rates.items():
        achieved = flops[name] / batch * median_rate(r)
        print(f"{name:<16} {params[name] / 1e6:7.3f}M {flops[name] / 1e9:10.2f} {median_rate(r):7.0f} "
              f"{median_rate(r, cpu=True):9.0f} {achieved / peak:9.1%}")
    for other in ("diffusers", "before"):
        print(f"phasescape / {other}: {median_ratio(rates['phasescape'], rates[other]):.2f}x images/s "
              f"(per CPU second: {median_ratio(rates['phasescape'], rates[other], cpu=True):.2f}x)")
    if device.type == "cpu":
        share, by_kind = kernel_share(ours.train_step)
        by_time = sorted(by_kind.items(), key=lambda kv: -kv[1])
        kinds = ", ".join(f"{kind.removeprefix('aten::')} {ms:.1f}" for kind, ms in by_time)
        ratio = median_ratio(rates["phasescape"], rates["diffusers"])
        print(f"kernel floor: kernels are {share:.0%} of our step (ms/step, profiled: {kinds}); a step of kernels "
              f"alone would be {ratio / share:.2f}x diffusers")
    print(machine_line(args.threads).split("; ")[-1] + " (after)")


if __name__ == "__main__":
    main()
