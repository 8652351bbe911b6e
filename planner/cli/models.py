"""Model catalog: list models, show a model's layers and totals (catalog name, YAML or graph.txt)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from planner.cli.common import FormatOption
from planner.render import OutputFormat

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_models(fmt: FormatOption = OutputFormat.table) -> None:
    """List the models in the catalog: CNN architectures, measured profiles and LLM configs."""
    from planner.render import emit
    from planner.spec.catalog import entries

    emit({"models": [_summary(entry.value) for entry in entries("models")]}, fmt, _list_table)


@app.command("show")
def show_model(
    name: Annotated[str, typer.Argument(help="catalog name, a YAML file, or a PipeDream graph.txt")],
    batch_size: Annotated[int, typer.Option(min=1, help="samples per minibatch for a CNN architecture")] = 1,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Show a model: per-layer table and totals (an LLM: its configuration and parameter breakdown)."""
    from planner.render import emit
    from planner.spec.catalog import find

    spec = find("models", name)
    if spec.spec == "llm":
        emit(_llm_payload(spec), fmt, _llm_tables)
    else:
        payload = _profile_payload(_as_profile(spec, batch_size))
        payload["model"]["spec"] = spec.spec  # cnn: a profile derived from the architecture
        emit(payload, fmt, _profile_tables)


def _as_profile(spec: Any, batch_size: int) -> Any:
    if spec.spec == "cnn":
        from planner.cost.layers import derive_profile

        return derive_profile(spec, batch_size)
    return spec


def _summary(spec: Any) -> dict[str, Any]:
    if spec.spec == "llm":
        from planner.cost.transformer import parameter_count

        parameters = parameter_count(spec)
    else:
        from planner.spec.profile import profile_totals

        parameters = profile_totals(_as_profile(spec, 1)).parameters
    return {
        "name": spec.name,
        "spec": spec.spec,
        "parameters": parameters,
        "description": spec.description,
        "aliases": list(getattr(spec, "aliases", ())),
    }


def _profile_payload(profile: Any) -> dict[str, Any]:
    from planner.spec.profile import profile_totals, samples_per_figure

    totals = profile_totals(profile)
    samples = samples_per_figure(profile)

    def per_sample(value: float | None) -> float | None:
        return None if value is None or samples is None else value / samples

    layers = [
        {
            "name": layer.name,
            "op": layer.op,
            "forward_time_s": layer.forward_time,
            "backward_time_s": layer.backward_time,
            "forward_flops": layer.forward_flops,
            "backward_flops": layer.backward_flops,
            "parameters": layer.parameters,
            "parameter_bytes": profile.layer_parameter_bytes(layer),
            "output_bytes": layer.output_bytes,
            "output_parts": list(layer.output_parts),
            "inputs": [profile.layers[i].name for i in profile.predecessors(i)],
            "is_input": layer.is_input,
        }
        for i, layer in enumerate(profile.layers)
    ]
    return {
        "model": {
            "name": profile.name,
            "spec": profile.spec,
            "per": profile.per,
            "batch_size": profile.batch_size,
            "dtype": profile.dtype,
            "measured_on": profile.measured_on,
            "description": profile.description,
            "source": profile.source,
        },
        "layers": layers,
        "totals": {
            "layers": totals.layers,
            "parameters": totals.parameters,
            "parameter_bytes": totals.parameter_bytes,
            "forward_flops": per_sample(totals.forward_flops),
            "backward_flops": per_sample(totals.backward_flops),
            "forward_time_s": totals.forward_time,
            "backward_time_s": totals.backward_time,
            "output_bytes": totals.output_bytes,
            "note": "forward_flops/backward_flops are per sample; times and bytes are per "
            + ("sample" if profile.per == "sample" else f"minibatch of {profile.batch_size or 'unstated'}"),
        },
    }


def _llm_payload(cfg: Any) -> dict[str, Any]:
    import dataclasses

    from planner.cost.transformer import parameter_breakdown, parameter_count

    config = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "spec"}
    config["num_kv_heads"], config["head_dim"] = cfg.kv_heads, cfg.head_size
    return {
        "model": {"spec": "llm", **config},
        "totals": {"parameters": parameter_count(cfg)},
        "parameter_breakdown": parameter_breakdown(cfg),
    }


def _list_table(payload: dict[str, Any]) -> list[Any]:
    from planner.render import first_sentence, fmt_count, make_table

    rows = [
        (m["name"], m["spec"], fmt_count(m["parameters"]), first_sentence(m["description"]))
        for m in payload["models"]
    ]
    return [make_table("Models", ["name", "type", "parameters", "description"], rows, right=["parameters"])]


def _profile_tables(payload: dict[str, Any]) -> list[Any]:
    from planner.render import fmt_count, fmt_si, make_table
    from planner.units import format_quantity

    def time(value: float | None) -> str:
        return "-" if value is None else format_quantity(value, "time")

    def size(value: float) -> str:
        return format_quantity(value, "memory")

    model, totals = payload["model"], payload["totals"]
    rows = [
        (
            i,
            layer["name"],
            layer["op"][:48],
            time(layer["forward_time_s"]),
            time(layer["backward_time_s"]),
            fmt_si(layer["forward_flops"], "FLOP"),
            fmt_count(layer["parameters"]),
            size(layer["output_bytes"]),
        )
        for i, layer in enumerate(payload["layers"])
    ]
    rows.append(
        (
            "",
            "total",
            "",
            time(totals["forward_time_s"]),
            time(totals["backward_time_s"]),
            fmt_si(
                None
                if totals["forward_flops"] is None
                else sum(layer["forward_flops"] or 0 for layer in payload["layers"]),
                "FLOP",
            ),
            fmt_count(totals["parameters"]),
            size(totals["output_bytes"]),
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
        f"({size(totals['parameter_bytes'])})"
        + (
            ""
            if flops is None
            else f", {fmt_si(flops, 'FLOP')} forward per sample ({fmt_si(flops / 2, 'MAC')})"
        )
    )
    return [table, footer]


def _llm_tables(payload: dict[str, Any]) -> list[Any]:
    from planner.render import fmt_count, make_table

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
        "dtype",
    ]
    config = make_table(
        f"{model['name']}: {model['description']}", ["field", "value"], [(k, model[k]) for k in keys]
    )
    breakdown = make_table(
        "Parameters",
        ["part", "parameters"],
        [
            *((k, fmt_count(v)) for k, v in payload["parameter_breakdown"].items()),
            ("total", fmt_count(payload["totals"]["parameters"])),
        ],
        right=["parameters"],
    )
    return [config, breakdown]
