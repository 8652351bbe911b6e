"""GPipe costed with its own balance (planner.optimize.gpipe) and AmoebaNet-D's per-cell profile
(planner.cost.amoebanet)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from planner.api.inputs import load_device
from planner.cost.amoebanet import amoebanet_d, cell_times
from planner.cost.pipeline import gpipe_time
from planner.optimize.gpipe import gpipe_cost, normalised_throughput


@pytest.mark.parametrize(
    ("cells", "filters", "millions"),
    # GPipe (NeurIPS 2019) Table 1's AmoebaNet-D parameter counts (confidence: recalled; torchgpipe's
    # genotype.py says its re-implementation reproduces them exactly)
    [(18, 208, 82), (18, 416, 318), (18, 544, 542), (36, 544, 1050), (72, 512, 1800)],
)
def test_amoebanet_parameters_match_gpipe_table1(cells: int, filters: int, millions: float) -> None:
    parameters = sum(cell.parameters for cell in amoebanet_d(cells, filters))
    assert parameters / 1e6 == pytest.approx(millions, rel=0.03)


def test_amoebanet_chain_shape() -> None:
    cells = amoebanet_d(18, 256)
    names = [cell.name for cell in cells]
    assert len(cells) == 1 + 2 + 18 + 2 + 1  # stem conv, two stem reductions, cells, classifier
    assert names[0] == "stem1" and names[-1] == "classify" and "cell4_reduction" in names
    with pytest.raises(ValueError, match="multiple of 3"):
        amoebanet_d(17, 256)


def test_cell_times_scale_with_the_batch_plus_the_weights() -> None:
    device = load_device("tpu-v3")
    cells = amoebanet_d(6, 64)
    per_sample, _ = cell_times(cells, device, "bf16")
    batch_of_8, _ = cell_times(cells, device, "bf16", batch=8)
    # the weights' traffic is paid once per batch, so 8 samples cost at least 8 amortised ones
    assert all(b >= 8 * s * (1 - 1e-12) for s, b in zip(per_sample, batch_of_8, strict=True))
    assert sum(batch_of_8) > 8 * sum(per_sample)


def test_cell_times_add_the_kernel_overhead_per_kernel_of_a_batch() -> None:
    device = replace(load_device("tpu-v3"), kernel_overhead=0.0)
    slow = replace(device, kernel_overhead=5e-6)
    cells = amoebanet_d(6, 64)
    forward, backward = cell_times(cells, device, "bf16", batch=4)
    forward_slow, backward_slow = cell_times(cells, slow, "bf16", batch=4)
    for cell, f, b, fs, bs in zip(cells, forward, backward, forward_slow, backward_slow, strict=True):
        convolutions = sum(bf > ff for ff, bf in zip(cell.forward_flops, cell.backward_flops, strict=True))
        assert fs - f == pytest.approx(5e-6 * len(cell.forward_flops), rel=1e-9)
        # one kernel per operation backward, two per convolution (data and weight gradients)
        assert bs - b == pytest.approx(5e-6 * (len(cell.forward_flops) + convolutions), rel=1e-9)
    # per sample in the large-batch limit the overhead is amortised away, as the weights' traffic
    assert cell_times(cells, slow, "bf16") == cell_times(cells, device, "bf16")


def test_a_kernel_overhead_costs_many_micro_batches_more_than_few() -> None:
    cells = amoebanet_d(18, 256)
    device = replace(load_device("tpu-v3"), kernel_overhead=0.0)
    slow = replace(device, kernel_overhead=10e-6)

    def ratio(dev, m: int) -> float:
        return normalised_throughput(lambda n: cell_times(cells, dev, "bf16", 128 / n), 2, m, (2, 1))

    assert ratio(slow, 4) < ratio(device, 4)
    # the overhead per micro-batch grows with M: M=32 loses a larger share than M=4
    assert ratio(slow, 32) / ratio(device, 32) < ratio(slow, 4) / ratio(device, 4)


def test_gpipe_cost_uses_the_exact_balance_and_recomputes() -> None:
    forward = [1.0, 1.0, 1.0, 4.0]
    backward = [2.0, 2.0, 2.0, 8.0]
    cost = gpipe_cost(forward, backward, stages=2, microbatches=4)
    assert cost.balance.sizes == (3, 1)  # weights 4, 4, 4, 16: {12 | 16} is the min-max split
    assert cost.forward_s == (3.0, 4.0)
    assert cost.backward_s == (6.0 + 3.0, 8.0 + 4.0)  # + the recomputed forward
    assert cost.time_s == pytest.approx(gpipe_time(cost.forward_s, cost.backward_s, 4))
    kept = gpipe_cost(forward, backward, stages=2, microbatches=4, rematerialise=False)
    assert kept.backward_s == (6.0, 8.0)


def test_gpipe_cost_balances_memory_when_asked() -> None:
    cost = gpipe_cost([1.0] * 4, [2.0] * 4, stages=2, microbatches=1, memory=[9.0, 1.0, 1.0, 1.0])
    assert cost.balance.sizes == (1, 3)


def test_uniform_layers_give_the_bubble_formula() -> None:
    # equal layers split evenly: throughput ratio K·M/(M+K-1) over K0·M0/(M0+K0-1)
    ratio = normalised_throughput(lambda m: ([1.0 / m] * 8, [2.0 / m] * 8), 4, 8, (2, 1))
    assert ratio == pytest.approx((4 * 8 / 11) / (2 * 1 / 2))


@pytest.mark.parametrize("share", [0, 1.5, True, "half"])
def test_the_amoebanet_evaluator_names_a_bad_device_share(share: object) -> None:
    from planner.validate.evaluators.pipeline import gpipe_amoebanet_throughput

    setup = {
        "normal_cells": 6, "filters": 64, "device": "tpu-v3", "device_share": share, "batch": 8,
        "stages": 2, "microbatches": 2, "reference_stages": 2, "reference_microbatches": 1,
    }  # fmt: skip
    with pytest.raises(ValueError, match="device_share"):
        gpipe_amoebanet_throughput(setup, None)  # type: ignore[arg-type]
