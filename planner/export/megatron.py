"""An LLM plan (planner.optimize.parallelism) as Megatron-LM command-line arguments.

Source: NVIDIA/Megatron-LM, megatron/training/arguments.py (argument names, types, choices, and the
checks of `validate_args`):
* `--tensor-model-parallel-size`, `--pipeline-model-parallel-size` (int); the data-parallel size is not an
  argument: world size / (t·p·context-parallel size), the world size divisible by t·p (asserted).
* `--num-layers-per-virtual-pipeline-stage` (int): num_layers / p must be divisible by it (asserted), and
  the interleaved schedule needs p > 1; v = (num_layers / p) / it. Without it num_layers must be divisible
  by p ("Number of layers should be divisible by the pipeline-model-parallel size").
* `--micro-batch-size`, `--global-batch-size` (int): the number of micro-batches is global / (micro × d),
  which must be whole.
* `--recompute-granularity` {full, selective}; `--recompute-method` {uniform, block}, which must be unset
  with selective (asserted); `--recompute-num-layers` (int). The planner's "full" checkpoints the input of
  every layer (Korthikanti et al. 2022): granularity full, method uniform, 1 layer per chunk.
* `--sequence-parallel` (Megatron turns it off, with a warning, when t = 1, so it is emitted only for t > 1).
* `--use-distributed-optimizer`: optimizer state sharded over the data-parallel group (ZeRO-1-like).
  ZeRO-2/3 map to Megatron-FSDP: `--use-megatron-fsdp` with `--data-parallel-sharding-strategy`
  optim_grads / optim_grads_params and `--ckpt-format fsdp_dtensor` (asserted); Megatron documents it with
  tensor, context and expert parallelism, not with pipeline parallelism, so ZeRO-2/3 with p > 1 is
  NotExpressible here.
* `--fp16` / `--bf16` (mutually exclusive; neither is fp32), `--overlap-grad-reduce`, `--optimizer`
  {adam, sgd}.
* fp8 GEMMs (_add_transformer_engine_args; the plan's gemm_precision fp8, planner.cost.fp8_training): `--fp8-
  format hybrid` (E4M3 forward, E5M2 gradients, as Transformer Engine's DelayedScaling recipe and NeMo's
  fp8_hybrid run it), `--fp8-amax-history-len 1024` and `--fp8-amax-compute-algo max` (Megatron's defaults
  are 1 and most_recent; 1024 and max are NeMo's megatron_gpt_config.yaml fp8 settings, those of the
  published fp8 runs the planner's fp8 cases come from), beside `--bf16` for the rest.
* Model shape: `--num-layers`, `--hidden-size`, `--ffn-hidden-size`, `--num-attention-heads`,
  `--kv-channels`, `--group-query-attention` with `--num-query-groups`, `--seq-length`,
  `--max-position-embeddings`, `--position-embedding-type` {learned_absolute, rope}, `--normalization`
  {LayerNorm, RMSNorm}, `--swiglu`, `--untie-embeddings-and-output-weights`, `--disable-bias-linear`.
  The vocabulary comes from the tokenizer arguments, which are the user's.
* Mixture of experts (megatron/training/arguments.py, _add_moe_args): `--num-experts`, `--moe-router-topk`,
  `--moe-ffn-hidden-size` (one expert's inner size), `--moe-shared-expert-intermediate-size` (all shared
  experts' together), `--expert-model-parallel-size` (int; num_experts divisible by it, and in
  Megatron-core's layout it divides the data-parallel size), `--moe-token-dispatcher-type alltoall` (the
  all-to-all the planner models; `--moe-expert-capacity-factor` needs it), `--moe-expert-capacity-factor`.

Every emitted set is checked against those rules (t·p·d = devices, global batch divisible by micro × d,
layers divisible by p and by p·v when interleaved, heads and query groups divisible by t) before it is
returned; a violation is NotExpressible rather than a command line Megatron would reject.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.export import NotExpressible
from planner.spec.llm import LLMConfig

ENGINE = "Megatron-LM"
Argument = tuple[str, str | None]  # (flag, value); None for a switch
PRECISION_FLAG = {"bf16": "--bf16", "fp16": "--fp16", "fp32": None}
FP8_ARGUMENTS: list[Argument] = [  # module docstring
    ("--fp8-format", "hybrid"),
    ("--fp8-amax-history-len", "1024"),
    ("--fp8-amax-compute-algo", "max"),
]
SHARDING = {2: "optim_grads", 3: "optim_grads_params"}  # --data-parallel-sharding-strategy
POSITION = {"learned": "learned_absolute", "rotary": "rope"}
NORMALIZATION = {"layernorm": "LayerNorm", "rmsnorm": "RMSNorm"}


def check(plan: Mapping[str, Any], inputs: Mapping[str, Any], model: LLMConfig) -> list[str]:
    """The Megatron-LM rules this plan breaks (empty when it can run as planned)."""
    t, p, d = int(plan["tensor_parallel"]), int(plan["pipeline_parallel"]), int(plan["data_parallel"])
    b, v = int(plan["microbatch"]), int(plan["interleave"])
    layers, global_batch = model.num_layers, int(inputs["global_batch"])
    broken = []
    if t * p * d != int(plan["devices"]):
        broken.append(f"t·p·d = {t * p * d} is not the plan's {plan['devices']} devices")
    if global_batch % (b * d):
        broken.append(f"global batch {global_batch} is not divisible by micro-batch × d = {b * d}")
    if layers % p:
        broken.append(f"{layers} layers are not divisible by p = {p}")
    elif v > 1 and ((layers // p) % v or p < 2):
        broken.append(f"interleaving v = {v} needs p > 1 and layers / p = {layers // p} divisible by v")
    e = int(plan.get("expert_parallel", 1))
    if model.num_experts % e or d % e:
        broken.append(f"e = {e} does not divide both the experts ({model.num_experts}) and d = {d}")
    if model.num_heads % t or model.kv_heads % t:
        broken.append(
            f"t = {t} does not divide both the heads ({model.num_heads}) and the query groups "
            f"({model.kv_heads})"
        )
    return broken


def arguments(plan: Mapping[str, Any], inputs: Mapping[str, Any], model: LLMConfig) -> list[Argument]:
    """The arguments, parallelism first, then batch, recomputation, sharding, precision, model shape."""
    t, p = int(plan["tensor_parallel"]), int(plan["pipeline_parallel"])
    v, zero = int(plan["interleave"]), int(plan["zero_stage"])
    args: list[Argument] = [
        ("--tensor-model-parallel-size", str(t)),
        ("--pipeline-model-parallel-size", str(p)),
    ]
    if v > 1:
        args.append(("--num-layers-per-virtual-pipeline-stage", str(model.num_layers // (p * v))))
    if model.is_moe:
        args.append(("--expert-model-parallel-size", str(int(plan["expert_parallel"]))))
    if t > 1 and inputs.get("sequence_parallel", False):
        args.append(("--sequence-parallel", None))
    args += [
        ("--micro-batch-size", str(int(plan["microbatch"]))),
        ("--global-batch-size", str(int(inputs["global_batch"]))),
    ]
    if plan["recompute"] == "full":
        args += [
            ("--recompute-granularity", "full"),
            ("--recompute-method", "uniform"),
            ("--recompute-num-layers", "1"),
        ]
    elif plan["recompute"] == "selective":
        args.append(("--recompute-granularity", "selective"))
    if zero >= 1:
        args.append(("--use-distributed-optimizer", None))
    if zero >= 2:
        args += [
            ("--use-megatron-fsdp", None),
            ("--data-parallel-sharding-strategy", SHARDING[zero]),
            ("--ckpt-format", "fsdp_dtensor"),
        ]
    if inputs.get("overlap_grad_reduce", False):
        args.append(("--overlap-grad-reduce", None))
    flag = PRECISION_FLAG[str(inputs["dtype"])]
    if flag is not None:
        args.append((flag, None))
    if inputs.get("gemm_precision") == "fp8":
        args += FP8_ARGUMENTS
    args.append(("--optimizer", str(inputs["optimizer"])))
    return args + _model_arguments(model, int(inputs["seq_len"]))


def _model_arguments(model: LLMConfig, seq_len: int) -> list[Argument]:
    args: list[Argument] = [
        ("--num-layers", str(model.num_layers)),
        ("--hidden-size", str(model.hidden_size)),
        ("--ffn-hidden-size", str(model.ffn_size)),
        ("--num-attention-heads", str(model.num_heads)),
    ]
    if model.head_size * model.num_heads != model.hidden_size:
        args.append(("--kv-channels", str(model.head_size)))
    if model.kv_heads != model.num_heads:
        args += [("--group-query-attention", None), ("--num-query-groups", str(model.kv_heads))]
    args += [
        ("--seq-length", str(seq_len)),
        ("--max-position-embeddings", str(model.max_sequence_length)),
    ]
    if model.position_embedding in POSITION:
        args.append(("--position-embedding-type", POSITION[model.position_embedding]))
    args.append(("--normalization", NORMALIZATION[model.norm]))
    if model.gated_ffn:
        args.append(("--swiglu", None))
    if not model.tied_embeddings:
        args.append(("--untie-embeddings-and-output-weights", None))
    if not model.bias:
        args.append(("--disable-bias-linear", None))
    return args + _expert_arguments(model)


def _expert_arguments(model: LLMConfig) -> list[Argument]:
    """A mixture of experts' shape and routing (module docstring); none for a dense model."""
    if not model.is_moe:
        return []
    args: list[Argument] = [
        ("--num-experts", str(model.num_experts)),
        ("--moe-router-topk", str(model.routed_experts_per_token)),
        ("--moe-ffn-hidden-size", str(model.expert_size)),
        ("--moe-token-dispatcher-type", "alltoall"),
    ]
    if model.shared_experts:
        args.append(("--moe-shared-expert-intermediate-size", str(model.shared_experts * model.expert_size)))
    if model.capacity_factor is not None:
        args.append(("--moe-expert-capacity-factor", f"{model.capacity_factor:g}"))
    return args


def command_line(args: list[Argument]) -> str:
    """One argument per line, continued with a backslash (shell syntax)."""
    lines = [flag if value is None else f"{flag} {value}" for flag, value in args]
    return " \\\n".join(lines) + "\n"


def export(plan: Mapping[str, Any], inputs: Mapping[str, Any], model: LLMConfig) -> dict[str, Any]:
    """The arguments (list and command-line text), the world size they need, and notes; NotExpressible
    when Megatron-LM cannot run the plan as planned."""
    p, zero = int(plan["pipeline_parallel"]), int(plan["zero_stage"])
    if zero >= 2 and p > 1:
        raise NotExpressible(
            f"this plan uses ZeRO-{zero} with {p} pipeline stages; Megatron-LM shards gradients and "
            "parameters only through Megatron-FSDP, which it documents with tensor, context and expert "
            "parallelism, not pipeline parallelism (its distributed optimizer alone is ZeRO-1)"
        )
    broken = check(plan, inputs, model)
    if broken:
        raise NotExpressible(f"Megatron-LM would reject this plan: {'; '.join(broken)}")
    args = arguments(plan, inputs, model)
    t, d = int(plan["tensor_parallel"]), int(plan["data_parallel"])
    notes = [
        f"launch {t * p * d} processes (world size = t·p·d); Megatron derives d = {d} from it",
        "tokenizer, data and learning-rate arguments are yours to add",
    ]
    if model.position_embedding not in POSITION:
        notes.append(
            f"position embedding '{model.position_embedding}' has no Megatron-LM GPT option here; "
            "the parallel arguments do not depend on it"
        )
    if zero >= 2:
        notes.append(
            "Megatron-FSDP wants CUDA_DEVICE_MAX_CONNECTIONS unset (older releases: --use-custom-fsdp)"
        )
    elif t > 1:
        notes.append("tensor parallelism wants CUDA_DEVICE_MAX_CONNECTIONS=1 (asserted before Blackwell)")
    return {
        "engine": ENGINE,
        "argv": [token for flag, value in args for token in ((flag,) if value is None else (flag, value))],
        "world_size": t * p * d,
        "data_parallel_size": d,
        "num_microbatches": int(plan["microbatches"]),
        "artifact": command_line(args),
        "artifact_kind": "text",
        "notes": notes,
    }
