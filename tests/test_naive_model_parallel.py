"""Naive model parallelism (M = 1): utilisation 1/K and 1/K of the model per device, in `pipeline bubble`
and as a row of `plan`."""

from __future__ import annotations


def test_naive_model_parallelism_in_bubble_and_plan(run_cli) -> None:
    table = run_cli("pipeline", "bubble", "-k", "4", "-m", "1").stdout
    assert "model per device = 1/K" in table and "0.25" in table
    from planner.api.plan import PlanOptions, plan_strategies

    rows = {
        row.name: row
        for row in plan_strategies("vgg16", "pipedream-cluster-a", PlanOptions()).comparison.strategies
    }
    naive, gpipe = rows["Naive model parallel"], rows["GPipe"]
    k = naive.devices
    assert naive.breakdown["utilisation"] == 1.0 / k and naive.config.endswith("M=1")
    assert naive.efficiency < gpipe.efficiency  # one device busy at a time
    assert naive.breakdown["largest_stage_parameter_share"] < 1.0
