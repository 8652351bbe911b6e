"""GPipe's balance of a model (`planner pipeline balance`): the exact min-max split of its layers into K
stages by time or by memory (planner.optimize.balance), the GPipe time it gives with M micro-batches
(planner.optimize.gpipe), beside the split with equal layer counts.

The model is a catalog CNN, a layer profile, or AmoebaNet-D written `amoebanet-d-L-D` (L normal cells,
filter size D; per-cell costs from planner.cost.amoebanet). Layer times: a measured profile's own times,
else the roofline on `device` in `dtype` for a minibatch of `batch` samples (planner.cost.compute)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from planner.errors import SettingError

AMOEBANET = re.compile(r"amoebanet-d-(\d+)-(\d+)")
OBJECTIVES = ("time", "memory")


@dataclass(frozen=True)
class BalanceOptions:
    stages: int
    objective: str = "time"  # time (forward + backward + recompute) or memory (parameter bytes)
    microbatches: int = 1  # micro-batches M per minibatch, for the GPipe time
    batch: int = 32  # samples per minibatch (measured times scale linearly to it)
    device: str = "v100-sxm2-16gb"  # for FLOP-derived times
    dtype: str = "fp32"
    rematerialise: bool = True

    def check(self) -> None:
        for setting in ("stages", "microbatches", "batch"):
            if getattr(self, setting) < 1:
                raise SettingError(setting, "a whole number >= 1", getattr(self, setting))
        if self.objective not in OBJECTIVES:
            raise SettingError("objective", f"one of {', '.join(OBJECTIVES)}", self.objective)
        if self.microbatches > self.batch:
            raise SettingError("microbatches", f"at most the batch ({self.batch})", self.microbatches)


@dataclass(frozen=True)
class LayerCosts:
    """Per-layer costs of one minibatch: names, forward/backward seconds, parameter bytes."""

    names: tuple[str, ...]
    forward_s: tuple[float, ...]
    backward_s: tuple[float, ...]
    parameter_bytes: tuple[float, ...]
    batch: int


def layer_costs(model: Any, options: BalanceOptions) -> LayerCosts:
    """The model's per-layer costs for one minibatch (see the module doc)."""
    from planner.api.inputs import load_device, load_training_model
    from planner.cost.compute import layer_arrays, layer_times
    from planner.cost.layers import derive_profile
    from planner.spec.profile import DTYPE_BYTES, samples_per_figure

    device = load_device(options.device)
    match = AMOEBANET.fullmatch(model) if isinstance(model, str) else None
    if match:
        from planner.cost.amoebanet import amoebanet_d, cell_times

        try:
            cells = amoebanet_d(int(match[1]), int(match[2]))
            forward, backward = cell_times(cells, device, options.dtype, options.batch)
        except ValueError as exc:
            raise SettingError("model", str(exc), show_got=False) from None
        width = DTYPE_BYTES[options.dtype]
        sizes = tuple(float(cell.parameters * width) for cell in cells)
        names = tuple(cell.name for cell in cells)
        return LayerCosts(names, tuple(forward), tuple(backward), sizes, options.batch)
    spec = load_training_model(model)
    profile = derive_profile(spec, options.batch) if spec.spec == "cnn" else spec
    batch = options.batch
    arrays = layer_arrays(profile, None if samples_per_figure(profile) else batch)
    try:
        times = layer_times(arrays, device, options.dtype, batch)
    except ValueError as exc:
        raise SettingError("dtype", str(exc), show_got=False) from None
    return LayerCosts(
        arrays.names,
        tuple(float(x) for x in times.forward),
        tuple(float(x) for x in times.backward),
        tuple(float(x) for x in arrays.parameter_bytes),
        batch,
    )


@dataclass(frozen=True)
class BalanceResult:
    options: BalanceOptions
    costs: LayerCosts
    boundaries: tuple[int, ...]
    bottleneck: float
    gpipe_time_s: float
    equal_layers_boundaries: tuple[int, ...]
    equal_layers_gpipe_time_s: float

    def _stages(self, boundaries: tuple[int, ...]) -> list[dict[str, Any]]:
        c, remat = self.costs, self.options.rematerialise
        rows = []
        for index, (a, b) in enumerate(pairwise(boundaries)):
            forward, backward = sum(c.forward_s[a:b]), sum(c.backward_s[a:b])
            rows.append(
                {
                    "stage": index,
                    "first_layer": c.names[a],
                    "last_layer": c.names[b - 1],
                    "layers": b - a,
                    "time_s": forward + backward + (forward if remat else 0.0),
                    "parameter_bytes": sum(c.parameter_bytes[a:b]),
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        o = self.options
        return {
            "stages": o.stages,
            "objective": o.objective,
            "microbatches": o.microbatches,
            "batch": self.costs.batch,
            "rematerialise": o.rematerialise,
            "balance": [b - a for a, b in pairwise(self.boundaries)],
            "bottleneck": self.bottleneck,
            "bottleneck_unit": "s" if o.objective == "time" else "bytes",
            "gpipe_time_s": self.gpipe_time_s,
            "partition": self._stages(self.boundaries),
            "equal_layers": {
                "balance": [b - a for a, b in pairwise(self.equal_layers_boundaries)],
                "gpipe_time_s": self.equal_layers_gpipe_time_s,
            },
        }


def pipeline_balance(model: Any, options: BalanceOptions) -> BalanceResult:
    """GPipe's balance of `model` over options.stages stages (see the module doc)."""
    from planner.cost.pipeline import gpipe_time
    from planner.optimize.gpipe import gpipe_cost

    options.check()
    costs = layer_costs(model, options)
    n, k, m = len(costs.names), options.stages, options.microbatches
    if k > n:
        raise SettingError("stages", f"at most the model's {n} layers", k)
    share = 1.0 / m
    forward = [x * share for x in costs.forward_s]
    backward = [x * share for x in costs.backward_s]
    memory = costs.parameter_bytes if options.objective == "memory" else None
    cost = gpipe_cost(forward, backward, k, m, options.rematerialise, memory)
    equal = tuple(round(i * n / k) for i in range(k + 1))
    f_eq = [sum(forward[a:b]) for a, b in pairwise(equal)]
    b_eq = [
        sum(backward[a:b]) + (f if options.rematerialise else 0.0)
        for (a, b), f in zip(pairwise(equal), f_eq, strict=True)
    ]
    bottleneck = cost.balance.bottleneck * (m if memory is None else 1)  # per minibatch, seconds
    return BalanceResult(
        options,
        costs,
        cost.balance.boundaries,
        bottleneck,
        cost.time_s,
        equal,
        gpipe_time(f_eq, b_eq, m),
    )
