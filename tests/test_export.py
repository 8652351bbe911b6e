"""Exports as the engines read them: split points, rank maps, DeepSpeed configs, Megatron-LM arguments."""

from __future__ import annotations

import shlex

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.export import (
    DataParallelPlan,
    ExportStage,
    NotExpressible,
    PipelinePlan,
    deepspeed,
    megatron,
    pipedream_ranks,
    torch_pipelining,
)
from planner.optimize.llm_evaluate import evaluate_configuration
from planner.optimize.llm_setup import TrainingSetup
from planner.optimize.parallelism import search
from planner.optimize.pipedream import partition_pipedream
from planner.optimize.pipeline_native import partition_native
from planner.spec.catalog import find
from planner.spec.hardware import Cluster, Level, Link
from planner.spec.profile import Layer, ModelProfile

GB = 1e9


def chain_profile(seed: int, count: int = 12) -> ModelProfile:
    """A measured chain with uneven layers (some without parameters), so optimal splits are uneven."""
    rng = np.random.default_rng(seed)
    layers = []
    for i in range(count):
        forward = float(rng.uniform(0.001, 0.02))
        layers.append(
            Layer(
                name=f"blocks.{i}",
                forward_time=forward,
                backward_time=2 * forward,
                parameters=int(rng.integers(0, 3_000_000)) * int(rng.random() > 0.3),
                output_bytes=float(rng.uniform(1e5, 5e6)),
            )
        )
    return ModelProfile(spec="profile", name=f"chain{seed}", per="minibatch", layers=tuple(layers))


def two_level(per_server: int, servers: int) -> Cluster:
    return Cluster(
        spec="cluster",
        name="test",
        device="(none)",
        levels=(
            Level("gpu", per_server, Link(bandwidth=10 * GB, name="in")),
            Level("server", servers, Link(bandwidth=1.25 * GB, name="out")),
        ),
    )


def plans() -> list[PipelinePlan]:
    """Plans from both partitioners (through the fields they share), straight and replicated."""
    out = []
    for seed in range(3):
        profile = chain_profile(seed)
        names = [layer.name for layer in profile.layers]
        for straight in (True, False):
            pipedream = partition_pipedream(profile, [(4, 10 * GB), (2, 1.25 * GB)], straight=straight)
            native = partition_native(profile, two_level(4, 2), straight=straight)
            out += [PipelinePlan.from_result(r, names, profile.name) for r in (pipedream, native)]
    return out


PLANS = plans()


def manual_plan(
    sizes: list[int], replicas: list[int] | None = None, count: int | None = None
) -> PipelinePlan:
    names = tuple(f"layer{i}" for i in range(count or sum(sizes)))
    replicas = replicas or [1] * len(sizes)
    stages, start, device = [], 0, 0
    for size, r in zip(sizes, replicas, strict=True):
        stages.append(ExportStage(names[start : start + size], r, tuple(range(device, device + r))))
        start, device = start + size, device + r
    return PipelinePlan("manual", names, tuple(stages))


# ------------------------------------------------------------------------------------------ the plan


def test_plan_rejects_a_layer_in_two_stages_or_in_none() -> None:
    names = ("a", "b", "c")
    with pytest.raises(ValueError, match="in stages 0 and 1"):
        PipelinePlan("m", names, (ExportStage(("a", "b"), 1, (0,)), ExportStage(("b", "c"), 1, (1,))))
    with pytest.raises(ValueError, match="in no stage"):
        PipelinePlan("m", names, (ExportStage(("a",), 1, (0,)), ExportStage(("b",), 1, (1,))))
    with pytest.raises(ValueError, match="shares a device"):
        PipelinePlan("m", names, (ExportStage(("a",), 1, (0,)), ExportStage(("b", "c"), 1, (0,))))


def test_boundaries_of_interleaved_stages_are_none() -> None:
    names = ("a", "b", "c")
    plan = PipelinePlan("m", names, (ExportStage(("a", "c"), 1, (0,)), ExportStage(("b",), 1, (1,))))
    assert plan.boundaries() is None
    with pytest.raises(NotExpressible, match="not contiguous"):
        torch_pipelining.split_spec(plan)


# ------------------------------------------------------------------------------------- torch split_spec


@pytest.mark.parametrize("plan", PLANS, ids=lambda p: f"{p.model}-{'-'.join(map(str, p.replicas))}")
def test_split_spec_names_exist_and_rebuild_the_stages(plan: PipelinePlan) -> None:
    result = torch_pipelining.export(plan)
    spec = result["split_spec"]
    assert len(spec) == plan.num_stages - 1
    assert set(spec) <= set(plan.layer_names)
    assert set(spec.values()) <= {"BEGINNING"}
    # walking the layers in order and starting a new stage at every split point gives the plan's stages
    stage, rebuilt = 0, {}
    for i, name in enumerate(plan.layer_names):
        if i and name in spec:
            stage += 1
        rebuilt[name] = stage
    assert rebuilt == plan.stage_of()
    for name in spec:
        assert f"{name!r}: SplitPoint.BEGINNING".replace("'", '"') in result["artifact"]


def test_split_spec_notes_unequal_replication() -> None:
    result = torch_pipelining.export(manual_plan([2, 3], [3, 1]))
    assert result["split_spec"] == {"layer2": "BEGINNING"}
    assert not result["uniform_replication"]
    assert any("unequally (3-1)" in note for note in result["notes"])


# -------------------------------------------------------------------------------- PipeDream ranks map


def parse_ranks_map(text: str) -> list[tuple[int, int]]:
    """convert_graph_to_model.py's parsing: split on ',', then each 'stage:ranks' on ':'."""
    return [(int(item.split(":")[0]), int(item.split(":")[1])) for item in text.split(",")]


@pytest.mark.parametrize("plan", PLANS, ids=lambda p: f"{p.model}-{'-'.join(map(str, p.replicas))}")
def test_stage_to_num_ranks_adds_up_and_every_layer_has_one_stage(plan: PipelinePlan) -> None:
    result = pipedream_ranks.export(plan)
    pairs = parse_ranks_map(result["stage_to_num_ranks_map"])
    assert [stage for stage, _ in pairs] == list(range(plan.num_stages))
    assert sum(ranks for _, ranks in pairs) == plan.devices_used == result["ranks"]
    assert [ranks for _, ranks in pairs] == list(plan.replicas)
    assert sorted(result["node_stages"]) == sorted(plan.layer_names)
    assert set(result["node_stages"].values()) == set(range(plan.num_stages))
    conf = result["hybrid_conf"]
    ranks = [r for stage in conf["stage_to_rank_map"].values() for r in stage]
    assert len(ranks) == len(set(ranks)) == plan.devices_used
    assert conf["module_to_stage_map"] == [*range(plan.num_stages), plan.num_stages - 1]
    assert result["artifact"] == result["stage_to_num_ranks_map"] + "\n"


def test_noncontiguous_devices_keep_their_ranks_and_say_so() -> None:
    names = ("a", "b")
    plan = PipelinePlan("m", names, (ExportStage(("a",), 2, (0, 2)), ExportStage(("b",), 2, (1, 3))))
    result = pipedream_ranks.export(plan)
    assert result["stage_to_num_ranks_map"] == "0:2,1:2"
    assert result["hybrid_conf"]["stage_to_rank_map"] == {"0": [0, 2], "1": [1, 3]}
    assert not result["contiguous_ranks"]
    assert any("not contiguous rank blocks" in note for note in result["notes"])


# -------------------------------------------------------------------------------------------- DeepSpeed


@settings(max_examples=60, deadline=None)
@given(
    micro=st.integers(1, 64),
    accumulation=st.integers(1, 64),
    dp=st.integers(1, 1024),
    zero=st.integers(0, 3),
    dtype=st.sampled_from(deepspeed.PRECISIONS),
)
def test_deepspeed_batch_arithmetic_and_documented_keys(
    micro: int, accumulation: int, dp: int, zero: int, dtype: str
) -> None:
    config = deepspeed.batch_config(
        micro_batch=micro, accumulation=accumulation, data_parallel=dp, zero_stage=zero, dtype=dtype
    )
    assert config["train_batch_size"] == micro * accumulation * dp
    assert config["train_micro_batch_size_per_gpu"] == micro
    assert config["gradient_accumulation_steps"] == accumulation
    assert set(config) == deepspeed.CONFIG_KEYS
    assert set(config["zero_optimization"]) <= deepspeed.ZERO_KEYS
    assert config["zero_optimization"]["stage"] == zero
    assert not (config["fp16"]["enabled"] and config["bf16"]["enabled"])  # "cannot be combined"
    assert config["fp16"]["enabled"] == (dtype == "fp16") and config["bf16"]["enabled"] == (dtype == "bf16")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"micro_batch": 0},
        {"zero_stage": 4},
        {"dtype": "int8"},
        {"accumulation": 1.5},
        {"data_parallel": True},
    ],
)
def test_deepspeed_config_rejects_bad_values(kwargs: dict) -> None:
    base = {"micro_batch": 2, "accumulation": 1, "data_parallel": 4, "zero_stage": 0, "dtype": "fp32"}
    with pytest.raises(ValueError):
        deepspeed.batch_config(**(base | kwargs))


def test_partition_uniform_matches_deepspeed_examples() -> None:
    assert deepspeed.partition_uniform(10, 4) == [0, 3, 6, 8, 10]
    assert deepspeed.partition_uniform(8, 4) == [0, 2, 4, 6, 8]
    assert deepspeed.partition_uniform(2, 4) == [0, 1, 2, 2, 2]


def reference_balanced(weights: list[float], num_parts: int) -> list[int]:
    """DeepSpeed's partition_balanced loop (deepspeed/runtime/utils.py), transcribed with plain loops."""
    n, m = len(weights), num_parts
    if n <= m:
        return deepspeed.partition_uniform(n, m)
    inf = float("inf")
    dp_max = [[inf] * (m + 1) for _ in range(n + 1)]
    dp_min = [[inf] * (m + 1) for _ in range(n + 1)]
    dp_cost = [[inf] * (m + 1) for _ in range(n + 1)]
    position = [[0] * (m + 1) for _ in range(n + 1)]
    prefix = np.zeros(n + 1)
    prefix[1:] = np.cumsum(weights)
    dp_max[0][0] = dp_cost[0][0] = 0
    for i in range(1, n + 1):
        for j in range(1, min(i, m) + 1):
            for k in range(i):
                high = max(dp_max[k][j - 1], prefix[i] - prefix[k])
                low = min(dp_min[k][j - 1], prefix[i] - prefix[k])
                if dp_cost[i][j] >= high - low:
                    dp_cost[i][j], dp_max[i][j], dp_min[i][j], position[i][j] = high - low, high, low, k
    parts = [n]
    for j in reversed(range(1, m + 1)):
        parts.append(position[parts[-1]][j])
    return parts[::-1]


@settings(max_examples=40, deadline=None)
@given(
    weights=st.lists(st.integers(0, 50), min_size=1, max_size=14),
    parts=st.integers(1, 6),
)
def test_partition_balanced_equals_deepspeeds_loop(weights: list[int], parts: int) -> None:
    assert deepspeed.partition_balanced(weights, parts) == reference_balanced(
        [float(w) for w in weights], parts
    )


def test_pipeline_split_that_is_not_uniform_cannot_be_expressed() -> None:
    plan = manual_plan([1, 5, 2])  # uniform over 8 layers would be 3, 3, 2
    with pytest.raises(NotExpressible) as caught:
        deepspeed.pipeline_export(plan, [1] * 8, micro_batch=4, microbatches=12, dtype="fp32")
    message = str(caught.value)
    assert "cannot be expressed" in message
    assert "'uniform' (3, 3, 2)" in message and "'parameters'" in message and "1, 5, 2" in message


def test_pipeline_split_that_is_uniform_or_balanced_is_exported() -> None:
    uniform = manual_plan([3, 3, 2], [2, 2, 2])
    result = deepspeed.pipeline_export(uniform, [0] * 8, micro_batch=4, microbatches=12, dtype="bf16")
    assert result["pipeline_module"] == {"num_stages": 3, "partition_method": "uniform"}
    config = result["config"]
    assert config["train_batch_size"] == 4 * 12 * 2 == result["data_parallel_size"] * 48
    weights = [10, 0, 0, 0, 0, 10]  # every split 1..5 balances 10 | 10: DeepSpeed keeps the last (k = 5)
    assert deepspeed.partition_balanced(weights, 2) == [0, 5, 6] != deepspeed.partition_uniform(6, 2)
    result = deepspeed.pipeline_export(
        manual_plan([5, 1]), weights, micro_batch=1, microbatches=8, dtype="fp32"
    )
    assert result["pipeline_module"]["partition_method"] == "parameters"
    assert result["partitions"]["optimal"] == [0, 5, 6]


def test_pipeline_with_unequal_replicas_cannot_be_expressed() -> None:
    with pytest.raises(NotExpressible, match=r"unequal replicas \(3-1\)"):
        deepspeed.pipeline_export(
            manual_plan([4, 4], [3, 1]), [1] * 8, micro_batch=1, microbatches=8, dtype="fp32"
        )


def dp_plan(per_device: int, devices: int, total: int, fits: bool = True) -> DataParallelPlan:
    return DataParallelPlan(
        devices=devices,
        batch_per_device=per_device,
        global_batch=total,
        dtype="fp16",
        optimizer="sgd",
        overlap=True,
        fits=fits,
        memory_per_device_bytes=20 * 2**30,
        device_memory_bytes=16 * 2**30,
    )


def test_dp_export_adds_up_and_refuses_an_uneven_batch() -> None:
    result = deepspeed.dp_export(dp_plan(32, 16, 512, fits=False), zero_stage=0)
    config = result["config"]
    assert config["train_batch_size"] == 512 == 32 * 1 * 16
    assert config["fp16"]["enabled"] and config["zero_optimization"]["stage"] == 0
    assert any("ZeRO stage >= 1" in note for note in result["notes"])
    with pytest.raises(NotExpressible, match="uneven"):
        deepspeed.dp_export(dp_plan(7, 16, 100), zero_stage=1)


# ---------------------------------------------------------------------------------------------- LLMs


def parse_megatron(text: str) -> dict[str, str | bool]:
    """A small parser of the emitted command line: '--flag value' or a '--switch'."""
    tokens = shlex.split(text.replace("\\\n", " "))
    parsed: dict[str, str | bool] = {}
    i = 0
    while i < len(tokens):
        assert tokens[i].startswith("--"), tokens[i]
        if i + 1 < len(tokens) and not tokens[i + 1].startswith("--"):
            parsed[tokens[i]] = tokens[i + 1]
            i += 2
        else:
            parsed[tokens[i]] = True
            i += 1
    return parsed


def llm_setup(global_batch: int = 64) -> TrainingSetup:
    model = find("models", "llama-2-7b")
    cluster = find("hardware", "dgx-a100", ("cluster",)).with_top_count(2)
    return TrainingSetup(model=model, cluster=cluster, global_batch=global_batch, seq_len=1024)


def inputs_of(setup: TrainingSetup) -> dict:
    return {
        "global_batch": setup.global_batch,
        "seq_len": setup.seq_len,
        "dtype": setup.dtype,
        "optimizer": setup.optimizer,
        "sequence_parallel": setup.sequence_parallel,
        "overlap_grad_reduce": setup.overlap_grad_reduce,
        "devices": setup.device_count,
    }


def llm_plans() -> list[dict]:
    setup = llm_setup()
    found = search(setup, top=6, max_microbatch=16, max_interleave=8, zero=(0, 1))
    chosen = [plan.to_dict() for plan in found.plans]
    for config in (
        {"tensor": 2, "pipeline": 4, "data": 2, "microbatch": 2, "interleave": 2, "recompute": "full"},
        {"tensor": 4, "pipeline": 2, "data": 2, "microbatch": 1, "interleave": 1, "recompute": "none"},
        {"tensor": 1, "pipeline": 2, "data": 8, "microbatch": 4, "interleave": 2, "recompute": "selective"},
    ):
        plan = evaluate_configuration(setup, **config, zero=1)
        assert plan.feasible, plan.reasons
        chosen.append(plan.to_dict())
    return chosen


LLM_PLANS = llm_plans()
ids = [
    f"t{p['tensor_parallel']}p{p['pipeline_parallel']}d{p['data_parallel']}b{p['microbatch']}v{p['interleave']}"
    f"{p['recompute']}z{p['zero_stage']}"
    for p in LLM_PLANS
]


@pytest.mark.parametrize("plan", LLM_PLANS, ids=ids)
def test_megatron_arguments_add_up(plan: dict) -> None:
    setup = llm_setup()
    model = setup.model
    args = parse_megatron(megatron.export(plan, inputs_of(setup), model)["artifact"])
    t = int(args["--tensor-model-parallel-size"])
    p = int(args["--pipeline-model-parallel-size"])
    d = setup.device_count // (t * p)
    micro, global_batch = int(args["--micro-batch-size"]), int(args["--global-batch-size"])
    layers = int(args["--num-layers"])
    assert t * p * d == setup.device_count == plan["devices"]
    assert global_batch == setup.global_batch and global_batch % (micro * d) == 0
    assert layers == model.num_layers and layers % p == 0
    if "--num-layers-per-virtual-pipeline-stage" in args:
        per_chunk = int(args["--num-layers-per-virtual-pipeline-stage"])
        assert p > 1 and (layers // p) % per_chunk == 0
        assert (layers // p) // per_chunk == plan["interleave"] > 1
    else:
        assert plan["interleave"] == 1
    assert int(args["--num-attention-heads"]) % t == 0
    assert ("--sequence-parallel" in args) == (t > 1)
    granularity = args.get("--recompute-granularity")
    assert granularity == {"none": None, "selective": "selective", "full": "full"}[plan["recompute"]]
    assert ("--recompute-method" in args) == (granularity == "full")  # unset with selective (asserted)
    assert ("--use-distributed-optimizer" in args) == (plan["zero_stage"] >= 1)
    assert args["--bf16"] is True and "--fp16" not in args


@pytest.mark.parametrize("plan", LLM_PLANS, ids=ids)
def test_deepspeed_llm_config_adds_up(plan: dict) -> None:
    setup = llm_setup()
    if plan["pipeline_parallel"] > 1 and plan["interleave"] > 1:
        with pytest.raises(NotExpressible, match="one chunk"):
            deepspeed.llm_export(plan, inputs_of(setup), setup.model.num_layers)
        return
    result = deepspeed.llm_export(plan, inputs_of(setup), setup.model.num_layers)
    config = result["config"]
    assert config["train_batch_size"] == setup.global_batch
    assert config["train_batch_size"] == (
        config["train_micro_batch_size_per_gpu"]
        * config["gradient_accumulation_steps"]
        * plan["data_parallel"]
    )
    assert config["zero_optimization"]["stage"] == plan["zero_stage"]


def test_zero3_with_pipeline_stages_is_refused_by_both_engines() -> None:
    setup = llm_setup()
    plan = evaluate_configuration(setup, tensor=2, pipeline=2, data=4, microbatch=1, zero=3).to_dict()
    with pytest.raises(NotExpressible, match="not compatible with ZeRO-2 and ZeRO-3"):
        deepspeed.llm_export(plan, inputs_of(setup), setup.model.num_layers)
    with pytest.raises(NotExpressible, match="Megatron-FSDP"):
        megatron.export(plan, inputs_of(setup), setup.model)
    flat = evaluate_configuration(setup, tensor=2, pipeline=1, data=8, microbatch=1, zero=3).to_dict()
    args = parse_megatron(megatron.export(flat, inputs_of(setup), setup.model)["artifact"])
    assert args["--data-parallel-sharding-strategy"] == "optim_grads_params"
    assert args["--ckpt-format"] == "fsdp_dtensor" and args["--use-megatron-fsdp"] is True


def test_megatron_check_rejects_what_megatron_would() -> None:
    setup = llm_setup()
    plan = evaluate_configuration(setup, tensor=1, pipeline=2, data=8, microbatch=1).to_dict()
    broken = plan | {"pipeline_parallel": 5, "data_parallel": 3, "devices": 15}  # 32 layers, 64 sequences
    assert megatron.check(broken, inputs_of(setup), setup.model)
    with pytest.raises(NotExpressible, match="not divisible by p = 5"):
        megatron.export(broken, inputs_of(setup), setup.model)
