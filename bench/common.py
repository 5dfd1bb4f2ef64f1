"""Shared helpers of the benchmarks: thread setup, the machine line, and side-by-side timing.

On a shared machine a single timing says more about the neighbours than about the code, so contenders are
timed in alternating short rounds (the order rotates every round) and compared round by round: load that
changes slowly hits both sides of a ratio alike. Each round also records CPU seconds of this process, which
other processes barely move when a benchmark runs on one thread.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable

import torch


def set_threads(threads: int) -> None:
    os.environ["OMP_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)


def machine_line(threads: int) -> str:
    cpu = platform.processor() or platform.machine()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"{os.cpu_count()} CPU cores"
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    return f"{cpu}, {device}; torch {torch.__version__}, {threads} thread(s); load average {load}"


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def interleave(contenders: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[tuple[float, float]]]:
    """Call each contender once per round, rotating the order; each call does some work and returns how many
    units (images, trials, ...) it processed. Returns per contender and round (units per wall second, units
    per CPU second of this process)."""
    names = list(contenders)
    out: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            sync()
            wall, cpu = time.perf_counter(), time.process_time()
            units = contenders[name]()
            sync()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            out[name].append((units / wall, units / max(cpu, 1e-9)))
    return out


def median_rate(rates: list[tuple[float, float]], cpu: bool = False) -> float:
    return statistics.median(r[cpu] for r in rates)


def median_ratio(a: list[tuple[float, float]], b: list[tuple[float, float]], cpu: bool = False) -> float:
    """Median over rounds of rate(a) / rate(b): each ratio compares two timings taken moments apart."""
    return statistics.median(x[cpu] / y[cpu] for x, y in zip(a, b, strict=True))


def matmul_flops(device: torch.device, repeats: int = 5) -> float:
    """FLOP/s of a 1024^3 fp32 matmul: the practical limit of dense compute here (best of ``repeats``)."""
    a, b = torch.randn(1024, 1024, device=device), torch.randn(1024, 1024, device=device)
    a @ b
    best = 0.0
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        a @ b
        sync()
        best = max(best, 2 * 1024**3 / (time.perf_counter() - start))
    return best
