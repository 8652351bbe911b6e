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
from typing import Annotated

import typer

from planner.api.calibrate import CalibrateOptions
from planner.cli.common import FormatOption, force_help
from planner.render import OutputFormat

DEFAULTS = CalibrateOptions  # every default is the API's, defined once (planner.api.calibrate)


class SpecKind(str, Enum):
    cluster = "cluster"
    device = "device"


def command(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write the YAML here (default: stdout)")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help=force_help("--output"))] = False,
    quick: Annotated[
        bool, typer.Option("--quick", help="small sizes: fast, cache-bound, noisy")
    ] = DEFAULTS.quick,
    spec: Annotated[
        SpecKind, typer.Option("--spec", help="cluster (device + loopback link) or device alone")
    ] = SpecKind[DEFAULTS.spec],
    name: Annotated[
        str | None, typer.Option(help="name of the spec (default: calibrated-HOSTNAME)")
    ] = DEFAULTS.name,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Measure this machine (numpy matmul FLOP/s, STREAM-copy bandwidth, loopback TCP) and write a
    hardware YAML (a cluster by default, --spec device for the device alone) that the other commands
    accept."""
    import dataclasses
    import sys

    from planner.api.calibrate import calibrate_machine
    from planner.calibrate import steps
    from planner.fileout import check_target, write_text
    from planner.render import emit
    from planner.render.calibrate import calibration_tables, print_to_stderr, progress_bar

    if output is not None:
        check_target(output, setting="--output", force=force)
    options = CalibrateOptions(quick=quick, spec=spec.value, name=name)
    options.check()  # before the progress bar draws
    if fmt is OutputFormat.table:
        with progress_bar(steps(options.settings())) as tick:
            result = calibrate_machine(options, tick)
    else:
        result = calibrate_machine(options)
    if output is not None:
        write_text(output, result.yaml, setting="--output", force=force)
        result = dataclasses.replace(result, output_path=output)
    if fmt is not OutputFormat.table or output is not None:
        emit(result.to_dict(), fmt, lambda payload: calibration_tables(payload, result.how))
        return
    sys.stdout.write(result.yaml)  # the YAML alone on stdout; the table on stderr
    sys.stdout.flush()
    print_to_stderr(calibration_tables(result.to_dict(), result.how))
