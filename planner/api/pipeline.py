"""Pipeline bubbles and schedules: the closed forms of GPipe, 1F1B and interleaved 1F1B, and a simulated
timeline checked against them (planner.cost.pipeline, planner.cost.pipeline_schedule).

GPipe re-materialises by default (Huang et al., NeurIPS 2019, Sec. 2.3: each stage keeps only its
micro-batches' inputs and recomputes the forward during the backward), so its backward per micro-batch is
the given backward plus one forward, as `planner plan` costs it; `rematerialise=False` keeps every
activation and recomputes nothing. 1F1B and interleaved 1F1B recompute nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from planner.errors import SettingError
from planner.limits import DURATION, MAX_SIMULATED_OPS, range_problem
from planner.validate.bands import PIPELINE, band_fields

if TYPE_CHECKING:
    from planner.cost.pipeline_schedule import Timeline

SCHEDULES = ("gpipe", "1f1b", "interleaved")
DEFAULT_INTERLEAVED_CHUNKS = 2
GPIPE_RULE = "M >= 4K (GPipe Sec. 2.3)"


def chunks_per_device(schedule: str, chunks: int | None) -> int:
    """The model chunks each device runs: `chunks` (default 2) for the interleaved schedule, else 1."""
    if schedule != "interleaved":
        return 1
    return DEFAULT_INTERLEAVED_CHUNKS if chunks is None else chunks


def _check_common(stages: int, microbatches: int | None, schedule: str, chunks: int | None) -> int:
    """Check the settings every pipeline question shares; the chunks per device the schedule runs."""
    for setting, value in (("stages", stages), ("microbatches", microbatches)):
        if value is not None and value < 1:
            raise SettingError(setting, "a whole number >= 1", value)
    if schedule not in SCHEDULES:
        raise SettingError("schedule", f"one of {', '.join(SCHEDULES)}", schedule)
    v = chunks_per_device(schedule, chunks)
    if schedule != "interleaved":
        if chunks not in (None, 1):
            raise SettingError("chunks", f"applies to the interleaved schedule; {schedule} runs 1", chunks)
        return v
    if v < 2:
        raise SettingError("chunks", "expected >= 2 for the interleaved schedule (1 chunk is 1f1b)", v)
    if microbatches is not None and microbatches % stages:
        raise SettingError(
            "microbatches",
            f"expected a multiple of `stages` ({stages}) for the interleaved schedule "
            "(Megatron SC'21 Sec. 2.2.2)",
            microbatches,
        )
    return v


@dataclass(frozen=True)
class BubbleOptions:
    """Settings of the bubble question; without microbatches, a sweep over M."""

    stages: int  # pipeline stages K (= devices, Megatron's p)
    microbatches: int | None = None  # micro-batches M per minibatch
    schedule: str = "gpipe"
    chunks: int | None = None  # model chunks per device v (interleaved; default 2)


@dataclass(frozen=True)
class BubblePoint:
    """The bubble at M micro-batches: idle/total, idle/ideal and 1 - idle/total."""

    microbatches: int
    bubble_fraction: float
    bubble_overhead: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "microbatches": self.microbatches,
            "bubble_fraction": self.bubble_fraction,
            "bubble_overhead": self.bubble_overhead,
            "utilisation": 1.0 - self.bubble_fraction,
        }


@dataclass(frozen=True)
class BubbleResult:
    """The bubble at the micro-batches given (`point`), or a sweep over M (`sweep`), with GPipe's advice."""

    options: BubbleOptions
    chunks: int
    naive_utilisation: float
    minimum_microbatches: int
    bubble_fraction_at_minimum: float
    point: BubblePoint | None
    sweep: tuple[BubblePoint, ...]
    schedules: tuple[tuple[str, int, tuple[BubblePoint, ...]], ...]  # each schedule's sweep: name, v

    def to_dict(self) -> dict[str, Any]:
        v = self.chunks
        formulas = (
            {"bubble_fraction": "(K-1)/(M+K-1)", "bubble_overhead": "(K-1)/M"}
            if v == 1
            else {"bubble_fraction": "(K-1)/(v·M+K-1)", "bubble_overhead": "(K-1)/(v·M)"}
        )
        payload: dict[str, Any] = {
            "schedule": self.options.schedule,
            "stages": self.options.stages,
            "chunks": v,
            "formulas": formulas,
            "naive_utilisation": self.naive_utilisation,
            # naive model parallelism holds 1/K of the model per device (GPipe Sec. 2.3; balanced stages)
            "naive_memory_per_device_fraction": 1.0 / self.options.stages,
            "advice": {
                "rule": GPIPE_RULE,
                "minimum_microbatches": self.minimum_microbatches,
                "bubble_fraction_at_minimum": self.bubble_fraction_at_minimum,
            },
        }
        if self.point is not None:
            payload.update(self.point.to_dict())
        else:
            payload["sweep"] = [point.to_dict() for point in self.sweep]
        payload["schedules"] = [
            {"schedule": name, "chunks": chunks, "sweep": [point.to_dict() for point in points]}
            for name, chunks, points in self.schedules
        ]
        return payload


def pipeline_bubble(options: BubbleOptions) -> BubbleResult:
    """The pipeline bubble: idle/total (GPipe's (K-1)/(M+K-1)) and idle/ideal (Megatron's (p-1)/(v·m))."""
    import numpy as np

    from planner.cost.pipeline import bubble_fraction, bubble_overhead, naive_utilisation
    from planner.optimize.balance import microbatch_advice

    k, m = options.stages, options.microbatches
    v = _check_common(k, m, options.schedule, options.chunks)
    advice = microbatch_advice(k)

    def points(ms: list[int], v: int) -> tuple[BubblePoint, ...]:
        fractions = np.asarray(bubble_fraction(k, np.array(ms), v))
        overheads = np.asarray(bubble_overhead(k, np.array(ms), v))
        return tuple(
            BubblePoint(int(mi), float(f), float(o))
            for mi, f, o in zip(ms, fractions, overheads, strict=True)
        )

    asked = points([m] if m is not None else _sweep_microbatches(k, v > 1), v)
    # the three schedules side by side, over M; interleaved with the v asked for, else the default
    others = chunks_per_device("interleaved", options.chunks if v > 1 else None)
    schedules = tuple(
        (name, w, points(_sweep_microbatches(k, w > 1), w))
        for name, w in (("gpipe", 1), ("1f1b", 1), ("interleaved", others))
    )
    return BubbleResult(
        options=options,
        chunks=v,
        naive_utilisation=float(naive_utilisation(k)),
        minimum_microbatches=advice.minimum_microbatches,
        bubble_fraction_at_minimum=float(bubble_fraction(k, advice.minimum_microbatches, v)),
        point=asked[0] if m is not None else None,
        sweep=() if m is not None else asked,
        schedules=schedules,
    )


def _sweep_microbatches(stages: int, interleaved: bool) -> list[int]:
    """M for the sweep: K·(1, 2, 4, 8, 16) interleaved (M a multiple of K), else the powers of two up to
    16K with K, 4K and 16K."""
    if interleaved:
        return [stages * j for j in (1, 2, 4, 8, 16)]
    powers = {2**i for i in range(0, 31) if 2**i <= 16 * stages}
    return sorted(powers | {stages, 4 * stages, 16 * stages})


@dataclass(frozen=True)
class ScheduleOptions:
    """Settings of a simulated schedule. forward_s/backward_s (seconds per micro-batch): one value for
    every device, one per device (K) or one per virtual stage (K·v)."""

    stages: int
    microbatches: int
    schedule: str = "1f1b"
    chunks: int | None = None
    forward_s: tuple[float, ...] = (1e-3,)
    backward_s: tuple[float, ...] = (2e-3,)
    rematerialise: bool | None = None  # GPipe's recompute (None: on for gpipe); other schedules: None

    @property
    def recomputes(self) -> bool:
        """Whether the backward recomputes the forward (GPipe re-materialising)."""
        return self.schedule == "gpipe" and self.rematerialise is not False

    def check(self) -> int:
        """SettingError for a setting out of range; the chunks per device the schedule runs."""
        v = _check_common(self.stages, self.microbatches, self.schedule, self.chunks)
        if self.rematerialise is not None and self.schedule != "gpipe":
            raise SettingError(
                "rematerialise", f"GPipe's; the {self.schedule} schedule recomputes nothing", show_got=False
            )
        if 2 * self.stages * self.microbatches * v > MAX_SIMULATED_OPS:
            raise SettingError(
                "microbatches",
                f"expected 2·K·M·v <= {MAX_SIMULATED_OPS:,} ops for a simulated schedule (the bubble's "
                "closed form has no limit)",
                self.microbatches,
            )
        counts = {1, self.stages, self.stages * v}
        for setting in ("forward_s", "backward_s"):
            times = getattr(self, setting)
            if len(times) not in counts:
                raise SettingError(setting, f"1, K or K·v times, got {len(times)}", show_got=False)
            for time in times:
                problem = range_problem(time, DURATION, "a time")
                if problem:
                    raise SettingError(setting, problem, time)
        if len(self.forward_s) != len(self.backward_s):
            raise SettingError("backward_s", "as many times as `forward_s`", len(self.backward_s))
        return v


@dataclass(frozen=True)
class ScheduleResult:
    """A simulated schedule: the timeline, its measured bubble and the closed form it is checked against."""

    options: ScheduleOptions
    timeline: Timeline
    closed_form: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        t = self.timeline
        return {
            "schedule": t.schedule,
            "stages": t.stages,
            "microbatches": t.microbatches,
            "chunks": t.chunks,
            "forward_time_s": list(self.options.forward_s),
            "backward_time_s": list(self.options.backward_s),
            "rematerialised": self.options.recomputes,  # each backward then also runs its forward again
            "time_s": t.makespan,
            "bubble_fraction": t.bubble_fraction,
            "bubble_overhead": t.bubble_overhead,
            "closed_form": dict(self.closed_form),
            "devices": [
                {
                    "device": d,
                    "busy_s": t.busy(d),
                    "idle_s": t.makespan - t.busy(d),
                    "peak_in_flight_microbatches": t.peak_in_flight(d),
                }
                for d in range(t.stages)
            ],
            "events": [
                {
                    "device": e.device,
                    "start_s": e.start,
                    "end_s": e.end,
                    "kind": e.kind,
                    "microbatch": None if e.microbatch is None else e.microbatch + 1,
                    "chunk": e.chunk,
                }
                for e in t.events
            ],
            **band_fields(PIPELINE),
        }


def pipeline_schedule(options: ScheduleOptions) -> ScheduleResult:
    """Simulate the schedule (every op as soon as its inputs are there) and give the closed form that checks
    it: exact for uniform stages and for GPipe, bounds for 1F1B."""
    from planner.cost.pipeline_schedule import simulate

    v = options.check()
    forward, backward = list(options.forward_s), list(options.backward_s)
    if options.recomputes:  # + one forward per micro-batch in the backward (GPipe Sec. 2.3)
        backward = [b + f for f, b in zip(forward, backward, strict=True)]
    timeline = simulate(options.schedule, options.stages, options.microbatches, forward, backward, chunks=v)
    return ScheduleResult(options, timeline, _closed_form(timeline, forward, backward))


def _closed_form(timeline: Timeline, forward: list[float], backward: list[float]) -> dict[str, Any]:
    from planner.cost.pipeline import (
        bubble_fraction,
        bubble_overhead,
        gpipe_time,
        one_f_one_b_time_bounds,
        uniform_pipeline_time,
    )

    k, m, v = timeline.stages, timeline.microbatches, timeline.chunks
    uniform = len(set(forward)) == 1 and len(set(backward)) == 1
    per_device = len(forward) in (1, k)
    closed: dict[str, Any] = {"time_s": None, "exact": False, "lower_bound_s": None, "upper_bound_s": None}
    if uniform:
        f_dev = forward[0] * (1 if per_device else v)
        b_dev = backward[0] * (1 if per_device else v)
        closed.update(
            time_s=float(uniform_pipeline_time(k, m, f_dev, b_dev, v)),
            exact=True,
            formula="(M + (K-1)/v)·(f + b)",
            bubble_fraction=float(bubble_fraction(k, m, v)),
            bubble_overhead=float(bubble_overhead(k, m, v)),
        )
    elif timeline.schedule == "gpipe":
        f_all, b_all = (forward * k, backward * k) if len(forward) == 1 else (forward, backward)
        closed.update(
            time_s=gpipe_time(f_all, b_all, m), exact=True, formula="Σ(f_k + b_k) + (M-1)(max f + max b)"
        )
    elif timeline.schedule == "1f1b":
        lower, upper = one_f_one_b_time_bounds(
            forward * (k // len(forward)), backward * (k // len(backward)), m
        )
        closed.update(lower_bound_s=lower, upper_bound_s=upper, formula="bounds; the simulation is exact")
    else:
        closed.update(formula="none for unequal interleaved stages; the simulation is exact")
    return closed


__all__ = [
    "BubbleOptions",
    "BubbleResult",
    "ScheduleOptions",
    "ScheduleResult",
    "pipeline_bubble",
    "pipeline_schedule",
]
