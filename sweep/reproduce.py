"""``phasescape reproduce``: every claim of the two papers as a runnable, checked experiment.

A claim file (``claims/*.yaml``, one per claim) holds the paper's statement and reference, the sweep spec(s) at
each scale (``cpu``: 16 x 16, at most about 20 minutes on 2 cores; ``gpu``: 32 x 32 as in the papers), the check
(analysis/claims.py) with its thresholds, and what differs from the paper::

    id: coupling
    title: Under imbalanced data x and y are learned together
    paper: Liang, Liu & Fiete, arXiv 2402.03305
    reference: Sec. 4, Fig. 4
    statement: ...
    check: {name: coupling, params: {min_share: 0.5}}
    differs: [the paper reads the onsets of x and y from ...]
    scales:
      cpu:
        note: ...                        # optional, added to "differs" for this scale
        sweeps:                          # sweep specs (sweep/spec.py) without name and storage
          - {base: tiny, set: {...}, axes: {...}, seeds: [0, 1], steps: 1500, eval_every: 100}
      gpu:
        sweeps: [...]

Each sweep runs through the sweep driver as ``<id>-<scale>[-<k>]`` under ``--storage`` (default
``results/reproduce``), so finished trials are reused by their config hash and a second run only re-checks. Then
the check turns the results into a verdict, and ``reproduction.md`` and ``reproduction.html`` (with an evidence
figure per claim) are written to ``--out`` (default ``<storage>/reproduction-<scale>``).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.config import Config, from_preset
from model.errors import UsageError
from sweep.spec import SweepSpec, check_storage, parse_spec, unmeasurable_trials
from sweep.specfile import load_yaml

CLAIMS_DIR = Path(__file__).resolve().parent.parent / "claims"
DEFAULT_STORAGE = "results/reproduce"
FIELDS = {"id", "title", "paper", "reference", "statement", "check", "scales", "differs"}


@dataclass
class Claim:
    """A parsed claim file: statement, reference, check name and parameters, sweep specs per scale."""

    id: str
    title: str
    paper: str
    reference: str
    statement: str
    check: str
    params: dict[str, Any]
    scales: dict[str, dict[str, Any]]
    differs: list[str] = field(default_factory=list)
    path: Path | None = None

    def specs(self, scale: str, storage: str) -> list[SweepSpec]:
        """The validated sweep specs of ``scale``, named ``<id>-<scale>[-<k>]``, results under ``storage``."""
        if scale not in self.scales:
            raise UsageError(f"--scale: claim {self.id!r} has no {scale!r} scale; it has {', '.join(self.scales)}")
        raws = self.scales[scale]["sweeps"]
        specs = []
        for k, raw in enumerate(raws):
            if not isinstance(raw, dict) or {"name", "storage"} & set(raw):
                raise UsageError(f"{self.path}: scales.{scale}.sweeps[{k}]: a sweep spec mapping without 'name' and "
                                 "'storage' (the claim names them)")
            name = f"{self.id}-{scale}" + (f"-{k + 1}" if len(raws) > 1 else "")
            try:
                specs.append(parse_spec({**raw, "name": name, "storage": storage}, f"{self.path}: {name}"))
            except UsageError as error:
                raise UsageError(f"{self.path}: scales.{scale}.sweeps[{k}].{error}") from None
        return specs


def parse_claim(raw: dict[str, Any], path: Path) -> Claim:
    """Validate a claim mapping; the first problem raises UsageError naming the file and the field."""
    from analysis.claims import CHECKS

    for key in raw:
        if key not in FIELDS:
            raise UsageError(f"{path}: {key}: unknown key; valid keys: {', '.join(sorted(FIELDS))}")
    for key in ("id", "title", "paper", "reference", "statement"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise UsageError(f"{path}: {key}: missing or not text; every claim gives its {key}")
    check = raw.get("check")
    if not isinstance(check, dict) or check.get("name") not in CHECKS:
        raise UsageError(f"{path}: check.name: must be one of {', '.join(CHECKS)}, got "
                         f"{check.get('name') if isinstance(check, dict) else check!r}")
    params = check.get("params") or {}
    if not isinstance(params, dict):
        raise UsageError(f"{path}: check.params: expected a mapping of threshold names to values")
    scales = raw.get("scales")
    if not isinstance(scales, dict) or not scales or any(not isinstance(s, dict) or not isinstance(
            s.get("sweeps"), list) or not s["sweeps"] for s in scales.values()):
        raise UsageError(f"{path}: scales: expected {{cpu: {{sweeps: [...]}}, gpu: {{sweeps: [...]}}}}")
    differs = raw.get("differs") or []
    if not isinstance(differs, list) or not all(isinstance(d, str) for d in differs):
        raise UsageError(f"{path}: differs: expected a list of sentences")
    return Claim(raw["id"], raw["title"], raw["paper"], raw["reference"], " ".join(raw["statement"].split()),
                 check["name"], params, scales, differs, path)


def load_claims(folder: Path = CLAIMS_DIR, wanted: list[str] | None = None) -> list[Claim]:
    """The claims of ``folder`` (every ``*.yaml``, in file-name order), or only the ``wanted`` ids, in that order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"--claims {folder}: not a folder of claim files")
    claims = [parse_claim(load_yaml(p, "claim", "see claims/"), p) for p in sorted(folder.glob("*.yaml"))]
    by_id = {c.id: c for c in claims}
    if not wanted:
        return claims
    unknown = [w for w in wanted if w not in by_id]
    if unknown:
        raise UsageError(f"{unknown[0]}: unknown claim; choose from {', '.join(by_id)}")
    return [by_id[w] for w in wanted]


def differences(claim: Claim, scale: str, specs: list[SweepSpec]) -> list[str]:
    """What differs from the paper's setting: size, steps, architecture and seeds of the trials (derived from the
    specs), then the claim's own notes and the scale's note."""
    configs: list[Config] = [c for s in specs for c in s.trials()]
    out = []
    if configs:
        c = configs[0]
        paper = from_preset("paper")
        m, pm = c.model, paper.model
        out.append(f"images {c.data.image_size} x {c.data.image_size} (paper 32 x 32)")
        steps = sorted({x.train.steps for x in configs})
        out.append(f"{'/'.join(map(str, steps))} training steps, batch {c.train.batch_size} (the paper gives no "
                   f"length; the 'paper' preset trains {paper.train.steps})")
        arch = f"UNet {m.base_channels} x {m.channel_mults}, {m.num_res_blocks} res block(s), attention at " \
               f"{m.attention_resolutions}"
        paper_arch = f"{pm.base_channels} x {pm.channel_mults}, {pm.num_res_blocks} res blocks, attention at " \
                     f"{pm.attention_resolutions}"
        if arch.split("UNet ")[1] != paper_arch:
            out.append(f"{arch} (the 'paper' preset: {paper_arch})")
        seeds = sorted({x.train.seed for x in configs})
        out.append(f"{len(seeds)} seed(s) per setting; {len(configs)} trial(s) in all")
        out.append(f"probe: PCA of the '{c.eval.probe_layer}' layer at t = {c.eval.probe_t:g} T (the paper: UMAP of "
                   "the 4th UNet layer)")
    note = claim.scales[scale].get("note")
    return out + list(claim.differs) + ([" ".join(str(note).split())] if note else [])


def reproduce(claims: list[Claim], scale: str, storage: str, address: str | None = None,
              out: Path | None = None, dry_run: bool = False, accept_unmeasurable: bool = False) -> list[Any]:
    """Run each claim's sweeps (reusing finished trials), check them, write the report; returns the ClaimResults.
    Trials whose phases the detector cannot tell are refused before any compute, as ``run`` does, unless
    ``accept_unmeasurable``."""
    import pandas as pd

    from analysis.claims import run_check
    from analysis.reproduction import ClaimResult, train_seconds, write_reproduction

    check_storage(storage)
    plans = [(claim, claim.specs(scale, storage)) for claim in claims]  # every file checked before any compute
    for claim, specs in plans:
        n = sum(len(s.trials()) for s in specs)
        steps = sum(c.train.steps for s in specs for c in s.trials())
        print(f"{claim.id}: {len(specs)} sweep(s), {n} trial(s), {steps} training steps in all", flush=True)
        for spec in specs:
            bad = unmeasurable_trials(spec)
            if bad:
                print(f"  warning: {len(bad)} trial(s) of {spec.name} cannot be measured, e.g. "
                      f"{bad[0][0].hash()[:10]}: {bad[0][1]}", flush=True)
                if not (dry_run or accept_unmeasurable):
                    raise UsageError(f"{claim.id}: {len(bad)} trial(s) of {spec.name} cannot be measured (above); "
                                     "change data.sigma or data.image_size in the claim file, or pass "
                                     "--accept-unmeasurable")
    if dry_run:
        return []
    from sweep.driver import run_sweep

    results = []
    for claim, specs in plans:
        print(f"\n== {claim.id}: {claim.title}", flush=True)
        started = time.time()
        tables = [run_sweep(spec, storage=storage, address=address) for spec in specs]
        table = pd.concat(tables, ignore_index=True)
        verdict = run_check(claim.check, table, claim.params)
        wall = time.time() - started
        result = ClaimResult(claim.id, claim.title, claim.statement, f"{claim.paper}, {claim.reference}",
                             claim.check, claim.params, verdict, table, wall, train_seconds(table),
                             differences(claim, scale, specs), [s.name for s in specs])
        results.append(result)
        print(f"{claim.id}: {verdict.verdict} -- {verdict.reason} ({wall:.0f} s)", flush=True)
    out_dir = Path(out) if out else Path(storage).expanduser().resolve() / f"reproduction-{scale}"
    md, page = write_reproduction(results, out_dir, scale)
    print("\n" + "\n".join(f"{r.claim_id:12s} {r.verdict.verdict:12s} {r.wall_s:6.0f} s  {r.verdict.reason}"
                           for r in results))
    print(f"report: {page}\n        {md}")
    return results


def cmd_reproduce(args: argparse.Namespace) -> int:
    """``phasescape reproduce``: run and check the claims; returns 0, bad input raises UsageError (exit status 2)."""
    claims = load_claims(Path(args.claims), args.claim)
    if args.list:
        for c in claims:
            print(f"{c.id:12s} {c.check:12s} scales {', '.join(c.scales):10s} {c.title}")
        return 0
    reproduce(claims, args.scale, args.storage, args.address, Path(args.out) if args.out else None, args.dry_run,
              args.accept_unmeasurable)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``reproduce [CLAIM ...] [--scale cpu|gpu] [--address A] [--storage DIR] [--out DIR]``."""
    p = subparsers.add_parser("reproduce", help="run every claim of the two papers as a checked experiment",
                              description="Run each claim's sweeps (finished trials reused), check them, and write "
                                          "reproduction.md and reproduction.html.")
    p.add_argument("claim", nargs="*", help="claim ids (default: every claim in --claims)")
    p.add_argument("--scale", default="cpu", help="cpu (16 x 16, minutes each) or gpu (32 x 32, as in the papers)")
    p.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else a local Ray)")
    p.add_argument("--storage", default=DEFAULT_STORAGE, help=f"results folder (default {DEFAULT_STORAGE})")
    p.add_argument("--out", help="report folder (default STORAGE/reproduction-SCALE)")
    p.add_argument("--claims", default=str(CLAIMS_DIR), help="folder of claim files (default: the package's claims/)")
    p.add_argument("--list", action="store_true", help="list the claims and their scales; run nothing")
    p.add_argument("--dry-run", action="store_true", help="check every claim file and print the plan; run nothing")
    p.add_argument("--accept-unmeasurable", action="store_true",
                   help="train trials whose phases the detector cannot tell (ceiling acc below 0.95), as for run")
    p.set_defaults(func=cmd_reproduce)

