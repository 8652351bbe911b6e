"""Tables of the LLM parallelism search (planner.api.llm): the top plans, one configuration's breakdown."""

from __future__ import annotations

import math
from typing import Any, TypeGuard

from rich.text import Text

from planner.render import make_table
from planner.units import format_quantity


def _known(value: float | None) -> TypeGuard[float]:
    return value is not None and math.isfinite(value)


def _size(value: float | None) -> str:
    return format_quantity(value, "memory") if _known(value) else "-"


def _time(value: float | None) -> str:
    return format_quantity(value, "time") if _known(value) else "-"


def llm_tables(payload: dict[str, Any]) -> list[Any]:
    """The title, then one configuration's tables, or the top plans, the rejected counts and the best."""
    inputs = payload["inputs"]
    title = (
        f"{inputs['model']} on {inputs['devices']} x {inputs['device']} ({inputs['cluster']}, "
        f"{inputs['devices_per_server']} per server, {_size(inputs['device_memory_bytes'])} each): global "
        f"batch {inputs['global_batch']} x {inputs['seq_len']} tokens, {inputs['dtype']}"
        + (f" with {inputs['gemm_precision']} GEMMs" if inputs.get("gemm_precision") else "")
        + f", {inputs['optimizer']}"
    )
    if "num_experts" in inputs:  # a mixture of experts
        factor = inputs["capacity_factor"]
        title += f"; {inputs['num_experts']} experts, " + (
            f"capacity factor {factor:g}" if factor is not None else "dropless"
        )
    out: list[Any] = [Text(title, style="bold")]
    if payload["mode"] == "evaluate":
        out.extend(_plan_tables(payload["plan"]))
        if payload["chosen_by_search"]:
            *rest, last = payload["chosen_by_search"]
            chosen = f"{', '.join(rest)} and {last}" if rest else last
            out.append(Text(f"{chosen}: not given, chosen as the search would (the fastest that fits)"))
        return out
    found = payload["search"]
    moe = "num_experts" in inputs
    columns = ["#", "t", "p", "d", *(["e"] if moe else []), "b", "v", "recompute", "ZeRO", "time/iter"]
    columns += ["TFLOP/s/dev", "MFU", "memory/dev", "bubble"]
    rows = [
        (
            i,
            plan["tensor_parallel"],
            plan["pipeline_parallel"],
            plan["data_parallel"],
            *([plan["expert_parallel"]] if moe else []),
            plan["microbatch"],
            plan["interleave"],
            plan["recompute"],
            plan["zero_stage"],
            _time(plan["time_per_iteration_s"]),
            f"{plan['tflops_per_device']:.1f}",
            f"{plan['mfu'] * 100:.1f}%",
            _size(plan["memory_per_device_bytes"]),
            f"{plan['bubble_overhead'] * 100:.1f}%",
        )
        for i, plan in enumerate(found["plans"], start=1)
    ]
    numbers = [c for c in columns if c not in ("recompute",)]
    out.append(
        make_table(
            f"Top {len(rows)} of {found['feasible']:,} feasible plans ({found['candidates']:,} candidates)",
            columns,
            rows,
            right=numbers,
        )
    )
    rejected = [(reason, f"{count:,}") for reason, count in found["rejected"].items()] + [
        ("  " + code, f"{count:,}") for code, count in found["rejected_details"].items() if count
    ]
    out.append(make_table("Rejected candidates", ["reason", "count"], rejected, right=["count"]))
    best = found["plans"][0]
    out.append(
        Text(
            f"best: {_configuration(best)}: {_time(best['time_per_iteration_s'])} per iteration, "
            f"{_size(best['memory_per_device_bytes'])} per device"
        )
    )
    return out


def _configuration(plan: dict[str, Any]) -> str:
    """t=.. p=.. d=.. b=.. v=.. recompute=.. ZeRO-.. and e=.. where the experts are split."""
    experts = f" e={plan['expert_parallel']}" if plan["expert_parallel"] > 1 else ""
    return (
        f"t={plan['tensor_parallel']} p={plan['pipeline_parallel']} d={plan['data_parallel']} "
        f"b={plan['microbatch']} v={plan['interleave']} recompute={plan['recompute']} "
        f"ZeRO-{plan['zero_stage']}{experts}"
    )


def _plan_tables(plan: dict[str, Any]) -> list[Any]:
    config = _configuration(plan)
    status = "feasible" if plan["feasible"] else "NOT FEASIBLE"
    rows = [
        ("time per iteration", _time(plan["time_per_iteration_s"])),
        ("micro-batches per pipeline (m)", f"{plan['microbatches']:g}"),
        ("TFLOP/s per device (executed)", f"{plan['tflops_per_device']:.1f}"),
        ("TFLOP/s per device (model)", f"{plan['model_tflops_per_device']:.1f}"),
        ("MFU", f"{plan['mfu'] * 100:.1f}%"),
        ("tokens/s", f"{plan['tokens_per_s']:,.0f}"),
        ("memory per device", _size(plan["memory_per_device_bytes"])),
    ]
    rows += [
        (name.removesuffix("_s").replace("_", " "), _time(v)) for name, v in plan["time_breakdown_s"].items()
    ]
    memory = plan["memory_breakdown_bytes"]
    rows += [
        (f"memory: {name.replace('_', ' ')}", _size(v) if name != "stage" else str(v))
        for name, v in memory.items()
    ]
    out: list[Any] = [make_table(f"{config} ({status})", ["quantity", "value"], rows, right=["value"])]
    out.extend(Text(f"why not: {reason}") for reason in plan["reasons"])
    return out
