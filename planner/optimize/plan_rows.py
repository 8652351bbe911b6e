"""One row of `planner plan` (a training strategy with its figures), the ranking of the rows and the
one-line recommendation (planner.optimize.plan builds the rows). Units: seconds, bytes, samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from planner.optimize.native_types import NativeResult

Objective = Literal["throughput", "latency"]


@dataclass(frozen=True)
class Strategy:
    """One way to train: its figures per iteration and per sample, and what it needs per device."""

    name: str
    family: str  # data-parallel | pipeline | gpipe | 1f1b
    config: str
    devices: int
    samples_per_iteration: int
    iteration_s: float
    memory_per_device_bytes: float
    fits: bool
    single_device_throughput: float
    servers: int
    price_usd_per_server_hour: float | None
    breakdown: dict[str, float] = field(default_factory=dict)
    note: str = ""
    # the stages of a pipeline strategy (for an export of exactly this plan); None for data parallelism
    partition: NativeResult | None = field(default=None, compare=False, repr=False)
    superlinear_reason: str | None = None  # why efficiency may exceed 1 (None: it does not)

    @property
    def throughput(self) -> float:
        """Samples per second."""
        return self.samples_per_iteration / self.iteration_s

    @property
    def speedup(self) -> float:
        return self.throughput / self.single_device_throughput

    @property
    def efficiency(self) -> float:
        return self.speedup / self.devices

    @property
    def cost_per_million_samples_usd(self) -> float | None:
        if self.price_usd_per_server_hour is None:
            return None
        return self.servers * self.price_usd_per_server_hour * 1e6 / self.throughput / 3600.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.family,
            "config": self.config,
            "devices": self.devices,
            "servers": self.servers,
            "samples_per_iteration": self.samples_per_iteration,
            "iteration_s": self.iteration_s,
            "time_per_sample_s": 1.0 / self.throughput,
            "throughput_samples_per_s": self.throughput,
            "speedup_over_one_device": self.speedup,
            "efficiency": self.efficiency,
            "memory_per_device_bytes": self.memory_per_device_bytes,
            "fits": self.fits,
            "cost_per_million_samples_usd": self.cost_per_million_samples_usd,
            "breakdown": dict(self.breakdown),
            "note": self.note,
            "superlinear_reason": self.superlinear_reason,
        }


def rank(strategies: Sequence[Strategy], objective: Objective) -> list[Strategy]:
    """Feasible first; then by throughput (highest) or by iteration time (lowest); ties by name. Figures
    equal to 12 significant digits tie (the same plan costed through different units, or a pipeline of
    one stage against data parallelism, must not be ordered by round-off)."""
    if objective == "throughput":
        return sorted(strategies, key=lambda s: (not s.fits, -_digits(s.throughput), s.name))
    return sorted(strategies, key=lambda s: (not s.fits, _digits(s.iteration_s), s.name))


def _digits(value: float) -> float:
    return float(f"{value:.12g}")


def recommendation(ranked: Sequence[Strategy], objective: Objective) -> str:
    """One line: the winner and why, against the runner-up."""
    feasible = [s for s in ranked if s.fits]
    if not feasible:
        return "no strategy fits in the device's memory"
    best = feasible[0]
    what = f"{best.throughput:,.1f} samples/s" if objective == "throughput" else f"{best.iteration_s:.4g} s"
    if len(feasible) == 1:
        return f"{best.name} ({best.config}): the only strategy that fits, {what}"
    second = feasible[1]
    if objective == "throughput":
        margin = best.throughput / second.throughput
        return (
            f"{best.name} ({best.config}): {what}, {margin:.2f}x the next best, {second.name} "
            f"({second.throughput:,.1f} samples/s); {_why(best)}"
        )
    margin = second.iteration_s / best.iteration_s
    return f"{best.name} ({best.config}): {what} per iteration, {margin:.2f}x faster than {second.name}"


def _why(best: Strategy) -> str:
    b = best.breakdown
    if best.family == "data-parallel":
        hidden = b.get("sync_total_s", 0.0) - b.get("sync_exposed_s", 0.0)
        return (
            f"its gradient all-reduce ({b.get('sync_total_s', 0.0) * 1e3:.1f} ms) is "
            f"{hidden / max(b.get('sync_total_s', 0.0), 1e-300):.0%} hidden behind the backward pass"
        )
    if best.family == "pipeline":
        return "replicated stages keep the large-parameter layers off the slow links"
    return f"{b.get('bubble_fraction', 0.0):.0%} of the schedule is bubble"
