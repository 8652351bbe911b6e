"""Measure this machine (numpy matmul FLOP/s in fp32 and fp64, STREAM-copy memory bandwidth, loopback TCP
bandwidth and latency between two local processes) and write a hardware YAML the other commands accept.

By default the YAML is a cluster (what `planner dp`, `comm` and `edge` take): this machine's CPU as an
inline device, one level of servers (count 1) joined by the measured loopback link; `--servers N` then
works, but the loopback link is not a network: put your network's figures in before planning over
several servers. `--spec device` writes the device alone (`hardware show`, `specdec --device`).

The measured rates are stored as the peaks with efficiencies 1.0, so plans use what this machine
sustained. The file goes only to --output, never over an existing file unless --force; without --output
the YAML is printed to stdout (the summary then goes to stderr). --quick: small sizes (seconds, noisy).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from planner.cli.common import FormatOption, force_help
from planner.render import OutputFormat

if TYPE_CHECKING:
    from planner.calibrate import Calibration


class SpecKind(str, Enum):
    cluster = "cluster"
    device = "device"


def command(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write the YAML here (default: stdout)")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help=force_help("--output"))] = False,
    quick: Annotated[bool, typer.Option("--quick", help="small sizes: fast, cache-bound, noisy")] = False,
    spec: Annotated[
        SpecKind, typer.Option("--spec", help="cluster (device + loopback link) or device alone")
    ] = SpecKind.cluster,
    name: Annotated[str | None, typer.Option(help="name of the spec (default: calibrated-HOSTNAME)")] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Measure this machine (numpy matmul FLOP/s, STREAM-copy bandwidth, loopback TCP) and write a
    hardware YAML (a cluster by default, --spec device for the device alone) that the other commands
    accept."""
    from planner.calibrate import Settings
    from planner.fileout import check_target, write_text

    if output is not None:
        check_target(output, setting="--output", force=force)
    spec_name = name if name is not None else default_name()
    if not spec_name.strip():
        from planner.errors import SpecError

        raise SpecError("--name", "name", "a non-empty name", name)
    settings = Settings.quick() if quick else Settings.full()
    result = _measure(settings, progress=fmt is OutputFormat.table)
    text = spec_yaml(result, spec.value, spec_name)
    if output is not None:
        write_text(output, text, setting="--output", force=force)
    _report(result, spec.value, text, output, fmt)


def default_name() -> str:
    """calibrated-HOSTNAME, the host name lower-cased with anything but [a-z0-9.-] turned into '-'."""
    import re
    import socket

    host = re.sub(r"[^a-z0-9.-]+", "-", socket.gethostname().lower()).strip("-.") or "localhost"
    return f"calibrated-{host}"


def _measure(settings: Any, progress: bool) -> Calibration:
    """Run the calibration, with a progress bar on stderr when `progress`."""
    from planner.calibrate import calibrate, steps
    from planner.errors import SpecError

    try:
        if not progress:
            return calibrate(settings)
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        labels = {
            "matmul-fp32": "matmul fp32",
            "matmul-fp64": "matmul fp64",
            "copy": "memory copy",
            "loopback": "loopback TCP",
        }
        with Progress(
            TextColumn("{task.description:<13}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            tasks = {step: bar.add_task(labels[step], total=count) for step, count in steps(settings).items()}
            return calibrate(settings, lambda step: bar.advance(tasks[step]))
    except (RuntimeError, OSError) as exc:
        raise SpecError(
            "planner calibrate",
            "",
            f"a machine that can be measured; the measurement failed: {exc}",
            show_got=False,
        ) from None


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
        lines = [f"# {link}; `planner calibrate --spec cluster` stores it as a link", *device]
    else:
        lines = [
            "spec: cluster",
            f"name: {q(name)}",
            f"description: {q(f'This machine ({machine}) as one server, {stamp}')}",
            "device:",
            *(f"  {line}" for line in device),
            "levels:",
            "  - name: server",
            "    count: 1    # this machine; `--servers N` reuses the loopback link below: replace it first",
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


def payload(result: Calibration, kind: str, text: str, output: Path | None) -> dict[str, Any]:
    """The JSON/YAML payload: every measured figure in SI units, the settings, and the spec text."""
    s = result.settings
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
        "spec": kind,
        "output_path": str(output) if output is not None else None,
        "yaml": text,
    }


def _table(data: dict[str, Any], how: dict[str, str]) -> list[Any]:
    from planner.render import make_table
    from planner.units import format_quantity as fq

    c = data["calibration"]
    rows = [
        *(
            (f"matmul {dtype}", fq(rate, "compute"), how["matmul"])
            for dtype, rate in c["matmul_flop_per_s"].items()
        ),
        ("memory copy", fq(c["copy_bandwidth_bytes_per_s"], "bandwidth"), how["copy"]),
        ("loopback bandwidth", fq(c["loopback_bandwidth_bytes_per_s"], "bandwidth"), how["bandwidth"]),
        ("loopback latency", fq(c["loopback_latency_s"], "time"), how["latency"]),
        ("memory", fq(c["memory_bytes"], "memory"), how["memory"]),
    ]
    title = f"Measured on {c['date']}: {c['cpu']}, {c['cpus']} CPUs"
    out: list[Any] = [make_table(title, ["figure", "value", "how"], rows, right=["value"])]
    if data["output_path"] is not None:
        out.append(f"wrote {data['spec']} spec to {data['output_path']} (planner hardware show FILE)")
    return out


def _report(result: Calibration, kind: str, text: str, output: Path | None, fmt: OutputFormat) -> None:
    """JSON/YAML payload on stdout; or the table (stdout with --output, else stderr after the YAML)."""
    import sys

    from planner.render import emit

    data = payload(result, kind, text, output)
    how = _how(result)
    if fmt is not OutputFormat.table or output is not None:
        emit(data, fmt, lambda d: _table(d, how))
        return
    sys.stdout.write(text)
    sys.stdout.flush()
    from rich.console import Console

    console = Console(stderr=True)
    for renderable in _table(data, how):
        console.print(renderable)
