"""Tables of LLM serving (planner.api.serve): one configuration with its batch curve, and the ranked
configurations under latency targets; no computing here."""

from __future__ import annotations

from typing import Any

from planner.render import fmt_bytes, fmt_time, make_table

CURVE_COLUMNS = ["batch", "TTFT", "TPOT", "tok/s/GPU", "tok/s/replica", "bound"]


def _rate(value: float) -> str:
    return f"{value:,.0f}"


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:,.3f}"


def _wait(probability: float, mean_s: float) -> str:
    """P(wait) and the mean wait, below one in a million shown as such."""
    if probability < 1e-6:
        return "< 1e-6, 0 s"
    return f"{probability:.3g}, {fmt_time(mean_s)}"


def _split(row: dict[str, Any], joint: str) -> str:
    """'t2 x p1', with ' x e8' under expert parallelism (`joint` between the parts)."""
    parts = [f"t{row['tensor_parallel']}", f"p{row['pipeline_parallel']}"]
    return joint.join(parts + ([f"e{row['expert_parallel']}"] if row["expert_parallel"] > 1 else []))


def serve_tables(payload: dict[str, Any]) -> list[Any]:
    from rich.text import Text

    p = payload
    split = _split(p, " x ")
    if p["attention_groups"] > 1:
        split += f", {p['attention_groups']} attention groups"
    title = (
        f"{p['model']} on {p['cluster']} ({split}, {p['replicas']} replicas, {p['precision']}), prompt "
        f"{p['prompt_len']:g}, output {p['output_len']:g}, batch {p['batch']}"
    )
    rows = [
        ("time to first token (TTFT)", fmt_time(p["ttft_s"])),
        ("time per output token (TPOT)", fmt_time(p["tpot_s"])),
        ("  decode step", fmt_time(p["decode_step_s"])),
        ("  prefill share of an iteration", fmt_time(p["prefill_share_s"])),
        ("one prompt's prefill alone", fmt_time(p["prefill_s"])),
        ("decode floor (batch 1, peak bandwidth)", fmt_time(p["decode_floor_s"])),
        ("output tokens/s per GPU", _rate(p["tokens_per_s_per_gpu"])),
        ("output tokens/s per replica", _rate(p["tokens_per_s_per_replica"])),
        ("output tokens/s, all replicas", _rate(p["tokens_per_s"])),
        ("$ per million output tokens", _usd(p["usd_per_million_tokens"])),
        ("KV cache per token", fmt_bytes(p["kv_cache_bytes_per_token"])),
        ("KV cache per sequence per device", fmt_bytes(p["kv_cache_bytes_per_sequence_per_device"])),
        ("weights per device", fmt_bytes(p["weight_bytes_per_device"])),
        ("max concurrent sequences", f"{p['max_concurrent_sequences']:,}"),
    ]
    comm = p["communication_per_layer"]
    if comm["allreduces_per_layer"]:
        rows.append(
            (
                "TP all-reduce per layer, decode",
                f"{comm['allreduces_per_layer']} x {fmt_time(comm['decode_allreduce_s'])}",
            )
        )
        rows.append(
            (
                "TP all-reduce per layer, prefill",
                f"{comm['allreduces_per_layer']} x {fmt_time(comm['prefill_allreduce_s'])}",
            )
        )
    if comm["alltoalls_per_layer"]:
        for phase in ("decode", "prefill"):
            rows.append(
                (
                    f"EP all-to-all per layer, {phase}",
                    f"{comm['alltoalls_per_layer']} x {fmt_time(comm[f'{phase}_alltoall_s'])} "
                    f"({fmt_bytes(comm[f'{phase}_alltoall_bytes'])} per device)",
                )
            )
    if p["pipeline_parallel"] > 1:
        rows.append(("PP transfer per stage, decode", fmt_time(comm["stage_transfer_s"])))
    load = p["load"]
    if load is not None:
        rows += [
            (f"at {load['arrival_rate_per_replica']:.4g} requests/s per replica", ""),
            ("  sequences in flight (utilisation)", f"{load['in_flight']:,} ({load['utilisation']:.1%})"),
            ("  TTFT with the wait for a slot", fmt_time(load["ttft_s"])),
            ("  P(wait), mean wait", _wait(load["wait_probability"], load["mean_wait_s"])),
            ("  TPOT", fmt_time(load["tpot_s"])),
            ("  capacity, requests/s per replica", f"{load['capacity_requests_per_s']:.4g}"),
        ]
    out: list[Any] = [make_table(title, ["quantity", "value"], rows, right=["value"])]
    curve = [
        (
            c["batch"],
            fmt_time(c["ttft_s"]),
            fmt_time(c["tpot_s"]),
            _rate(c["tokens_per_s_per_gpu"]),
            _rate(c["tokens_per_s_per_replica"]),
            "compute" if c["compute_bound"] else "memory",
        )
        for c in p["curve"]
    ]
    mode = "chunked prefill" if p["chunked_prefill"] else "prefill iterations"
    out.append(make_table(f"Continuous batching ({mode})", CURVE_COLUMNS, curve, right=CURVE_COLUMNS[:5]))
    out.append(Text("notes:\n" + "\n".join(f"- {n}" for n in p["notes"])))
    return out


def best_tables(payload: dict[str, Any]) -> list[Any]:
    from rich.text import Text

    p = payload
    targets = ", ".join(
        f"{name} <= {fmt_time(p[key])}"
        for name, key in (("TPOT", "tpot_target_s"), ("TTFT", "ttft_target_s"))
        if p[key] is not None
    )
    cols = ["split", "batch", "TPOT", "TTFT", "tok/s/GPU", "$/Mtok", "why not"]
    rows = [
        (
            _split(c, " "),
            c.get("batch", "-"),
            fmt_time(c.get("tpot_s")),
            fmt_time(c.get("ttft_s")),
            _rate(c["tokens_per_s_per_gpu"]) if c["meets_targets"] else "-",
            _usd(c.get("usd_per_million_tokens")),
            c["reason"] or "best",
        )
        for c in p["candidates"]
    ]
    title = f"{p['model']} on {p['cluster']}: best serving configuration, {targets}"
    best = p["best"]
    head = (
        f"best: tensor {best['tensor_parallel']} x pipeline {best['pipeline_parallel']}"
        + (f" x expert {best['expert_parallel']}" if best["expert_parallel"] > 1 else "")
        + ", "
        f"batch {best['batch']} per replica: {best['tokens_per_s_per_gpu']:,.0f} output tokens/s per GPU"
    )
    return [
        make_table(title, cols, rows, right=cols[1:6], secondary=["$/Mtok", "TTFT"]),
        Text(head + f"\nranking: {p['ranking']}"),
    ]
