"""Plan data-parallel training: iteration breakdown, best all-reduce, memory, scaling over N, cost.

MODEL: a CNN architecture (FLOP per layer, timed by the roofline) or a profile with measured times.

A PipeDream graph.txt does not state its minibatch: give --profile-batch, or --batch is taken to be it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import typer

from planner.cli.common import FormatOption, bad_option, load_cluster
from planner.limits import EPOCHS
from planner.render import OutputFormat, fmt_bytes, fmt_time

DEFAULT_CNN_BATCH = 32  # per device, as Goyal et al. 2017 (n = 32 images per GPU)


def command(
    model: Annotated[str, typer.Argument(help="catalog model (CNN architecture or profile) or a file")],
    cluster: Annotated[str, typer.Option("--cluster", help="catalog cluster name or a cluster YAML file")],
    servers: Annotated[int | None, typer.Option(help="override the outermost level's count")] = None,
    devices: Annotated[int | None, typer.Option(help="devices to use (default: the whole cluster)")] = None,
    batch: Annotated[
        int | None,
        typer.Option(
            help="samples per device (default: the profile's minibatch, 32 for a CNN architecture); "
            "with --global-batch, the global batch"
        ),
    ] = None,
    global_batch: Annotated[
        bool, typer.Option("--global-batch", help="--batch is the global batch (strong scaling)")
    ] = False,
    profile_batch: Annotated[
        int | None, typer.Option(help="samples per minibatch of a profile that does not state it")
    ] = None,
    dtype: Annotated[str, typer.Option(help="fp32, or fp16 / bf16 mixed precision")] = "fp32",
    optimizer: Annotated[str, typer.Option(help="sgd (with momentum) or adam")] = "sgd",
    algorithm: Annotated[str, typer.Option(help="all-reduce algorithm, or best")] = "best",
    overlap: Annotated[
        bool, typer.Option("--overlap/--no-overlap", help="overlap gradient all-reduce with backward")
    ] = True,
    bucket: Annotated[str, typer.Option(help="DDP gradient bucket size")] = "25MiB",
    epochs: Annotated[float | None, typer.Option(help="report the time and cost of this many epochs")] = None,
    epoch_samples: Annotated[
        int, typer.Option(help="samples per epoch (default: ImageNet-1k train)")
    ] = 1_281_167,
    plot: Annotated[bool, typer.Option("--plot", help="a terminal plot of speedup vs N")] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Plan data-parallel training: iteration breakdown, best all-reduce, memory, scaling over N, cost."""
    from planner.render import emit

    payload = build_payload(
        model=model,
        cluster=cluster,
        servers=servers,
        devices=devices,
        batch=batch,
        global_batch=global_batch,
        profile_batch=profile_batch,
        dtype=dtype,
        optimizer=optimizer,
        algorithm=algorithm,
        overlap=overlap,
        bucket=bucket,
        epochs=epochs,
        epoch_samples=epoch_samples,
    )
    emit(payload, fmt, lambda p: _tables(p, plot))


def build_payload(
    *,
    model: str,
    cluster: str,
    servers: int | None,
    devices: int | None,
    batch: int | None,
    global_batch: bool,
    profile_batch: int | None,
    dtype: str,
    optimizer: str,
    algorithm: str,
    overlap: bool,
    bucket: str,
    epochs: float | None,
    epoch_samples: int,
) -> dict[str, Any]:
    """Resolve the inputs, plan, and return the payload that every output format renders."""
    from planner.cost import data_parallel as dp
    from planner.errors import SpecError
    from planner.units import UnitError, parse_quantity

    algorithms = dp.all_algorithms()
    if algorithm != "best" and algorithm not in algorithms:
        raise bad_option("--algorithm", f"one of {', '.join(algorithms)} or best", algorithm)
    if epoch_samples < 1:
        raise bad_option("--epoch-samples", "a whole number >= 1", epoch_samples)
    if epochs is not None and epochs not in EPOCHS:
        raise bad_option("--epochs", f"a number {EPOCHS.text()}", epochs)
    try:
        bucket_bytes = parse_quantity(bucket, "memory")
    except UnitError as exc:
        raise bad_option("--bucket", str(exc), show_got=False) from None
    if not bucket_bytes > 0:
        raise bad_option("--bucket", "a size > 0, e.g. 25MiB", bucket)

    resolved = resolve_training(
        model=model,
        cluster=cluster,
        servers=servers,
        devices=devices,
        batch=batch,
        profile_batch=profile_batch,
        dtype=dtype,
        optimizer=optimizer,
        global_batch=global_batch,
        overlap=overlap,
        bucket_bytes=bucket_bytes,
        epoch_samples=epoch_samples,
    )
    setup, n, per = resolved.setup, resolved.devices, resolved.batch
    profile_batch = resolved.profile_batch
    candidates = algorithms if algorithm == "best" else (algorithm,)
    if global_batch and per < n:
        raise bad_option("--batch", f"a global batch of at least one sample per device ({n})", per)
    try:
        result = dp.plan(setup, n, per, candidates, dp.default_collective, strong_scaling=global_batch)
    except ValueError as exc:  # no candidate algorithm applies to this cluster
        raise SpecError("--algorithm", "algorithm", str(exc), show_got=False) from None
    return _payload(result, model=model, algorithm=algorithm, epochs=epochs, profile_batch=profile_batch)


@dataclass(frozen=True)
class ResolvedTraining:
    """A training question resolved from the command line: the model as a profile at the per-device
    batch, the data-parallel setup (per-layer arrays, cluster, dtype, optimizer), devices and batch."""

    profile: Any
    setup: Any
    devices: int
    batch: int
    profile_batch: int | None  # the samples a measured profile's minibatch covers, as resolved


def resolve_training(
    *,
    model: str,
    cluster: str,
    servers: int | None,
    devices: int | None,
    batch: int | None,
    profile_batch: int | None,
    dtype: str,
    optimizer: str,
    global_batch: bool = False,
    overlap: bool = True,
    bucket_bytes: float = 25 * 2**20,
    epoch_samples: int = 1_281_167,
) -> ResolvedTraining:
    """Resolve MODEL, --cluster/--servers/--devices, --batch/--profile-batch and --dtype into a setup
    (shared by `planner dp` and `planner plan`); bad combinations are SpecErrors naming the option."""
    from planner.cost import data_parallel as dp
    from planner.cost.compute import TRAINING_DTYPES, layer_arrays, sustained_compute
    from planner.cost.memory import OPTIMIZERS
    from planner.errors import SpecError
    from planner.spec.catalog import find

    if dtype not in TRAINING_DTYPES:
        raise bad_option("--dtype", f"one of {', '.join(TRAINING_DTYPES)}", dtype)
    if optimizer not in OPTIMIZERS:
        raise bad_option("--optimizer", f"one of {', '.join(OPTIMIZERS)}", optimizer)
    for option, value in (
        ("--servers", servers),
        ("--devices", devices),
        ("--batch", batch),
        ("--profile-batch", profile_batch),
    ):
        if value is not None and value < 1:
            raise bad_option(option, "a whole number >= 1", value)
    spec = find("models", model)
    if spec.spec not in ("profile", "cnn"):
        raise SpecError(
            "MODEL",
            "model",
            f"a CNN architecture or a layer profile; '{model}' is an {spec.spec} config",
            show_got=False,
        )
    machine = load_cluster(cluster, servers)
    n = machine.total_devices if devices is None else devices
    if n > machine.total_devices:
        raise bad_option("--devices", f"at most the cluster's {machine.total_devices} devices", n)

    if spec.spec == "cnn":
        from planner.cost.layers import derive_profile

        if profile_batch is not None:
            raise bad_option(
                "--profile-batch",
                "only for a measured profile; a CNN architecture is per sample",
                show_got=False,
            )
        profile = derive_profile(spec, 1)
        default_batch = DEFAULT_CNN_BATCH
    else:
        profile = spec
        stated = profile.batch_size if profile.per == "minibatch" else 1
        if stated is None and profile_batch is None:
            if batch is None or global_batch:
                raise bad_option(
                    "--profile-batch",
                    f"the samples per minibatch of '{profile.name}', which the profile does not state "
                    "(or give the per-device --batch, taken to be the profile's minibatch)",
                    show_got=False,
                )
            profile_batch = batch
        if stated is not None and profile_batch is not None and stated != profile_batch:
            raise bad_option("--profile-batch", f"the profile's own minibatch, {stated}", profile_batch)
        default_batch = stated if stated is not None else profile_batch
    arrays = layer_arrays(profile, None if spec.spec == "cnn" else profile_batch)
    measured_on = None
    if arrays.measured and profile.measured_on:
        measured_on = find("hardware", profile.measured_on, ("device",))
    if arrays.measured and dtype != profile.dtype:
        raise bad_option(
            "--dtype",
            f"{profile.dtype}, the dtype the profile's times were measured in "
            "(mixed precision needs a FLOP-derived profile, e.g. a CNN architecture)",
            dtype,
        )
    try:
        sustained_compute(machine.device, dtype)
    except ValueError as exc:
        raise bad_option("--dtype", str(exc), show_got=False) from None

    per = batch if batch is not None else default_batch
    profile_at_batch = derive_profile(spec, per) if spec.spec == "cnn" else profile
    setup = dp.Setup(
        arrays=arrays,
        cluster=machine,
        dtype=dtype,
        optimizer=optimizer,
        overlap=overlap,
        bucket_bytes=bucket_bytes,
        measured_on=measured_on,
        epoch_samples=epoch_samples,
    )
    return ResolvedTraining(profile_at_batch, setup, n, per, profile_batch)


def _payload(
    plan: Any, *, model: str, algorithm: str, epochs: float | None, profile_batch: int | None
) -> dict[str, Any]:
    setup, chosen = plan.setup, plan.result
    machine = setup.cluster
    main = chosen.to_dict()
    main["reason"] = plan.reason
    main["time_to_train_s"] = None if epochs is None else epochs * chosen.epoch_s
    cost = chosen.cost_per_epoch_usd
    main["cost_to_train_usd"] = None if epochs is None or cost is None else epochs * cost
    memory = chosen.memory.to_dict() | {"device_memory_bytes": setup.device.memory}
    return {
        "inputs": {
            "model": model,
            "cluster": machine.name,
            "device": setup.device.name,
            "cluster_devices": machine.total_devices,
            "devices_per_server": machine.devices_per_server,
            "dtype": setup.dtype,
            "optimizer": setup.optimizer,
            "algorithm": algorithm,
            "overlap": setup.overlap,
            "bucket_bytes": setup.bucket_bytes,
            "strong_scaling": plan.strong_scaling,
            "profile_batch": profile_batch,
            "work": "measured times" if setup.arrays.measured else "FLOP (roofline)",
            "epochs": epochs,
            "epoch_samples": setup.epoch_samples,
            "price_usd_per_server_hour": chosen.price_usd_per_server_hour,
        },
        "plan": main,
        "memory": memory,
        "algorithms": [{"algorithm": name, **opt.to_dict()} for name, opt in plan.options.items()],
        "scaling": {
            "weak": [r.to_dict() for r in plan.weak],
            "strong": [r.to_dict() for r in plan.strong],
        },
        "notes": list(plan.notes),
    }


def _duration(value: float) -> str:
    """Seconds, with hours beside them past an hour."""
    return fmt_time(value) if value < 3600 else f"{value / 3600:.4g} h ({value:,.0f} s)"


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:,.4g}" if value < 1000 else f"${value:,.0f}"


def _tables(payload: dict[str, Any], plot: bool) -> list[Any]:
    from rich.text import Text

    from planner.render import make_table

    inputs, main, memory = payload["inputs"], payload["plan"], payload["memory"]
    scale = "strong scaling, global batch fixed" if inputs["strong_scaling"] else "weak scaling"
    title = (
        f"{inputs['model']} on {inputs['cluster']}: {main['devices']} x {inputs['device']} "
        f"({main['servers']} server(s)), batch {main['batch_per_device']} per device, global "
        f"{main['global_batch']} ({scale}), {inputs['dtype']}, {inputs['optimizer']}, "
        f"{'overlap' if inputs['overlap'] else 'no overlap'}, work from {inputs['work']}"
    )
    rows = [
        ("forward", fmt_time(main["forward_s"])),
        ("backward", fmt_time(main["backward_s"])),
        ("gradient all-reduce (total)", fmt_time(main["sync_total_s"])),
        ("gradient all-reduce (exposed)", fmt_time(main["sync_exposed_s"])),
        ("weight update", fmt_time(main["update_s"])),
        ("iteration", fmt_time(main["iteration_s"])),
        ("throughput", f"{main['throughput_samples_per_s']:,.1f} samples/s"),
        ("speedup vs 1 device", f"{main['speedup']:.3f}x"),
        ("scaling efficiency", f"{main['scaling_efficiency'] * 100:.1f}%"),
        ("algorithm", main["algorithm"]),
        ("gradient", f"{fmt_bytes(main['gradient_bytes'])} in {main['buckets']} bucket(s)"),
        ("epoch", f"{_duration(main['epoch_s'])} ({main['iterations_per_epoch']:,} iterations)"),
        ("cost per iteration", _usd(main["cost_per_iteration_usd"])),
        ("cost per epoch", _usd(main["cost_per_epoch_usd"])),
    ]
    if main["time_to_train_s"] is not None:
        rows.append((f"time to train {inputs['epochs']:g} epochs", _duration(main["time_to_train_s"])))
        rows.append((f"cost of {inputs['epochs']:g} epochs", _usd(main["cost_to_train_usd"])))
    out: list[Any] = [
        Text(title, style="bold"),
        make_table(None, ["quantity", "value"], rows, right=["value"]),
    ]
    out.append(Text(f"why: {main['reason']}"))
    out.append(
        make_table(
            f"Memory per device ({'fits' if main['fits'] else 'DOES NOT FIT'} in "
            f"{fmt_bytes(memory['device_memory_bytes'])})",
            ["weights", "gradients", "master weights", "optimizer state", "activations", "total"],
            [
                (
                    fmt_bytes(memory["weights_bytes"]),
                    fmt_bytes(memory["gradients_bytes"]),
                    fmt_bytes(memory["master_weights_bytes"]),
                    fmt_bytes(memory["optimizer_state_bytes"]),
                    fmt_bytes(memory["activations_bytes"]),
                    fmt_bytes(memory["total_bytes"]),
                )
            ],
            right=["weights", "gradients", "master weights", "optimizer state", "activations", "total"],
        )
    )
    if main["devices"] > 1:
        algo_rows = []
        for opt in payload["algorithms"]:
            if opt.get("error"):
                algo_rows.append((opt["algorithm"], "-", "-", "-", "-", "-", "-", opt["error"]))
                continue
            ratio = opt.get("over_lower_bound")
            algo_rows.append(
                (
                    opt["algorithm"] + (" *" if opt["algorithm"] == main["algorithm"] else ""),
                    fmt_time(opt["iteration_s"]),
                    fmt_time(opt["sync_total_s"]),
                    fmt_time(opt["sync_exposed_s"]),
                    fmt_time(opt.get("gradient_allreduce_s")),
                    "-" if ratio is None else f"{ratio:.2f}x",
                    fmt_bytes(opt.get("bytes_sent_per_device")),
                    opt.get("busiest_link", ""),
                )
            )
        cols = [
            "algorithm",
            "iteration",
            "sync total",
            "sync exposed",
            "one all-reduce of G",
            "vs lower bound",
            "sent per device",
            "busiest link",
        ]
        out.append(make_table("All-reduce algorithms (* chosen)", cols, algo_rows, right=cols[1:7]))
    for kind in ("weak", "strong"):
        rows_k = payload["scaling"][kind]
        if not rows_k:
            continue
        cols = [
            "N",
            "servers",
            "batch/device",
            "global batch",
            "iteration",
            "samples/s",
            "speedup",
            "efficiency",
            "sync exposed",
            "algorithm",
            "fits",
            "cost/epoch",
        ]
        table_rows = [
            (
                r["devices"],
                r["servers"],
                r["batch_per_device"],
                r["global_batch"],
                fmt_time(r["iteration_s"]),
                f"{r['throughput_samples_per_s']:,.1f}",
                f"{r['speedup']:.3f}",
                f"{r['scaling_efficiency'] * 100:.1f}%",
                fmt_time(r["sync_exposed_s"]),
                r["algorithm"],
                "yes" if r["fits"] else "no",
                _usd(r["cost_per_epoch_usd"]),
            )
            for r in rows_k
        ]
        what = "per-device batch fixed" if kind == "weak" else "global batch fixed"
        out.append(make_table(f"Scaling, {kind} ({what})", cols, table_rows, right=cols[:9] + cols[11:]))
    if plot:
        out.append(Text(speedup_plot(payload["scaling"])))
    out.append(Text("notes:\n" + "\n".join(f"- {note}" for note in payload["notes"])))
    return out


def speedup_plot(scaling: dict[str, list[dict[str, Any]]], width: int = 50) -> str:
    """Plain-text bars of speedup vs N, weak and strong; '|' marks the ideal (speedup = N)."""
    lines: list[str] = []
    for kind in ("weak", "strong"):
        rows = scaling[kind]
        if not rows:
            continue
        top = max(max(r["devices"] for r in rows), max(r["speedup"] for r in rows))
        lines.append(f"speedup vs N, {kind} scaling ('|' = ideal)")
        for r in rows:
            bar = round(width * r["speedup"] / top)
            ideal = round(width * r["devices"] / top)
            cells = ["#"] * bar + [" "] * (width + 1 - bar)
            if ideal >= bar:
                cells[ideal] = "|"
            lines.append(f"{r['devices']:>6} {''.join(cells)} {r['speedup']:.2f}x")
        lines.append("")
    return "\n".join(lines).rstrip()
