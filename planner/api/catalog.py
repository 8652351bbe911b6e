"""The catalogs of hardware and models: list them, show one (by catalog name, file path or spec object).

A model may be a catalog name, a spec YAML, a PipeDream graph.txt or a Hugging Face config.json (a
folder holding one too), as wherever else a model is accepted (planner.spec.catalog.find).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from planner.api.inputs import load_hardware, load_model, with_servers
from planner.errors import SettingError

if TYPE_CHECKING:
    from planner.spec.hardware import Cluster, Device
    from planner.spec.profile import ModelProfile


@dataclass(frozen=True)
class HardwareShowOptions:
    """How to show a device or cluster."""

    servers: int | None = None  # replace a cluster's outermost count (None: as the catalog has it)

    def check(self) -> None:
        if self.servers is not None and self.servers < 1:
            raise SettingError("servers", "a whole number >= 1", self.servers)


@dataclass(frozen=True)
class ModelShowOptions:
    """How to show a model."""

    batch_size: int = 1  # samples per minibatch of a CNN architecture's derived profile

    def check(self) -> None:
        if self.batch_size < 1:
            raise SettingError("batch_size", "a whole number >= 1", self.batch_size)


@dataclass(frozen=True)
class HardwareListResult:
    """Every device and cluster of the catalog, devices first."""

    specs: tuple[Any, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"hardware": [_hardware_summary(spec) for spec in self.specs]}


@dataclass(frozen=True)
class HardwareResult:
    """One device or cluster (with the servers the options asked for)."""

    spec: Device | Cluster

    def to_dict(self) -> dict[str, Any]:
        spec: Any = self.spec
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


@dataclass(frozen=True)
class ModelsListResult:
    """Every model of the catalog: CNN architectures, measured profiles and LLM configs."""

    specs: tuple[Any, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"models": [_model_summary(spec) for spec in self.specs]}


@dataclass(frozen=True)
class ModelResult:
    """One model: an LLM config, or a layer profile (a CNN architecture's is derived at batch_size)."""

    spec: Any  # the model as given: LLMConfig, CNNArchitecture or ModelProfile
    profile: ModelProfile | None  # None for an LLM

    def to_dict(self) -> dict[str, Any]:
        if self.profile is None:
            return _llm_payload(self.spec)
        payload = _profile_payload(self.profile)
        payload["model"]["spec"] = self.spec.spec  # cnn: a profile derived from the architecture
        return payload


def hardware_list() -> HardwareListResult:
    """The hardware catalog."""
    from planner.spec.catalog import entries

    return HardwareListResult(tuple(entry.value for entry in entries("hardware")))


def hardware_show(hardware: str | Device | Cluster, options: HardwareShowOptions) -> HardwareResult:
    """A device or cluster by catalog name, alias, file path or spec."""
    options.check()
    spec: Any = load_hardware(hardware)
    if options.servers is not None:
        if spec.spec != "cluster":
            raise SettingError(
                "servers", f"applies to a cluster, and '{spec.name}' is a device", show_got=False
            )
        spec = with_servers(spec, options.servers)
    return HardwareResult(spec)


def models_list() -> ModelsListResult:
    """The model catalog."""
    from planner.spec.catalog import entries

    return ModelsListResult(tuple(entry.value for entry in entries("models")))


def model_show(model: Any, options: ModelShowOptions) -> ModelResult:
    """A model by catalog name, alias, file path (YAML, graph.txt, HF config.json) or spec."""
    options.check()
    spec = load_model(model)
    return ModelResult(spec, None if spec.spec == "llm" else _as_profile(spec, options.batch_size))


def _as_profile(spec: Any, batch_size: int) -> ModelProfile:
    if spec.spec == "cnn":
        from planner.cost.layers import derive_profile

        return derive_profile(spec, batch_size)
    return spec


def _hardware_summary(spec: Any) -> dict[str, Any]:
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
        "memory_reserved_bytes": device.memory_reserved,
        "memory_bandwidth_bytes_per_s": device.memory_bandwidth,
        "power_w": device.power,
        "price": _price(device.price),
        "compute_efficiency": device.compute_efficiency,
        "dtype_compute_efficiency": dict(device.dtype_compute_efficiency or {}),
        "memory_efficiency": device.memory_efficiency,
        "assumed_figures": list(device.assumed_figures),  # left out of the spec: the defaults stand in
        "source": device.source,
    }


def _model_summary(spec: Any) -> dict[str, Any]:
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


def _profile_payload(profile: ModelProfile) -> dict[str, Any]:
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
    per = "sample" if profile.per == "sample" else f"minibatch of {profile.batch_size or 'unstated'}"
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
            "note": f"forward_flops/backward_flops are per sample; times and bytes are per {per}",
        },
    }


def _llm_payload(cfg: Any) -> dict[str, Any]:
    from planner.cost.moe import active_parameters, expert_parameters
    from planner.cost.transformer import parameter_breakdown, parameter_count

    config = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "spec"}
    config["num_kv_heads"], config["head_dim"] = cfg.kv_heads, cfg.head_size
    config["expert_ffn_size"] = cfg.expert_size if cfg.is_moe else None
    return {
        "model": {"spec": "llm", **config},
        "totals": {
            "parameters": parameter_count(cfg),
            "active_parameters": active_parameters(cfg),  # per token: top-k experts only (MoE)
            "expert_parameters": expert_parameters(cfg),
        },
        "parameter_breakdown": parameter_breakdown(cfg),
    }
