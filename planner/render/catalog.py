"""Tables of the hardware and model catalogs (planner.api.catalog)."""

from __future__ import annotations

from typing import Any

from planner.render import first_sentence, fmt_bytes, fmt_count, fmt_si, fmt_time, make_table
from planner.units import format_quantity


def _reserved(d: dict[str, Any]) -> str:
    """ ", X reserved (driver, CUDA context)" where the device file gives a reserve, else nothing."""
    reserved = d.get("memory_reserved_bytes") or 0.0
    return f", {format_quantity(reserved, 'memory')} reserved (driver, CUDA context)" if reserved else ""


def _efficiency(d: dict[str, Any], field: str) -> tuple[str, str]:
    """A device's efficiency row, "(assumed)" where the spec left the figure out."""
    return field.replace("_", " "), f"{d[field]:g}" + (" (assumed)" if field in d["assumed_figures"] else "")


def model_tables(payload: dict[str, Any]) -> list[Any]:
    """An LLM's configuration and parameters, or a profile's layers and totals."""
    return llm_tables(payload) if payload["model"]["spec"] == "llm" else profile_tables(payload)


def _peaks(peaks: dict[str, float]) -> str:
    """Every dense peak, by dtype."""
    return ", ".join(f"{dtype} {format_quantity(value, 'compute')}" for dtype, value in peaks.items())


def _peak_or_dash(peaks: dict[str, float], dtypes: tuple[str, ...]) -> str:
    """The highest peak among `dtypes`, formatted, or '-' when the device lists none of them."""
    found = [peaks[d] for d in dtypes if d in peaks]
    return format_quantity(max(found), "compute") if found else "-"


def hardware_list_tables(payload: dict[str, Any]) -> list[Any]:
    """The devices (their peaks, memory and bandwidth) and the clusters (their levels)."""
    devices = [item for item in payload["hardware"] if item["spec"] == "device"]
    clusters = [item for item in payload["hardware"] if item["spec"] == "cluster"]
    device_rows = [
        (
            d["name"],
            d["kind"],
            _peak_or_dash(d["peak_compute_flops"], ("fp32",)),
            _peak_or_dash(d["peak_compute_flops"], ("bf16", "fp16")),
            format_quantity(d["memory_bytes"], "memory"),
            format_quantity(d["memory_bandwidth_bytes_per_s"], "bandwidth"),
            ", ".join(d["aliases"]),
        )
        for d in devices
    ]
    cluster_rows = [
        (
            c["name"],
            " × ".join(f"{lv['count']} {lv['name']}" for lv in reversed(c["levels"])),
            c["total_devices"],
            c["device"],
            first_sentence(c["description"]),
        )
        for c in clusters
    ]
    return [
        make_table(
            "Devices (dense peaks; all dtypes: hardware show NAME)",
            ["name", "kind", "fp32", "fp16/bf16", "memory", "memory bw", "aliases"],
            device_rows,
            right=["fp32", "fp16/bf16", "memory", "memory bw"],
        ),
        make_table(
            "Clusters",
            ["name", "levels (outermost first)", "devices", "device", "description"],
            cluster_rows,
            right=["devices"],
        ),
    ]


def hardware_tables(payload: dict[str, Any]) -> list[Any]:
    """A device's figures; a cluster's levels and links, then its device."""

    def device_table(d: dict[str, Any]) -> Any:
        by_dtype = d.get("dtype_compute_efficiency") or {}
        own = [("compute efficiency by dtype", ", ".join(f"{k} {v:g}" for k, v in by_dtype.items()))]
        rows = [
            ("kind", d["kind"]),
            ("peak compute (dense)", _peaks(d["peak_compute_flops"])),
            ("memory", format_quantity(d["memory_bytes"], "memory") + _reserved(d)),
            ("memory bandwidth", format_quantity(d["memory_bandwidth_bytes_per_s"], "bandwidth")),
            _efficiency(d, "compute_efficiency"),
            *(own if by_dtype else []),
            _efficiency(d, "memory_efficiency"),
        ]
        if d["power_w"] is not None:
            rows.append(("power", format_quantity(d["power_w"], "power")))
        if d["price"]:
            rows.append(
                ("price", f"${d['price']['usd_per_hour']:g}/h ({d['price']['date']}, {d['price']['source']})")
            )
        if d["aliases"]:
            rows.append(("aliases", ", ".join(d["aliases"])))
        if d["source"]:
            rows.append(("source", d["source"]))
        return make_table(f"{d['name']}: {d['description']}", ["field", "value"], rows)

    if "device" in payload:
        return [device_table(payload["device"])]
    c = payload["cluster"]
    levels = make_table(
        f"{c['name']}: {c['description']} ({c['total_devices']} devices)",
        [
            "level (innermost first)",
            "count",
            "link",
            "bandwidth / direction",
            "latency",
            "efficiency",
            "shared",
        ],
        [
            (
                lv["name"],
                lv["count"],
                lv["link"]["name"],
                format_quantity(lv["link"]["bandwidth_bytes_per_s"], "bandwidth"),
                format_quantity(lv["link"]["latency_s"], "time"),
                f"{lv['link']['efficiency']:g}",
                "yes" if lv["link"]["shared"] else "no",
            )
            for lv in c["levels"]
        ],
        right=["count"],
    )
    out = [levels, device_table(c["device"])]
    if c["price"]:
        p = c["price"]
        out.append(f"price: ${p['usd_per_hour']:g}/h per server ({p['date']}, {p['source']})")
    return out


def models_list_tables(payload: dict[str, Any]) -> list[Any]:
    """One row per model: its type, parameters and description."""
    rows = [
        (m["name"], m["spec"], fmt_count(m["parameters"]), first_sentence(m["description"]))
        for m in payload["models"]
    ]
    return [make_table("Models", ["name", "type", "parameters", "description"], rows, right=["parameters"])]


def profile_tables(payload: dict[str, Any]) -> list[Any]:
    """Every layer of a profile with its times, FLOP, parameters and output, then the totals."""
    model, totals = payload["model"], payload["totals"]
    rows: list[tuple[Any, ...]] = [
        (
            i,
            layer["name"],
            layer["op"][:48],
            fmt_time(layer["forward_time_s"]),
            fmt_time(layer["backward_time_s"]),
            fmt_si(layer["forward_flops"], "FLOP"),
            fmt_count(layer["parameters"]),
            fmt_bytes(layer["output_bytes"]),
        )
        for i, layer in enumerate(payload["layers"])
    ]
    rows.append(
        (
            "",
            "total",
            "",
            fmt_time(totals["forward_time_s"]),
            fmt_time(totals["backward_time_s"]),
            fmt_si(
                None
                if totals["forward_flops"] is None
                else sum(layer["forward_flops"] or 0 for layer in payload["layers"]),
                "FLOP",
            ),
            fmt_count(totals["parameters"]),
            fmt_bytes(totals["output_bytes"]),
        )
    )
    batch = "sample" if model["per"] == "sample" else f"minibatch of {model['batch_size'] or 'unstated size'}"
    table = make_table(
        f"{model['name']} ({model['spec']}, figures per {batch}, {model['dtype']})",
        ["#", "layer", "op", "fwd time", "bwd time", "fwd FLOP", "params", "output"],
        rows,
        right=["#", "fwd time", "bwd time", "fwd FLOP", "params", "output"],
    )
    flops = totals["forward_flops"]
    footer = (
        f"{totals['layers']} layers, {fmt_count(totals['parameters'])} parameters "
        f"({fmt_bytes(totals['parameter_bytes'])})"
        + (
            ""
            if flops is None
            else f", {fmt_si(flops, 'FLOP')} forward per sample ({fmt_si(flops / 2, 'MAC')})"
        )
    )
    return [table, footer]


def llm_tables(payload: dict[str, Any]) -> list[Any]:
    """An LLM's configuration and its parameters by part."""
    model = payload["model"]
    keys = [
        "architecture",
        "hidden_size",
        "num_layers",
        "encoder_layers",
        "num_heads",
        "num_kv_heads",
        "head_dim",
        "ffn_size",
        "gated_ffn",
        "vocab_size",
        "tied_embeddings",
        "max_sequence_length",
        "position_embedding",
        "norm",
        "bias",
        "qkv_bias",
        *(
            ("num_experts", "experts_per_token", "shared_experts", "expert_ffn_size", "capacity_factor")
            if model["num_experts"] > 1
            else ()
        ),
        "dtype",
    ]
    config = make_table(
        f"{model['name']}: {model['description']}", ["field", "value"], [(k, model[k]) for k in keys]
    )
    totals = payload["totals"]
    breakdown = make_table(
        "Parameters",
        ["part", "parameters"],
        [
            *((k, fmt_count(v)) for k, v in payload["parameter_breakdown"].items()),
            ("total", fmt_count(totals["parameters"])),
            *(
                (
                    ("routed experts", fmt_count(totals["expert_parameters"])),
                    ("active per token", fmt_count(totals["active_parameters"])),
                )
                if totals["expert_parameters"]
                else ()
            ),
        ],
        right=["parameters"],
    )
    if totals["expert_parameters"]:
        total, active = totals["parameters"] / 1e9, totals["active_parameters"] / 1e9
        headline = (
            f"{total:.3g}B total / {active:.3g}B active parameters per token "
            f"(top-{model['experts_per_token']} of {model['num_experts']} routed experts"
            f"{', ' + str(model['shared_experts']) + ' shared' if model['shared_experts'] else ''})"
        )
        return [config, breakdown, headline]
    return [config, breakdown]
