"""Hardware catalog: list devices and clusters, show one by name or file."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from planner.cli.common import FormatOption, with_servers
from planner.render import OutputFormat

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_hardware(fmt: FormatOption = OutputFormat.table) -> None:
    """List the devices and clusters in the catalog."""
    from planner.render import emit
    from planner.spec.catalog import entries

    items = [summary(entry.value) for entry in entries("hardware")]
    emit({"hardware": items}, fmt, _list_table)


@app.command("show")
def show_hardware(
    name: Annotated[str, typer.Argument(help="catalog name or alias, or a YAML file")],
    servers: Annotated[int | None, typer.Option(min=1, help="override the outermost level's count")] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Show one device or cluster with every figure in SI-readable units."""
    from planner.errors import SpecError
    from planner.render import emit
    from planner.spec.catalog import find

    spec = find("hardware", name)
    if servers is not None:
        if spec.spec != "cluster":
            raise SpecError(
                "--servers", "servers", f"applies to a cluster, and '{name}' is a device", show_got=False
            )
        spec = with_servers(spec, servers)
    emit(detail(spec), fmt, _detail_tables)


def summary(spec: Any) -> dict[str, Any]:
    """One catalog row: what it is, in a few figures."""
    if spec.spec == "device":
        return {
            "name": spec.name,
            "spec": "device",
            "kind": spec.kind,
            "aliases": list(spec.aliases),
            "peak_compute_flops": dict(spec.peak_compute),
            "memory_bytes": spec.memory,
            "memory_bandwidth_bytes_per_s": spec.memory_bandwidth,
            "description": spec.description,
        }
    return {
        "name": spec.name,
        "spec": "cluster",
        "device": spec.device.name,
        "aliases": list(spec.aliases),
        "levels": [{"name": lv.name, "count": lv.count} for lv in spec.levels],
        "total_devices": spec.total_devices,
        "description": spec.description,
    }


def detail(spec: Any) -> dict[str, Any]:
    """Everything about a device or cluster, in SI units."""
    if spec.spec == "device":
        return {"device": _device_dict(spec)}
    return {
        "cluster": {
            "name": spec.name,
            "description": spec.description,
            "source": spec.source,
            "total_devices": spec.total_devices,
            "devices_per_server": spec.devices_per_server,
            "levels": [
                {
                    "name": lv.name,
                    "count": lv.count,
                    "link": {
                        "name": lv.link.name,
                        "bandwidth_bytes_per_s": lv.link.bandwidth,
                        "latency_s": lv.link.latency,
                        "efficiency": lv.link.efficiency,
                        "shared": lv.link.shared,
                    },
                }
                for lv in spec.levels
            ],
            "price": _price(spec.price),
            "device": _device_dict(spec.device),
        }
    }


def _price(price: Any) -> dict[str, Any] | None:
    if price is None:
        return None
    return {"usd_per_hour": price.usd_per_hour, "date": price.date, "source": price.source}


def _device_dict(device: Any) -> dict[str, Any]:
    return {
        "name": device.name,
        "kind": device.kind,
        "description": device.description,
        "aliases": list(device.aliases),
        "peak_compute_flops": dict(device.peak_compute),
        "memory_bytes": device.memory,
        "memory_bandwidth_bytes_per_s": device.memory_bandwidth,
        "power_w": device.power,
        "price": _price(device.price),
        "compute_efficiency": device.compute_efficiency,
        "memory_efficiency": device.memory_efficiency,
        "source": device.source,
    }


def _peaks(peaks: dict[str, float]) -> str:
    from planner.units import format_quantity

    return ", ".join(f"{dtype} {format_quantity(value, 'compute')}" for dtype, value in peaks.items())


def _peak_or_dash(peaks: dict[str, float], dtypes: tuple[str, ...]) -> str:
    """The highest peak among `dtypes`, formatted, or '-' when the device lists none of them."""
    from planner.units import format_quantity

    found = [peaks[d] for d in dtypes if d in peaks]
    return format_quantity(max(found), "compute") if found else "-"


def _list_table(payload: dict[str, Any]) -> list[Any]:
    from planner.render import first_sentence, make_table
    from planner.units import format_quantity

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


def _detail_tables(payload: dict[str, Any]) -> list[Any]:
    from planner.render import make_table
    from planner.units import format_quantity

    def device_table(d: dict[str, Any]) -> Any:
        rows = [
            ("kind", d["kind"]),
            ("peak compute (dense)", _peaks(d["peak_compute_flops"])),
            ("memory", format_quantity(d["memory_bytes"], "memory")),
            ("memory bandwidth", format_quantity(d["memory_bandwidth_bytes_per_s"], "bandwidth")),
            ("compute efficiency", f"{d['compute_efficiency']:g}"),
            ("memory efficiency", f"{d['memory_efficiency']:g}"),
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
