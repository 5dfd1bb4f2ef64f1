"""TensorBoard event files of a trial, so that ``tensorboard --logdir STORAGE/NAME`` shows every trial as a run.

Each attempt of a trial writes one event file into the trial folder (a TensorBoard run): the trial's config as
TensorBoard HParams and every numeric metric of every evaluation as a scalar (step = training step).
``TrialWriter`` (sweep/artifacts.py) drives it, so sweeps, packed groups, studies and ``phasescape train`` all
write them. Each evaluation is appended and the file closed at once, before the trial reports its checkpoint: no
writer thread, no file left open in a Ray worker that goes on to run the next trial, and every checkpointed step
is on disk. A resumed attempt starts a new file with TensorBoard's restart marker (``SessionLog.START``, what
``SummaryWriter(purge_step=...)`` writes) at the first step after its checkpoint: TensorBoard drops what an
interrupted attempt wrote from there on, so it shows one curve. Files are only ever appended to: a TensorBoard
that is reading one never loses it.

Tags: the headline numbers under ``headline/`` (first in TensorBoard's alphabetical list), a layer's probe metric
``probe.<layer>.<metric>`` as ``probe.<layer>/<metric>``, the default layer's plain probe names under ``probe/``,
``time_s`` under ``train/`` and the sample metrics under ``samples/``. ``phase`` is ``PHASE_NUMBER``
(A = 0, B = 1, C = 2). Values are float32, as TensorBoard stores scalars.
"""

from __future__ import annotations

import json
import math
import socket
import struct
import time
from pathlib import Path
from typing import Any

from model.config import Config
from model.definitions import HEADLINE_PROBE, PHASE_NUMBER, PROBE_METRICS

HEADLINE = ("loss", "acc", "acc_x", "acc_y", "phase", *HEADLINE_PROBE)
PREFIX = "events.out.tfevents."  # TensorBoard reads the files whose names contain "tfevents"
# HParamInfo.differs = true (field 7, varint 1) in protobuf's wire format: tensorboardX's copy of TensorBoard's
# api.proto predates the field, so it keeps these bytes as an unknown field and writes them back as they are.
DIFFERS = bytes([7 << 3, 1])


def tag(name: str) -> str:
    """The TensorBoard tag of a metric (a results-table column)."""
    if name in HEADLINE:
        return f"headline/{name}"
    if name.startswith("probe."):
        layer, _, metric = name.rpartition(".")
        return f"{layer}/{metric}"
    if name in PROBE_METRICS:
        return f"probe/{name}"
    return f"train/{name}" if name == "time_s" else f"samples/{name}"


def scalars(metrics: dict[str, Any]) -> dict[str, float]:
    """The numbers of one evaluation by tag: every numeric metric and the phase's number; not the step."""
    values = {tag(k): float(v) for k, v in metrics.items()
              if k != "step" and isinstance(v, int | float) and not isinstance(v, bool)}
    if metrics.get("phase") in PHASE_NUMBER:
        values[tag("phase")] = float(PHASE_NUMBER[metrics["phase"]])
    return values


def hparams_of(config: Config, derived: dict[str, Any]) -> dict[str, Any]:
    """A trial's hyperparameters: every config key flattened (lists as JSON text, as in the results table) and the
    derived data quantities; a non-finite one (the density of continuous data) is None, since TensorBoard cannot
    show it."""
    flat = {k: json.dumps(v) if isinstance(v, list) else v for k, v in config.flat().items()}
    return {**flat, **{k: float(v) if math.isfinite(v) else None for k, v in derived.items()}}


def _record(data: bytes) -> bytes:
    """``data`` framed as a TFRecord: length, its checksum, data, its checksum."""
    from tensorboardX.record_writer import masked_crc32c

    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked_crc32c(header)) + data + struct.pack("<I", masked_crc32c(data))


def _hparams_events(hparams: dict[str, Any], swept: tuple[str, ...]) -> list[Any]:
    """The HParams plugin's experiment (the keys and their types, the ``swept`` ones marked as differing, and the
    headline metrics) and this trial's session (its values)."""
    from tensorboardX.proto.event_pb2 import Event
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData
    from tensorboardX.summary import hparams as hparams_summaries

    metrics = dict.fromkeys(tag(name) for name in HEADLINE)
    # Every trial of a sweep writes the same experiment, whatever its values (TensorBoard shows the first it
    # finds): a key without a value here still gets its numeric type.
    experiment, _, _ = hparams_summaries({k: 0.0 if v is None else v for k, v in hparams.items()}, metrics)
    # TensorBoard lists and ticks the differing keys first; no trial sees the others' values, so the sweep says.
    plugin = experiment.value[0].metadata.plugin_data
    data = HParamsPluginData.FromString(plugin.content)
    for info in data.experiment.hparam_infos:
        if info.name in swept:
            info.MergeFromString(DIFFERS)
    plugin.content = data.SerializeToString()
    _, session, _ = hparams_summaries(hparams, {})
    return [Event(wall_time=time.time(), step=0, summary=s) for s in (experiment, session)]


def _scalar_event(metrics: dict[str, Any]) -> Any:
    from tensorboardX.proto.event_pb2 import Event
    from tensorboardX.proto.summary_pb2 import Summary

    values = [Summary.Value(tag=k, simple_value=v) for k, v in scalars(metrics).items()]
    return Event(wall_time=time.time(), step=int(metrics["step"]), summary=Summary(value=values))


class EventLog:
    """The event file of one trial folder; ``swept`` names the hyperparameters that differ between the trials of
    its sweep (``sweep.store.swept_keys``)."""

    def __init__(self, folder: Path, swept: tuple[str, ...] = ()) -> None:
        self.folder = Path(folder)
        self.swept = swept
        self.path: Path | None = None

    def start(self, config: Config, derived: dict[str, Any], history: list[dict[str, Any]]) -> None:
        """Start this attempt's event file: the restart marker at the first step after ``history`` (the
        checkpointed evaluations; step 0 without any, so a fresh start replaces everything), then the
        hyperparameters."""
        from tensorboardX.proto.event_pb2 import Event, SessionLog

        purge_from = history[-1]["step"] + 1 if history else 0
        events = [Event(wall_time=time.time(), file_version="brain.Event:2"),
                  Event(wall_time=time.time(), step=purge_from, session_log=SessionLog(status=SessionLog.START)),
                  *_hparams_events(hparams_of(config, derived), self.swept)]
        # TensorBoard reads a run's files in name order: the time in the name puts this attempt last.
        self.path = self.folder / f"{PREFIX}{time.time():.6f}.{socket.gethostname()}"
        self.path.write_bytes(b"".join(_record(e.SerializeToString()) for e in events))

    def append(self, metrics: dict[str, Any]) -> None:
        """Append one evaluation; the file is closed again, so TensorBoard sees it at once."""
        assert self.path is not None, "start() first"
        with open(self.path, "ab") as f:
            f.write(_record(_scalar_event(metrics).SerializeToString()))
