"""Compare all-reduce algorithms for a message or a model's gradient on a cluster: time, bytes per device,
busiest link and how far each is from the lower bound, best first; optionally Deep Gradient Compression.

The message is what each device contributes (G): --size, or a model's gradient (parameters × --dtype
bytes). Costs follow planner.cost.collectives (alpha-beta, full duplex, one port per device) on the
cluster's levels; the bandwidth of a level is its link's bandwidth × efficiency, per GPU inside a server
and per server NIC between servers.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from planner.cli.common import FormatOption, bad_option, load_cluster
from planner.limits import FRACTION, MAX_DEVICES, SIZE
from planner.render import OutputFormat, fmt_si, fmt_time


def command(
    cluster: Annotated[str, typer.Option("--cluster", help="catalog cluster name or a cluster YAML file")],
    size: Annotated[
        str | None, typer.Option("--size", help="message per device, e.g. 100MB (1e8 bytes), 97.5 MiB")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="a catalog model (or file): its gradient is the message")
    ] = None,
    servers: Annotated[int | None, typer.Option(help="override the outermost level's count")] = None,
    devices: Annotated[
        int | None, typer.Option(help="devices taking part (default: all), innermost first")
    ] = None,
    algorithm: Annotated[
        str, typer.Option(help="ps, ps-sharded, ring, tree, halving-doubling, hierarchical or all")
    ] = "all",
    ps_shards: Annotated[int, typer.Option(help="servers of ps-sharded (default: one per device)")] = 1,
    ps_dedicated: Annotated[
        bool, typer.Option("--ps-dedicated", help="PS servers outside the devices (2NG traffic, not 2(N-1)G)")
    ] = False,
    ps_backups: Annotated[int, typer.Option(help="backup replicas of each PS shard")] = 0,
    dtype: Annotated[str, typer.Option(help="gradient dtype for --model (bytes per parameter)")] = "fp32",
    compress_density: Annotated[
        float | None,
        typer.Option(help="also cost Deep Gradient Compression keeping this fraction, e.g. 0.001"),
    ] = None,
    compress_encoding: Annotated[
        str, typer.Option(help="DGC positions: delta16, coo32, coo64 or bitmap")
    ] = "delta16",
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Compare all-reduce algorithms (PS, ring, tree, halving-doubling, hierarchical) on a cluster."""
    from planner.render import emit

    payload = build_payload(
        cluster=cluster,
        size=size,
        model=model,
        servers=servers,
        devices=devices,
        algorithm=algorithm,
        ps_shards=ps_shards,
        ps_dedicated=ps_dedicated,
        ps_backups=ps_backups,
        dtype=dtype,
        compress_density=compress_density,
        compress_encoding=compress_encoding,
    )
    emit(payload, fmt, _tables)


def _message(size: str | None, model: str | None, dtype: str) -> tuple[float, dict[str, Any], Any]:
    """(bytes, description, GradientTensors for DGC) of the message each device contributes."""
    from planner.cost.compression import GradientTensors, gradient_tensors
    from planner.spec.profile import DTYPE_BYTES

    if (size is None) == (model is None):
        raise bad_option("--size", "give exactly one of --size and --model", show_got=False)
    if dtype not in DTYPE_BYTES:
        raise bad_option("--dtype", f"expected one of {', '.join(DTYPE_BYTES)}", dtype)
    value_bytes = DTYPE_BYTES[dtype]
    if size is not None:
        from planner.units import UnitError, parse_quantity

        try:
            g = parse_quantity(size, "memory")
        except UnitError as exc:
            raise bad_option(
                "--size", f"expected a size such as 100MB or 97.5 MiB ({exc})", show_got=False
            ) from None
        if not 0 < g <= SIZE.high:
            raise bad_option("--size", f"expected a size > 0 B and <= {SIZE.show(SIZE.high)}", size)
        elements = max(round(g / value_bytes), 1)
        tensors = GradientTensors(
            (elements,), 0, f"one tensor of {elements:,} {dtype} values, all sparsified"
        )
        return g, {"source": "size", "bytes": g, "dtype": dtype}, tensors
    from planner.spec.catalog import find

    spec = find("models", model)
    tensors = gradient_tensors(spec)
    parameters = _parameters(spec)
    g = float(parameters * value_bytes)
    desc = {"source": "model", "model": spec.name, "parameters": parameters, "dtype": dtype, "bytes": g}
    return g, desc, tensors


def _parameters(spec: Any) -> int:
    if spec.spec == "llm":
        from planner.cost.transformer import parameter_count

        return int(parameter_count(spec))
    from planner.spec.profile import profile_totals

    if spec.spec == "cnn":
        from planner.cost.layers import derive_profile

        spec = derive_profile(spec, 1)
    return int(profile_totals(spec).parameters)


def build_payload(
    *,
    cluster: str,
    size: str | None,
    model: str | None,
    servers: int | None,
    devices: int | None,
    algorithm: str,
    ps_shards: int,
    ps_dedicated: bool,
    ps_backups: int,
    dtype: str,
    compress_density: float | None,
    compress_encoding: str,
) -> dict[str, Any]:
    """Check the options, cost every requested algorithm, and return the payload (best first)."""
    from planner.cost.collectives import ALGORITHMS, allreduce_on_cluster, layout
    from planner.cost.compression import ENCODINGS, compare_on_cluster, compress
    from planner.spec.profile import DTYPE_BYTES

    if algorithm != "all" and algorithm not in ALGORITHMS:
        raise bad_option("--algorithm", f"expected one of {', '.join(ALGORITHMS)} or all", algorithm)
    if not 1 <= ps_shards <= MAX_DEVICES:  # dedicated shards are devices too
        raise bad_option("--ps-shards", f"expected an integer from 1 to {MAX_DEVICES:,}", ps_shards)
    if not 0 <= ps_backups < MAX_DEVICES:
        raise bad_option("--ps-backups", f"expected an integer from 0 to {MAX_DEVICES - 1:,}", ps_backups)
    if compress_density is not None and compress_density not in FRACTION:
        raise bad_option(
            "--compress-density", f"expected a fraction {FRACTION.text()}, e.g. 0.001", compress_density
        )
    if compress_encoding not in ENCODINGS:
        raise bad_option("--compress-encoding", f"expected one of {', '.join(ENCODINGS)}", compress_encoding)
    spec = load_cluster(cluster, servers)
    total = spec.total_devices
    if devices is not None and not 1 <= devices <= total:
        raise bad_option(
            "--devices", f"expected an integer from 1 to {total} (the devices of {spec.name})", devices
        )
    n = total if devices is None else devices
    g, message, tensors = _message(size, model, dtype)
    if not ps_dedicated and algorithm in ("ps-sharded", "all") and ps_shards > n:
        raise bad_option(
            "--ps-shards", f"expected at most {n} (co-located shards need one device each)", ps_shards
        )
    if not ps_dedicated and algorithm in ("ps", "ps-sharded", "all") and ps_backups > n - 1:
        raise bad_option(
            "--ps-backups", f"expected at most {n - 1} (each backup needs another device)", ps_backups
        )

    names = ALGORITHMS if algorithm == "all" else (algorithm,)
    results = [
        allreduce_on_cluster(
            spec,
            g,
            name,
            devices=n,
            ps_shards=ps_shards,
            ps_dedicated=ps_dedicated,
            ps_backups=ps_backups,
        )
        for name in names
    ]
    results.sort(key=lambda r: (r.time_s, ALGORITHMS.index(r.algorithm)))
    plan = layout(spec, n)
    payload: dict[str, Any] = {
        "cluster": {
            "name": spec.name,
            "devices": n,
            "devices_per_server": spec.devices_per_server,
            "servers": spec.levels[-1].count,
            "levels": [
                {
                    "name": use.name,
                    "count": level.count,
                    "spanned": use.spanned,
                    "link": level.link.name,
                    "bandwidth_bytes_per_s": use.bandwidth,
                    "latency_s": use.latency,
                    "shared": use.shared,
                }
                for use, level in zip(plan.levels, spec.levels, strict=True)
            ],
        },
        "message": message,
        "lower_bound_s": results[0].lower_bound_s,
        "best": results[0].algorithm,
        "results": [r.to_dict() for r in results],
        "model": (
            "alpha-beta (latency + bytes / (bandwidth x efficiency)), full duplex, one port per device; "
            "a level's link is per GPU inside a server and per server NIC between servers, shared by the "
            "flows of a unit; lower bound 2(M-1)/M G / B per level plus ceil(log2 N) latencies"
        ),
    }
    if compress_density is not None:
        compressed = compress(tensors, compress_density, DTYPE_BYTES[dtype], compress_encoding)
        comparison = compare_on_cluster(spec, compressed, n)
        best = results[0].time_s
        payload["compression"] = {
            **comparison.to_dict(),
            "tensors": tensors.note,
            "best_time_s": best,
            "speedup_vs_best": best / comparison.dgc_time_s if comparison.dgc_time_s > 0 else 1.0,
        }
    return payload


def _tables(payload: dict[str, Any]) -> list[Any]:
    from planner.render import fmt_count, make_table
    from planner.units import format_quantity

    c, m = payload["cluster"], payload["message"]
    what = (
        f"{m['model']}'s gradient ({fmt_count(m['parameters'])} {m['dtype']} parameters)"
        if m["source"] == "model"
        else "a message"
    )
    shape = " × ".join(f"{lv['count']} {lv['name']}" for lv in reversed(c["levels"]))
    title = (
        f"All-reduce of {what}: {fmt_si(m['bytes'], 'B')} ({format_quantity(m['bytes'], 'memory')}) "
        f"per device on {c['name']} ({shape}; {c['devices']} devices), best first"
    )
    rows = [
        (
            rank,
            r["algorithm"],
            fmt_time(r["time_s"]),
            f"{r['times_lower_bound']:.2f}×",
            fmt_si(r["bytes_sent_per_device"], "B"),
            fmt_si(r["total_traffic_bytes"], "B"),
            r["busiest_link"],
            fmt_si(r["busiest_link_bytes"], "B"),
            r["steps"],
        )
        for rank, r in enumerate(payload["results"], start=1)
    ]
    table = make_table(
        title,
        [
            "#",
            "algorithm",
            "time",
            "vs bound",
            "sent/device",
            "total traffic",
            "busiest link",
            "its bytes",
            "steps",
        ],
        rows,
        right=["#", "time", "vs bound", "sent/device", "total traffic", "its bytes", "steps"],
    )
    links = ", ".join(
        f"{lv['name']} {format_quantity(lv['bandwidth_bytes_per_s'], 'bandwidth')} "
        f"{format_quantity(lv['latency_s'], 'time')}{' shared' if lv['shared'] else ''}"
        for lv in c["levels"]
    )
    out: list[Any] = [
        table,
        f"lower bound {fmt_time(payload['lower_bound_s'])}; links (sustained, per direction): {links}",
        "notes:",
        *(f"  {r['algorithm']}: {r['notes']}" for r in payload["results"]),
    ]
    dgc = payload.get("compression")
    if dgc:
        below = dgc["pays_below_break_even_bandwidth"]
        b_star = dgc["break_even_bandwidth_bytes_per_s"]
        n_star = dgc["break_even_devices"]
        rows = [
            (
                "message per worker",
                f"{fmt_si(dgc['message_bytes'], 'B')} ({format_quantity(dgc['message_bytes'], 'memory')})",
            ),
            ("  sparse part", fmt_si(dgc["sparse_bytes"], "B")),
            ("  dense 1-D part", fmt_si(dgc["dense_part_bytes"], "B")),
            ("compression ratio", f"{dgc['compression_ratio']:.1f}×"),
            ("dense ring all-reduce", fmt_time(dgc["dense_ring_time_s"])),
            ("DGC all-gather", fmt_time(dgc["dgc_time_s"])),
            ("speedup vs dense ring", f"{dgc['speedup']:.2f}×"),
            (
                "break-even bandwidth",
                "none (no crossing)"
                if b_star is None
                else f"{format_quantity(b_star, 'bandwidth')} (pays {'below' if below else 'above'})",
            ),
            (
                "break-even workers",
                "none (pays at any N)" if n_star is None else f"pays below N = {n_star:.0f}",
            ),
        ]
        rows.insert(
            7,
            (
                "vs best dense",
                f"{dgc['speedup_vs_best']:.2f}× ({payload['best']}: {fmt_time(dgc['best_time_s'])})",
            ),
        )
        out.append(f"Deep Gradient Compression: density {dgc['density']:g}, {dgc['encoding']} positions")
        out.append(make_table(None, ["", "value"], rows))
        out.append(f"  {dgc['notes']}; {dgc['tensors']}")
    return out
