"""The DDPM noise schedule, separate from the network: forward noising, the eps-prediction loss, and
ancestral DDPM and deterministic DDIM sampling. ``model`` is any callable eps = model(x_t, t, cond).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from model.config import DiffusionConfig

EpsModel = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def make_betas(schedule: str, timesteps: int) -> torch.Tensor:
    """The (T,) float64 noise variances beta_t of a ``linear`` or ``cosine`` schedule. Linear is scaled
    by 1000 / T so every T spans the same noise range; cosine is capped at 0.999. Another name raises ValueError."""
    if schedule == "linear":  # Ho et al. 2020, scaled so any T spans the same noise range
        scale = 1000 / timesteps
        return torch.linspace(scale * 1e-4, scale * 0.02, timesteps, dtype=torch.float64)
    if schedule == "cosine":  # Nichol & Dhariwal 2021
        s = 0.008
        steps = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
        alpha_bar = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
        return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=0.999)
    raise ValueError(f"diffusion.schedule: unknown schedule {schedule!r}; use linear or cosine")


class NoiseSchedule:
    """alpha_bar_t and friends for t = 0..T-1 (t = 0 is the least noisy step)."""

    def __init__(self, cfg: DiffusionConfig, device: torch.device | str = "cpu") -> None:
        self.timesteps = cfg.timesteps
        betas = make_betas(cfg.schedule, cfg.timesteps)
        alpha_bar = torch.cumprod(1 - betas, dim=0)
        self.betas = betas.float().to(device)
        self.alpha_bar = alpha_bar.float().to(device)
        self.alpha_bar_prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bar[:-1]]).float().to(device)

    def _at(self, values: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return values[t][:, None, None, None]

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Forward noising q(x_t | x_0): sqrt(alpha_bar_t) * x0 + sqrt(1 - alpha_bar_t) * noise,
        for x0 and noise (B, C, H, W) and integer timesteps t (B,); returns x_t (B, C, H, W)."""
        a = self._at(self.alpha_bar, t)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def draw(self, x0: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A training example's (x_t, t, noise) at uniformly drawn timesteps."""
        t = torch.randint(self.timesteps, (len(x0),), generator=generator, device=x0.device)
        noise = torch.randn(x0.shape, generator=generator, device=x0.device)
        return self.add_noise(x0, noise, t), t, noise

    def loss(
        self, model: EpsModel, x0: torch.Tensor, cond: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        """Mean squared error of the predicted noise at uniformly drawn timesteps."""
        x_t, t, noise = self.draw(x0, generator)
        return F.mse_loss(model(x_t, t, cond).float(), noise)

    @torch.no_grad()
    def sample_ddpm(
        self, model: EpsModel, cond: torch.Tensor, shape: tuple[int, ...], generator: torch.Generator
    ) -> torch.Tensor:
        """Ancestral sampling through all T steps (posterior variance beta-tilde)."""
        x = torch.randn(shape, generator=generator, device=cond.device)
        for step in reversed(range(self.timesteps)):
            t = torch.full((shape[0],), step, device=cond.device, dtype=torch.long)
            eps = model(x, t, cond).float()
            a, a_prev, beta = self.alpha_bar[step], self.alpha_bar_prev[step], self.betas[step]
            x0 = ((x - (1 - a).sqrt() * eps) / a.sqrt()).clamp(-1, 1)
            mean = (a_prev.sqrt() * beta * x0 + (1 - beta).sqrt() * (1 - a_prev) * x) / (1 - a)
            if step > 0:
                var = beta * (1 - a_prev) / (1 - a)
                x = mean + var.sqrt() * torch.randn(shape, generator=generator, device=cond.device)
            else:
                x = mean
        return x

    @torch.no_grad()
    def sample_ddim(
        self, model: EpsModel, cond: torch.Tensor, shape: tuple[int, ...], generator: torch.Generator,
        steps: int = 50,
    ) -> torch.Tensor:
        """Deterministic DDIM (eta = 0) over ``steps`` evenly spaced timesteps."""
        x = torch.randn(shape, generator=generator, device=cond.device)
        times = torch.linspace(self.timesteps - 1, 0, steps).round().long().tolist()
        for i, step in enumerate(times):
            t = torch.full((shape[0],), step, device=cond.device, dtype=torch.long)
            eps = model(x, t, cond).float()
            a = self.alpha_bar[step]
            a_next = self.alpha_bar[times[i + 1]] if i + 1 < len(times) else torch.ones((), device=x.device)
            x0 = ((x - (1 - a).sqrt() * eps) / a.sqrt()).clamp(-1, 1)
            eps = (x - a.sqrt() * x0) / (1 - a).sqrt()  # consistent with the clamped x0
            x = a_next.sqrt() * x0 + (1 - a_next).sqrt() * eps
        return x
