"""Evaluators: each computes one predicted quantity for a validation case from its setup.

An evaluator reads the catalog and the planner's models; it never reads the published value. A setup
value it cannot use raises ValueError, which the runner reports at the case's line. Each area keeps its
evaluators in a module of this package, listed in AREA_MODULES, and registers them with
`@evaluator(name, setup=(required keys...), optional=(keys...))`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AREA_MODULES = (
    "planner.validate.evaluators.models",
    "planner.validate.evaluators.edge",
    "planner.validate.evaluators.federated",
    "planner.validate.evaluators.pipeline",
    "planner.validate.evaluators.pipeline_optimizer",
    "planner.validate.evaluators.pipeline_native",
    "planner.validate.evaluators.data_parallel",
    "planner.validate.evaluators.communication",
    "planner.validate.evaluators.speculative",
    "planner.validate.evaluators.serving",
    "planner.validate.evaluators.parallelism",
    "planner.validate.evaluators.measured",
)


@dataclass(frozen=True)
class Context:
    """What an evaluator may use besides its setup: the data folder (profiles/, reference/) if any."""

    data_dir: Path | None


Evaluator = Callable[[Mapping[str, Any], Context], float]


@dataclass(frozen=True)
class Registered:
    function: Evaluator
    setup_keys: tuple[str, ...]
    optional_keys: tuple[str, ...]


EVALUATORS: dict[str, Registered] = {}


def evaluator(
    name: str, setup: tuple[str, ...] = (), optional: tuple[str, ...] = ()
) -> Callable[[Evaluator], Evaluator]:
    """Register an evaluator under `name`, with the setup keys it requires and accepts."""

    def register(function: Evaluator) -> Evaluator:
        EVALUATORS[name] = Registered(function, setup, optional)
        return function

    return register


def whole(setup: Mapping[str, Any], key: str, default: int | None = None) -> int:
    """The setup's `key` as a whole number >= 1 (ValueError naming the key otherwise)."""
    value = setup.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{key} must be a whole number >= 1, got {value!r}")
    return value


def flag(setup: Mapping[str, Any], key: str, default: bool) -> bool:
    """The setup's `key` as true or false (ValueError naming the key otherwise)."""
    value = setup.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false, got {value!r}")
    return value


def load_all() -> dict[str, Registered]:
    """Import every area's evaluators and return the registry."""
    for module in AREA_MODULES:
        importlib.import_module(module)
    return EVALUATORS
