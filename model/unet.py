"""A small conditional UNet: eps = unet(x_t, t, xy).

Levels of residual blocks halve the resolution on the way down and double it on the way up, with skip
connections between them, self-attention at chosen resolutions and in the bottleneck. The condition enters
every residual block as a per-channel scale and shift (FiLM) computed from one embedding:

- ``concat`` (the paper's): an MLP of the concatenated sinusoidal encodings of t, x and y, so x and y can
  interact inside the conditioning pathway;
- ``factorized``: separate MLPs for t, x and y whose outputs are summed, so the conditioning signal is
  additive in x and y by construction -- an architecture axis for the factorization question.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from model.config import ModelConfig


def sinusoidal(values: torch.Tensor, frequencies: torch.Tensor) -> torch.Tensor:
    """(B,) values -> (B, 2F) [sin(w v), cos(w v)] features."""
    angles = values[:, None] * frequencies[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def _groups(channels: int) -> int:
    return math.gcd(channels, 8)


class ResBlock(nn.Module):
    """Residual block: two 3x3 convolutions with the condition applied between them as a FiLM scale and
    shift; a 1x1 convolution matches the skip path when the channel count changes."""

    def __init__(self, in_ch: int, out_ch: int, emb_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(in_ch), in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * out_ch)
        self.norm2 = nn.GroupNorm(_groups(out_ch), out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """(B, in_ch, H, W) features and (B, emb_dim) embedding -> (B, out_ch, H, W)."""
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(F.silu(h))
        return h + self.skip(x)


class Attention(nn.Module):
    """Residual multi-head self-attention over the H * W positions of a feature map (one head when
    ``channels`` is not a multiple of ``heads``)."""

    def __init__(self, channels: int, heads: int = 4) -> None:
        super().__init__()
        self.heads = heads if channels % heads == 0 else 1
        self.norm = nn.GroupNorm(_groups(channels), channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        b, c, hgt, wid = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, hgt * wid).unbind(1)
        h = F.scaled_dot_product_attention(q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2))
        return x + self.out(h.transpose(-1, -2).reshape(b, c, hgt, wid))


class Level(nn.Module):
    """Residual blocks at one resolution, each optionally followed by attention."""

    def __init__(self, in_ch: int, out_ch: int, emb_dim: int, n_blocks: int, attention: bool) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            [ResBlock(in_ch if i == 0 else out_ch, out_ch, emb_dim) for i in range(n_blocks)]
        )
        self.attn = nn.ModuleList([Attention(out_ch) if attention else nn.Identity() for _ in range(n_blocks)])

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """(B, in_ch, H, W) features and (B, emb_dim) embedding -> (B, out_ch, H, W)."""
        for block, attn in zip(self.blocks, self.attn, strict=True):
            x = attn(block(x, emb))
        return x


class Bottleneck(nn.Module):
    """The lowest resolution: residual block, self-attention, residual block, at constant width."""

    def __init__(self, channels: int, emb_dim: int) -> None:
        super().__init__()
        self.res1 = ResBlock(channels, channels, emb_dim)
        self.attn = Attention(channels)
        self.res2 = ResBlock(channels, channels, emb_dim)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) features and (B, emb_dim) embedding -> (B, C, H, W)."""
        return self.res2(self.attn(self.res1(x, emb)), emb)


class ConditionEmbedding(nn.Module):
    """(t, x, y) -> one embedding vector per sample, ``concat`` or ``factorized`` (see module docstring)."""

    def __init__(self, cfg: ModelConfig, image_size: int, timesteps: int, emb_dim: int) -> None:
        super().__init__()
        self.mode = cfg.cond
        f = cfg.cond_frequencies
        # Time: the usual geometric frequencies over [0, T). Coordinates: periods from 2N down to 2 pixels,
        # so the encoding resolves sub-pixel positions across the whole image.
        self.register_buffer("t_freq", torch.exp(-math.log(timesteps) * torch.arange(f) / f), persistent=False)
        periods = torch.logspace(math.log10(2 * image_size), math.log10(2.0), f)
        self.register_buffer("xy_freq", 2 * math.pi / periods, persistent=False)

        def mlp(in_dim: int) -> nn.Sequential:
            return nn.Sequential(nn.Linear(in_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))

        if self.mode == "concat":
            self.joint = mlp(6 * f)
        else:
            self.t_mlp, self.x_mlp, self.y_mlp = mlp(2 * f), mlp(2 * f), mlp(2 * f)

    def forward(self, t: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
        """Timesteps t (B,) and centres xy (B, 2) in pixels -> (B, emb_dim) embedding."""
        et = sinusoidal(t.float(), self.t_freq)
        ex = sinusoidal(xy[:, 0], self.xy_freq)
        ey = sinusoidal(xy[:, 1], self.xy_freq)
        if self.mode == "concat":
            return self.joint(torch.cat([et, ex, ey], dim=1))
        return self.t_mlp(et) + self.x_mlp(ex) + self.y_mlp(ey)


class UNet(nn.Module):
    """Conditional UNet; ``probe_layers`` names the modules whose outputs the representation probe can read."""

    def __init__(self, cfg: ModelConfig, image_size: int, timesteps: int) -> None:
        super().__init__()
        c = cfg.base_channels
        emb_dim = 4 * c
        widths = [c * m for m in cfg.channel_mults]
        self.embed = ConditionEmbedding(cfg, image_size, timesteps, emb_dim)
        self.stem = nn.Conv2d(1, c, 3, padding=1)

        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        res, in_ch = image_size, c
        for i, w in enumerate(widths):
            self.down.append(Level(in_ch, w, emb_dim, cfg.num_res_blocks, res in cfg.attention_resolutions))
            last = i == len(widths) - 1
            self.downsample.append(nn.Identity() if last else nn.Conv2d(w, w, 3, stride=2, padding=1))
            res, in_ch = (res if last else res // 2), w

        self.bottleneck = Bottleneck(widths[-1], emb_dim)

        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, w in reversed(list(enumerate(widths))):
            self.up.append(Level(in_ch + w, w, emb_dim, cfg.num_res_blocks, res in cfg.attention_resolutions))
            first = i == 0
            self.upsample.append(nn.Identity() if first else nn.Upsample(scale_factor=2, mode="nearest"))
            res, in_ch = (res if first else res * 2), w

        self.head = nn.Sequential(nn.GroupNorm(_groups(c), c), nn.SiLU(), nn.Conv2d(c, 1, 3, padding=1))
        nn.init.zeros_(self.head[-1].weight)  # start as the zero predictor: a stable first step
        nn.init.zeros_(self.head[-1].bias)

    def probe_layers(self) -> dict[str, nn.Module]:
        """Modules the probe reads, by name, in the order data flows: ``embed`` (the condition embedding),
        ``down0``, ``down1``, ... (encoder levels, finest first), ``bottleneck``, ``up0``, ``up1``, ... (decoder
        levels, coarsest first). Each level's output is read before its down- or upsampling."""
        return {
            "embed": self.embed,
            **{f"down{i}": m for i, m in enumerate(self.down)},
            "bottleneck": self.bottleneck,
            **{f"up{i}": m for i, m in enumerate(self.up)},
        }

    def forward(self, x: torch.Tensor, t: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
        """Noisy images x (B, 1, N, N), integer timesteps t (B,) and centres xy (B, 2) in pixels ->
        predicted noise (B, 1, N, N)."""
        emb = self.embed(t, xy)
        h = self.stem(x)
        skips = []
        for level, down in zip(self.down, self.downsample, strict=True):
            h = level(h, emb)
            skips.append(h)
            h = down(h)
        h = self.bottleneck(h, emb)
        for level, up in zip(self.up, self.upsample, strict=True):
            h = up(level(torch.cat([h, skips.pop()], dim=1), emb))
        return self.head(h)
