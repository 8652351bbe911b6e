"""GPipe costed with its own balance (planner.optimize.gpipe) and AmoebaNet-D's per-cell profile
(planner.cost.amoebanet)."""

from __future__ import annotations

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
    ratio = normalised_throughput([1.0] * 8, [2.0] * 8, 4, 8, (2, 1))
    assert ratio == pytest.approx((4 * 8 / 11) / (2 * 1 / 2))
