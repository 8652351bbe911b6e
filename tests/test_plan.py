"""planner plan: every strategy compared, ranked and explained; LLM hybrid plans; sensitivity."""

from __future__ import annotations

import json

import pytest

from planner.optimize.plan_rows import rank
from planner.optimize.plan_sensitivity import perturbed, sensitivity_factors
from planner.spec.catalog import find


def _json(run_cli, *args: str) -> dict:
    result = run_cli("plan", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_default_plan_compares_every_family_and_recommends_a_feasible_winner(run_cli) -> None:
    payload = _json(run_cli)
    assert payload["inputs"]["model"] == "vgg16" and payload["inputs"]["cluster"] == "pipedream-cluster-a"
    assert payload["inputs"]["devices"] == 16
    families = {s["family"] for s in payload["strategies"]}
    assert {"data-parallel", "pipeline", "gpipe", "1f1b"} <= families
    names = [s["name"] for s in payload["strategies"] if s["family"] == "data-parallel"]
    assert {"DP ps", "DP ring", "DP hierarchical"} <= set(names)
    throughputs = [s["throughput_samples_per_s"] for s in payload["strategies"] if s["fits"]]
    assert throughputs == sorted(throughputs, reverse=True)
    winner = payload["strategies"][0]
    assert payload["winner"] == winner["name"] and winner["fits"]
    assert winner["name"] in payload["recommendation"]
    for s in payload["strategies"]:
        assert s["speedup_over_one_device"] <= s["devices"] * (1 + 1e-9)
        assert s["time_per_sample_s"] == pytest.approx(1 / s["throughput_samples_per_s"])
        assert s["cost_per_million_samples_usd"] is not None  # cluster-a has a price


def test_parameter_server_is_slowest_data_parallel(run_cli) -> None:
    payload = _json(run_cli)
    dp = {s["name"]: s["iteration_s"] for s in payload["strategies"] if s["family"] == "data-parallel"}
    assert dp["DP ps"] == max(dp.values())


def test_latency_objective_ranks_by_iteration_time(run_cli) -> None:
    payload = _json(run_cli, "--objective", "latency")
    times = [s["iteration_s"] for s in payload["strategies"] if s["fits"]]
    assert times == sorted(times)


def test_table_and_explain(run_cli) -> None:
    result = run_cli("plan", "--explain")
    assert result.exit_code == 0, result.stderr
    assert "recommendation:" in result.stdout and "cost breakdown" in result.stdout


def test_sensitivity_covers_every_figure(run_cli) -> None:
    payload = _json(run_cli, "alexnet", "--servers", "2", "--sensitivity")
    factors = [row["factor"] for row in payload["sensitivity"]]
    assert factors == sensitivity_factors(find("hardware", "pipedream-cluster-a"))
    assert payload["most_sensitive"] in factors
    assert isinstance(payload["ranking_flips"], list)
    row = next(r for r in payload["sensitivity"] if r["factor"] == "peak_compute")
    assert row["plus_winner_change_pct"] < 0 < row["minus_winner_change_pct"]  # faster device, faster plan


def test_perturbed_scales_one_figure_and_caps_efficiencies() -> None:
    cluster = find("hardware", "pipedream-cluster-a")
    faster = perturbed(cluster, "server.bandwidth", 1.2)
    assert faster.levels[-1].link.bandwidth == pytest.approx(1.2 * cluster.levels[-1].link.bandwidth)
    assert faster.levels[0] == cluster.levels[0]
    capped = perturbed(cluster, "compute_efficiency", 10.0)
    assert capped.device.compute_efficiency == 1.0


def test_rank_puts_infeasible_last() -> None:
    from planner.optimize.plan_rows import Strategy

    def strategy(name: str, time: float, fits: bool) -> Strategy:
        return Strategy(name, "data-parallel", "4", 4, 32, time, 1.0, fits, 10.0, 1, None)

    ranked = rank(
        [strategy("a", 1.0, False), strategy("b", 2.0, True), strategy("c", 3.0, True)], "throughput"
    )
    assert [s.name for s in ranked] == ["b", "c", "a"]


def test_llm_plan_has_feasible_hybrid_plans_with_memory(run_cli) -> None:
    payload = _json(run_cli, "llama-2-70b", "--cluster", "dgx-h100", "--servers", "8", "--top", "3")
    plans = payload["search"]["plans"]
    assert plans and all(p["feasible"] for p in plans)
    assert any(p["tensor_parallel"] > 1 or p["pipeline_parallel"] > 1 for p in plans)
    assert all(p["memory_per_device_bytes"] <= 80 * 2**30 for p in plans)
    assert "per device" in payload["recommendation"]


def test_llm_plan_evaluates_one_configuration(run_cli) -> None:
    payload = _json(
        run_cli,
        "llama-2-70b",
        "--cluster",
        "dgx-h100",
        "--servers",
        "8",
        "-t",
        "8",
        "-p",
        "4",
        "-d",
        "2",
        "-b",
        "1",
    )
    for key in ("time_per_iteration_s", "tflops_per_device", "memory_per_device_bytes", "feasible"):
        assert key in payload
    assert payload["time_per_iteration_s"] > 0


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("--objective", "fastest"), "--objective"),
        (("--tensor-parallel", "2"), "--tensor-parallel"),
        (("--servers", "0"), "--servers"),
        (("--batch", "0"), "--batch"),
    ],
)
def test_bad_input_exits_2(run_cli, args: tuple[str, ...], option: str) -> None:
    result = run_cli("plan", *args)
    assert result.exit_code == 2
    assert option in result.stderr and "Traceback" not in result.stderr
