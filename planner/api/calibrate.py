"""Calibration: measure this machine (planner.calibrate) and describe it as a hardware spec YAML that
the other commands accept (a cluster of one server joined by the loopback link, or the device alone).

The measured rates are stored as the peaks with efficiencies 1.0, so plans use what this machine
sustained.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planner.errors import SettingError, SpecError

if TYPE_CHECKING:
    from planner.calibrate import Calibration, Settings

SPEC_KINDS = ("cluster", "device")


@dataclass(frozen=True)
class CalibrateOptions:
    """What to measure and how to name the spec written."""

    quick: bool = False  # small sizes: seconds, cache-bound, noisy
    spec: str = "cluster"  # cluster (device + loopback link) or device alone
    name: str | None = None  # the spec's name (None: calibrated-HOSTNAME)

    def check(self) -> None:
        if self.spec not in SPEC_KINDS:
            raise SettingError("spec", f"one of {', '.join(SPEC_KINDS)}", self.spec)
        if self.name is not None and not self.name.strip():
            raise SettingError("name", "a non-empty name", self.name)

    def settings(self) -> Settings:
        """The sizes and repetitions of the run."""
        from planner.calibrate import Settings

        return Settings.quick() if self.quick else Settings.full()


@dataclass(frozen=True)
class CalibrationResult:
    """What one run measured, the spec YAML made of it, and where the YAML was written (if it was)."""

    calibration: Calibration
    spec: str
    yaml: str
    output_path: Path | None = None

    @property
    def how(self) -> dict[str, str]:
        """How each figure was obtained, one short line each (the YAML comments and the table)."""
        return _how(self.calibration)

    def to_dict(self) -> dict[str, Any]:
        """Every measured figure in SI units, the settings, and the spec text."""
        result, s = self.calibration, self.calibration.settings
        return {
            "calibration": {
                "date": result.date,
                "cpu": result.cpu,
                "cpus": result.cpus,
                "matmul_flop_per_s": dict(result.matmul),
                "copy_bandwidth_bytes_per_s": result.copy_bandwidth,
                "loopback_bandwidth_bytes_per_s": result.loopback.bandwidth,
                "loopback_latency_s": result.loopback.latency,
                "memory_bytes": result.memory,
                "settings": {
                    "matmul_n": s.matmul_n,
                    "matmul_reps": s.matmul_reps,
                    "copy_array_bytes": s.copy_bytes,
                    "copy_reps": s.copy_reps,
                    "copy_threads": s.copy_threads,
                    "pings": s.pings,
                    "stream_bytes": s.stream_bytes,
                    "stream_reps": s.stream_reps,
                },
            },
            "spec": self.spec,
            "output_path": None if self.output_path is None else str(self.output_path),
            "yaml": self.yaml,
        }


def calibrate_machine(
    options: CalibrateOptions, tick: Callable[[str], None] | None = None
) -> CalibrationResult:
    """Measure this machine (`tick(step)` after each repetition, see planner.calibrate.steps) and make the
    spec YAML of it."""
    from planner.calibrate import calibrate

    options.check()
    try:
        measured = calibrate(options.settings(), tick)
    except (RuntimeError, OSError) as exc:
        raise SpecError(
            "planner calibrate",
            "",
            f"a machine that can be measured; the measurement failed: {exc}",
            show_got=False,
        ) from None
    name = options.name if options.name is not None else default_name()
    return CalibrationResult(measured, options.spec, spec_yaml(measured, options.spec, name))


def default_name() -> str:
    """calibrated-HOSTNAME, the host name lower-cased with anything but [a-z0-9.-] turned into '-'."""
    import re
    import socket

    host = re.sub(r"[^a-z0-9.-]+", "-", socket.gethostname().lower()).strip("-.") or "localhost"
    return f"calibrated-{host}"


def _how(result: Calibration) -> dict[str, str]:
    """How each figure was obtained, one short line each (the YAML comments and the table)."""
    from planner.units import format_quantity

    s = result.settings
    return {
        "matmul": f"numpy matmul n={s.matmul_n} x{s.matmul_reps}, best",
        "copy": (
            f"STREAM copy, numpy 2 x {format_quantity(s.copy_bytes, 'memory')} arrays, "
            f"{s.copy_threads} threads, bytes read + written, x{s.copy_reps}, best"
        ),
        "bandwidth": (
            f"TCP on 127.0.0.1 to a child process, one-way {format_quantity(s.stream_bytes, 'memory')} "
            f"x{s.stream_reps}, best"
        ),
        "latency": f"TCP on 127.0.0.1, half the median round trip of {s.pings} 1-byte messages",
        "memory": "physical memory (os.sysconf, else /proc/meminfo MemTotal)",
    }


def spec_yaml(result: Calibration, kind: str, name: str) -> str:
    """The hardware YAML for `result`: a device, or a cluster of one server with the loopback link.

    Values are unit strings (format_quantity, 4 significant digits), each with a comment saying it was
    measured, when and how. The text is loaded back and validated before it is returned.
    """
    import json

    from planner.spec.catalog import build_spec
    from planner.spec.yamlio import parse_yaml
    from planner.units import format_quantity as fq

    how = _how(result)
    stamp = f"measured by planner calibrate on {result.date}"

    def q(text: str) -> str:
        return json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar

    machine = f"{result.cpu}, {result.cpus} CPUs"
    device = [
        "spec: device",
        f"name: {q(name + '-cpu' if kind == 'cluster' else name)}",
        "kind: cpu",
        f"description: {q(f'This machine ({machine}), {stamp}')}",
        "peak_compute:    # the measured matmul rate stored as the peak (the CPU's clock and FMA units are",
        "                 # not reliably readable, least of all in a VM), hence compute_efficiency 1.0",
        *(
            f"  {dtype}: {fq(rate, 'compute')}    # {stamp}: {how['matmul']}"
            for dtype, rate in result.matmul.items()
        ),
        f"memory: {fq(result.memory, 'memory')}    # {how['memory']}",
        f"memory_bandwidth: {fq(result.copy_bandwidth, 'bandwidth')}    # {stamp}: {how['copy']}",
        "compute_efficiency: 1.0    # peak_compute is already a sustained (measured) rate",
        "memory_efficiency: 1.0     # memory_bandwidth is already a sustained (measured) rate",
        f"source: {q(f'{stamp} ({machine}); planner/calibrate.py documents the methods')}",
    ]
    link = (
        f"loopback: {fq(result.loopback.bandwidth, 'bandwidth')} one way, "
        f"{fq(result.loopback.latency, 'time')} latency ({stamp}; {how['bandwidth']}; {how['latency']})"
    )
    if kind == "device":
        lines = [f"# {link}; calibrating with `spec` cluster stores it as a link", *device]
    else:
        lines = [
            "spec: cluster",
            f"name: {q(name)}",
            f"description: {q(f'This machine ({machine}) as one server, {stamp}')}",
            "device:",
            *(f"  {line}" for line in device),
            "levels:",
            "  - name: server",
            "    count: 1    # this machine; more `servers` reuse the loopback link below: replace it first",
            "    link:",
            f"      name: {q('loopback TCP, 127.0.0.1 (measured)')}",
            f"      bandwidth: {fq(result.loopback.bandwidth, 'bandwidth')}    # {stamp}: {how['bandwidth']}",
            f"      latency: {fq(result.loopback.latency, 'time')}    # {stamp}: {how['latency']}",
            "      efficiency: 1.0    # the bandwidth is already a sustained (measured) rate",
            f"source: {q(f'{stamp}; planner/calibrate.py documents the methods')}",
        ]
    text = "\n".join(lines) + "\n"
    build_spec(parse_yaml(text, "planner calibrate output"), (kind,))
    return text
