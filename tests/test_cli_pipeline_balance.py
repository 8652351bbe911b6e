"""`planner pipeline balance` (GPipe's exact balance) and GPipe's balance inside `planner plan`."""

from __future__ import annotations

import json

import pytest

from planner.api.pipeline_balance import BalanceOptions, pipeline_balance
from planner.errors import SettingError
from planner.optimize.balance import balance


def test_help_lists_balance(run_cli) -> None:
    assert "balance" in run_cli("pipeline", "--help").stdout


def test_balance_json_is_the_exact_min_max(run_cli) -> None:
    args = ("pipeline", "balance", "amoebanet-d-18-256", "-k", "4", "-m", "32", "--batch", "128")
    data = json.loads(run_cli(*args, "--device", "tpu-v3", "--dtype", "bf16", "-f", "json").stdout)
    assert sum(data["balance"]) == 24 and len(data["partition"]) == 4
    assert data["bottleneck"] == pytest.approx(max(row["time_s"] for row in data["partition"]))
    # the exact balance never loses to equal layer counts
    assert data["gpipe_time_s"] <= data["equal_layers"]["gpipe_time_s"]
    table = run_cli(*args, "--device", "tpu-v3", "--dtype", "bf16")
    assert table.exit_code == 0 and "GPipe's balance by time" in table.stdout


def test_balance_by_memory_minimises_the_largest_parameter_share() -> None:
    result = pipeline_balance("resnet50", BalanceOptions(stages=4, objective="memory"))
    sizes = result.costs.parameter_bytes
    assert result.bottleneck == pytest.approx(balance(sizes, 4).bottleneck)
    payload = result.to_dict()
    assert payload["bottleneck_unit"] == "bytes"
    assert max(row["parameter_bytes"] for row in payload["partition"]) == pytest.approx(result.bottleneck)


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("resnet50", "-k", "400"), "--stages"),
        (("resnet50", "-k", "2", "--by", "speed"), "--by"),
        (("amoebanet-d-17-256", "-k", "2"), "model"),
    ],
)
def test_bad_input_exits_2_naming_the_option(run_cli, args: tuple[str, ...], option: str) -> None:
    result = run_cli("pipeline", "balance", *args)
    output = result.stdout + result.stderr
    assert result.exit_code == 2 and option in output and "Traceback" not in output


def test_api_refuses_more_microbatches_than_samples() -> None:
    with pytest.raises(SettingError, match="microbatches"):
        pipeline_balance("resnet18", BalanceOptions(stages=2, microbatches=64, batch=32))


def test_plan_gpipe_row_uses_gpipes_balance() -> None:
    from planner.api.plan import PlanOptions, plan_strategies
    from planner.optimize.gpipe import layer_weights

    result = plan_strategies("vgg16", "pipedream-cluster-a", PlanOptions())
    rows = {row.name: row for row in result.comparison.strategies}
    gpipe, one_f_one_b = rows["GPipe"].partition, rows["1F1B"].partition
    assert gpipe is not None and one_f_one_b is not None
    spans = [(stage.start, stage.end) for stage in gpipe.stages]
    assert len(spans) == len(one_f_one_b.stages)
    assert spans != [(stage.start, stage.end) for stage in one_f_one_b.stages]  # not the straight split

    def largest(split) -> float:  # the balance's objective: forward + backward + recompute
        return max(max(layer_weights([s.forward_s], [s.backward_s])) for s in split.stages)

    assert largest(gpipe) <= largest(one_f_one_b) * (1 + 1e-12)
