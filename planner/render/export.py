"""Output of the exports (planner.api.export): the engine's text to stdout or a file, a summary of the
plan and the notes to stderr; --format json|yaml prints the whole result instead."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from planner.render import OutputFormat, make_table


def deliver(
    payload: dict[str, Any], fmt: OutputFormat, output: Path | None, force: bool, summary: list[Any]
) -> None:
    """The artifact (table format) or the whole payload (json/yaml) to stdout or `output`; the summary and
    notes to stderr in table format."""
    from planner.fileout import write_text
    from planner.render import dumps

    text = payload["artifact"] if fmt is OutputFormat.table else dumps(payload, fmt)
    if output is not None:
        write_text(output, text, setting="--output", force=force)
    else:
        sys.stdout.write(text)
    if fmt is OutputFormat.table:
        tell(payload, summary, output)


def tell(payload: dict[str, Any], summary: list[Any], written: Path | None) -> None:
    """The summary, the notes and where the artifact went, to stderr."""
    from rich.console import Console

    console = Console(stderr=True)
    for item in summary:
        console.print(item)
    for note in payload["notes"]:
        console.print(f"note: {note}", highlight=False)
    if written is not None:
        console.print(f"wrote {payload['engine']} {payload['artifact_kind']} to {written}", highlight=False)


def pipeline_summary(payload: dict[str, Any]) -> list[Any]:
    """The partition exported (planner.api.partition's payload): each stage's layers, replicas, devices."""
    from planner.render.partition import device_ranges
    from planner.units import format_quantity

    rows = []
    for k, stage in enumerate(payload["stages"]):
        names = stage["layer_names"]
        span = names[0] if len(names) == 1 else f"{names[0]} … {names[-1]}"
        rows.append([str(k), span, str(len(names)), str(stage["replicas"]), device_ranges(stage["devices"])])
    title = (
        f"{payload['model']}: {payload['config']} on {payload['devices_used']} of {payload['num_devices']} "
        f"devices, {format_quantity(payload['pipeline_time_s'], 'time')} per minibatch "
        f"({payload['cost_model']} cost model)"
    )
    return [make_table(title, ["stage", "layers", "count", "replicas", "devices"], rows, right=["count"])]


def dp_summary(result: dict[str, Any], plan: dict[str, Any]) -> list[Any]:
    """The DeepSpeed config of a data-parallel plan (planner.api.dp's payload), key by key."""
    config = result["config"]
    chosen = plan["plan"]
    rows = [
        ("train_batch_size", str(config["train_batch_size"])),
        ("train_micro_batch_size_per_gpu", str(config["train_micro_batch_size_per_gpu"])),
        ("gradient_accumulation_steps", str(config["gradient_accumulation_steps"])),
        ("data-parallel size", str(result["data_parallel_size"])),
        ("zero_optimization.stage", str(config["zero_optimization"]["stage"])),
        (
            "precision",
            "bf16" if config["bf16"]["enabled"] else "fp16" if config["fp16"]["enabled"] else "fp32",
        ),
    ]
    title = (
        f"{result['model']}: data parallel on {chosen['devices']} devices ({chosen['algorithm']} all-reduce)"
    )
    return [make_table(title, ["DeepSpeed", "value"], rows)]


def llm_summary(result: dict[str, Any]) -> list[Any]:
    """The LLM plan exported: its parallelism, time and memory."""
    from planner.units import format_quantity

    plan = result["plan"]
    rows = [(key, str(value)) for key, value in plan.items()]
    rows += [
        ("time per iteration", format_quantity(result["time_per_iteration_s"], "time")),
        ("memory per device", format_quantity(result["memory_per_device_bytes"], "memory")),
        ("world size", str(result["devices"])),
    ]
    title = f"{result['model']} on {result['cluster']}: the plan exported to {result['engine']}"
    return [make_table(title, ["plan", "value"], rows)]
