"""The Megatron-LM export checked by megatron-core's own TransformerConfig (the extra planner[torch]).

What the wheel can check: TransformerConfig.__post_init__ validates the parallel layout and model shape it
is given: attention heads divisible by the tensor-parallel size, a pipeline dtype with pipeline parallelism,
sequence parallelism only with tensor parallelism, the recomputation settings. What it cannot: Megatron-LM's
argument parser and `validate_args` (megatron/training/arguments.py: world size = t·p·d, the global batch
divisible by micro-batch × d, layers divisible by p and by the virtual stages, query groups divisible by t)
are not in the wheel; planner.export.megatron.check enforces those, and test_export.py tests them.
"""

from __future__ import annotations

import pytest

from planner.export import megatron
from planner.optimize.llm_evaluate import evaluate_configuration
from planner.optimize.llm_setup import TrainingSetup
from planner.spec.catalog import find
from tests.test_export import LLM_PLANS, ids, inputs_of, llm_setup, parse_megatron

core = pytest.importorskip("megatron.core.transformer", reason="megatron-core (the extra planner[torch])")
torch = pytest.importorskip("torch")


def transformer_config(args: dict[str, str | bool]):
    """The TransformerConfig a Megatron-LM run builds from these arguments (its
    core_transformer_config_from_args, reduced to the fields the export sets)."""
    p = int(args["--pipeline-model-parallel-size"])
    layers = int(args["--num-layers"])
    per_chunk = args.get("--num-layers-per-virtual-pipeline-stage")
    bf16 = "--bf16" in args
    recompute = args.get("--recompute-granularity")
    return core.TransformerConfig(
        num_layers=layers,
        hidden_size=int(args["--hidden-size"]),
        ffn_hidden_size=int(args["--ffn-hidden-size"]),
        num_attention_heads=int(args["--num-attention-heads"]),
        num_query_groups=int(args["--num-query-groups"]) if "--num-query-groups" in args else None,
        kv_channels=int(args["--kv-channels"]) if "--kv-channels" in args else None,
        tensor_model_parallel_size=int(args["--tensor-model-parallel-size"]),
        pipeline_model_parallel_size=p,
        virtual_pipeline_model_parallel_size=None if per_chunk is None else layers // p // int(per_chunk),
        sequence_parallel="--sequence-parallel" in args,
        recompute_granularity=recompute,
        recompute_method=args.get("--recompute-method"),
        recompute_num_layers=int(args["--recompute-num-layers"])
        if "--recompute-num-layers" in args
        else None,
        bf16=bf16,
        fp16="--fp16" in args,
        params_dtype=torch.bfloat16 if bf16 else torch.float16,
        pipeline_dtype=(torch.bfloat16 if bf16 else torch.float16) if p > 1 else None,
        gated_linear_unit="--swiglu" in args,
        add_bias_linear="--disable-bias-linear" not in args,
        normalization=str(args.get("--normalization", "LayerNorm")),
    )


@pytest.mark.parametrize("plan", LLM_PLANS, ids=ids)
def test_megatron_core_accepts_the_exported_plan(plan: dict) -> None:
    setup = llm_setup()
    args = parse_megatron(megatron.export(plan, inputs_of(setup), setup.model)["artifact"])
    config = transformer_config(args)
    assert config.tensor_model_parallel_size == plan["tensor_parallel"]
    assert config.pipeline_model_parallel_size == plan["pipeline_parallel"]
    assert (config.virtual_pipeline_model_parallel_size or 1) == plan["interleave"]
    assert (
        config.recompute_granularity
        == {"none": None, "selective": "selective", "full": "full"}[plan["recompute"]]
    )


def test_grouped_query_attention_and_fp16() -> None:
    model = find("models", "llama-3-8b")
    cluster = find("hardware", "dgx-a100", ("cluster",)).with_top_count(1)
    setup = TrainingSetup(model=model, cluster=cluster, global_batch=32, seq_len=2048, dtype="fp16")
    plan = evaluate_configuration(setup, tensor=4, pipeline=2, data=1, microbatch=1, interleave=2).to_dict()
    assert plan["feasible"], plan["reasons"]
    args = parse_megatron(megatron.export(plan, inputs_of(setup), model)["artifact"])
    config = transformer_config(args)
    assert config.num_query_groups == model.kv_heads and config.fp16 and config.gated_linear_unit
    assert config.normalization == "RMSNorm" and not config.add_bias_linear


def test_megatron_core_and_our_check_refuse_the_same_head_split() -> None:
    setup = llm_setup()
    plan = evaluate_configuration(setup, tensor=2, pipeline=1, data=8, microbatch=1).to_dict()
    args = parse_megatron(megatron.export(plan, inputs_of(setup), setup.model)["artifact"])
    wrong = args | {"--tensor-model-parallel-size": "3"}  # 32 heads over 3 devices
    with pytest.raises(ValueError, match="multiple of tensor_model_parallel_size"):
        transformer_config(wrong)
    broken = plan | {"tensor_parallel": 3, "data_parallel": 5, "devices": 15}
    assert any(
        "does not divide" in reason for reason in megatron.check(broken, inputs_of(setup), setup.model)
    )
