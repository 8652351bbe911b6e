"""The best serving configuration under latency targets: for every tensor x pipeline (x expert) split of
a replica, the largest running batch whose TPOT and TTFT meet the targets (both grow with the batch, so a
bisection finds it); the configurations ranked by output tokens/s per GPU, ties broken by dollars per million
tokens, each loser with the reason it loses."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from planner.optimize.serving_costs import ServingPoint, ServingSetup, max_concurrent_sequences, serving_point


@dataclass(frozen=True)
class Targets:
    tpot_s: float | None = None
    ttft_s: float | None = None

    def met(self, point: ServingPoint) -> bool:
        return (self.tpot_s is None or point.tpot_s <= self.tpot_s) and (
            self.ttft_s is None or point.ttft_s <= self.ttft_s
        )

    def missed(self, point: ServingPoint) -> str:
        """Why `point` misses the targets, e.g. 'TPOT 62.1 ms > 50 ms'."""
        parts = []
        if self.tpot_s is not None and point.tpot_s > self.tpot_s:
            parts.append(f"TPOT {point.tpot_s * 1e3:.1f} ms > {self.tpot_s * 1e3:g} ms")
        if self.ttft_s is not None and point.ttft_s > self.ttft_s:
            parts.append(f"TTFT {point.ttft_s * 1e3:.1f} ms > {self.ttft_s * 1e3:g} ms")
        return " and ".join(parts)


@dataclass(frozen=True)
class Candidate:
    """One split: its best point under the targets (None when none meets them) and why it is not chosen."""

    setup: ServingSetup
    max_concurrent: int
    point: ServingPoint | None
    reason: str = ""

    def tokens_per_gpu(self) -> float:
        return 0.0 if self.point is None else self.point.tokens_per_s / self.setup.devices


def best_batch(setup: ServingSetup, targets: Targets, largest: int) -> tuple[ServingPoint | None, str]:
    """The point of the largest batch in [1, largest] meeting the targets, or (None, why batch 1 misses)."""
    first = serving_point(setup, 1)
    if not targets.met(first):
        return None, f"at batch 1 {targets.missed(first)}"
    low, high, found = 1, largest, first
    while low < high:  # invariant: batch `low` meets the targets
        middle = (low + high + 1) // 2
        point = serving_point(setup, middle)
        if targets.met(point):
            low, found = middle, point
        else:
            high = middle - 1
    return found, ""


def search(setups: list[ServingSetup], targets: Targets, batch_cap: int | None) -> list[Candidate]:
    """Every split in `setups`, ranked: best first (most tokens/s per GPU; fewer devices, i.e. less money
    per token at the same rate, first among ties), then the losers with their reasons."""
    found = []
    for setup in setups:
        largest = max_concurrent_sequences(setup)
        if largest < 1:
            found.append(Candidate(setup, 0, None, "no room for a KV cache"))
            continue
        limit = largest if batch_cap is None else min(largest, batch_cap)
        point, why = best_batch(setup, targets, limit)
        found.append(Candidate(setup, largest, point, why))
    feasible = sorted(
        (c for c in found if c.point is not None), key=lambda c: (-c.tokens_per_gpu(), c.setup.devices)
    )
    if feasible:
        top = feasible[0].tokens_per_gpu()
        feasible = [feasible[0]] + [
            dataclasses.replace(c, reason=f"{c.tokens_per_gpu() / top:.0%} of best tok/s/GPU")
            for c in feasible[1:]
        ]
    return feasible + [c for c in found if c.point is None]
