"""What the edge-inference questions read: models, devices and clusters by catalog name, file path or
spec object, and the checks they share (planner.api.edge_adcnn, edge_split, edge_exits, edge_modnn,
edge_transformer). Light to import: the catalog and the cost models load when a question runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from planner.errors import SettingError, SpecError

if TYPE_CHECKING:
    from planner.cost.edge_model import EdgeModel
    from planner.spec.hardware import Cluster, Device

ModelRef = Any  # a catalog name, a file path, or a loaded spec (CNNArchitecture, ModelProfile, LLMConfig)


@contextmanager
def setting_error(setting: str) -> Iterator[None]:
    """Turn a ValueError of the cost models into a SettingError naming `setting`."""
    try:
        yield
    except SpecError:
        raise
    except ValueError as exc:
        raise SettingError(setting, str(exc), show_got=False) from None


@contextmanager
def model_error(name: str) -> Iterator[None]:
    """Turn a ValueError of the cost models about the model itself into a SpecError naming the model."""
    try:
        yield
    except SpecError:
        raise
    except ValueError as exc:
        raise SpecError(name, "", str(exc), show_got=False) from None


def load_model(model: ModelRef, kinds: tuple[str, ...] | None = None) -> Any:
    """A model spec: `model` itself, or the catalog entry or file it names (of one of `kinds`)."""
    if not isinstance(model, str):
        return model
    from planner.spec.catalog import find

    return find("models", model, kinds)


def load_device(setting: str, device: str | Device) -> Device:
    """A device spec: `device` itself, or the catalog entry or file it names."""
    return _load_hardware(setting, device, "device")


def load_cluster(setting: str, cluster: str | Cluster) -> Cluster:
    """A cluster spec: `cluster` itself, or the catalog entry or file it names."""
    return _load_hardware(setting, cluster, "cluster")


def cluster_device(setting: str, cluster: Cluster) -> Device:
    """The device of a cluster; the catalog resolves it on load, a Cluster made in Python may not."""
    try:
        return cluster.resolved_device
    except TypeError:
        raise SettingError(setting, "expected a cluster whose device is a Device", cluster.device) from None


def _load_hardware(setting: str, value: object, kind: str) -> Any:
    """`value` itself when it is a spec of `kind` (device, cluster), else the entry or file it names."""
    from planner.spec import hardware
    from planner.spec.catalog import find

    spec_type = {"device": hardware.Device, "cluster": hardware.Cluster}[kind]
    if isinstance(value, spec_type):
        return value
    if not isinstance(value, str):
        raise SettingError(
            setting, f"expected a {kind}: a catalog name, a file or a {spec_type.__name__}", value
        )
    return find("hardware", value, (kind,))


def check_input_dtype(input_dtype: str | None) -> None:
    """`input_dtype` is None (the model's) or a dtype the planner knows."""
    from planner.spec.profile import DTYPE_BYTES

    if input_dtype is not None and input_dtype not in DTYPE_BYTES:
        raise SettingError("input_dtype", f"expected one of {', '.join(DTYPE_BYTES)}", input_dtype)


def cnn_edge_model(model: ModelRef, input_dtype: str | None = None) -> EdgeModel:
    """The EdgeModel of a CNN architecture (spatial tiles, exits and MoDNN need its layer shapes)."""
    from planner.cost.edge_model import from_architecture

    check_input_dtype(input_dtype)
    spec = load_model(model)
    if spec.spec != "cnn":
        raise SpecError(
            spec_name(model, spec),
            "spec",
            f"expected a CNN architecture (spatial tiles need shapes); '{spec.name}' is a {spec.spec} spec",
            show_got=False,
        )
    with model_error(spec.name):
        return from_architecture(spec, input_dtype)


def spec_name(model: ModelRef, spec: Any) -> str:
    """What the user gave for the model: its name or path, else the spec's name."""
    return model if isinstance(model, str) else str(spec.name)
