"""Run a plan for real on local processes (DDP, or a torch.distributed.pipelining pipeline with GPipe or
1F1B; gloo on CPU) and print predicted vs measured iteration time (needs the extra: pip install
'planner[torch]').

PROFILE is a profile written by `planner profile`; the prediction uses it and --machine (the cluster
`planner calibrate` wrote) only, never the run. Each process runs with the profile's CPU threads.
"""

from __future__ import annotations

from typing import Annotated

import typer

from planner.api.verify import VerifyOptions
from planner.cli.common import FormatOption, options_from, quantity_option
from planner.render import OutputFormat

DEFAULTS = VerifyOptions


def command(
    profile: Annotated[str, typer.Argument(help="a profile YAML written by planner profile")],
    machine: Annotated[
        str, typer.Option(help="the calibrated cluster YAML (planner calibrate), or a catalog cluster")
    ],
    strategy: Annotated[str, typer.Option(help="dp or pipeline")] = DEFAULTS.strategy,
    processes: Annotated[
        int, typer.Option(help="local processes (a pipeline: one stage each)")
    ] = DEFAULTS.processes,
    schedule: Annotated[str, typer.Option(help="pipeline schedule: gpipe or 1f1b")] = DEFAULTS.schedule,
    microbatches: Annotated[int, typer.Option(help="pipeline micro-batches")] = DEFAULTS.microbatches,
    batch: Annotated[
        int | None,
        typer.Option(help="dp: samples per process; pipeline: per minibatch (default: the profile's)"),
    ] = None,
    bucket: Annotated[
        float | None, quantity_option("memory", "dp: DDP gradient bucket (default 25 MiB)", "--bucket")
    ] = None,
    iterations: Annotated[int, typer.Option(help="timed iterations")] = DEFAULTS.iterations,
    warmup: Annotated[int, typer.Option(help="untimed iterations first")] = DEFAULTS.warmup,
    threads: Annotated[int | None, typer.Option(help="must be the profile's threads")] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Run a plan for real on local processes and print predicted vs measured iteration time."""
    options = options_from(VerifyOptions, locals(), "profile")  # first: locals() are the settings alone
    from planner.api.verify import verify
    from planner.render import emit
    from planner.render.verify import verify_tables

    emit(verify(profile, options).to_dict(), fmt, verify_tables)
