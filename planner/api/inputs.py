"""What every question reads: a model, a device or a cluster, each given as a spec object, a catalog name
(or alias) or a file path (planner.spec.catalog.find: a spec YAML, a PipeDream graph.txt, a Hugging Face
config.json or a folder holding one). One loader per kind, used by every API module. Light to import: the
catalog loads when a loader runs."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from planner.errors import SettingError, SpecError

if TYPE_CHECKING:
    from planner.spec.hardware import Cluster, Device
    from planner.spec.llm import LLMConfig

ModelRef = Any  # a catalog name, a file path, or a loaded spec (CNNArchitecture, ModelProfile, LLMConfig)


def load_model(model: ModelRef, kinds: tuple[str, ...] | None = None) -> Any:
    """A model spec: `model` itself, or the catalog entry or file it names (of one of `kinds`)."""
    if not isinstance(model, (str, os.PathLike)):
        return model
    from planner.spec.catalog import find

    return find("models", os.fspath(model), kinds)


def load_llm(model: LLMConfig | str) -> LLMConfig:
    """An LLM: a catalog LLM, an LLM YAML file or a Hugging Face config.json (or its folder); a model of
    another kind is a SpecError naming it."""
    spec = load_model(model)
    if getattr(spec, "spec", None) != "llm":
        raise SpecError(
            spec_name(model, spec),
            "spec",
            "expected an LLM config (a catalog LLM, an LLM YAML or a Hugging Face config.json), not a "
            f"{getattr(spec, 'spec', type(spec).__name__)} spec",
            show_got=False,
        )
    llm: LLMConfig = spec
    return llm


def load_training_model(model: ModelRef) -> Any:
    """A CNN architecture or a layer profile; a model of another kind is a SpecError naming it."""
    spec = load_model(model)
    if spec.spec not in ("profile", "cnn"):
        raise SpecError(
            spec_name(model, spec),
            "",
            f"expected a CNN architecture or a layer profile, not an {spec.spec} config",
            show_got=False,
        )
    return spec


def spec_name(model: ModelRef, spec: Any) -> str:
    """What the user gave for the model: its name or path, else the spec's name."""
    return os.fspath(model) if isinstance(model, (str, os.PathLike)) else str(spec.name)


def load_device(device: str | Device, setting: str = "device") -> Device:
    """A device spec: `device` itself, or the catalog entry or file it names."""
    found: Device = _load_hardware(setting, device, ("device",))
    return found


def load_cluster(cluster: str | Cluster, servers: int | None = None, setting: str = "cluster") -> Cluster:
    """A cluster spec (itself, or the catalog entry or file it names), with `servers` outermost units if
    given."""
    machine: Cluster = _load_hardware(setting, cluster, ("cluster",))
    if servers is None:
        return machine
    return with_servers(machine, servers)


def load_hardware(hardware: str | Device | Cluster) -> Device | Cluster:
    """A device or a cluster: itself, or the catalog entry or file it names."""
    found: Device | Cluster = _load_hardware("hardware", hardware, ("device", "cluster"))
    return found


def with_servers(cluster: Cluster, servers: int) -> Cluster:
    """`cluster` with `servers` outermost units; SettingError `servers` when it cannot have them."""
    if servers < 1:
        raise SettingError("servers", "a whole number >= 1", servers)
    try:
        return cluster.with_top_count(servers)
    except ValueError as exc:  # e.g. more devices than a cluster may hold
        raise SettingError("servers", str(exc), show_got=False) from None


def cluster_device(cluster: Cluster, setting: str = "cluster") -> Device:
    """The device of a cluster (Cluster.resolved_device): the catalog resolves it on load, a Cluster made
    in Python may name it only."""
    try:
        return cluster.resolved_device
    except TypeError:
        raise SettingError(setting, "expected a cluster whose device is a Device", cluster.device) from None


def _load_hardware(setting: str, value: object, kinds: tuple[str, ...]) -> Any:
    """`value` itself when it is a spec of one of `kinds` (device, cluster), else the entry or file it
    names."""
    from planner.spec import hardware
    from planner.spec.catalog import find

    types = {"device": hardware.Device, "cluster": hardware.Cluster}
    if isinstance(value, tuple(types[kind] for kind in kinds)):
        return value
    if not isinstance(value, (str, os.PathLike)):
        wanted = " or ".join(kinds)
        specs = " or ".join(types[kind].__name__ for kind in kinds)
        raise SettingError(setting, f"expected a {wanted}: a catalog name, a file or a {specs}", value)
    return find("hardware", os.fspath(value), kinds)
