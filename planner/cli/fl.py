"""Federated learning: round time and bytes on a fleet, client selection, HeteroFL widths, non-IID data.

A fleet (`--fleet`) is a catalog name (`planner fl fleets`) or a `spec: fleet` YAML file of client classes:
device, uplink / downlink, samples held, availability. The model is a catalog CNN architecture or a layer
profile. Round time: each selected client downloads the model, trains E epochs over its samples at batch
B, uploads; a synchronous round ends with the slowest selected client (planner.cost.federated). The
number of rounds is your input: accuracy is not modelled.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from planner.cli.common import FormatOption, bad_option
from planner.limits import DURATION, SIZE
from planner.render import OutputFormat

app = typer.Typer(no_args_is_help=True)

FleetOption = Annotated[str, typer.Option("--fleet", help="catalog fleet name or a fleet YAML file")]
ModelOption = Annotated[
    str, typer.Option("--model", help="catalog CNN architecture or layer profile, or a file")
]
ClientsOption = Annotated[
    int | None,
    typer.Option("--clients-per-round", "-m", help="m: clients whose updates a round uses (default 10)"),
]
FractionOption = Annotated[
    float | None,
    typer.Option(
        "--fraction", "-C", help="C: m = max(floor(C·K), 1) of the fleet's K clients (instead of -m)"
    ),
]
DEFAULT_CLIENTS = 10
EpochsOption = Annotated[float, typer.Option("--epochs", "-E", help="E: local epochs per round")]
BatchOption = Annotated[int, typer.Option("--batch-size", "-B", help="B: local minibatch")]
DtypeOption = Annotated[str, typer.Option("--dtype", help="training dtype: fp32, fp16 or bf16")]
OptimizerOption = Annotated[str, typer.Option("--optimizer", help="local optimizer: sgd (momentum) or adam")]
DeadlineOption = Annotated[
    str | None, typer.Option("--deadline", help="round deadline, e.g. 90s or 5min: later clients are dropped")
]


@app.command("fleets")
def list_fleets(fmt: FormatOption = OutputFormat.table) -> None:
    """List the fleets in the catalog."""
    from planner.render import emit
    from planner.spec.catalog import entries

    rows = []
    for entry in entries("fleets"):
        fleet = entry.value
        rows.append(
            {
                "name": fleet.name,
                "aliases": list(fleet.aliases),
                "clients": fleet.total_clients,
                "classes": [
                    {"name": c.name, "count": c.count, "device": c.device.name} for c in fleet.classes
                ],
                "description": fleet.description,
            }
        )
    emit({"fleets": rows}, fmt, _fleets_table)


@app.command("round")
def round_command(
    fleet: FleetOption,
    model: ModelOption,
    clients_per_round: ClientsOption = None,
    fraction: FractionOption = None,
    epochs: EpochsOption = 1.0,
    batch_size: BatchOption = 32,
    dtype: DtypeOption = "fp32",
    optimizer: OptimizerOption = "sgd",
    deadline: DeadlineOption = None,
    over_select: Annotated[
        float, typer.Option(help="select (1 + this) m clients and keep the first m reports, e.g. 0.3")
    ] = 0.0,
    prox_mu: Annotated[
        float, typer.Option(help="FedProx mu > 0: add the proximal term's cost per step")
    ] = 0.0,
    partial_work: Annotated[
        bool, typer.Option("--partial-work", help="FedProx: clients send what they did by the deadline")
    ] = False,
    relevant_fraction: Annotated[
        float, typer.Option(help="CMFL: fraction of updates relevant enough to upload")
    ] = 1.0,
    upload_density: Annotated[
        float | None, typer.Option(help="DGC-style sparsified upload keeping this fraction, e.g. 0.01")
    ] = None,
    upload_encoding: Annotated[
        str, typer.Option(help="positions of a sparse upload: delta16, coo32, coo64, bitmap")
    ] = "delta16",
    rounds: Annotated[
        int, typer.Option(help="R: rounds to train (your input; accuracy is not modelled)")
    ] = 100,
    trials: Annotated[int, typer.Option(help="Monte Carlo trials where no closed form applies")] = 4000,
    seed: Annotated[int, typer.Option(min=0, help="seed of the Monte Carlo")] = 0,
    histogram: Annotated[
        bool, typer.Option("--histogram", help="a terminal histogram of client round times")
    ] = False,
    bins: Annotated[int, typer.Option(help="histogram bins")] = 16,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Expected time and bytes of a synchronous FedAvg / FedProx round, and of R rounds."""
    from planner.cost.federated_plan import RoundSettings, load_model, plan_round
    from planner.render import emit

    if trials < 2:
        raise bad_option("--trials", "expected >= 2", trials)
    if bins < 1:
        raise bad_option("--bins", "expected >= 1", bins)
    fleet_spec = _fleet(fleet)
    settings = RoundSettings(
        clients_per_round=_clients(fleet_spec, clients_per_round, fraction),
        epochs=epochs,
        batch=batch_size,
        optimizer=optimizer,
        deadline_s=_time("--deadline", deadline),
        over_select=over_select,
        prox_mu=prox_mu,
        partial_work=partial_work,
        relevant=relevant_fraction,
        rounds=rounds,
        trials=trials,
        seed=seed,
        histogram_bins=bins if histogram else None,
    )
    spec = _model(model)
    payload = _settled(
        lambda: plan_round(fleet_spec, load_model(spec, dtype, upload_density, upload_encoding), settings)
    )
    emit(payload, fmt, _round_tables)


@app.command("select")
def select_command(
    fleet: FleetOption,
    model: ModelOption,
    clients_per_round: ClientsOption = None,
    fraction: FractionOption = None,
    min_clients: Annotated[
        int | None, typer.Option(help="the ILP selects at least this many (default m)")
    ] = None,
    max_clients: Annotated[
        int | None, typer.Option(help="the ILP selects at most this many (default m)")
    ] = None,
    w_utility: Annotated[
        float, typer.Option(help="w1: weight of the utility (share of the fleet's data)")
    ] = 100.0,
    w_latency: Annotated[float, typer.Option(help="w2: weight of the round latency, per second")] = 0.1,
    w_bytes: Annotated[float, typer.Option(help="w3: weight of the bytes moved, per gigabyte")] = 1.0,
    epochs: EpochsOption = 1.0,
    batch_size: BatchOption = 32,
    dtype: DtypeOption = "fp32",
    optimizer: OptimizerOption = "sgd",
    time_limit: Annotated[float, typer.Option(help="seconds the ILP solver may take")] = 60.0,
    show_clients: Annotated[
        bool, typer.Option("--show-clients", help="list the clients the ILP selects")
    ] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Select a round's clients by an exact ILP (FedMARL-style objective) against random and fastest-m."""
    from planner.cost.federated_plan import RoundSettings, load_model, plan_selection
    from planner.render import emit

    if not time_limit > 0:
        raise bad_option("--time-limit", "expected > 0 seconds", time_limit)
    fleet_spec = _fleet(fleet)
    settings = RoundSettings(
        clients_per_round=_clients(fleet_spec, clients_per_round, fraction),
        epochs=epochs,
        batch=batch_size,
        optimizer=optimizer,
    )
    spec = _model(model)
    payload = _settled(
        lambda: plan_selection(
            fleet_spec,
            load_model(spec, dtype),
            settings,
            (w_utility, w_latency, w_bytes),
            min_clients,
            max_clients,
            time_limit,
        )
    )
    emit(payload, fmt, lambda p: _select_tables(p, show_clients))


@app.command("heterofl")
def heterofl_command(
    fleet: FleetOption,
    model: ModelOption,
    clients_per_round: ClientsOption = None,
    fraction: FractionOption = None,
    ratio: Annotated[float, typer.Option(help="r: width ratio between levels (HeteroFL uses 0.5)")] = 0.5,
    levels: Annotated[int, typer.Option(help="complexity levels p = 1..levels (HeteroFL uses 5)")] = 5,
    deadline: DeadlineOption = None,
    memory_fraction: Annotated[
        float, typer.Option(help="fraction of a device's memory training may use")
    ] = 1.0,
    epochs: EpochsOption = 1.0,
    batch_size: BatchOption = 32,
    optimizer: OptimizerOption = "sgd",
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """HeteroFL: the widest sub-model r^(p-1) each client fits, and the round vs one full-width model."""
    from planner.cost.federated_plan import RoundSettings, plan_heterofl
    from planner.render import emit

    fleet_spec = _fleet(fleet)
    settings = RoundSettings(
        clients_per_round=_clients(fleet_spec, clients_per_round, fraction),
        epochs=epochs,
        batch=batch_size,
        optimizer=optimizer,
        deadline_s=_time("--deadline", deadline),
    )
    spec = _model(model)
    payload = _settled(lambda: plan_heterofl(fleet_spec, spec, settings, ratio, levels, memory_fraction))
    emit(payload, fmt, _heterofl_tables)


@app.command("noniid")
def noniid_command(
    fleet: FleetOption,
    classes: Annotated[int, typer.Option(help="label classes (CIFAR-10: 10)")] = 10,
    classes_per_client: Annotated[int, typer.Option(help="k of a generated k-class non-IID partition")] = 1,
    partition: Annotated[
        str | None, typer.Option(help="a `spec: partition` YAML of per-client label counts instead")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(min=0, help="draw each client's classes at random (default: round-robin)")
    ] = None,
    shared_fraction: Annotated[
        float, typer.Option(help="beta: globally shared data / all clients' data")
    ] = 0.05,
    shared_portion: Annotated[
        float, typer.Option(help="alpha: portion of the shared data sent to each client")
    ] = 1.0,
    sample_bytes: Annotated[
        str | None,
        typer.Option(help="bytes per sample, e.g. 3KiB (default: the model's input, 1 byte a value)"),
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="also cost the extra local training")] = None,
    clients_per_round: ClientsOption = None,
    fraction: FractionOption = None,
    epochs: EpochsOption = 1.0,
    batch_size: BatchOption = 32,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Non-IID labels (Zhao et al. 2018): EMD per client, and the cost of a globally shared subset."""
    from planner.cost.federated_plan import RoundSettings, load_model, plan_noniid
    from planner.render import emit

    fleet_spec = _fleet(fleet)
    counts = _partition(partition) if partition is not None else None
    spec = _model(model) if model is not None else None
    size = _sample_bytes(sample_bytes, spec)
    settings = RoundSettings(
        clients_per_round=_clients(fleet_spec, clients_per_round, fraction), epochs=epochs, batch=batch_size
    )
    payload = _settled(
        lambda: plan_noniid(
            fleet_spec,
            counts,
            classes,
            classes_per_client,
            seed,
            shared_fraction,
            shared_portion,
            size,
            None if spec is None else load_model(spec),
            settings,
        )
    )
    emit(payload, fmt, _noniid_tables)


# ---------------------------------------------------------------------------------------------------------
# Inputs.


def _settled(build: Any) -> dict[str, Any]:
    """Run a plan; a setting it cannot use becomes a one-line error naming the option (exit 2)."""
    from planner.cost.federated_plan import SettingError

    try:
        return build()
    except SettingError as exc:
        raise bad_option(f"--{exc.setting}", str(exc), show_got=False) from None


def _clients(fleet: Any, m: int | None, fraction: float | None) -> int:
    """m from -m, or from -C as max(floor(C·K), 1) (McMahan et al. 2017), else the default."""
    if m is not None and fraction is not None:
        raise bad_option("--fraction", "give -m or -C, not both", show_got=False)
    if fraction is None:
        return DEFAULT_CLIENTS if m is None else m
    from planner.cost.federated import clients_per_round

    try:
        return clients_per_round(fraction, fleet.total_clients)
    except ValueError as exc:
        raise bad_option("--fraction", str(exc), show_got=False) from None


def _fleet(name: str) -> Any:
    from planner.spec.catalog import find

    return find("fleets", name)


def _model(name: str) -> Any:
    from planner.spec.catalog import find

    return find("models", name)


def _time(option: str, text: str | None) -> float | None:
    if text is None:
        return None
    from planner.units import UnitError, parse_quantity

    try:
        value = parse_quantity(text, "time")
    except UnitError as exc:
        raise bad_option(option, str(exc), show_got=False) from None
    if not 0 < value <= DURATION.high:
        raise bad_option(option, f"expected a time > 0 s and <= {DURATION.show(DURATION.high)}", text)
    return value


def _sample_bytes(text: str | None, spec: Any) -> float:
    if text is None:
        if spec is None or spec.spec != "cnn":
            raise bad_option(
                "--sample-bytes",
                "give the bytes per sample (or a CNN --model to derive them)",
                show_got=False,
            )
        import math

        return float(math.prod(spec.input_shape))  # 8-bit values, e.g. 3 x 224 x 224 bytes per image
    from planner.units import UnitError, parse_quantity

    try:
        value = parse_quantity(text, "memory")
    except UnitError as exc:
        raise bad_option("--sample-bytes", str(exc), show_got=False) from None
    if not 0 < value <= SIZE.high:
        raise bad_option("--sample-bytes", f"expected a size > 0 B and <= {SIZE.show(SIZE.high)}", text)
    return value


def _partition(path: str) -> Any:
    from pathlib import Path

    from planner.spec.fleet import LabelPartition
    from planner.spec.schema import build
    from planner.spec.yamlio import load_yaml

    doc = load_yaml(Path(path))
    if not isinstance(doc.data, dict) or doc.data.get("spec") != "partition":
        raise doc.error(("spec",), "expected a `spec: partition` file", show_got=False)
    return [list(row) for row in build(LabelPartition, doc).counts]


# ---------------------------------------------------------------------------------------------------------
# Tables.


def _t(value: float | None) -> str:
    from planner.units import format_quantity

    return "-" if value is None else format_quantity(value, "time")


def _b(value: float | None) -> str:
    from planner.units import format_quantity

    return "-" if value is None else format_quantity(value, "memory")


def _fleets_table(payload: dict[str, Any]) -> list[Any]:
    from planner.render import first_sentence, fmt_count, make_table

    rows = [
        (
            f["name"],
            fmt_count(f["clients"]),
            ", ".join(f"{c['count']} {c['name']}" for c in f["classes"]),
            first_sentence(f["description"]),
        )
        for f in payload["fleets"]
    ]
    return [make_table("Fleets", ["name", "clients", "classes", "description"], rows, right=["clients"])]


def _classes_table(payload: dict[str, Any], title: str) -> Any:
    from planner.render import fmt_count, make_table

    rows = [
        (
            c["name"],
            fmt_count(c["clients"]),
            c["device"],
            f"{c['samples_mean']:.0f}",
            _t(c["step_s"]),
            _t(c["download_s"]),
            _t(c["compute_s"]),
            _t(c["upload_s"]),
            _t(c["total_s"]),
            f"{_t(c['total_min_s'])} .. {_t(c['total_max_s'])}",
            f"{c['availability']:g}",
        )
        for c in payload["classes"]
    ]
    columns = [
        "class",
        "clients",
        "device",
        "samples",
        "step",
        "download",
        "train",
        "upload",
        "total",
        "range",
        "avail.",
    ]
    return make_table(title, columns, rows, right=columns[1:2] + columns[3:9] + columns[10:], keep=["range"])


def _round_tables(payload: dict[str, Any]) -> list[Any]:
    from planner.render import fmt_si, make_table

    s, r, tr, model = payload["settings"], payload["round"], payload["training"], payload["model"]
    title = (
        f"Clients of fleet {payload['fleet']['name']}: {model['name']}, E = {s['epochs']:g}, "
        f"B = {s['batch_size']}, {s['local_steps_mean']:.1f} local steps on average (means per class)"
    )
    stderr = f" ± {_t(r['clients_time_stderr_s'])}" if r["method"] == "monte-carlo" else ""
    rows = [
        ("clients selected / used", f"{s['clients_selected']} / {s['clients_per_round']}"),
        ("deadline", _t(s["deadline_s"])),
        (f"expected slowest report ({r['method']})", _t(r["clients_time_s"]) + stderr),
        ("server aggregation", _t(r["aggregation_s"])),
        ("expected round", _t(r["round_s"])),
        ("expected updates received", f"{r['updates']:.2f}"),
        ("slowest client of the fleet", _t(r["all_clients_max_s"])),
        ("model download / update upload", f"{_b(model['download_bytes'])} / {_b(model['upload_bytes'])}"),
        (
            "bytes per round (down + up)",
            f"{_b(r['download_bytes'])} + {_b(r['upload_bytes'])} = {_b(r['bytes'])}",
        ),
        ("server ingress of the uploads", _t(r["server_ingress_s"])),
    ]
    if s["relevant_fraction"] < 1:
        rows.append(("CMFL upload saved per round", _b(r["cmfl_saved_upload_bytes"])))
    if s["prox_mu"] > 0:
        rows.append(("FedProx extra per step (mean)", _t(r["prox_extra_s_per_step"])))
    if r["partial_work_fraction"] is not None:
        rows.append(("FedProx work done by updating clients", f"{100 * r['partial_work_fraction']:.1f}%"))
    rows += [
        (f"{tr['rounds']} rounds (your input): time", _t(tr["time_s"])),
        (f"{tr['rounds']} rounds: bytes", _b(tr["bytes"])),
    ]
    flops = model["training_flops_per_sample"]
    out: list[Any] = [
        _classes_table(payload, title),
        make_table("Round", ["quantity", "value"], rows, keep=["value"]),
        f"model: {model['name']}, {model['parameters']:,} parameters, "
        + (f"{fmt_si(flops, 'FLOP')} per training sample, " if flops else "")
        + model["upload"],
    ]
    if "histogram" in payload:
        out.append(_histogram_text(payload["histogram"], s["deadline_s"], r["round_s"]))
    out += [f"note: {n}" for n in payload["notes"]]
    return out


def _histogram_text(hist: dict[str, Any], deadline: float | None, round_s: float) -> str:
    """Bars of client counts per time bin; the deadline and the expected round marked on their bins."""
    counts, edges = hist["counts"], hist["edges_s"]
    widest = max(counts) or 1
    lines = ["Client round times (all clients of the fleet)"]
    for i, count in enumerate(counts):
        low, high = edges[i], edges[i + 1]
        marks = []
        if deadline is not None and low <= deadline < high:
            marks.append("deadline")
        if low <= round_s < high or (i == len(counts) - 1 and round_s >= high):
            marks.append("expected round")
        bar = "█" * max(1 if count else 0, round(40 * count / widest))
        tail = f"  <- {', '.join(marks)}" if marks else ""
        lines.append(f"{_t(low):>10} .. {_t(high):<10} {bar:<40} {count:>6}{tail}")
    return "\n".join(lines)


def _select_tables(payload: dict[str, Any], show_clients: bool) -> list[Any]:
    from planner.render import fmt_count, make_table

    s = payload["settings"]
    rows = [
        (
            r["method"] + (" (expected)" if r["expected"] else ""),
            f"{r['clients']:g}",
            f"{r['utility']:.4f}",
            _t(r["round_s"]),
            _b(r["bytes"]),
            f"{r['objective']:.4f}",
            _t(r["solve_s"]) if r["method"] == "ilp" else "",
        )
        for r in payload["selections"]
    ]
    title = (
        f"Client selection on {payload['fleet']['name']} ({payload['model']['name']}): maximise "
        f"{s['w_utility']:g}·utility − {s['w_latency_per_s']:g}·round[s] − "
        f"{s['w_bytes_per_gb']:g}·bytes[GB], "
        f"{s['min_clients']}..{s['max_clients']} clients"
    )
    columns = ["selection", "clients", "utility", "round", "bytes", "objective", "solve"]
    out: list[Any] = [make_table(title, columns, rows, right=columns[1:])]
    by_class = [
        (c["name"], fmt_count(c["clients"]), c["ilp_selected"], c["fastest_selected"])
        for c in payload["by_class"]
    ]
    out.append(
        make_table(
            "Selected per class",
            ["class", "clients", "ilp", "fastest"],
            by_class,
            right=["clients", "ilp", "fastest"],
        )
    )
    if show_clients:
        out.append("ILP selects clients (fleet order): " + ", ".join(map(str, payload["ilp_clients"])))
    out.append(f"utility: {payload['utility']}")
    out += [f"note: {n}" for n in payload["notes"]]
    return out


def _heterofl_tables(payload: dict[str, Any]) -> list[Any]:
    from planner.render import fmt_count, make_table

    s = payload["settings"]
    levels = [
        (
            lv["level"],
            f"{lv['width']:g}",
            f"{lv['parameter_fraction_formula']:.5g}",
            f"{lv['parameter_fraction']:.5g}",
            fmt_count(lv["parameters"]),
            _b(lv["model_bytes"]),
            _b(lv["training_memory_bytes"]),
        )
        for lv in payload["levels"]
    ]
    columns = [
        "level p",
        "width r^(p-1)",
        "r^(2(p-1))",
        "params / full",
        "parameters",
        "model",
        f"memory (B={s['batch_size']})",
    ]
    out: list[Any] = [
        make_table(
            f"HeteroFL levels of {payload['model']['name']} (r = {s['ratio']:g})",
            columns,
            levels,
            right=columns,
        )
    ]
    per = [str(p) for p in range(1, s["levels"] + 1)]
    rows = [
        (
            c["name"],
            fmt_count(c["clients"]),
            _b(c["memory_budget_bytes"]),
            *(c["clients_per_level"][p] for p in per),
            c["clients_without_level"],
            _t(c["full_width_s"]),
            _t(c["assigned_s"]),
        )
        for c in payload["by_class"]
    ]
    head = [
        "class",
        "clients",
        "memory budget",
        *(f"p={p}" for p in per),
        "none",
        "full-width round",
        "own level",
    ]
    out.append(make_table(f"Clients per level (deadline {_t(s['deadline_s'])})", head, rows, right=head[1:]))
    h, f = payload["heterofl"], payload["full_width"]
    summary = [
        ("eligible clients", fmt_count(h["eligible_clients"]), fmt_count(f["eligible_clients"])),
        (f"expected round, m = {s['clients_per_round']}", _t(h["round_s"]), _t(f["round_s"])),
        ("bytes per round", _b(h["bytes"]), _b(f["bytes"])),
    ]
    out.append(
        make_table(
            "HeteroFL vs full width",
            ["", "HeteroFL", "full width"],
            summary,
            right=["HeteroFL", "full width"],
        )
    )
    out += [f"note: {n}" for n in payload["notes"]]
    return out


def _noniid_tables(payload: dict[str, Any]) -> list[Any]:
    from planner.render import fmt_count, make_table

    part, shared = payload["partition"], payload["shared_subset"]
    rows = [
        (
            c["name"],
            fmt_count(c["clients"]),
            f"{c['emd_mean']:.3f}",
            f"{c['emd_min']:.3f} .. {c['emd_max']:.3f}",
            _t(c["shared_download_s"]),
        )
        for c in payload["by_class"]
    ]
    emd = payload["emd"]
    rows.append(
        ("all", fmt_count(part["clients"]), f"{emd['mean']:.3f}", f"{emd['min']:.3f} .. {emd['max']:.3f}", "")
    )
    columns = ["class", "clients", "EMD mean", "EMD range", "shared-data download"]
    out: list[Any] = [
        make_table(
            f"Label skew on {payload['fleet']['name']}: {part['source']}", columns, rows, right=columns[1:]
        )
    ]
    costs = [
        (
            "shared set |G| = beta N",
            f"{shared['shared_samples']:,.0f} samples ({100 * shared['fraction']:g}%)",
        ),
        (
            "sent to each client (alpha |G|)",
            f"{shared['samples_per_client']:,.0f} samples, {_b(shared['bytes_per_client'])}",
        ),
        ("sent in all", _b(shared["total_bytes"])),
        ("one-time download (slowest client)", _t(shared["one_time_download_s"])),
    ]
    extra = payload.get("training_with_shared")
    if extra:
        costs += [
            ("extra local training per round (mean)", _t(extra["extra_compute_s_mean"])),
            (
                f"expected round without / with, m = {extra['clients_per_round']}",
                f"{_t(extra['round_s_without'])} / {_t(extra['round_s_with'])}",
            ),
        ]
    out.append(
        make_table("Globally shared data (Zhao et al. 2018)", ["quantity", "value"], costs, keep=["value"])
    )
    out += [f"note: {n}" for n in payload["notes"]]
    return out
