"""Edge inference: ADCNN tiles on boards, Neurosurgeon split points, early exits, MoDNN, transformer splits.

Every command reads catalog names (or YAML files) for models and hardware and prints a rich table, or the
same content as JSON / YAML with `--format`. Bad input exits with code 2 and a one-line message.
"""

from __future__ import annotations

from typing import Annotated

import typer

from planner.api.edge_adcnn import ADCNNSolver, EdgeADCNNOptions
from planner.api.edge_ddnn import EdgeDDNNOptions
from planner.api.edge_exits import EdgeExitsOptions
from planner.api.edge_modnn import EdgeMoDNNOptions, FCPartitionScheme, MoDNNPartition
from planner.api.edge_split import EdgeSplitOptions, SplitObjective
from planner.api.edge_transformer import EdgeTransformerOptions
from planner.cli.common import FormatOption, parse_numbers, quantity_option
from planner.render import OutputFormat

app = typer.Typer(no_args_is_help=True)
# every default is the API's, defined once (planner.api.edge_*)
ADCNN, SPLIT, EXITS = EdgeADCNNOptions, EdgeSplitOptions, EdgeExitsOptions
MODNN, TRANSFORMER, DDNN = EdgeMoDNNOptions, EdgeTransformerOptions, EdgeDDNNOptions

ModelArg = Annotated[str, typer.Argument(help="catalog CNN (e.g. vgg16) or a YAML file")]
InputDtype = Annotated[
    str | None,
    typer.Option(
        help="dtype of the model input on the wire (e.g. int8 for a uint8 image); default the model's"
    ),
]


@app.command("adcnn")
def adcnn(
    model: ModelArg,
    cluster: Annotated[str, typer.Option(help="boards: a cluster (one device is the Central node)")] = str(
        ADCNN.cluster
    ),
    tiles: Annotated[str, typer.Option(help="tile grid ROWSxCOLS on the cut's feature map")] = "{}x{}".format(
        *ADCNN.tiles
    ),
    solver: Annotated[
        ADCNNSolver,
        typer.Option(
            help="cbc or highs (exact ILP), or ADCNN's greedy rule; boards on one link solve exactly by a "
            "dynamic program instead of either ILP"
        ),
    ] = ADCNN.solver,
    cut: Annotated[str | None, typer.Option(help="last layer on the Conv nodes (default: chosen)")] = None,
    conv_nodes: Annotated[int | None, typer.Option(help="Conv nodes (default: all devices but one)")] = None,
    boards: Annotated[
        str | None,
        typer.Option(
            help="Conv nodes as DEVICE:COUNT,... (heterogeneous boards on the cluster's link); "
            "not with --conv-nodes"
        ),
    ] = None,
    compression: Annotated[
        float, typer.Option(help="tile output bytes after / before quantisation, (0, 1]")
    ] = ADCNN.compression,
    cloud: Annotated[
        str, typer.Option(help="remote cloud baseline: a cluster whose link is the WAN, or 'none'")
    ] = str(ADCNN.cloud),
    time_limit: Annotated[
        float, typer.Option(help="time limit of all the ILP solves together, seconds")
    ] = ADCNN.time_limit,
    gap: Annotated[float, typer.Option(help="relative optimality gap at which the ILP may stop")] = ADCNN.gap,
    input_dtype: InputDtype = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Assign ADCNN's spatial tiles to boards (exact ILP) and compare with one device and the cloud."""
    from planner.api.edge_adcnn import edge_adcnn
    from planner.render import emit
    from planner.render.edge_adcnn import adcnn_tables

    options = EdgeADCNNOptions(
        cluster=cluster,
        tiles=_grid(tiles),
        solver=solver,
        cut=cut,
        conv_nodes=conv_nodes,
        boards=None if boards is None else _boards(boards),
        compression=compression,
        cloud=None if cloud == "none" else cloud,
        time_limit=time_limit,
        gap=gap,
        input_dtype=input_dtype,
    )
    emit(edge_adcnn(model, options).to_dict(), fmt, adcnn_tables)


def _grid(text: str) -> tuple[int, int]:
    """`4x4` -> (4, 4)."""
    from planner.cli.common import bad_option
    from planner.cost.edge_tiles import parse_grid

    try:
        return parse_grid(text)
    except ValueError as exc:
        raise bad_option("--tiles", str(exc), show_got=False) from None


def _boards(text: str) -> tuple[tuple[str, int], ...]:
    """`raspberry-pi-4b:2,raspberry-pi-3b-plus:2` -> ((device, 2), (device, 2))."""
    from planner.cli.common import bad_option

    pairs = []
    for item in text.split(","):
        name, _, count = item.strip().partition(":")
        if not (count.isascii() and count.isdigit()) or int(count) < 1:
            raise bad_option("--boards", "expected DEVICE:COUNT,... with counts >= 1", text)
        pairs.append((name, int(count)))
    return tuple(pairs)


@app.command("split")
def split(
    model: Annotated[str, typer.Argument(help="catalog model (CNN or profile) or a file")],
    device: Annotated[str, typer.Option(help="the mobile / edge device")] = str(SPLIT.device),
    cloud: Annotated[str, typer.Option(help="a cluster whose link is the WAN to the server")] = str(
        SPLIT.cloud
    ),
    uplink: Annotated[
        list[float] | None,
        quantity_option("bandwidth", "uplink bandwidths to sweep, e.g. 10Mbps (repeat); default the WAN's"),
    ] = None,
    objective: Annotated[
        SplitObjective, typer.Option(help="minimise latency or mobile energy")
    ] = SPLIT.objective,
    compute_power: Annotated[
        float | None, quantity_option("power", "mobile power while computing, e.g. 3W")
    ] = None,
    transmit_power: Annotated[
        float | None, quantity_option("power", "mobile power while transmitting, e.g. 1.5W")
    ] = None,
    idle_power: Annotated[
        float, quantity_option("power", "mobile power while waiting for the cloud", default=SPLIT.idle_power)
    ] = SPLIT.idle_power,
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
    from planner.api.edge_split import edge_split
    from planner.render import emit
    from planner.render.edge import split_tables

    options = EdgeSplitOptions(
        device=device,
        cloud=cloud,
        uplink=tuple(uplink or ()),
        objective=objective,
        compute_power=compute_power,
        transmit_power=transmit_power,
        idle_power=idle_power,
        measured_on=measured_on,
        batch_size=batch_size,
        input_dtype=input_dtype,
    )
    emit(edge_split(model, options).to_dict(), fmt, split_tables)


@app.command("exits")
def exits(
    model: ModelArg,
    exit_point: Annotated[
        list[str],
        typer.Option(
            "--exit",
            help="LAYER:FRACTION, an early exit and the share of samples leaving there, or LAYER with "
            "--thresholds (repeat)",
        ),
    ],
    device: Annotated[str, typer.Option(help="the device running the model")] = str(EXITS.device),
    classes: Annotated[
        int | None, typer.Option(help="classes of each exit branch (default: the model's outputs)")
    ] = None,
    offload_after: Annotated[
        str | None, typer.Option(help="run the layers after this one in the cloud")
    ] = None,
    cloud: Annotated[str, typer.Option(help="cloud cluster (its link is the WAN) for --offload-after")] = str(
        EXITS.cloud
    ),
    input_dtype: InputDtype = None,
    thresholds: Annotated[
        str | None, typer.Option(help="entropy thresholds in nats: one, or one per exit (T1,T2,...)")
    ] = None,
    entropy_shapes: Annotated[
        list[str] | None,
        typer.Option(help="A,B: Beta shape of entropy / log(classes) at each exit, in exit order (repeat)"),
    ] = None,
    entropies: Annotated[
        str | None, typer.Option(help="CSV of measured entropies (nats): a row per sample, a column per exit")
    ] = None,
    sweep: Annotated[
        str | None, typer.Option(help="thresholds in nats to sweep (T1,T2,...), the same at every exit")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """BranchyNet early exits: expected latency and bytes sent, from exit fractions or entropy thresholds."""
    from planner.api.edge_exits import edge_exits
    from planner.render import emit
    from planner.render.edge import exits_tables

    options = EdgeExitsOptions(
        exit=tuple(_exit(item) for item in exit_point),
        device=device,
        classes=classes,
        offload_after=offload_after,
        cloud=cloud,
        input_dtype=input_dtype,
        thresholds=() if thresholds is None else parse_numbers(thresholds, "--thresholds"),
        entropy_shapes=tuple(_shape(item) for item in entropy_shapes or ()),
        entropies=entropies,
        sweep=() if sweep is None else parse_numbers(sweep, "--sweep"),
    )
    emit(edge_exits(model, options).to_dict(), fmt, exits_tables)


def _shape(item: str) -> tuple[float, float]:
    """`1,3` -> (1.0, 3.0)."""
    from planner.cli.common import bad_option

    values = parse_numbers(item, "--entropy-shapes")
    if len(values) != 2:
        raise bad_option("--entropy-shapes", "expected A,B (two numbers > 0)", item)
    return values[0], values[1]


def _exit(item: str) -> tuple[str, float | None]:
    """`pool3:0.4` -> ("pool3", 0.4); `pool3` -> ("pool3", None): the thresholds decide."""
    from planner.cli.common import bad_option
    from planner.units import parse_number

    layer, colon, fraction = item.partition(":")
    if not colon:
        return layer, None
    try:
        return layer, parse_number(fraction)
    except ValueError:
        raise bad_option("--exit", "expected LAYER:FRACTION, e.g. pool3:0.4", item) from None


@app.command("ddnn")
def ddnn(
    devices: Annotated[int, typer.Option(help="end devices (each sees its own input)")] = DDNN.devices,
    classes: Annotated[int, typer.Option(help="classes |C| (one fp32 score each)")] = DDNN.classes,
    filters: Annotated[int, typer.Option(help="filters f of the devices' last layer")] = DDNN.filters,
    filter_bits: Annotated[
        int, typer.Option(help="bits o of one filter's output (binarised: one per value)")
    ] = DDNN.filter_bits,
    local_exit: Annotated[float, typer.Option(help="fraction l exiting locally")] = DDNN.local_exit,
    edge_exit: Annotated[
        float | None, typer.Option(help="fraction exiting at the edge (default: no edge tier)")
    ] = None,
    edge_filters: Annotated[int, typer.Option(help="filters of the edge's last layer")] = DDNN.edge_filters,
    edge_filter_bits: Annotated[
        int, typer.Option(help="bits of one edge filter's output")
    ] = DDNN.edge_filter_bits,
    aggregation: Annotated[
        str, typer.Option(help="max, avg or concat of the devices' outputs")
    ] = DDNN.aggregation,
    raw_bytes: Annotated[
        float,
        quantity_option("memory", "raw input per device and sample, e.g. 3072B", default=DDNN.raw_bytes),
    ] = DDNN.raw_bytes,
    local_network: Annotated[str, typer.Option(help="cluster whose link joins devices and edge")] = str(
        DDNN.local_network
    ),
    cloud: Annotated[str, typer.Option(help="cloud cluster (its link is the WAN)")] = str(DDNN.cloud),
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """DDNN: end devices aggregated locally, local/edge/cloud exits, bytes per device vs raw offload."""
    from planner.api.edge_ddnn import EdgeDDNNOptions, edge_ddnn
    from planner.render import emit
    from planner.render.edge import ddnn_tables

    options = EdgeDDNNOptions(
        devices=devices,
        classes=classes,
        filters=filters,
        filter_bits=filter_bits,
        local_exit=local_exit,
        edge_exit=edge_exit,
        edge_filters=edge_filters,
        edge_filter_bits=edge_filter_bits,
        aggregation=aggregation,
        raw_bytes=raw_bytes,
        local_network=local_network,
        cloud=cloud,
    )
    emit(edge_ddnn(options).to_dict(), fmt, ddnn_tables)


@app.command("modnn")
def modnn_command(
    model: ModelArg,
    cluster: Annotated[str, typer.Option(help="workers: devices of this cluster, on its link")] = str(
        MODNN.cluster
    ),
    workers: Annotated[
        list[int] | None,
        typer.Option(help=f"worker counts to compare (repeat); default {', '.join(map(str, MODNN.workers))}"),
    ] = None,
    partition: Annotated[
        MoDNNPartition, typer.Option(help="1d: MoDNN's biased bands (BODP); 2d: a grid")
    ] = MODNN.partition,
    fc_partition: Annotated[
        FCPartitionScheme,
        typer.Option(help="sparse fc layers: 1d bands of outputs and inputs, or MoDNN's MSCC co-clustering"),
    ] = MODNN.fc_partition,
    fc_density: Annotated[
        float | None,
        typer.Option(help="fc weights kept after pruning, at random (an assumption); default dense"),
    ] = MODNN.fc_density,
    fc_weights: Annotated[
        str | None,
        typer.Option(help="pruned fc weights (outputs x inputs): .npy, or .npz by layer name"),
    ] = MODNN.fc_weights,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """MoDNN: layer-wise partition over mobile workers in proportion to speed, with data delivery time."""
    from planner.api.edge_modnn import edge_modnn
    from planner.render import emit
    from planner.render.edge import modnn_tables

    options = EdgeMoDNNOptions(
        cluster=cluster,
        workers=tuple(workers or MODNN.workers),
        partition=partition,
        fc_partition=fc_partition,
        fc_density=fc_density,
        fc_weights=fc_weights,
    )
    emit(edge_modnn(model, options).to_dict(), fmt, modnn_tables)


@app.command("transformer")
def transformer(
    model: Annotated[str, typer.Argument(help="catalog LLM (e.g. gpt2) or a YAML file")],
    cluster: Annotated[str, typer.Option(help="the devices and their links")] = str(TRANSFORMER.cluster),
    devices: Annotated[
        int | None,
        typer.Option(
            help="devices to split over (default: the most of one server's dividing heads and tokens)"
        ),
    ] = None,
    tokens: Annotated[
        int | None, typer.Option(help="sequence length L (default: the model's maximum)")
    ] = None,
    dtype: Annotated[
        str | None, typer.Option(help="compute dtype (default: the model's if the device has it)")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Transformer inference split by heads (over E) vs by tokens (over L): communication and time."""
    from planner.api.edge_transformer import edge_transformer
    from planner.render import emit
    from planner.render.edge import transformer_tables

    options = EdgeTransformerOptions(cluster=cluster, devices=devices, tokens=tokens, dtype=dtype)
    emit(edge_transformer(model, options).to_dict(), fmt, transformer_tables)
