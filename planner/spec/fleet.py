"""Federated-learning fleets: classes of clients (phones, boards, laptops) and the server they report to.

A `spec: fleet` file lists client classes. Every client of a class has the class's device (a catalog
name or an inline device), links to the server (uplink and downlink: bandwidth per direction, latency,
efficiency), the number of training samples it holds and the probability that it completes a round it
was selected for (availability = 1 − dropout probability). A class may replace the device's roofline
by a measured sustained training speed (`compute`).

A generated fleet: a class with `vary` draws each client's speed, link bandwidth and samples around the
class's values from lognormal distributions with median 1 (ln X ~ N(0, σ²)), from the fleet's `seed`, so
the same file always gives the same clients. Without `vary` every client of a class is identical.

Units (SI): FLOP/s, bytes/s, seconds; samples are counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from planner.limits import COMPUTE, FRACTION, MAX_CLIENT_SAMPLES, MAX_FLEET_CLIENTS
from planner.spec.hardware import Device, Link
from planner.spec.schema import FieldValueError, spec_field

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


@dataclass(frozen=True)
class Variation:
    """Lognormal spread of a class's clients around its stated values (the stated value is the median)."""

    compute_sigma: float = spec_field(
        "σ of ln(speed factor): each client's compute speed is the class's × a lognormal factor",
        default=0.0,
        minimum=0,
        maximum=3,
    )
    bandwidth_sigma: float = spec_field(
        "σ of ln(bandwidth factor), one factor per client for both its uplink and downlink",
        default=0.0,
        minimum=0,
        maximum=3,
    )
    samples_sigma: float = spec_field(
        "σ of ln(samples factor); samples are rounded and at least 1", default=0.0, minimum=0, maximum=3
    )


@dataclass(frozen=True)
class ClientClass:
    """`count` clients alike: one device, one pair of links, the same data size and availability."""

    name: str = spec_field("class name, unique in the fleet, e.g. phone-flagship")
    count: int = spec_field("number of clients of this class", minimum=1, maximum=MAX_FLEET_CLIENTS)
    device: Device | str = spec_field("a catalog device name or an inline device mapping")
    uplink: Link = spec_field("client → server link (bandwidth per direction, latency, efficiency)")
    downlink: Link = spec_field("server → client link")
    samples: int = spec_field(
        "training samples each client holds (n_k)", minimum=1, maximum=MAX_CLIENT_SAMPLES
    )
    availability: float = spec_field(
        "probability a selected client completes the round, 1 − dropout probability [1e-6, 1]",
        default=1.0,
        limit=FRACTION,
    )
    compute: float | None = spec_field(
        "measured sustained training speed, e.g. 20 GFLOPS (replaces the device's roofline for forward "
        "and backward)",
        unit="compute",
        limit=COMPUTE,
        default=None,
    )
    vary: Variation | None = spec_field("lognormal spread of speed, bandwidth and samples", default=None)
    description: str = spec_field("a human description", default="")

    @property
    def resolved_device(self) -> Device:
        """`device` as a spec: loading a fleet (planner.spec.catalog) replaces its catalog name."""
        if isinstance(self.device, str):
            raise TypeError(
                f"client class {self.name}: device '{self.device}' was not resolved from the catalog"
            )
        return self.device

    def __post_init__(self) -> None:
        for which in ("uplink", "downlink"):
            if getattr(self, which).shared:
                raise FieldValueError(
                    (which, "shared"), "a client's link is its own; shared media are not modelled here"
                )


@dataclass(frozen=True)
class Server:
    """The aggregation server: its network link (shared fairly by the clients downloading at once) and
    the device that averages the updates."""

    link: Link = spec_field("the server's link: bandwidth per direction of its NIC, latency")
    device: Device | str | None = spec_field(
        "device that aggregates (a catalog name or inline); absent: aggregation time is not modelled",
        default=None,
    )


@dataclass(frozen=True)
class Fleet:
    """Client classes of a federated-learning deployment, and its server."""

    spec: Literal["fleet"] = spec_field("file type marker: fleet")
    name: str = spec_field("catalog name, e.g. mixed-edge")
    classes: tuple[ClientClass, ...] = spec_field("client classes", min_items=1)
    server: Server | None = spec_field("the aggregation server (link and device)", default=None)
    seed: int = spec_field("seed of the clients drawn for classes with `vary`", minimum=0, default=0)
    description: str = spec_field("a human description", default="")
    aliases: tuple[str, ...] = spec_field("other catalog names for this fleet", default=())
    source: str = spec_field("where the figures come from", default="")

    def __post_init__(self) -> None:
        names = [c.name for c in self.classes]
        for index, name in enumerate(names):
            if names.index(name) != index:
                raise FieldValueError(
                    ("classes", index, "name"), f"class names must be unique; '{name}' repeats"
                )
        if self.total_clients > MAX_FLEET_CLIENTS:  # every client is a row of the per-client arrays
            raise FieldValueError(
                "classes",
                f"at most {MAX_FLEET_CLIENTS:,} clients in all, got {self.total_clients:,} (the counts' sum)",
            )

    @property
    def total_clients(self) -> int:
        """K: the number of clients in the fleet."""
        return sum(c.count for c in self.classes)

    def resolve_devices(self, lookup: Callable[[str, tuple[str | int, ...]], Device]) -> Fleet:
        """The fleet with every catalog device name replaced by its Device (`lookup(name, path)`)."""
        classes = tuple(
            replace(c, device=lookup(c.device, ("classes", i, "device"))) if isinstance(c.device, str) else c
            for i, c in enumerate(self.classes)
        )
        server = self.server
        if server is not None and isinstance(server.device, str):
            server = replace(server, device=lookup(server.device, ("server", "device")))
        return replace(self, classes=classes, server=server)


@dataclass(frozen=True)
class Members:
    """The K clients of a fleet, one entry each, in class order (class 0's clients first).

    `speed` and `bandwidth` are factors on the class's compute speed and link bandwidths (1 without
    `vary`); `samples` is n_k; `availability` the class's.
    """

    class_index: npt.NDArray[np.int64]
    speed: npt.NDArray[np.float64]
    bandwidth: npt.NDArray[np.float64]
    samples: npt.NDArray[np.int64]
    availability: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.class_index)


def members(fleet: Fleet) -> Members:
    """Every client of `fleet`; classes with `vary` draw their factors from numpy's PCG64 seeded with
    `fleet.seed`, class by class in file order (speed, then bandwidth, then samples), so a file gives the
    same clients on every run and a class's draws do not depend on the classes after it."""
    import numpy as np

    rng = np.random.default_rng(fleet.seed)
    index, speed, bandwidth, samples, availability = [], [], [], [], []
    for i, c in enumerate(fleet.classes):
        vary = c.vary or Variation()
        index.append(np.full(c.count, i, dtype=np.int64))
        speed.append(_lognormal(rng, vary.compute_sigma, c.count))
        bandwidth.append(_lognormal(rng, vary.bandwidth_sigma, c.count))
        drawn = np.rint(c.samples * _lognormal(rng, vary.samples_sigma, c.count))
        # clipped below int64's end before the cast (numpy would wrap a larger float around)
        samples.append(np.clip(drawn, 1, 2.0**62).astype(np.int64))
        availability.append(np.full(c.count, c.availability))
    return Members(
        class_index=np.concatenate(index),
        speed=np.concatenate(speed),
        bandwidth=np.concatenate(bandwidth),
        samples=np.concatenate(samples),
        availability=np.concatenate(availability),
    )


def _lognormal(rng: Any, sigma: float, count: int) -> Any:
    import numpy as np

    if sigma == 0:
        return np.ones(count)
    return rng.lognormal(mean=0.0, sigma=sigma, size=count)


@dataclass(frozen=True)
class LabelPartition:
    """How many samples of each class every client holds (`spec: partition`), for `planner fl noniid`."""

    spec: Literal["partition"] = spec_field("file type marker: partition")
    counts: tuple[tuple[int, ...], ...] = spec_field(
        "one row per client (the fleet's order: class by class), one count per label class", min_items=1
    )
    classes: tuple[str, ...] = spec_field("names of the label classes (optional)", default=())

    def __post_init__(self) -> None:
        width = len(self.counts[0])
        if width < 1:
            raise FieldValueError(("counts", 0), "expected at least one class per row")
        if self.classes and len(self.classes) != width:
            raise FieldValueError("classes", f"expected {width} names (one per column of counts)")
        for i, row in enumerate(self.counts):
            if len(row) != width:
                raise FieldValueError(
                    ("counts", i), f"expected {width} counts, like the first row, got {len(row)}"
                )
            for j, value in enumerate(row):
                if value < 0:
                    raise FieldValueError(("counts", i, j), f"expected a count >= 0, got {value}")
            if sum(row) < 1:
                raise FieldValueError(("counts", i), "expected every client to hold at least one sample")
