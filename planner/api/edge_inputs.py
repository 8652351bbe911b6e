"""The checks the edge-inference questions share (planner.api.edge_adcnn, edge_split, edge_exits,
edge_modnn, edge_transformer); their inputs load through planner.api.inputs. Light to import: the cost
models load when a question runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from planner.api.inputs import ModelRef, load_model, spec_name
from planner.errors import SettingError, SpecError

if TYPE_CHECKING:
    from planner.cost.edge_model import EdgeModel


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
