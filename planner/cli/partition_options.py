"""The options of a pipeline partition, shared by `planner pipeline partition` and `planner export
pipeline` (the same question, so the same vocabulary and defaults: planner.api.partition)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from planner.api.partition import PartitionOptions
from planner.cli.common import Options, options_from, quantity_option

DEFAULTS = PartitionOptions  # every default is the API's, defined once

PartitionModel = Annotated[
    str, typer.Argument(help="measured profile (PipeDream graph.txt, profile YAML) or CNN architecture")
]
PartitionCluster = Annotated[
    str | None, typer.Option(help="catalog cluster name or a cluster YAML file (or give --levels)")
]
Levels = Annotated[
    str | None,
    typer.Option(
        help="count:bandwidth per level, innermost first, e.g. '4:10GB/s,4:1.25GB/s' "
        "(PipeDream's -n/-b); for the native model: latency 0, efficiency 1"
    ),
]
CostModel = Annotated[
    str, typer.Option(help="native (topology-aware, the default) or pipedream (its optimizer's exact terms)")
]
Straight = Annotated[bool, typer.Option("--straight", help="no replication: one device per stage")]
Memory = Annotated[
    float | None, quantity_option("memory", "memory limit per device, e.g. 16GB (turns the check on)")
]
ActivationCompression = Annotated[
    float | None,
    typer.Option(help="divide activation transfer bytes by R (pipedream: transfers count only when given)"),
]
FewerMachines = Annotated[
    bool, typer.Option("--use-fewer-machines", help="allow a plan that leaves devices idle")
]
Batch = Annotated[
    int | None,
    typer.Option(help="samples per minibatch of a CNN architecture or FLOP profile (default: 32 for a CNN)"),
]


def partition_options(kind: type[Options], given: Mapping[str, Any], *own: str) -> Options:
    """`kind` (PartitionOptions or a subclass) from a command's values (planner.cli.common.options_from,
    `own` as there); the --levels text is parsed here."""
    levels = given["levels"]
    if levels is not None:
        from planner.optimize.pipedream_levels import parse_levels

        levels = tuple(parse_levels(levels, "--levels"))
    return options_from(kind, {**given, "levels": levels}, *own)
