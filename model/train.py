"""Training one trial: AdamW with warm-up, EMA weights, gradient clipping, periodic evaluation.

Choices the paper leaves open (documented in README): AdamW (betas 0.9/0.999), linear warm-up then a
constant learning rate, gradient norm clipped at ``train.grad_clip``, EMA of the weights used for every
evaluation, bf16 autocast on CUDA. Evaluation uses its own fixed-seed generator, so it never disturbs the
training random stream and a resumed run reproduces an uninterrupted one bit for bit on CPU.

Example::

    from model.config import from_preset
    from model.train import train
    history = train(from_preset("micro"), on_eval=lambda step, metrics, trainer: print(step, metrics["phase"]))
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.config import Config, ConfigError
from model.data import BumpDataset
from model.definitions import phase_of, probe_column
from model.diffusion import NoiseSchedule
from model.geometry import eval_conditions, lattice_conditions, probe_grid
from model.metrics import sample_metrics
from model.optim import AdamW
from model.probe import metrics_of_scores, principal_scores
from model.unet import UNet

LATENT_COMPONENTS = 10  # principal components of the probe activations kept for plots


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the trial cannot go on."""


def settled(history: list[dict[str, Any]], phase: str, patience: int) -> bool:
    """True when the last ``patience`` evaluations of ``history`` are all in ``phase`` (the spec's ``stop``)."""
    return patience >= 1 and len(history) >= patience and all(m["phase"] == phase for m in history[-patience:])


@dataclass
class Evaluation:
    """One evaluation: scalar metrics plus the arrays reports draw (samples, probe latents)."""

    step: int
    metrics: dict[str, Any]
    samples: np.ndarray  # (n, N, N) in [0, 1]: in-distribution conditions, then held-out, then training-lattice ones
    targets: np.ndarray  # (n, 2) requested (x, y)
    latents: np.ndarray  # (G*G, k) the default probe layer's activations on their top principal components
    probe_xy: np.ndarray  # (G*G, 2) probe conditions

    def save(self, path: Path) -> None:
        """Write the arrays and the step to the compressed ``.npz`` file ``path`` (samples as float16,
        latents as float32); ``metrics`` are not saved (metrics.jsonl holds them)."""
        np.savez_compressed(
            path, step=self.step, samples=self.samples.astype(np.float16), targets=self.targets,
            latents=self.latents.astype(np.float32), probe_xy=self.probe_xy,
        )


def resolve_device(name: str) -> torch.device:
    """``train.device`` -> torch.device: ``auto`` is CUDA when torch sees a GPU, else CPU; ``cuda``
    without a GPU raises ConfigError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device: cuda requested but torch sees no GPU; use train.device=auto or cpu")
    return torch.device(name)


class Trainer:
    """Holds everything a trial needs; ``run`` trains to ``train.steps``, evaluating every ``eval.every``."""

    def __init__(self, config: Config) -> None:
        self.config = config
        tc = config.train
        if tc.threads > 0:
            torch.set_num_threads(tc.threads)
        self.device = resolve_device(tc.device)
        torch.manual_seed(tc.seed)  # weight init
        self.data = BumpDataset(config.data, seed=tc.seed, device=self.device)
        self.schedule = NoiseSchedule(config.diffusion, self.device)
        self.model = UNet(config.model, config.data.image_size, config.diffusion.timesteps).to(self.device)
        if self.device.type == "cpu":  # channels-last convolutions train the tiny preset faster (bench/train_step.py)
            self.model.to(memory_format=torch.channels_last)
        self.ema = copy.deepcopy(self.model).requires_grad_(False)
        # torch's fused AdamW kernel without torch.optim's import of torch._dynamo at every trial worker's start
        # (model/optim.py).
        self.optimizer = AdamW(self.model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
        self.generator = torch.Generator(self.device).manual_seed(tc.seed)
        self.step = 0
        self.elapsed = 0.0  # training + evaluation seconds, summed across resumes
        self.history: list[dict[str, Any]] = []
        self.evaluation: Evaluation | None = None
        self._loss_sum = torch.zeros((), device=self.device)
        self._loss_count = 0
        self._params = list(self.model.parameters())
        self._ema_params = list(self.ema.parameters())

    @property
    def n_parameters(self) -> int:
        """Number of weights of the model (the EMA copy not counted)."""
        return sum(p.numel() for p in self.model.parameters())

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def train_step(self) -> None:
        """One optimisation step: draw a batch, take the noise-prediction loss (bf16 autocast on CUDA),
        backpropagate, clip, update the weights and their EMA."""
        x0, centres = self.start_step()
        with self._autocast():
            loss = self.schedule.loss(self.model, x0, centres, self.generator)
        self.optimizer.zero_grad()
        loss.backward()
        self.finish_step(loss)

    def start_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Set this step's learning rate and draw its batch: (images, centres)."""
        tc = self.config.train
        lr = tc.lr * min(1.0, (self.step + 1) / max(1, tc.warmup_steps))
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return self.data.sample(tc.batch_size, self.generator)

    def finish_step(self, loss: torch.Tensor) -> None:
        """With the gradients of ``loss`` in place: clip, update the weights and their EMA, count the loss."""
        tc = self.config.train
        torch.nn.utils.clip_grad_norm_(self._params, tc.grad_clip)
        self.optimizer.step()
        torch._foreach_lerp_(self._ema_params, self._params, 1 - tc.ema_decay)
        self._loss_sum += loss.detach()  # no .item(): no device sync in the hot loop
        self._loss_count += 1
        self.step += 1

    @torch.no_grad()
    def evaluate(self) -> Evaluation:
        """Sample every evaluation condition with the EMA model, probe its representation, score both."""
        cfg, ec = self.config, self.config.eval
        self.ema.eval()
        gen = torch.Generator(self.device).manual_seed(ec.seed)
        in_dist, held_out = eval_conditions(cfg.data, ec.n_samples, ec.seed)
        lattice = lattice_conditions(cfg.data, ec.n_lattice, ec.seed, cfg.train.seed)
        targets = np.concatenate([in_dist, held_out, lattice])
        cond = torch.from_numpy(targets).to(self.device)
        shape = (len(targets), 1, cfg.data.image_size, cfg.data.image_size)
        with self._autocast():
            if ec.sampler == "ddim":
                x = self.schedule.sample_ddim(self.ema, cond, shape, gen, steps=ec.ddim_steps)
            else:
                x = self.schedule.sample_ddpm(self.ema, cond, shape, gen)
        samples = ((x[:, 0].float().clamp(-1, 1) + 1) / 2).cpu().numpy()

        periodic, sigma, compact = cfg.data.boundary == "periodic", cfg.data.sigma, cfg.data.family == "bump"
        metrics: dict[str, Any] = sample_metrics(samples[: len(in_dist)], in_dist, ec.tol, periodic, sigma, compact)
        for prefix, start, points in (("holdout_", len(in_dist), held_out),
                                      ("lattice_", len(in_dist) + len(held_out), lattice)):
            if len(points):
                scores = sample_metrics(samples[start: start + len(points)], points, ec.tol, periodic, sigma, compact)
                metrics.update({prefix + k: v for k, v in scores.items()})

        activations, probe_xy = self.probe(gen)
        for layer, layer_activations in activations.items():
            scores, _ = principal_scores(layer_activations)
            layer_metrics = metrics_of_scores(scores, ec.probe_grid, periodic)
            metrics.update({probe_column(layer, name): value for name, value in layer_metrics.items()})
            if layer == ec.probe_layer:
                metrics.update(layer_metrics)  # the plain names are the default layer's
                # as many columns as an SVD would give, even where the layer has fewer directions
                width = min(LATENT_COMPONENTS, *layer_activations.shape)
                latents = np.pad(scores[:, :width], ((0, 0), (0, width - scores[:, :width].shape[1])))
        metrics["phase"] = phase_of(metrics["frac_single"], metrics["acc"], ec.phase_single, ec.phase_acc)
        return Evaluation(self.step, metrics, samples, targets, latents, probe_xy)

    def probe(self, gen: torch.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """One forward pass over the grid of conditions with one fixed noise image: the activations
        (G*G, D_layer) of every probe layer (``UNet.probe_layers``), by name, and the conditions (G*G, 2)."""
        cfg, ec = self.config, self.config.eval
        layers = self.ema.probe_layers()
        if ec.probe_layer not in layers:
            raise ConfigError(f"eval.probe_layer: unknown layer {ec.probe_layer!r}; choose one of {', '.join(layers)}")
        xy = probe_grid(cfg.data, ec.probe_grid)
        n = cfg.data.image_size
        noise = torch.randn((1, 1, n, n), generator=gen, device=self.device).expand(len(xy), -1, -1, -1)
        t = torch.full((len(xy),), int(ec.probe_t * cfg.diffusion.timesteps), device=self.device)
        captured: dict[str, torch.Tensor] = {}
        hooks = [module.register_forward_hook(lambda _m, _i, out, name=name: captured.__setitem__(name, out))
                 for name, module in layers.items()]
        try:
            with self._autocast():
                self.ema(noise, t, torch.from_numpy(xy).to(self.device))
        finally:
            for hook in hooks:
                hook.remove()
        return {name: captured[name].float().flatten(1).cpu().numpy() for name in layers}, xy

    def run(self, on_eval: Callable[[int, dict[str, Any], Trainer], None] | None = None,
            until: Callable[[list[dict[str, Any]]], bool] | None = None) -> list[dict[str, Any]]:
        """Train to ``train.steps``, evaluating the untrained network first (step 0) and then every
        ``eval.every`` steps and at the last; after each evaluation call ``on_eval(step, metrics, trainer)``.
        With ``until``, stop early once ``until(history)`` holds after an evaluation (e.g. ``settled``)."""
        total, every = self.config.train.steps, self.config.eval.every
        start = time.perf_counter() - self.elapsed
        if self.step == 0 and not self.history:
            # The untrained network: the (x, y) encodings already order every layer, so what a trial learned
            # is read against this baseline row.
            metrics = self.end_interval(start)
            if on_eval is not None:
                on_eval(self.step, metrics, self)
        while self.step < total and not (until is not None and until(self.history)):
            self.train_step()
            if self.step % every == 0 or self.step == total:
                metrics = self.end_interval(start)
                if on_eval is not None:
                    on_eval(self.step, metrics, self)
        return self.history

    def end_interval(self, start: float) -> dict[str, Any]:
        """At an evaluation step: check the mean loss since the last one (NaN at step 0, before any training),
        evaluate, and record the metrics row (``time_s`` counts from ``start``, a ``time.perf_counter`` value)."""
        loss = (self._loss_sum / self._loss_count).item() if self._loss_count else math.nan
        if self._loss_count and not math.isfinite(loss):
            raise TrainingDiverged(f"loss became {loss} by step {self.step}; lower train.lr")
        self._loss_sum.zero_()
        self._loss_count = 0
        self.evaluation = self.evaluate()
        self.elapsed = time.perf_counter() - start
        metrics = {"step": self.step, "time_s": self.elapsed, "loss": loss, **self.evaluation.metrics}
        self.history.append(metrics)
        return metrics

    def state_dict(self) -> dict[str, Any]:
        """Everything a resume needs, for ``torch.save``: config, step, elapsed seconds, history, model,
        EMA and optimizer states, the training generator's state and the loss accumulated since the last evaluation."""
        return {
            "config": self.config.to_dict(),
            "step": self.step,
            "elapsed": self.elapsed,
            "history": self.history,
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "loss_sum": self._loss_sum.cpu(),
            "loss_count": self._loss_count,
        }

    def save_checkpoint(self, path: str | os.PathLike) -> None:
        """Write atomically: a crash while saving never leaves a truncated checkpoint behind."""
        path = Path(path)
        tmp = path.with_suffix(path.suffix + ".tmp")
        torch.save(self.state_dict(), tmp)
        os.replace(tmp, path)

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        """Restore a ``save_checkpoint`` file so that ``run`` continues where it stopped; a
        checkpoint of another config (seed included) raises ConfigError. Configs are compared by trial id, so a
        checkpoint written before a config key with a hash-neutral default existed still resumes."""
        state = torch.load(path, map_location=self.device, weights_only=True)
        if Config.from_dict(state["config"]).hash() != self.config.hash():
            raise ConfigError(f"{path}: checkpoint belongs to a different config; start a fresh run instead")
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"].cpu())
        self.step = state["step"]
        self.elapsed = state["elapsed"]
        self.history = state["history"]
        self._loss_sum = state["loss_sum"].to(self.device)
        self._loss_count = state["loss_count"]


def train(
    config: Config,
    on_eval: Callable[[int, dict[str, Any], Trainer], None] | None = None,
    resume_from: str | os.PathLike | None = None,
) -> list[dict[str, Any]]:
    """Train one trial (optionally resuming from a checkpoint file) and return its evaluation history."""
    trainer = Trainer(config)
    if resume_from is not None:
        trainer.load_checkpoint(resume_from)
    return trainer.run(on_eval)
