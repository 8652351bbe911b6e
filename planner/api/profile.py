"""Profile a real PyTorch model (`planner profile`): per-layer measured times and sizes as a ModelProfile.

planner.engine.profiler measures (module docstring there: layers, hooks, warm-up, median and spread); this
module checks the settings, and writes the measurement as a per-minibatch profile YAML that every command
taking a profile accepts (`plan`, `dp`, `pipeline partition`, `export`, `verify`): layer names are the
module names, so split points map back to the model, and `torch_model`, `input_shape` and `threads` say
how to rebuild and rerun it. Each layer's line carries its spread as a comment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planner.errors import SettingError

if TYPE_CHECKING:
    from planner.engine.profiler import Measurement, Tick

DEVICES = ("cpu", "cuda")
DTYPES = ("fp32", "fp16", "bf16")
MAX_THREADS = 1024
MAX_REPEATS = 10_000


@dataclass(frozen=True)
class ProfileOptions:
    """What to profile and how; the defaults are one CPU thread (a run of several local processes then
    gives each its own core), 3 warm-up and 10 timed steps."""

    batch: int = 8  # samples per minibatch
    seq_len: int | None = None  # tokens per sample of a config.json transformer
    input_shape: tuple[int, ...] | None = None  # one sample's shape (default 3x224x224 for torchvision)
    dtype: str = "fp32"
    device: str = "cpu"
    threads: int = 1  # torch.set_num_threads
    warmup: int = 3
    repeats: int = 10
    measured_on: str | None = None  # the device the times are on: a catalog name or a calibrated file

    def check(self) -> None:
        """Raise SettingError naming the first setting out of range."""
        if self.dtype not in DTYPES:
            raise SettingError("dtype", f"one of {', '.join(DTYPES)}", self.dtype)
        if self.device not in DEVICES:
            raise SettingError("device", f"one of {', '.join(DEVICES)}", self.device)
        for setting, low, high in (
            ("batch", 1, 1 << 20),
            ("threads", 1, MAX_THREADS),
            ("warmup", 0, MAX_REPEATS),
            ("repeats", 1, MAX_REPEATS),
        ):
            value = getattr(self, setting)
            if not low <= value <= high:
                raise SettingError(setting, f"a whole number from {low} to {high}", value)
        if self.measured_on is not None:
            from planner.api.inputs import load_device

            load_device(self.measured_on, setting="measured_on")


@dataclass(frozen=True)
class ProfileResult:
    """The measurement, the profile YAML made of it, and where it was written (if it was)."""

    model: str
    options: ProfileOptions
    measurement: Measurement
    input_shape: tuple[int, ...]
    yaml: str
    output_path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        m, s = self.measurement, self.measurement.settings
        return {
            "model": self.model,
            "input_shape": list(self.input_shape),
            "batch": s.batch,
            "dtype": s.dtype,
            "device": s.device,
            "threads": s.threads,
            "warmup": s.warmup,
            "repeats": s.repeats,
            "torch_version": m.torch_version,
            "step_s": m.step_s,
            "layers": [layer.__dict__ for layer in m.layers],
            "output_path": None if self.output_path is None else str(self.output_path),
        }


def profile_model(model: str, options: ProfileOptions, tick: Tick = None) -> ProfileResult:
    """Measure `model` (a torchvision name, package.module:factory or config.json) and make its profile."""
    from planner.engine import require_torch

    options.check()
    require_torch("profiling a model")
    from planner.engine import models, profiler

    ref = models.resolve(model, options.input_shape, options.seq_len)
    settings = profiler.Settings(
        batch=options.batch,
        dtype=options.dtype,
        device=options.device,
        threads=options.threads,
        warmup=options.warmup,
        repeats=options.repeats,
    )
    measurement = profiler.measure(ref, settings, tick)
    text = profile_yaml(model, ref.input_shape, measurement, options.measured_on)
    return ProfileResult(model, options, measurement, ref.input_shape, text)


def profile_yaml(model: str, shape: tuple[int, ...], m: Measurement, measured_on: str | None) -> str:
    """The ModelProfile YAML of a measurement, loaded back and validated before it is returned."""
    from planner.spec.catalog import build_spec
    from planner.spec.yamlio import parse_yaml

    s = m.settings
    q = json.dumps  # a JSON scalar is a valid YAML flow scalar
    how = (
        f"planner profile: torch {m.torch_version} on {s.device}, {s.threads} thread(s), {s.dtype}, "
        f"batch {s.batch}; per-layer hooks, median of {s.repeats} steps after {s.warmup} warm-up"
    )
    name = Path(model).stem if model.endswith(".json") else model.rpartition(":")[2] or model
    lines = [
        "spec: profile",
        f"name: {q(name)}",
        "per: minibatch",
        f"batch_size: {s.batch}",
        f"dtype: {s.dtype}",
        *([f"measured_on: {q(measured_on)}"] if measured_on else []),
        f"torch_model: {q(model)}",
        f"input_shape: {q(list(shape))}",
        f"threads: {s.threads}",
        f"description: {q(f'{name} measured layer by layer ({m.step_s:.4g} s per forward + backward)')}",
        f"source: {q(how)}",
        "layers:    # times: median of the steps; comment: half the interquartile range",
    ]
    for layer in m.layers:
        entry = {
            "name": layer.name,
            "op": layer.op,
            "forward_time": f"{layer.forward_s:.6g} s",
            "backward_time": f"{layer.backward_s:.6g} s",
            "parameters": layer.parameters,
            "parameter_bytes": f"{layer.parameter_bytes} B",
            "output_bytes": f"{layer.output_bytes} B",
        }
        spread = f"± {layer.forward_spread_s:.3g} s, ± {layer.backward_spread_s:.3g} s"
        lines.append(f"  - {json.dumps(entry, ensure_ascii=False)}    # {spread}")
    text = "\n".join(lines) + "\n"
    build_spec(parse_yaml(text, "planner profile output"), ("profile",))
    return text
