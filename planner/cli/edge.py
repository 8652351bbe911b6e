"""Edge inference: ADCNN tiles on boards, Neurosurgeon split points, early exits, MoDNN, transformer splits.

Every command reads catalog names (or YAML files) for models and hardware and prints a rich table, or the
same content as JSON / YAML with `--format`. Bad input exits with code 2 and a one-line message.
"""

from __future__ import annotations

from contextlib import contextmanager
from enum import Enum
from typing import Annotated, Any

import typer

from planner.cli.common import FormatOption
from planner.limits import BANDWIDTH, FRACTION, POWER
from planner.render import OutputFormat, fmt_bytes, fmt_time

app = typer.Typer(no_args_is_help=True)


class Solver(str, Enum):
    cbc = "cbc"
    highs = "highs"
    greedy = "greedy"


class Objective(str, Enum):
    latency = "latency"
    energy = "energy"


class Partition(str, Enum):
    one_d = "1d"
    two_d = "2d"


ModelArg = Annotated[str, typer.Argument(help="catalog CNN (e.g. vgg16) or a YAML file")]
InputDtype = Annotated[
    str | None,
    typer.Option(
        help="dtype of the model input on the wire (e.g. int8 for a uint8 image); default the model's"
    ),
]


@contextmanager
def _bad_input(option: str):  # type: ignore[no-untyped-def]
    """Turn a ValueError from the cost models into a one-line SpecError naming `option`."""
    from planner.errors import SpecError

    try:
        yield
    except SpecError:
        raise
    except ValueError as exc:
        raise SpecError(option, "", str(exc), show_got=False) from None


def _cnn(name: str, input_dtype: str | None) -> Any:
    from planner.cost.edge_model import from_architecture
    from planner.errors import SpecError
    from planner.spec.catalog import find

    spec = find("models", name)
    if spec.spec != "cnn":
        raise SpecError(
            "MODEL",
            "model",
            f"expected a CNN architecture (spatial tiles need shapes); '{name}' is a {spec.spec} spec",
            show_got=False,
        )
    return from_architecture(spec, _input_dtype(input_dtype))


def _input_dtype(input_dtype: str | None) -> str | None:
    """--input-dtype, checked against the dtypes the planner knows."""
    from planner.errors import SpecError
    from planner.spec.profile import DTYPE_BYTES

    if input_dtype is not None and input_dtype not in DTYPE_BYTES:
        raise SpecError(
            "--input-dtype", "input-dtype", f"expected one of {', '.join(DTYPE_BYTES)}", input_dtype
        )
    return input_dtype


def _cluster(option: str, name: str) -> Any:
    from planner.errors import SpecError
    from planner.spec.catalog import find

    spec = find("hardware", name, ("cluster",))
    if spec.spec != "cluster":
        raise SpecError(option, option.lstrip("-"), "expected a cluster", name)
    return spec


def _device(option: str, name: str) -> Any:
    from planner.spec.catalog import find

    spec = find("hardware", name, ("device",))
    return spec


def _bandwidth(option: str, text: str) -> float:
    from planner.errors import SpecError
    from planner.units import UnitError, parse_quantity

    try:
        value = parse_quantity(text, "bandwidth")
    except UnitError as exc:
        raise SpecError(option, option.lstrip("-"), str(exc), show_got=False) from None
    if value not in BANDWIDTH:
        raise SpecError(
            option, option.lstrip("-"), f"expected a bandwidth {BANDWIDTH.text()}, e.g. 10Mbps", text
        )
    return value


def _power(option: str, text: str | None) -> float | None:
    from planner.errors import SpecError
    from planner.units import UnitError, parse_quantity

    if text is None:
        return None
    try:
        value = parse_quantity(text, "power")
    except UnitError as exc:
        raise SpecError(option, option.lstrip("-"), str(exc), show_got=False) from None
    if not 0 <= value <= POWER.high:
        raise SpecError(
            option, option.lstrip("-"), f"expected a power from 0 W to {POWER.show(POWER.high)}", text
        )
    return value


# --- adcnn ---------------------------------------------------------------------------------------------


@app.command("adcnn")
def adcnn(
    model: ModelArg,
    cluster: Annotated[
        str, typer.Option(help="boards: a cluster (one device is the Central node)")
    ] = "pi-cluster",
    tiles: Annotated[str, typer.Option(help="tile grid ROWSxCOLS on the cut's feature map")] = "4x4",
    solver: Annotated[
        Solver, typer.Option(help="cbc or highs (exact ILP), or ADCNN's greedy rule")
    ] = Solver.cbc,
    cut: Annotated[str | None, typer.Option(help="last layer on the Conv nodes (default: chosen)")] = None,
    conv_nodes: Annotated[int | None, typer.Option(help="Conv nodes (default: all devices but one)")] = None,
    boards: Annotated[
        str | None,
        typer.Option(help="Conv nodes as DEVICE:COUNT,... (heterogeneous boards on the cluster's link)"),
    ] = None,
    compression: Annotated[
        float, typer.Option(help="tile output bytes after / before quantisation, (0, 1]")
    ] = 1.0,
    cloud: Annotated[
        str, typer.Option(help="remote cloud baseline: a cluster whose link is the WAN, or 'none'")
    ] = "cloud-v100",
    time_limit: Annotated[float, typer.Option(help="ILP time limit, seconds")] = 10.0,
    gap: Annotated[float, typer.Option(help="relative optimality gap at which the ILP may stop")] = 0.0,
    input_dtype: InputDtype = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Assign ADCNN's spatial tiles to boards (exact ILP) and compare with one device and the cloud."""
    from planner.cost.edge_tiles import parse_grid
    from planner.errors import SpecError
    from planner.optimize.adcnn_plan import Board, check_boards, cluster_boards, plan_adcnn
    from planner.render import emit

    with _bad_input("--tiles"):
        rows, cols = parse_grid(tiles)
    if compression not in FRACTION:
        raise SpecError("--compression", "compression", f"expected a ratio {FRACTION.text()}", compression)
    if time_limit <= 0:
        raise SpecError("--time-limit", "time-limit", "expected seconds > 0", time_limit)
    if not 0 <= gap < 1:
        raise SpecError("--gap", "gap", "expected a fraction in [0, 1)", gap)
    edge = _cnn(model, input_dtype)
    spec = _cluster("--cluster", cluster)
    with _bad_input("--conv-nodes"):
        central, conv = cluster_boards(spec, conv_nodes if boards is None else 1)
    if boards is not None:
        conv = []
        for item in boards.split(","):
            name, _, count = item.strip().partition(":")
            if not (count.isascii() and count.isdigit()) or int(count) < 1:
                raise SpecError("--boards", "boards", "expected DEVICE:COUNT,... with counts >= 1", boards)
            with _bad_input("--boards"):
                check_boards(len(conv) + int(count))  # before a Board is made for each
            device = _device("--boards", name)
            conv += [Board(f"{device.name}#{i + 1}", device, central.link) for i in range(int(count))]
    remote = None if cloud == "none" else _cluster("--cloud", cloud)
    _check_cut_and_grid(edge, cut, rows, cols)
    with _bad_input("planner edge adcnn"):
        plan = plan_adcnn(
            edge,
            central,
            conv,
            rows=rows,
            cols=cols,
            cut=cut,
            compression=compression,
            solver=solver.value,
            time_limit=time_limit,
            gap=gap,
            cloud=remote,
        )
    payload = {"cluster": spec.name, **plan.to_dict()}
    emit(payload, fmt, _adcnn_tables)


def _check_cut_and_grid(edge: Any, cut: str | None, rows: int, cols: int) -> None:
    """SpecError naming --cut or --tiles when the cut is not a clean spatial cut or the grid fits none."""
    from planner.cost.edge_tiles import cut_candidates, grid_at
    from planner.optimize.adcnn_plan import auto_cuts

    if cut is None:
        with _bad_input("--tiles"):
            auto_cuts(edge, rows, cols)
        return
    with _bad_input("--cut"):
        index = edge.index(cut)
        if index not in cut_candidates(edge):
            raise ValueError(
                f"cannot cut after '{cut}': the Conv part must end on a spatial layer whose output is the "
                "only tensor later layers read"
            )
    with _bad_input("--tiles"):
        grid_at(edge, index, rows, cols)


def _adcnn_tables(p: dict[str, Any]) -> list[Any]:
    from planner.render import fmt_count, make_table

    classes = p["tile_classes"]
    tiles = make_table(
        f"ADCNN: {p['model']} on {p['cluster']}: {len(p['boards'])} Conv nodes + a Central node, "
        f"{p['grid']['rows']}x{p['grid']['cols']} FDSP tiles, cut after {p['cut']['layer']}",
        ["class", "shapes", "tiles", "share", "input/tile", "output/tile"],
        [
            (
                f"#{i + 1}",
                c["shapes"],
                c["count"],
                f"{c['share']:.4f}",
                fmt_bytes(c["input_bytes"]),
                fmt_bytes(c["output_bytes"]),
            )
            for i, c in enumerate(classes)
        ],
        right=["tiles", "share", "input/tile", "output/tile"],
    )
    devices = sorted({b["device"] for b in p["boards"]})
    one = len(devices) == 1
    assign = make_table(
        "Tile assignment, boards in service order" + (f" (every board a {devices[0]})" if one else ""),
        [
            "board",
            *([] if one else ["device"]),
            "tiles",
            "by class",
            "compute",
            "input in",
            "compute done",
            "output back",
        ],
        [
            (
                b["board"],
                *([] if one else [b["device"]]),
                b["tiles"],
                " + ".join(f"{n}×#{k + 1}" for k, n in enumerate(b["tiles_by_class"]) if n) or "-",
                fmt_time(b["compute_s"]),
                fmt_time(b["scatter_end_s"]),
                fmt_time(b["compute_end_s"]),
                fmt_time(b["return_end_s"]),
            )
            for b in p["boards"]
        ],
        right=["tiles", "compute", "input in", "compute done", "output back"],
        keep=["device", "by class"],
    )
    s = p["solver"]
    gap = "-" if s["gap"] is None else f"{100 * s['gap']:.3f}%"
    rows = [
        (
            f"ADCNN, {s['name']} ({s['status']}, gap {gap})",
            fmt_time(p["latency_s"]),
            "1.00x",
            f"tiles {fmt_time(p['tile_phase_s'])} + Central {fmt_time(p['central']['time_s'])}; solved in "
            f"{fmt_time(s['solve_s'])}",
        ),
        (
            "ADCNN, greedy (speed-proportional)",
            fmt_time(p["greedy"]["latency_s"]),
            f"{p['greedy']['latency_s'] / p['latency_s']:.2f}x",
            f"{p['greedy']['excess_over_solution_pct']:.2f}% slower than the {s['name']} plan",
        ),
        (
            f"one device ({p['single_device']['device']})",
            fmt_time(p["single_device"]["time_s"]),
            f"{p['single_device']['speedup']:.2f}x",
            "the whole model on one board"
            + ("" if p["single_device"]["fits_in_memory"] else "; it does not fit in the board's memory"),
        ),
    ]
    if p["cloud"] is not None:
        c = p["cloud"]
        rows.append(
            (
                f"remote cloud ({c['cluster']})",
                fmt_time(c["total_s"]),
                f"{c['speedup']:.2f}x",
                f"upload {fmt_bytes(c['upload_bytes'])} in {fmt_time(c['upload_s'])}, "
                f"compute {fmt_time(c['compute_s'])}, download {fmt_time(c['download_s'])}",
            )
        )
    latency = make_table(
        "Latency of one image",
        ["plan", "latency", "ADCNN speed-up", "notes"],
        rows,
        right=["latency", "ADCNN speed-up"],
    )
    schemes = make_table(
        f"Ways to split the conv part (layers up to {p['cut']['layer']}) equally over "
        f"{len(p['boards'])} boards",
        ["scheme", "compute", "bytes on link", "messages", "communication", "total"],
        [
            (
                x["scheme"],
                fmt_time(x["compute_s"]),
                fmt_bytes(x["bytes_on_medium"]),
                fmt_count(x["messages"]),
                fmt_time(x["comm_s"]),
                fmt_time(x["total_s"]),
            )
            for x in p["schemes"]
        ],
        right=["compute", "bytes on link", "messages", "communication", "total"],
    )
    scan = ", ".join(f"{c['layer']} {fmt_time(c['greedy_latency_s'])}" for c in p["cut_scan"])
    return [tiles, assign, latency, schemes, f"cuts scored with the greedy assignment: {scan}"]


# --- split (Neurosurgeon) ------------------------------------------------------------------------------


@app.command("split")
def split(
    model: Annotated[str, typer.Argument(help="catalog model (CNN or profile) or a file")],
    device: Annotated[str, typer.Option(help="the mobile / edge device")] = "raspberry-pi-3b-plus",
    cloud: Annotated[str, typer.Option(help="a cluster whose link is the WAN to the server")] = "cloud-v100",
    uplink: Annotated[
        list[str] | None,
        typer.Option(help="uplink bandwidths to sweep, e.g. 10Mbps (repeat); default the WAN's"),
    ] = None,
    objective: Annotated[
        Objective, typer.Option(help="minimise latency or mobile energy")
    ] = Objective.latency,
    compute_power: Annotated[str | None, typer.Option(help="mobile power while computing, e.g. 3W")] = None,
    transmit_power: Annotated[
        str | None, typer.Option(help="mobile power while transmitting, e.g. 1.5W")
    ] = None,
    idle_power: Annotated[str, typer.Option(help="mobile power while waiting for the cloud")] = "0W",
    measured_on: Annotated[
        str | None, typer.Option(help="device a measured profile's times come from")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="samples per minibatch of a profile that does not say (PipeDream's)")
    ] = None,
    input_dtype: InputDtype = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Neurosurgeon: the best layer to split a model between a device and the cloud, per uplink bandwidth."""
    import numpy as np

    from planner.cost.edge_baselines import cloud_device, wan_link
    from planner.cost.edge_model import from_architecture, from_profile
    from planner.cost.neurosurgeon import Power, split_sweep
    from planner.errors import SpecError
    from planner.render import emit
    from planner.spec.catalog import find

    spec = find("models", model)
    if spec.spec == "llm":
        raise SpecError("MODEL", "model", "expected a CNN architecture or a layer profile", model)
    mobile = _device("--device", device)
    remote = _cluster("--cloud", cloud)
    link = wan_link(remote)
    with _bad_input("MODEL"):
        if spec.spec == "cnn":
            edge = from_architecture(spec, _input_dtype(input_dtype))
        else:
            where = measured_on or spec.measured_on
            origin = _device("--measured-on", where) if where else None
            if batch_size is not None and batch_size < 1:
                raise SpecError("--batch-size", "batch-size", "expected a whole number >= 1", batch_size)
            edge = from_profile(spec, measured_on=origin, samples=batch_size)
    rates = [link.effective_bandwidth] if not uplink else [_bandwidth("--uplink", u) for u in uplink]
    power = None
    if objective is Objective.energy or compute_power is not None or transmit_power is not None:
        compute_w, transmit_w = (
            _power("--compute-power", compute_power),
            _power("--transmit-power", transmit_power),
        )
        if compute_w is None or transmit_w is None:
            raise SpecError(
                "--compute-power",
                "compute-power",
                "energy needs --compute-power and --transmit-power",
                show_got=False,
            )
        power = Power(compute_w, transmit_w, _power("--idle-power", idle_power) or 0.0)
    with _bad_input("--device"):
        sweep = split_sweep(edge, mobile, cloud_device(remote), link, np.array(rates), power)
    best = sweep.best(objective.value)
    rows = []
    for i, rate in enumerate(sweep.uplinks):
        k = int(best[i])
        row = {
            "uplink_bytes_per_s": float(rate),
            "best_split": sweep.splits[k],
            "split_index": k,
            "crossing_bytes": float(sweep.crossing_bytes[k]),
            "latency_s": float(sweep.latency_s[i, k]),
            "cloud_only_latency_s": float(sweep.latency_s[i, 0]),
            "mobile_only_latency_s": float(sweep.latency_s[i, -1]),
        }
        if sweep.energy_j is not None:
            row |= {
                "energy_j": float(sweep.energy_j[i, k]),
                "cloud_only_energy_j": float(sweep.energy_j[i, 0]),
                "mobile_only_energy_j": float(sweep.energy_j[i, -1]),
            }
        rows.append(row)
    payload = {
        "model": edge.name,
        "device": mobile.name,
        "cloud": remote.name,
        "objective": objective.value,
        "wan_latency_s": link.latency,
        "power_w": None
        if power is None
        else {"compute": power.compute, "transmit": power.transmit, "idle": power.idle},
        "sweep": rows,
    }
    emit(payload, fmt, _split_tables)


def _split_tables(p: dict[str, Any]) -> list[Any]:
    from planner.render import make_table

    energy = p["power_w"] is not None
    columns = ["uplink", "best split (last layer on device)", "sent", "latency", "cloud-only", "device-only"]
    if energy:
        columns += ["energy", "cloud-only J", "device-only J"]
    rows = []
    for r in p["sweep"]:
        row = [
            f"{r['uplink_bytes_per_s'] * 8 / 1e6:.4g} Mbit/s",
            r["best_split"],
            fmt_bytes(r["crossing_bytes"]),
            fmt_time(r["latency_s"]),
            fmt_time(r["cloud_only_latency_s"]),
            fmt_time(r["mobile_only_latency_s"]),
        ]
        if energy:
            row += [
                f"{r['energy_j']:.4g} J",
                f"{r['cloud_only_energy_j']:.4g} J",
                f"{r['mobile_only_energy_j']:.4g} J",
            ]
        rows.append(row)
    return [
        make_table(
            f"Neurosurgeon split of {p['model']}: {p['device']} + {p['cloud']} (best {p['objective']})",
            columns,
            rows,
            right=[c for c in columns if c not in ("best split (last layer on device)",)],
        )
    ]


# --- exits (BranchyNet) --------------------------------------------------------------------------------


@app.command("exits")
def exits(
    model: ModelArg,
    exit_point: Annotated[
        list[str],
        typer.Option(
            "--exit", help="LAYER:FRACTION, an early exit and the share of samples leaving there (repeat)"
        ),
    ],
    device: Annotated[str, typer.Option(help="the device running the model")] = "raspberry-pi-3b-plus",
    classes: Annotated[
        int | None, typer.Option(help="classes of each exit branch (default: the model's outputs)")
    ] = None,
    offload_after: Annotated[
        str | None, typer.Option(help="run the layers after this one in the cloud")
    ] = None,
    cloud: Annotated[
        str, typer.Option(help="cloud cluster (its link is the WAN) for --offload-after")
    ] = "cloud-v100",
    input_dtype: InputDtype = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """BranchyNet early exits: expected latency and bytes sent, given exit points and exit fractions."""
    from planner.cost.early_exit import expected_cost, model_exits
    from planner.cost.edge_baselines import cloud_device, wan_link
    from planner.errors import SpecError
    from planner.render import emit
    from planner.units import parse_number

    edge = _cnn(model, input_dtype)
    mobile = _device("--device", device)
    points = []
    for item in exit_point:
        layer, _, fraction = item.partition(":")
        try:
            points.append((layer, parse_number(fraction)))
        except ValueError:
            raise SpecError("--exit", "exit", "expected LAYER:FRACTION, e.g. pool3:0.4", item) from None
    n_classes = classes if classes is not None else int(edge.shapes_out[-1][0])  # type: ignore[index]
    if n_classes < 1:
        raise SpecError("--classes", "classes", "expected a whole number >= 1", classes)
    remote = _cluster("--cloud", cloud) if offload_after is not None else None
    with _bad_input("--exit"):
        plan = model_exits(
            edge,
            mobile,
            points,
            n_classes,
            None if remote is None else cloud_device(remote),
            None if remote is None else wan_link(remote),
            offload_after,
        )
        cost = expected_cost(plan)
        baseline = expected_cost(
            model_exits(
                edge,
                mobile,
                [],
                n_classes,
                None if remote is None else cloud_device(remote),
                None if remote is None else wan_link(remote),
                offload_after,
            )
        )
    payload = {
        "model": edge.name,
        "device": mobile.name,
        "offload_after": offload_after,
        "cloud": None if remote is None else remote.name,
        "exits": [
            {
                "exit": e.name,
                "fraction": e.fraction,
                "stage_s": e.stage_s,
                "branch_s": e.branch_s,
                "transfer_s": e.transfer_s,
                "latency_s": float(cost.latency_s[i]),
                "bytes_sent": float(cost.bytes_sent[i]),
            }
            for i, e in enumerate(plan)
        ],
        "expected_latency_s": cost.expected_latency_s,
        "expected_bytes": cost.expected_bytes,
        "no_exit_latency_s": baseline.expected_latency_s,
        "no_exit_bytes": baseline.expected_bytes,
    }
    emit(payload, fmt, _exit_tables)


def _exit_tables(p: dict[str, Any]) -> list[Any]:
    from planner.render import make_table

    where = p["device"] + (
        "" if p["offload_after"] is None else f" then {p['cloud']} after {p['offload_after']}"
    )
    table = make_table(
        f"Early exits of {p['model']} on {where}",
        ["exit", "fraction", "stage", "branch", "transfer", "latency if leaving here", "bytes sent"],
        [
            (
                e["exit"],
                f"{e['fraction']:.3g}",
                fmt_time(e["stage_s"]),
                fmt_time(e["branch_s"]),
                fmt_time(e["transfer_s"]),
                fmt_time(e["latency_s"]),
                fmt_bytes(e["bytes_sent"]),
            )
            for e in p["exits"]
        ],
        right=["fraction", "stage", "branch", "transfer", "latency if leaving here", "bytes sent"],
    )
    summary = (
        f"expected latency {fmt_time(p['expected_latency_s'])} and {fmt_bytes(p['expected_bytes'])} sent "
        "per sample; "
        f"without exits {fmt_time(p['no_exit_latency_s'])} and {fmt_bytes(p['no_exit_bytes'])} "
        f"({p['no_exit_latency_s'] / p['expected_latency_s']:.2f}x)"
    )
    return [table, summary]


# --- modnn ---------------------------------------------------------------------------------------------


@app.command("modnn")
def modnn_command(
    model: ModelArg,
    cluster: Annotated[
        str, typer.Option(help="workers: devices of this cluster, on its link")
    ] = "pi-cluster",
    workers: Annotated[
        list[int] | None, typer.Option(help="worker counts to compare (repeat); default 2, 3, 4")
    ] = None,
    partition: Annotated[
        Partition, typer.Option(help="1d: MoDNN's biased bands (BODP); 2d: a grid")
    ] = Partition.one_d,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """MoDNN: layer-wise partition over mobile workers in proportion to speed, with data delivery time."""
    from planner.cost.modnn import modnn
    from planner.errors import SpecError
    from planner.render import emit

    edge = _cnn(model, None)
    spec = _cluster("--cluster", cluster)
    counts = workers or [2, 3, 4]
    for n in counts:
        if not 1 <= n <= spec.total_devices:
            raise SpecError("--workers", "workers", f"expected 1 to {spec.total_devices} on {spec.name}", n)
    rows = []
    with _bad_input("MODEL"):
        for n in counts:
            rows.append(modnn(edge, [spec.device] * n, spec.levels[-1].link, partition.value).to_dict())
    emit(
        {"model": edge.name, "cluster": spec.name, "partition": partition.value, "results": rows},
        fmt,
        _modnn_tables,
    )


def _modnn_tables(p: dict[str, Any]) -> list[Any]:
    from planner.render import make_table

    return [
        make_table(
            f"MoDNN ({p['partition']}) of {p['model']} on {p['cluster']}",
            ["workers", "one device", "compute", "data delivery", "delivered", "total", "speedup"],
            [
                (
                    r["workers"],
                    fmt_time(r["single_device_s"]),
                    fmt_time(r["compute_s"]),
                    fmt_time(r["delivery_s"]),
                    fmt_bytes(r["delivered_bytes"]),
                    fmt_time(r["total_s"]),
                    f"{r['speedup']:.2f}x",
                )
                for r in p["results"]
            ],
            right=["workers", "one device", "compute", "data delivery", "delivered", "total", "speedup"],
        )
    ]


# --- transformer ---------------------------------------------------------------------------------------


@app.command("transformer")
def transformer(
    model: Annotated[str, typer.Argument(help="catalog LLM (e.g. gpt2) or a YAML file")],
    cluster: Annotated[str, typer.Option(help="the devices and their links")] = "dgx-1",
    devices: Annotated[int | None, typer.Option(help="devices to split over (default: one server's)")] = None,
    tokens: Annotated[
        int | None, typer.Option(help="sequence length L (default: the model's maximum)")
    ] = None,
    dtype: Annotated[
        str | None, typer.Option(help="compute dtype (default: the model's if the device has it)")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Transformer inference split by heads (over E) vs by tokens (over L): communication and time."""
    from planner.cost.transformer_partition import partition_costs, pick_dtype
    from planner.errors import SpecError
    from planner.render import emit
    from planner.spec.catalog import find

    cfg = find("models", model, ("llm",))
    spec = _cluster("--cluster", cluster)
    n = devices if devices is not None else spec.devices_per_server
    if not 1 <= n <= spec.total_devices:
        raise SpecError("--devices", "devices", f"expected 1 to {spec.total_devices} on {spec.name}", n)
    length = tokens if tokens is not None else cfg.max_sequence_length
    if length < 1:
        raise SpecError("--tokens", "tokens", "expected a whole number >= 1", tokens)
    with _bad_input("--dtype"):
        compute = dtype or pick_dtype(cfg, spec.device)
        if compute not in spec.device.peak_compute:
            raise ValueError(f"{spec.device.name} lists no {compute} peak")
    with _bad_input("--devices"):
        costs = partition_costs(cfg, spec, n, length, compute)
    payload = {
        "model": cfg.name,
        "cluster": spec.name,
        "devices": n,
        "tokens": length,
        "dtype": compute,
        "layers": cfg.num_layers + cfg.encoder_layers,
        "schemes": [c.to_dict(cfg.num_layers + cfg.encoder_layers) for c in costs],
    }
    emit(payload, fmt, _transformer_tables)


def _transformer_tables(p: dict[str, Any]) -> list[Any]:
    from planner.render import fmt_si, make_table

    return [
        make_table(
            f"{p['model']}: one layer over {p['devices']} devices of {p['cluster']}, {p['tokens']} tokens, "
            f"{p['dtype']}",
            [
                "scheme",
                "FLOP/device",
                "weights/device",
                "sent/device",
                "compute",
                "communication",
                "per layer",
                f"{p['layers']} layers",
            ],
            [
                (
                    s["scheme"],
                    fmt_si(s["flops_per_device"], "FLOP"),
                    fmt_bytes(s["weight_bytes_per_device"]),
                    fmt_bytes(s["comm_bytes_per_device"]),
                    fmt_time(s["compute_s"]),
                    fmt_time(s["comm_s"]),
                    fmt_time(s["layer_s"]),
                    fmt_time(s["model_s"]),
                )
                for s in p["schemes"]
            ],
            right=[
                "FLOP/device",
                "weights/device",
                "sent/device",
                "compute",
                "communication",
                "per layer",
                f"{p['layers']} layers",
            ],
        )
    ]
