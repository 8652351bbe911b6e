"""One LLM training configuration evaluated with plain Python control flow: the structural rules it breaks,
its time per iteration, throughput and memory per device.

The cost model of one configuration (seconds; planner.cost.megatron for the formulas and sources):
  step      one device's forward + backward of one micro-batch on the last stage (it also holds the logit
            layer): matrix-multiply FLOPs / sustained compute + memory-bound kernels' bytes / sustained
            memory bandwidth (planner.cost.compute) + the tensor-parallel all-reduces of its l/p layers +
            2·v point-to-point transfers (not overlapped)
  pipeline  (m + (p-1)/v)·step (SC'21 Eq. 1; the (p-1)/v part is the bubble)
  data      gradient all-reduce of the stage's parameters among d replicas (ZeRO-1: reduce-scatter +
            all-gather, the same bytes; ZeRO-2: a reduce-scatter per micro-batch, (m+1)/2 all-reduces;
            ZeRO-3: parameters gathered in forward and backward and gradients reduce-scattered per
            micro-batch, 1.5·m all-reduces: Rajbhandari et al. 2020, Sec. 7.2), overlapped (when
            `overlap_grad_reduce`) with the backward of the last micro-batch (ZeRO-2: every backward;
            ZeRO-3: every forward and backward): only the excess is exposed
  optimizer the memory-bound update of the device's (ZeRO-sharded) parameters (planner.cost.memory)
Memory per device: the larger of the first stage (embedding, most micro-batches in flight) and the last
(head, logits), each model states by ZeRO stage (planner.cost.llm_memory) plus activations
(planner.cost.megatron), against Device.memory.
"""

from __future__ import annotations

import math

from planner.cost import megatron as mg
from planner.cost.llm_comm import dp_allreduce_time, p2p_time, tp_allreduce_time
from planner.cost.llm_memory import stage_parameters
from planner.cost.pipeline import Schedule, bubble_overhead, in_flight_microbatches
from planner.optimize.llm_setup import Configuration, PlanEvaluation, TrainingSetup
from planner.optimize.llm_step_costs import (
    activation_scale,
    compute_times,
    data_parallel_traffic,
    optimizer_time,
    overlap_window,
    state_total,
)
from planner.spec.profile import DTYPE_BYTES


def _reasons(setup: TrainingSetup, c: Configuration) -> list[tuple[str, str]]:
    """(code, message) for each structural rule the configuration breaks (see DETAILS)."""
    cfg = setup.model
    found = []
    if cfg.num_heads % c.tensor:
        found.append(("tensor-heads", f"t={c.tensor} does not divide the {cfg.num_heads} attention heads"))
    if cfg.kv_heads % c.tensor:
        found.append(("tensor-kv-heads", f"t={c.tensor} does not divide the {cfg.kv_heads} key/value heads"))
    if cfg.ffn_size % c.tensor:
        found.append(("tensor-ffn", f"t={c.tensor} does not divide the FFN size {cfg.ffn_size}"))
    if cfg.num_layers % c.pipeline:
        found.append(("pipeline-layers", f"p={c.pipeline} does not divide the {cfg.num_layers} layers"))
    if c.interleave > 1 and c.pipeline == 1:
        found.append(("interleave-pipeline", f"v={c.interleave} needs pipeline parallelism (p > 1)"))
    elif c.interleave > 1 and (cfg.num_layers % c.pipeline or (cfg.num_layers // c.pipeline) % c.interleave):
        found.append(
            (
                "interleave-layers",
                f"v={c.interleave} does not divide the layers per stage ({cfg.num_layers}/p)",
            )
        )
    if setup.global_batch % (c.microbatch * c.data):
        found.append(
            (
                "batch-multiple",
                f"global batch {setup.global_batch} is not a multiple of b·d = {c.microbatch * c.data}",
            )
        )
    elif c.interleave > 1 and (setup.global_batch // (c.microbatch * c.data)) % c.pipeline:
        m = setup.global_batch // (c.microbatch * c.data)
        found.append(
            (
                "interleave-microbatches",
                f"the interleaved schedule needs m={m} to be a multiple of p={c.pipeline}",
            )
        )
    return found


def evaluate_configuration(
    setup: TrainingSetup,
    *,
    tensor: int,
    pipeline: int,
    data: int,
    microbatch: int,
    interleave: int = 1,
    recompute: str = "full",
    zero: int = 0,
) -> PlanEvaluation:
    """Time per iteration, throughput and memory per device of one configuration (SI units).

    Raises ValueError for values that are not a configuration at all (degrees < 1, t·p·d more than the
    setup's devices, unknown recompute or ZeRO stage). A configuration that breaks a divisibility or
    batch rule, or does not fit, is evaluated anyway (fractional m where needed) and returned with
    feasible = False and the reasons.
    """
    c = Configuration(tensor, pipeline, data, microbatch, interleave, recompute, zero)
    if c.devices > setup.device_count:
        raise ValueError(
            f"t·p·d = {tensor}·{pipeline}·{data} = {c.devices} devices, more than the "
            f"{setup.device_count} given"
        )
    cfg, cluster = setup.model, setup.cluster
    found = _reasons(setup, c)
    m = setup.global_batch / (c.microbatch * c.data)
    batch_ok = not any(code == "batch-multiple" for code, _ in found)
    m_int = round(m) if batch_ok else 0

    forward, total = (float(x) for x in compute_times(setup, c.tensor, c.pipeline, c.microbatch, recompute))
    layers = cfg.num_layers / c.pipeline
    boundary = c.microbatch * setup.seq_len * cfg.hidden_size * setup.activation_bytes
    tp = layers * mg.tp_collectives_per_layer(recompute) * tp_allreduce_time(cluster, c.tensor, boundary)
    p2p = (
        2.0 * c.interleave * float(p2p_time(cluster, c.tensor, c.data, c.pipeline, boundary))
        if c.pipeline > 1
        else 0.0
    )
    step = total + tp + p2p
    piped = float(mg.pipeline_time(m, c.pipeline, c.interleave, step))

    first, last = (float(x) for x in stage_parameters(cfg, c.pipeline, c.tensor))
    psi = max(first, last)
    gradient_bytes = psi * DTYPE_BYTES[setup.dtype]
    traffic = float(data_parallel_traffic(zero, m)) * dp_allreduce_time(
        cluster, c.tensor, c.data, gradient_bytes
    )
    window = float(overlap_window(zero, m, forward, total)) if setup.overlap_grad_reduce else 0.0
    exposed = max(0.0, traffic - window)
    update = float(optimizer_time(setup, psi, c.data, zero))
    time = piped + exposed + update

    # memory: first and last stage (the same device when p = 1)
    scale = activation_scale(setup)
    per_layer = float(
        mg.layer_activation_bytes(
            cfg, setup.seq_len, c.microbatch, c.tensor, recompute, setup.sequence_parallel
        )
    )
    output = float(mg.output_activation_bytes(cfg, setup.seq_len, c.microbatch, c.tensor))
    if batch_ok:
        schedule: Schedule = "interleaved" if c.interleave > 1 else "1f1b"
        chunk_layers = layers / c.interleave
        first_units = in_flight_microbatches(schedule, 0, c.pipeline, m_int, c.interleave) * chunk_layers
        last_units = (
            in_flight_microbatches(schedule, c.pipeline - 1, c.pipeline, m_int, c.interleave) * chunk_layers
        )
    else:
        first_units = last_units = math.nan
    stages = {}
    for name, psi_stage, units, head in (
        ("first", first, first_units, 0.0),
        ("last", last, last_units, output),
    ):
        w, g, o, _ = (float(x) for x in state_total(setup, psi_stage, c.data, zero))
        if c.pipeline == 1:
            head = output
        activations = scale * (per_layer * units + head)
        stages[name] = {"weights": w, "gradients": g, "optimizer_state": o, "activations": activations}
    worst = max(stages, key=lambda k: sum(stages[k].values()))  # NaN-safe enough: both NaN when batch fails
    memory = sum(stages[worst].values())
    if not memory <= setup.device.memory and batch_ok:
        found.append(
            (
                "memory",
                f"needs {memory / 2**30:.1f} GiB per device ({worst} stage), the device has "
                f"{setup.device.memory / 2**30:.0f} GiB",
            )
        )

    tokens = setup.global_batch * setup.seq_len
    executed = float(mg.training_flops(cfg, tokens, setup.seq_len, recompute))
    useful = float(mg.model_flops(cfg, tokens, setup.seq_len))
    n = c.devices
    bubble = float(bubble_overhead(c.pipeline, m_int, c.interleave)) if batch_ok else math.nan
    return PlanEvaluation(
        config=c,
        devices=n,
        microbatches=m,
        time_per_iteration_s=time,
        time_breakdown={
            "compute_s": m * total,
            "tensor_parallel_comm_s": m * tp,
            "pipeline_p2p_s": m * p2p,
            "bubble_s": piped - m * step,
            "data_parallel_comm_s": traffic,
            "data_parallel_exposed_s": exposed,
            "optimizer_s": update,
        },
        flops_per_iteration=executed,
        model_flops_per_iteration=useful,
        tflops_per_device=executed / time / n / 1e12,
        model_tflops_per_device=useful / time / n / 1e12,
        mfu=useful / time / n / setup.device.peak(setup.dtype),
        tokens_per_s=tokens / time,
        bubble_overhead=bubble,
        memory_per_device_bytes=memory,
        memory_breakdown={**stages[worst], "stage": worst},
        device_memory_bytes=setup.device.memory,
        feasible=not found,
        reasons=tuple(message for _, message in found),
        reason_codes=tuple(code for code, _ in found),
    )
