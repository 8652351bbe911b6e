"""Evaluators of pipeline parallelism: bubble formulas, simulated schedules, GPipe's normalised throughput."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.validate.evaluators import Context, evaluator, whole


def _times(value: Any, key: str) -> list[float]:
    """A time ('1ms') or a list of times -> seconds."""
    from planner.units import UnitError, parse_quantity

    items = value if isinstance(value, list) else [value]
    try:
        return [parse_quantity(item, "time") for item in items]
    except UnitError as exc:
        raise ValueError(f"{key}: {exc}") from None


@evaluator("pipeline_bubble", setup=("stages", "microbatches", "measure"), optional=("chunks",))
def pipeline_bubble(setup: Mapping[str, Any], ctx: Context) -> float:
    """bubble_fraction (K-1)/(v·M+K-1) or bubble_overhead (K-1)/(v·M) (planner.cost.pipeline)."""
    from planner.cost.pipeline import bubble_fraction, bubble_overhead

    measures = {"bubble_fraction": bubble_fraction, "bubble_overhead": bubble_overhead}
    if setup["measure"] not in measures:
        raise ValueError(f"measure must be one of {', '.join(measures)}, got {setup['measure']!r}")
    k, m, v = whole(setup, "stages"), whole(setup, "microbatches"), whole(setup, "chunks", 1)
    return float(measures[setup["measure"]](k, m, v))


@evaluator(
    "pipeline_simulated_time",
    setup=("schedule", "stages", "microbatches", "forward", "backward"),
    optional=("chunks",),
)
def pipeline_simulated_time(setup: Mapping[str, Any], ctx: Context) -> float:
    """Time per minibatch (s) of a simulated schedule (planner.cost.pipeline_schedule.simulate);
    forward/backward: a time per device, or a list with one per device."""
    from planner.cost.pipeline_schedule import simulate

    k, m, v = whole(setup, "stages"), whole(setup, "microbatches"), whole(setup, "chunks", 1)
    forward, backward = _times(setup["forward"], "forward"), _times(setup["backward"], "backward")
    return simulate(str(setup["schedule"]), k, m, forward, backward, chunks=v).makespan


@evaluator(
    "gpipe_normalised_throughput",
    setup=("stages", "microbatches", "reference_stages", "reference_microbatches"),
)
def gpipe_normalised_throughput(setup: Mapping[str, Any], ctx: Context) -> float:
    """Throughput at (K, M) over throughput at a reference (K0, M0), uniform stages, no communication.

    A minibatch of work T split over K equal stages and M micro-batches takes (M + K - 1)·T/(K·M)
    (planner.cost.pipeline.uniform_pipeline_time), so throughput ∝ K·M/(M + K - 1) = K·(1 - bubble).
    """
    from planner.cost.pipeline import uniform_pipeline_time

    k, m = whole(setup, "stages"), whole(setup, "microbatches")
    k0, m0 = whole(setup, "reference_stages"), whole(setup, "reference_microbatches")
    work = 1.0  # any minibatch time: it cancels
    time = float(uniform_pipeline_time(k, m, work / (k * m), 0.0))
    reference = float(uniform_pipeline_time(k0, m0, work / (k0 * m0), 0.0))
    return reference / time


@evaluator(
    "gpipe_amoebanet_throughput",
    setup=(
        "normal_cells",
        "filters",
        "device",
        "device_share",
        "batch",
        "stages",
        "microbatches",
        "reference_stages",
        "reference_microbatches",
    ),
)
def gpipe_amoebanet_throughput(setup: Mapping[str, Any], ctx: Context) -> float:
    """AmoebaNet-D(normal_cells, filters)'s GPipe throughput at (K, M) over (K0, M0), the same minibatch
    of `batch` samples in both: per-cell times in bf16 of one micro-batch (batch/M samples) on
    `device_share` of `device` (its peak and bandwidth scaled; the kernels' fixed overhead is not),
    rooflines plus the device's kernel_overhead per kernel (planner.cost.amoebanet), GPipe's balance
    and the re-materialised GPipe schedule (planner.optimize.gpipe)."""
    from dataclasses import replace

    from planner.api.inputs import load_device
    from planner.cost.amoebanet import amoebanet_d, cell_times
    from planner.optimize.gpipe import normalised_throughput

    share = setup["device_share"]
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
        raise ValueError(f"device_share must be a fraction in (0, 1], got {share!r}")
    whole_device = load_device(str(setup["device"]))
    device = replace(
        whole_device,
        peak_compute={dtype: peak * share for dtype, peak in whole_device.peak_compute.items()},
        memory_bandwidth=whole_device.memory_bandwidth * share,
    )
    cells = amoebanet_d(whole(setup, "normal_cells"), whole(setup, "filters"))
    batch = whole(setup, "batch")
    reference = (whole(setup, "reference_stages"), whole(setup, "reference_microbatches"))
    return normalised_throughput(
        lambda m: cell_times(cells, device, "bf16", batch / m),
        whole(setup, "stages"),
        whole(setup, "microbatches"),
        reference,
    )
