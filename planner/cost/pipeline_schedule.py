"""Pipeline schedules simulated: GPipe, 1F1B and interleaved 1F1B as per-device timelines (drawn by
planner.render.gantt).

`simulate` turns per-stage forward/backward times and M micro-batches into a per-device timeline of
events (device, start, end, kind fwd|bwd|idle, micro-batch, chunk). Each device runs its ops in the
order its schedule prescribes, each op as soon as its inputs are there (ASAP list scheduling):
- GPipe (Huang et al. NeurIPS'19 Fig. 2c): all M forwards, then all M backwards, last micro-batch first.
- 1F1B / PipeDream-flush (Narayanan et al. SC'21 Sec. 2.2.1, Fig. 4 top): device d runs
  min(K - d - 1, M) warm-up forwards, then alternates one forward and one backward, then drains.
- interleaved 1F1B (SC'21 Sec. 2.2.2, Fig. 4 bottom): device d holds v chunks, virtual stage c·K + d;
  the op order of Megatron-LM's forward_backward_pipelining_with_interleaving (warm-up
  (K - d - 1)·2 + (v - 1)·K forwards; forwards of k-th op on chunk (k // K) mod v, micro-batch
  (k // (K·v))·K + k mod K; backwards on the chunks in reverse). Needs M a multiple of K, as Megatron.
An op depends on the same micro-batch's forward on the previous virtual stage (backward: next), plus
an optional transfer delay per stage boundary (a pure delay: links never contended). Times in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

Kind = Literal["fwd", "bwd", "idle"]
SCHEDULES: tuple[str, ...] = ("gpipe", "1f1b", "interleaved")


@dataclass(frozen=True)
class Event:
    """One interval of one device: an op (fwd/bwd of a micro-batch on a chunk) or idle time; seconds."""

    device: int
    start: float
    end: float
    kind: Kind
    microbatch: int | None = None
    chunk: int | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Timeline:
    """A simulated schedule: events per device (sorted by start, idle gaps included) and its makespan."""

    schedule: str
    stages: int
    microbatches: int
    chunks: int
    events: tuple[Event, ...]
    makespan: float

    @cached_property
    def _by_device(self) -> dict[int, list[Event]]:
        grouped: dict[int, list[Event]] = {d: [] for d in range(self.stages)}
        for event in self.events:
            grouped[event.device].append(event)
        return grouped

    def device_events(self, device: int) -> list[Event]:
        """The events of one device, in time order."""
        return list(self._by_device[device])

    def busy(self, device: int) -> float:
        """Seconds device `device` computes."""
        return sum(e.duration for e in self.device_events(device) if e.kind != "idle")

    @property
    def idle_total(self) -> float:
        """Idle device-seconds over all devices until the makespan."""
        return self.stages * self.makespan - sum(self.busy(d) for d in range(self.stages))

    @property
    def bubble_fraction(self) -> float:
        """Measured idle / total device-time; (K-1)/(v·M+K-1) for uniform stages."""
        total = self.stages * self.makespan
        return 0.0 if total == 0 else self.idle_total / total

    @property
    def bubble_overhead(self) -> float:
        """Measured idle / busy device-time; (K-1)/(v·M) for uniform stages."""
        busy = sum(self.busy(d) for d in range(self.stages))
        return 0.0 if busy == 0 else self.idle_total / busy

    def peak_in_flight(self, device: int) -> int:
        """Most (chunk, micro-batch) forwards done on `device` whose backward has not yet started."""
        count = peak = 0
        for event in self.device_events(device):
            if event.kind == "fwd":
                count += 1
                peak = max(peak, count)
            elif event.kind == "bwd":
                count -= 1
        return peak


Op = tuple[Kind, int, int]  # (kind, micro-batch, virtual stage)


def _device_orders(schedule: str, stages: int, microbatches: int, chunks: int) -> list[list[Op]]:
    """Each device's op sequence under `schedule`."""
    k, m, v = stages, microbatches, chunks
    orders: list[list[Op]] = []
    for d in range(k):
        if schedule == "gpipe":
            ops: list[Op] = [("fwd", j, d) for j in range(m)] + [("bwd", j, d) for j in reversed(range(m))]
        elif schedule == "1f1b":
            warm = min(k - d - 1, m)
            ops = [("fwd", j, d) for j in range(warm)]
            for i in range(m - warm):
                ops += [("fwd", warm + i, d), ("bwd", i, d)]
            ops += [("bwd", j, d) for j in range(m - warm, m)]
        else:  # interleaved, Megatron-LM's op order

            def virtual(index: int, forward: bool, d: int = d) -> Op:
                group = (index // k) % v
                chunk = group if forward else v - 1 - group
                mb = (index // (k * v)) * k + index % k
                return ("fwd" if forward else "bwd", mb, chunk * k + d)

            total = m * v
            warm = min((k - d - 1) * 2 + (v - 1) * k, total)
            ops = [virtual(i, True) for i in range(warm)]
            for i in range(total - warm):
                ops += [virtual(warm + i, True), virtual(i, False)]
            ops += [virtual(i, False) for i in range(total - warm, total)]
        orders.append(ops)
    return orders


def _expand(values: Sequence[float], count: int, name: str) -> list[float]:
    if len(values) == 1:
        return [float(values[0])] * count
    if len(values) != count:
        raise ValueError(f"{name} needs 1 or {count} values, got {len(values)}")
    return [float(x) for x in values]


def simulate(
    schedule: str,
    stages: int,
    microbatches: int,
    forward: Sequence[float],
    backward: Sequence[float],
    chunks: int = 1,
    transfer: Sequence[float] = (0.0,),
) -> Timeline:
    """Simulate one minibatch of `schedule`; times in seconds per micro-batch.

    `forward`/`backward`: one value (every device alike) or one per device (K), each the device's time per
    micro-batch, split evenly over its v chunks; or one per virtual stage (K·v, in model order: virtual
    stage c·K + d is chunk c of device d). `transfer`: one delay, or one
    per virtual-stage boundary (K·v - 1), added between an op and the next stage's op that needs it.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if stages < 1 or microbatches < 1 or chunks < 1:
        raise ValueError("stages, microbatches and chunks must be >= 1")
    if schedule != "interleaved" and chunks != 1:
        raise ValueError(f"{schedule} runs one chunk per device; chunks > 1 needs the interleaved schedule")
    if schedule == "interleaved" and microbatches % stages:
        raise ValueError("the interleaved schedule needs microbatches to be a multiple of stages")
    n = stages * chunks
    if len(forward) != len(backward) or len(forward) not in {1, stages, n}:
        counts = f"1, {stages} (per device)" + (f" or {n} (per virtual stage)" if n != stages else "")
        raise ValueError(f"forward and backward need {counts} values each, the same number")
    if len(forward) == n:
        fwd, bwd = [float(x) for x in forward], [float(x) for x in backward]
    else:  # per device: split evenly over its chunks
        per_f, per_b = _expand(forward, stages, "forward"), _expand(backward, stages, "backward")
        fwd = [per_f[s % stages] / chunks for s in range(n)]
        bwd = [per_b[s % stages] / chunks for s in range(n)]
    lag = _expand(transfer, n - 1, "transfer") if n > 1 else []
    if any(x < 0 for x in (*fwd, *bwd, *lag)):
        raise ValueError("times must be >= 0")

    orders = _device_orders(schedule, stages, microbatches, chunks)
    done: dict[Op, float] = {}
    free = [0.0] * stages
    cursor = [0] * stages
    ops: list[list[tuple[float, float, Op]]] = [[] for _ in range(stages)]
    remaining = sum(len(o) for o in orders)
    while remaining:
        progress = False
        for d in range(stages):
            while cursor[d] < len(orders[d]):
                op = orders[d][cursor[d]]
                kind, mb, s = op
                if kind == "fwd":
                    dep = ("fwd", mb, s - 1) if s > 0 else None
                    delay = lag[s - 1] if s > 0 else 0.0
                    duration = fwd[s]
                else:
                    dep = ("bwd", mb, s + 1) if s < n - 1 else ("fwd", mb, s)
                    delay = lag[s] if s < n - 1 else 0.0
                    duration = bwd[s]
                if dep is not None and dep not in done:
                    break
                ready = 0.0 if dep is None else done[dep] + delay
                start = max(free[d], ready)
                end = start + duration
                done[op] = end
                free[d] = end
                ops[d].append((start, end, op))
                cursor[d] += 1
                remaining -= 1
                progress = True
        if not progress:  # cannot happen for the three schedules; guards a wrong op order
            raise RuntimeError(f"{schedule} schedule deadlocked")
    makespan = max(free)
    events: list[Event] = []
    for d in range(stages):
        clock = 0.0
        for start, end, (kind, mb, s) in ops[d]:
            if start > clock:
                events.append(Event(d, clock, start, "idle"))
            events.append(Event(d, start, end, kind, mb, s // stages))
            clock = end
        if makespan > clock:
            events.append(Event(d, clock, makespan, "idle"))
    return Timeline(schedule, stages, microbatches, chunks, tuple(events), makespan)
