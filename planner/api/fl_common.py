"""What the federated-learning questions share (planner.api.fl_round, fl_select, fl_heterofl, fl_noniid):
the settings of a round's local training and their checks, the fleet and the model they run on, and the
summaries of both that every answer starts with.

A fleet is a catalog name (`planner fl fleets`), a `spec: fleet` YAML file or a planner.spec.fleet.Fleet;
a model is a catalog CNN architecture or layer profile, a file, or its spec. Light to import: numpy and
the cost models are imported by the functions that use them.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields, is_dataclass
from typing import TYPE_CHECKING, Any

from planner import limits
from planner.errors import SettingError

if TYPE_CHECKING:
    from planner.cost.federated_fleet import LocalWork, Model
    from planner.spec.fleet import Fleet

DEFAULT_CLIENTS = 10  # m when neither clients_per_round nor fraction is given
DTYPES = ("fp32", "fp16", "bf16")
OPTIMIZERS = ("sgd", "adam")
ROUNDS_NOTE = (
    "the number of rounds is your input: accuracy after R rounds has no closed form (FedAvg needs 10-100x "
    "fewer rounds than FedSGD in McMahan et al. 2017, a published range, not a model)"
)


@dataclass(frozen=True)
class LocalTraining:
    """How many clients a round uses and how each trains: the settings every fl question shares."""

    clients_per_round: int | None = None  # m; None: from fraction, else DEFAULT_CLIENTS
    fraction: float | None = None  # C: m = max(floor(C·K), 1) of the fleet's K clients (McMahan et al.)
    epochs: float = 1.0  # E: local epochs per round
    batch_size: int = 32  # B: local minibatch
    optimizer: str = "sgd"  # sgd (momentum) or adam

    def check(self) -> None:
        """Raise SettingError naming the first setting out of range (the fleet's size aside: clients())."""
        if self.clients_per_round is not None and self.fraction is not None:
            raise SettingError("fraction", "give clients_per_round or fraction, not both", show_got=False)
        check_range("epochs", self.epochs, limits.EPOCHS)  # NaN fails this too; 1e300 overflowed the times
        check_count("batch_size", self.batch_size, limits.MAX_COUNT_OPTION, "samples per batch")
        if self.optimizer not in OPTIMIZERS:
            raise SettingError("optimizer", "expected sgd or adam", self.optimizer)

    def clients(self, fleet: Fleet) -> int:
        """m: clients_per_round, or max(floor(C·K), 1) from the fraction C, else DEFAULT_CLIENTS."""
        total = fleet.total_clients
        if self.fraction is not None:
            from planner.cost.federated import clients_per_round

            try:
                return clients_per_round(self.fraction, total)
            except ValueError as exc:
                raise SettingError("fraction", str(exc), show_got=False) from None
        m = DEFAULT_CLIENTS if self.clients_per_round is None else self.clients_per_round
        if not 1 <= m <= total:
            raise SettingError("clients_per_round", f"expected 1..{total} (the fleet's clients)", m)
        return m

    def local_work(self, prox_mu: float = 0.0) -> LocalWork:
        from planner.cost.federated_fleet import LocalWork

        return LocalWork(self.epochs, self.batch_size, self.optimizer, prox_mu)


def check_range(setting: str, value: float, bound: limits.Range, what: str = "a number") -> None:
    """`value` within a planner.limits range (NaN is not)."""
    problem = limits.range_problem(value, bound, what)
    if problem:
        raise SettingError(setting, problem, value)


def check_count(setting: str, value: int, high: float, what: str) -> None:
    """A whole number from 1 to a planner.limits bound."""
    problem = limits.count_problem(value, high, what)
    if problem:
        raise SettingError(setting, problem, value)


def check_dtype(dtype: str) -> None:
    if dtype not in DTYPES:
        raise SettingError("dtype", "expected fp32, fp16 or bf16", dtype)


def check_deadline(deadline: float | None) -> None:
    """A round deadline, in seconds: > 0 and within planner.limits.DURATION (or None: no deadline)."""
    if deadline is not None and not 0 < deadline <= limits.DURATION.high:
        high = limits.DURATION.show(limits.DURATION.high)
        raise SettingError("deadline", f"expected a time > 0 s and <= {high}", deadline)


def check_fraction(setting: str, value: float, low_open: bool = True) -> None:
    """A fraction in (0, 1] (`low_open`) or [0, 1]."""
    inside = 0 < value <= 1 if low_open else 0 <= value <= 1
    if not (math.isfinite(value) and inside):
        raise SettingError(setting, f"expected a fraction in {'(' if low_open else '['}0, 1]", value)


def load_fleet(fleet: Fleet | str | os.PathLike[str]) -> Fleet:
    """A Fleet as given, or by catalog name or file path."""
    if isinstance(fleet, (str, os.PathLike)):
        from planner.spec.catalog import find

        found: Fleet = find("fleets", os.fspath(fleet))
        return found
    return fleet


@dataclass(frozen=True)
class FleetSummary:
    """The fleet an answer is about: its size and its server (None: the fleet names none)."""

    name: str
    clients: int
    classes: int
    seed: int | None
    server_bandwidth_bytes_per_s: float | None
    server_device: str | None

    @classmethod
    def of(cls, fleet: Fleet) -> FleetSummary:
        server = fleet.server
        device = None if server is None else server.device
        return cls(
            name=fleet.name,
            clients=fleet.total_clients,
            classes=len(fleet.classes),
            seed=fleet.seed,
            server_bandwidth_bytes_per_s=None if server is None else server.link.effective_bandwidth,
            server_device=getattr(device, "name", None),
        )


@dataclass(frozen=True)
class ModelSummary:
    """The model an answer is about: its size, training work per sample and the bytes of its messages."""

    name: str
    spec: str
    parameters: int
    dtype: str
    training_flops_per_sample: float | None
    download_bytes: float
    upload_bytes: float
    upload: str  # how the update is sent: dense, or DGC-sparsified

    @classmethod
    def of(cls, model: Model) -> ModelSummary:
        return cls(**model.to_dict())


def result_dict(result: Any) -> dict[str, Any]:
    """A result's payload: every field but the options, as plain data (an optional section that is None
    is left out)."""
    payload = {}
    for f in fields(result):
        value = getattr(result, f.name)
        if f.name != "options" and value is not None:
            payload[f.name] = _plain(value)
    return payload


def _plain(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
