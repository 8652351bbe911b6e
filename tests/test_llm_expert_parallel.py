"""Expert parallelism of mixture-of-experts LLM training: the grid's e degrees, the all-to-all cost, the
expert GEMMs, memory and gradients split over e, the API's and CLI's settings, the Megatron export."""

from __future__ import annotations

import json

import numpy as np
import pytest

from planner.api.inputs import load_cluster, load_llm
from planner.api.llm import LLMOptions, llm_parallel
from planner.cost.collectives import pairwise_alltoall_time
from planner.cost.llm_comm import ep_alltoall_time
from planner.cost.llm_memory import expert_stage_parameters, stage_parameters
from planner.cost.moe import expert_parameters
from planner.errors import SettingError
from planner.optimize.llm_evaluate import evaluate_configuration
from planner.optimize.llm_grid import candidate_grid
from planner.optimize.llm_setup import TrainingSetup

MIXTRAL = ("llm-parallel", "mixtral-8x7b", "--cluster", "dgx-h100", "--servers", "8", "--global-batch", "256")


@pytest.fixture(scope="module")
def setup() -> TrainingSetup:
    cluster = load_cluster("dgx-h100", 8)
    return TrainingSetup(load_llm("mixtral-8x7b"), cluster, global_batch=256, seq_len=4096, devices=64)


def _plan(setup: TrainingSetup, expert: int, **kw: object):
    config = {"tensor": 1, "pipeline": 4, "data": 16, "microbatch": 1, "zero": 1, "recompute": "none"}
    return evaluate_configuration(setup, **{**config, **kw}, expert=expert)  # type: ignore[arg-type]


def test_dense_grid_has_only_e_1_and_moe_grid_every_divisor_of_experts_and_d() -> None:
    dense = candidate_grid(16, max_microbatch=1, max_interleave=1)
    assert set(dense.expert.tolist()) == {1}
    moe = candidate_grid(16, max_microbatch=1, max_interleave=1, experts=8)
    assert set(moe.expert.tolist()) == {1, 2, 4, 8}
    assert np.all(moe.data % moe.expert == 0)
    pinned = candidate_grid(16, max_microbatch=1, max_interleave=1, experts=8, expert=4)
    assert set(pinned.expert.tolist()) == {4} and np.all(pinned.data >= 4)


def test_pairwise_alltoall_on_one_level_is_thakurs_closed_form() -> None:
    # (N-1)·(alpha + S/(N·B)): 7 steps of 1 us + 1 MB / 8 at 100 GB/s
    time = pairwise_alltoall_time(8e6, 8, 100e9, 1e-6)
    assert time == pytest.approx(7 * (1e-6 + 1e6 / 100e9))
    assert pairwise_alltoall_time(8e6, 8, 100e9, 1e-6, peers=3) == pytest.approx(3 * (1e-6 + 1e6 / 100e9))
    assert pairwise_alltoall_time(8e6, 1, 100e9, 1e-6) == 0.0


def test_expert_alltoall_crossing_servers_costs_more_than_inside_one() -> None:
    cluster = load_cluster("dgx-h100")
    assert ep_alltoall_time(cluster, 1, 1, 1e8) == 0.0
    inside = ep_alltoall_time(cluster, 1, 8, 1e8)  # eight GPUs of one server
    across = ep_alltoall_time(cluster, 2, 8, 1e8)  # t = 2: the group spans two servers
    assert 0 < inside < across


def test_expert_parallelism_splits_expert_weights_and_adds_alltoalls(setup: TrainingSetup) -> None:
    one, eight = _plan(setup, 1), _plan(setup, 8)
    assert one.time_breakdown["expert_parallel_comm_s"] == 0.0
    assert eight.time_breakdown["expert_parallel_comm_s"] > 0.0
    first, _ = stage_parameters(setup.model, 4, 1)
    experts = float(expert_stage_parameters(setup.model, 4, 1))
    assert experts == expert_parameters(setup.model) / 4
    # bf16 weights: 2 bytes per parameter held, the experts 1/e of them
    assert one.memory_breakdown["weights"] == pytest.approx(2 * float(first))
    assert eight.memory_breakdown["weights"] == pytest.approx(2 * (float(first) - experts + experts / 8))
    assert eight.memory_per_device_bytes < one.memory_per_device_bytes


def test_expert_gradients_reduce_over_d_over_e(setup: TrainingSetup) -> None:
    # ZeRO-1 shards expert optimizer states over d/e = 2 ranks, the rest over d = 16
    plan = _plan(setup, 8)
    first, _ = stage_parameters(setup.model, 4, 1)
    experts = float(expert_stage_parameters(setup.model, 4, 1))
    states = 12 * ((float(first) - experts) / 16 + experts / 8 / 2)
    assert plan.memory_breakdown["optimizer_state"] == pytest.approx(states)
    assert plan.time_breakdown["data_parallel_comm_s"] > 0


def test_capacity_factor_pads_the_expert_gemms(setup: TrainingSetup) -> None:
    from dataclasses import replace

    padded = replace(setup, model=replace(setup.model, capacity_factor=1.5))
    base, more = _plan(setup, 8), _plan(padded, 8)
    assert more.time_breakdown["compute_s"] > base.time_breakdown["compute_s"]
    assert more.time_breakdown["expert_parallel_comm_s"] > base.time_breakdown["expert_parallel_comm_s"]


def test_e_that_does_not_divide_d_is_reported(setup: TrainingSetup) -> None:
    odd = _plan(setup, 4, tensor=2, pipeline=16, data=2)
    assert "expert-data" in odd.reason_codes
    assert any("does not divide the data-parallel degree d=2" in r for r in odd.reasons)


def test_dense_plans_carry_e_1_and_no_expert_breakdown() -> None:
    result = llm_parallel("gpt2-xl", "dgx-a100", LLMOptions(global_batch=64, servers=1, top=2))
    plan = result.to_dict()["search"]["plans"][0]
    assert plan["expert_parallel"] == 1
    assert "expert_parallel_comm_s" not in plan["time_breakdown_s"]
    assert "num_experts" not in result.inputs


@pytest.mark.parametrize(
    ("options", "setting"),
    [
        ({"expert_parallel": 2}, "expert_parallel"),
        ({"capacity_factor": 1.25}, "capacity_factor"),
    ],
)
def test_expert_settings_on_a_dense_model_are_refused(options: dict[str, float], setting: str) -> None:
    with pytest.raises(SettingError) as info:
        llm_parallel("gpt2-xl", "dgx-a100", LLMOptions(global_batch=64, servers=1, **options))  # type: ignore[arg-type]
    assert info.value.setting == setting


def test_cli_pins_expert_parallelism(run_cli) -> None:
    result = run_cli(
        *MIXTRAL, "--seq-len", "4096", "--expert-parallel", "4", "--top", "3", "--format", "json"
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["inputs"]["num_experts"] == 8
    assert {p["expert_parallel"] for p in payload["search"]["plans"]} == {4}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--expert-parallel", "3"), "--expert-parallel"),
        (("--capacity-factor", "0"), "--capacity-factor"),
    ],
)
def test_cli_bad_expert_settings_exit_2(run_cli, extra: tuple[str, ...], message: str) -> None:
    result = run_cli(*MIXTRAL, *extra)
    assert result.exit_code == 2, result.stdout
    assert message in result.stderr and "Traceback" not in result.stderr + result.stdout


def test_megatron_export_names_the_expert_degree(run_cli) -> None:
    args = (
        "export",
        "llm",
        "mixtral-8x7b",
        "--cluster",
        "dgx-h100",
        "--servers",
        "8",
        "--global-batch",
        "256",
    )
    pinned = ("--seq-len", "4096", "-t", "1", "-p", "4", "-d", "16", "-b", "1", "--expert-parallel", "8")
    result = run_cli(*args, *pinned, "--to", "megatron", "--format", "json")
    assert result.exit_code == 0, result.stderr
    argv = json.loads(result.stdout)["argv"]
    assert argv[argv.index("--expert-model-parallel-size") + 1] == "8"
    assert argv[argv.index("--num-experts") + 1] == "8" and argv[argv.index("--moe-router-topk") + 1] == "2"
