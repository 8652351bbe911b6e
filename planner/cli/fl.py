"""Federated learning: round time and bytes on a fleet, client selection, HeteroFL widths, non-IID data.

A fleet (`--fleet`) is a catalog name (`planner fl fleets`) or a `spec: fleet` YAML file of client classes:
device, uplink / downlink, samples held, availability. The model is a catalog CNN architecture or a layer
profile. Round time: each selected client downloads the model, trains E epochs over its samples at batch
B, uploads; a synchronous round ends with the slowest selected client (planner.cost.federated). The
number of rounds is your input; accuracy is modelled only as the loss to label skew (EMD, Zhao et al.
2018: `select --utility accuracy`, `noniid`).
"""

from __future__ import annotations

from typing import Annotated

import typer

from planner.api.fl_common import DEFAULT_CLIENTS
from planner.api.fl_heterofl import FLHeteroFLOptions
from planner.api.fl_noniid import FLNoniidOptions
from planner.api.fl_round import FLRoundOptions
from planner.api.fl_select import FLSelectOptions
from planner.cli.common import FormatOption, quantity_option
from planner.cli.plot_options import ForceOption, PlotFileOption, PlotOption
from planner.render import OutputFormat

app = typer.Typer(no_args_is_help=True)
ROUND, SELECT, HETEROFL, NONIID = (
    FLRoundOptions,
    FLSelectOptions,
    FLHeteroFLOptions,
    FLNoniidOptions,
)  # defaults

Opt = typer.Option
FleetOption = Annotated[str, Opt("--fleet", help="catalog fleet name or a fleet YAML file")]
ModelOption = Annotated[str, Opt("--model", help="catalog CNN architecture or layer profile, or a file")]
ClientsOption = Annotated[
    int | None,
    Opt(
        "--clients-per-round", "-m", help=f"m: clients whose updates a round uses (default {DEFAULT_CLIENTS})"
    ),
]
FractionOption = Annotated[
    float | None,
    Opt("--fraction", "-C", help="C: m = max(floor(C·K), 1) of the fleet's K clients (instead of -m)"),
]
EpochsOption = Annotated[float, Opt("--epochs", "-E", help="E: local epochs per round")]
BatchOption = Annotated[int, Opt("--batch-size", "-B", help="B: local minibatch")]
DtypeOption = Annotated[str, Opt("--dtype", help="training dtype: fp32, fp16 or bf16")]
OptimizerOption = Annotated[str, Opt("--optimizer", help="local optimizer: sgd (momentum) or adam")]
ClassesOption = Annotated[int, Opt(help="label classes (CIFAR-10: 10)")]
ClassesPerClientOption = Annotated[int, Opt(help="k of a generated k-class non-IID partition")]
PartitionOption = Annotated[
    str | None, Opt(help="a `spec: partition` YAML of per-client label counts instead")
]
LabelSeedOption = Annotated[
    int | None, Opt(min=0, help="draw each client's classes at random (default: round-robin)")
]
LossRecoveryOption = Annotated[
    str, Opt(help="retransmit (links carry 1 - p of their bandwidth) or drop (the update is lost)")
]
DeadlineOption = Annotated[
    float | None,
    quantity_option("time", "round deadline, e.g. 90s or 5min: later clients are dropped", "--deadline"),
]


@app.command("fleets")
def list_fleets(fmt: FormatOption = OutputFormat.table) -> None:
    """List the fleets in the catalog."""
    from planner.api.fl_fleets import fl_fleets
    from planner.render import emit
    from planner.render.fl import fleets_tables

    emit(fl_fleets().to_dict(), fmt, fleets_tables)


@app.command("round")
def round_command(
    fleet: FleetOption,
    model: ModelOption,
    clients_per_round: ClientsOption = None,
    fraction: FractionOption = None,
    epochs: EpochsOption = ROUND.epochs,
    batch_size: BatchOption = ROUND.batch_size,
    dtype: DtypeOption = ROUND.dtype,
    optimizer: OptimizerOption = ROUND.optimizer,
    deadline: DeadlineOption = None,
    over_select: Annotated[
        float, Opt(help="select (1 + this) m clients and keep the first m reports, e.g. 0.3")
    ] = ROUND.over_select,
    prox_mu: Annotated[
        float, Opt(help="FedProx mu > 0: add the proximal term's cost per step")
    ] = ROUND.prox_mu,
    partial_work: Annotated[
        bool, Opt("--partial-work", help="FedProx: clients send what they did by the deadline")
    ] = ROUND.partial_work,
    relevant_fraction: Annotated[
        float, Opt(help="CMFL: fraction of updates relevant enough to upload (given)")
    ] = ROUND.relevant_fraction,
    cmfl_threshold: Annotated[
        float | None, Opt(help="CMFL: derive who uploads: relevance (sign agreement) >= this, e.g. 0.8")
    ] = None,
    update_correlation: Annotated[
        float | None, Opt(help="CMFL: correlation of local and global updates, -1..1 (with --cmfl-threshold)")
    ] = None,
    updates: Annotated[
        str | None, Opt(help="CMFL: .npz of updates (clients x params), global_update")
    ] = None,
    packet_loss: Annotated[float, Opt(help="packet error rate p of client links, 0..1")] = ROUND.packet_loss,
    loss_recovery: LossRecoveryOption = ROUND.loss_recovery,
    upload_density: Annotated[
        float | None, Opt(help="DGC-style sparsified upload keeping this fraction, e.g. 0.01")
    ] = None,
    upload_encoding: Annotated[
        str, Opt(help="positions of a sparse upload: delta16, coo32, coo64, bitmap")
    ] = ROUND.upload_encoding,
    rounds: Annotated[
        int, Opt(help="R: rounds to train (your input; accuracy is not modelled)")
    ] = ROUND.rounds,
    trials: Annotated[int, Opt(help="Monte Carlo trials where no closed form applies")] = ROUND.trials,
    seed: Annotated[int, Opt(min=0, help="seed of the Monte Carlo")] = ROUND.seed,
    histogram: Annotated[
        bool, Opt("--histogram", help="a terminal histogram of client round times")
    ] = ROUND.histogram,
    bins: Annotated[int, Opt(help="histogram bins")] = ROUND.bins,
    plot: PlotOption = False,
    plot_file: PlotFileOption = None,
    force: ForceOption = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Expected time and bytes of a synchronous FedAvg / FedProx round, and of R rounds."""
    from planner.api.fl_round import fl_round
    from planner.cli.plot_options import emit_with_plot, plot_request
    from planner.render.figures_systems import fl_round_figure
    from planner.render.fl import round_tables

    request = plot_request(plot, plot_file, force)
    histogram = histogram or request.wanted  # the picture draws the histogram
    options = FLRoundOptions(
        clients_per_round=clients_per_round, fraction=fraction, epochs=epochs, batch_size=batch_size,
        optimizer=optimizer, dtype=dtype, deadline=deadline, over_select=over_select, prox_mu=prox_mu,
        partial_work=partial_work, relevant_fraction=relevant_fraction, cmfl_threshold=cmfl_threshold,
        update_correlation=update_correlation, updates=updates, packet_loss=packet_loss,
        loss_recovery=loss_recovery, upload_density=upload_density,
        upload_encoding=upload_encoding, rounds=rounds, trials=trials, seed=seed, histogram=histogram,
        bins=bins,
    )  # fmt: skip
    emit_with_plot(fl_round(fleet, model, options).to_dict(), fmt, round_tables, fl_round_figure, request)


@app.command("select")
def select_command(
    fleet: FleetOption,
    model: ModelOption,
    clients_per_round: ClientsOption = None,
    fraction: FractionOption = None,
    min_clients: Annotated[int | None, Opt(help="the ILP selects at least this many (default m)")] = None,
    max_clients: Annotated[int | None, Opt(help="the ILP selects at most this many (default m)")] = None,
    w_utility: Annotated[
        float, Opt(help="w1: weight of the utility (share of the data, or accuracy in percent)")
    ] = SELECT.w_utility,
    utility: Annotated[str, Opt(help="samples (data share) or accuracy (FedMARL's Acc)")] = SELECT.utility,
    iid_accuracy: Annotated[float, Opt(help="accuracy: the model's IID accuracy, %")] = SELECT.iid_accuracy,
    classes: ClassesOption = NONIID.classes,
    classes_per_client: ClassesPerClientOption = NONIID.classes_per_client,
    partition: PartitionOption = None,
    label_seed: LabelSeedOption = None,
    w_latency: Annotated[float, Opt(help="w2: weight of the round latency, per second")] = SELECT.w_latency,
    w_bytes: Annotated[float, Opt(help="w3: weight of the bytes moved, per gigabyte")] = SELECT.w_bytes,
    epochs: EpochsOption = SELECT.epochs,
    batch_size: BatchOption = SELECT.batch_size,
    dtype: DtypeOption = SELECT.dtype,
    optimizer: OptimizerOption = SELECT.optimizer,
    time_limit: Annotated[float, Opt(help="seconds the ILP solver may take")] = SELECT.time_limit,
    show_clients: Annotated[bool, Opt("--show-clients", help="list the clients the ILP selects")] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Select a round's clients by an exact ILP on FedMARL's objective vs random (FedAvg) and fastest-m."""
    from planner.api.fl_select import fl_select
    from planner.render import emit
    from planner.render.fl import select_tables

    options = FLSelectOptions(
        clients_per_round=clients_per_round, fraction=fraction, epochs=epochs, batch_size=batch_size,
        optimizer=optimizer, dtype=dtype, min_clients=min_clients, max_clients=max_clients,
        w_utility=w_utility, w_latency=w_latency, w_bytes=w_bytes, time_limit=time_limit, utility=utility,
        iid_accuracy=iid_accuracy, labels=FLNoniidOptions(
            classes=classes, classes_per_client=classes_per_client, partition=partition, seed=label_seed
        ),
    )  # fmt: skip
    emit(fl_select(fleet, model, options).to_dict(), fmt, lambda p: select_tables(p, show_clients))


@app.command("heterofl")
def heterofl_command(
    fleet: FleetOption,
    model: ModelOption,
    clients_per_round: ClientsOption = None,
    fraction: FractionOption = None,
    ratio: Annotated[float, Opt(help="r: width ratio between levels (HeteroFL uses 0.5)")] = HETEROFL.ratio,
    levels: Annotated[int, Opt(help="complexity levels p = 1..levels (HeteroFL uses 5)")] = HETEROFL.levels,
    deadline: DeadlineOption = None,
    memory_fraction: Annotated[
        float, Opt(help="fraction of a device's memory training may use")
    ] = HETEROFL.memory_fraction,
    epochs: EpochsOption = HETEROFL.epochs,
    batch_size: BatchOption = HETEROFL.batch_size,
    optimizer: OptimizerOption = HETEROFL.optimizer,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """HeteroFL: the widest sub-model r^(p-1) each client fits, and the round vs one full-width model."""
    from planner.api.fl_heterofl import fl_heterofl
    from planner.render import emit
    from planner.render.fl import heterofl_tables

    options = FLHeteroFLOptions(
        clients_per_round=clients_per_round, fraction=fraction, epochs=epochs, batch_size=batch_size,
        optimizer=optimizer, ratio=ratio, levels=levels, deadline=deadline, memory_fraction=memory_fraction,
    )  # fmt: skip
    emit(fl_heterofl(fleet, model, options).to_dict(), fmt, heterofl_tables)


@app.command("noniid")
def noniid_command(
    fleet: FleetOption,
    classes: ClassesOption = NONIID.classes,
    classes_per_client: ClassesPerClientOption = NONIID.classes_per_client,
    partition: PartitionOption = None,
    seed: LabelSeedOption = None,
    shared_fraction: Annotated[
        float, Opt(help="beta: globally shared data / all clients' data")
    ] = NONIID.shared_fraction,
    shared_portion: Annotated[
        float, Opt(help="alpha: portion of the shared data sent to each client")
    ] = NONIID.shared_portion,
    sample_bytes: Annotated[
        float | None,
        quantity_option(
            "memory",
            "bytes per sample, e.g. 3KiB (default: the model's input, 1 byte a value)",
            "--sample-bytes",
        ),
    ] = None,
    model: Annotated[str | None, Opt("--model", help="also cost the extra local training")] = None,
    clients_per_round: ClientsOption = None,
    fraction: FractionOption = None,
    epochs: EpochsOption = NONIID.epochs,
    batch_size: BatchOption = NONIID.batch_size,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Non-IID labels (Zhao et al. 2018): EMD per client, and the cost of a globally shared subset."""
    from planner.api.fl_noniid import fl_noniid
    from planner.render import emit
    from planner.render.fl import noniid_tables

    options = FLNoniidOptions(
        clients_per_round=clients_per_round, fraction=fraction, epochs=epochs, batch_size=batch_size,
        classes=classes, classes_per_client=classes_per_client, partition=partition, seed=seed,
        shared_fraction=shared_fraction, shared_portion=shared_portion, sample_bytes=sample_bytes,
    )  # fmt: skip
    emit(fl_noniid(fleet, options, model).to_dict(), fmt, noniid_tables)
