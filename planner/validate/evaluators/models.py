"""Evaluators of model counts: parameters, MACs, profile totals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.validate.evaluators import Context, evaluator


def _model(name: str, ctx: Context, kind: tuple[str, str] | None = None) -> Any:
    """The catalog model (or data-folder file) `name`; `kind` = (spec, evaluator) requires that spec."""
    from planner.spec.catalog import find

    if name.startswith("data:"):  # a file in the data folder, e.g. data:profiles/pipedream/vgg16.graph.txt
        if ctx.data_dir is None:
            raise ValueError(f"'{name}' needs a data folder; list it under `requires`")
        model = find("models", str(ctx.data_dir / name.removeprefix("data:")))
    else:
        model = find("models", name)
    if kind is not None and model.spec != kind[0]:
        article = "an LLM config" if kind[0] == "llm" else f"a {kind[0].upper()} architecture"
        raise ValueError(f"{kind[1]} needs {article}, and '{model.name}' is a {model.spec}")
    return model


@evaluator("model_parameters", setup=("model",))
def model_parameters(setup: Mapping[str, Any], ctx: Context) -> float:
    """Trainable parameters of a catalog model (CNN from its architecture, LLM from its config)."""
    model = _model(setup["model"], ctx)
    if model.spec == "llm":
        from planner.cost.transformer import parameter_count

        return float(parameter_count(model))
    from planner.cost.layers import derive_profile
    from planner.spec.profile import profile_totals

    profile = derive_profile(model, 1) if model.spec == "cnn" else model
    return float(profile_totals(profile).parameters)


@evaluator("model_active_parameters", setup=("model",))
def model_active_parameters(setup: Mapping[str, Any], ctx: Context) -> float:
    """Parameters one token uses in an LLM: a mixture-of-experts model counts its top-k experts only."""
    from planner.cost.moe import active_parameters

    return float(active_parameters(_model(setup["model"], ctx, ("llm", "model_active_parameters"))))


@evaluator("model_forward_macs", setup=("model",))
def model_forward_macs(setup: Mapping[str, Any], ctx: Context) -> float:
    """Forward multiply-accumulates per sample of a CNN's convolutions and linear layers (its input shape)."""
    from planner.cost.layers import mac_count

    return float(mac_count(_model(setup["model"], ctx, ("cnn", "model_forward_macs"))))


@evaluator("profile_total", setup=("model", "field"))
def profile_total(setup: Mapping[str, Any], ctx: Context) -> float:
    """A total of a profile (layers, parameter_bytes, forward_time, ...) as the profile states it."""
    import dataclasses

    from planner.spec.profile import ProfileTotals, profile_totals

    fields = [f.name for f in dataclasses.fields(ProfileTotals)]
    if setup["field"] not in fields:
        raise ValueError(f"field must be one of {', '.join(fields)}, got '{setup['field']}'")
    value = getattr(profile_totals(_model(setup["model"], ctx)), setup["field"])
    if value is None:
        raise ValueError(f"the profile does not give {setup['field']} for every layer")
    return float(value)
