"""Serving an LLM: prefill and time to first token, decode time per output token, the KV cache and the
largest running batch, tensor/pipeline-parallel communication, the throughput/latency curve of
continuous batching; expert parallelism for a mixture of experts. The model: planner.optimize.serving_costs;
the search under latency targets: planner.api.serve_best."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from planner.api.inputs import cluster_device, load_cluster, load_llm
from planner.api.serve_inputs import MAX_BATCH_DEFAULT, ServeOptions, load_workload
from planner.errors import InfeasibleError, SettingError
from planner.validate.bands import SERVING, band_fields

if TYPE_CHECKING:
    from planner.optimize.serving_costs import ServingPoint, ServingSetup
    from planner.optimize.serving_queue import LoadPoint
    from planner.spec.hardware import Cluster
    from planner.spec.llm import LLMConfig

NOTES = (
    "decode is a roofline (weights + KV cache at sustained bandwidth): a lower bound without kernel-launch "
    "gaps; prefill GEMMs are timed from their shapes",
    "continuous batching in steady state: batch / mean output prompts are prefilled per iteration; TPOT is "
    "the iteration time, TTFT half an iteration of waiting plus the request's prefill (no queueing)",
)


def point_dict(point: ServingPoint, devices: int) -> dict[str, Any]:
    return {
        "batch": point.batch,
        "ttft_s": point.ttft_s,
        "tpot_s": point.tpot_s,
        "decode_step_s": point.decode_step_s,
        "prefill_share_s": point.prefill_share_s,
        "tokens_per_s_per_replica": point.tokens_per_s,
        "tokens_per_s_per_gpu": point.tokens_per_s / devices,
        "compute_bound": point.compute_bound,
    }


def usd_per_million_tokens(cluster: Cluster, devices: int, tokens_per_s: float) -> float | None:
    """List price of `devices` devices (the server's price / its devices) per million output tokens."""
    if cluster.price is None or tokens_per_s <= 0:
        return None
    per_device_hour = cluster.price.usd_per_hour / cluster.devices_per_server
    return per_device_hour * devices / 3600.0 / tokens_per_s * 1e6


def communication(setup: ServingSetup, batch: int) -> dict[str, Any]:
    """Per layer: the tensor-parallel all-reduces and the expert-parallel all-to-alls of a decode step and
    of one prompt's prefill, and one pipeline transfer between stages (bytes per device and seconds)."""
    from planner.optimize import serving_costs as sc
    from planner.spec.profile import DTYPE_BYTES

    row = setup.model.hidden_size * DTYPE_BYTES[setup.dtype]
    micro = sc.group_sequences(setup, batch)
    prompt = setup.workload.prompt_mean
    several = setup.groups > 1
    reduces = (1 if several else sc.ALLREDUCES_PER_LAYER) if setup.tensor > 1 else 0
    return {
        "allreduces_per_layer": reduces,
        "decode_allreduce_bytes": micro * row,
        "decode_allreduce_s": sc.allreduce_time(setup, micro),
        "prefill_allreduce_bytes": prompt * row,
        "prefill_allreduce_s": sc.allreduce_time(setup, prompt),
        "alltoalls_per_layer": sc.ALLTOALLS_PER_LAYER if several else 0,
        "decode_alltoall_bytes": sc.alltoall_bytes(setup, micro),
        "decode_alltoall_s": sc.alltoall_time(setup, micro),
        "prefill_alltoall_bytes": sc.alltoall_bytes(setup, prompt),
        "prefill_alltoall_s": sc.alltoall_time(setup, prompt),
        "stage_transfer_bytes": micro * row if setup.pipeline > 1 else 0,
        "stage_transfer_s": sc.stage_transfer_time(setup, micro),
    }


@dataclass(frozen=True)
class ServeResult:
    """One serving configuration at one batch, its capacity and its batch curve."""

    options: ServeOptions
    setup: ServingSetup
    replicas: int
    max_concurrent: int
    point: ServingPoint
    curve: tuple[ServingPoint, ...]
    unquantised: Unquantised | None = None  # the same configuration in the activation dtype
    load: LoadPoint | None = None  # the replica at the arrival rate (planner.optimize.serving_queue)

    def to_dict(self) -> dict[str, Any]:
        from planner.cost.decode import kv_bytes_per_token, weight_reads
        from planner.optimize.serving_costs import (
            kv_bytes_per_sequence_device,
            placement,
            weight_bytes_per_device,
        )

        s, p = self.setup, self.point
        w = s.workload
        kv = kv_bytes_per_token(s.model, s.precision.kv_dtype)
        reads = weight_reads(s.model, placement(s), s.precision, 1)[1]  # one device's, one token's
        floor = (reads + kv * w.context_mean / s.tensor) / s.device.memory_bandwidth
        return {
            "model": s.model.name,
            "cluster": s.cluster.name,
            "device": s.device.name,
            "dtype": s.dtype,
            "weight_dtype": s.weights,
            "kv_cache_dtype": s.kv_cache,
            "precision": s.precision.label(),
            "attention": s.attention,
            "chunked_prefill": s.chunked,
            "tensor_parallel": s.tensor,
            "pipeline_parallel": s.pipeline,
            "expert_parallel": s.expert,
            "attention_groups": s.groups,
            "devices_per_replica": s.devices,
            "replicas": self.replicas,
            "prompt_len": w.prompt_mean,
            "output_len": w.output_mean,
            "mean_context": w.context_mean,
            "requests": [dataclasses.asdict(r) for r in w.requests],
            **point_dict(p, s.devices),
            "prefill_s": p.prefill_s,
            "tokens_per_s": p.tokens_per_s * self.replicas,
            "usd_per_million_tokens": usd_per_million_tokens(s.cluster, s.devices, p.tokens_per_s),
            "kv_cache_bytes_per_token": kv,
            "kv_cache_bytes_per_sequence_per_device": kv_bytes_per_sequence_device(s),
            "weight_bytes_per_device": weight_bytes_per_device(s),
            "max_concurrent_sequences": self.max_concurrent,
            "block_tokens": s.block_tokens,
            "memory_headroom": s.memory_headroom,
            "decode_floor_s": floor,
            "communication_per_layer": communication(s, p.batch),
            "curve": [point_dict(c, s.devices) for c in self.curve],
            "load": None if self.load is None else _load_dict(self.load, s.devices),
            "notes": list(NOTES) + ([self.unquantised.note(self)] if self.unquantised else []),
        } | band_fields(SERVING)


def _load_dict(load: LoadPoint, devices: int) -> dict[str, Any]:
    return {
        "arrival_rate_per_replica": load.rate,
        "capacity_requests_per_s": load.capacity,
        "in_flight": load.point.batch,
        "utilisation": load.utilisation,
        "wait_probability": load.wait_probability,
        "mean_wait_s": load.mean_wait_s,
        "ttft_s": load.ttft_s,
        "tpot_s": load.point.tpot_s,
        "tokens_per_s_per_gpu": load.point.tokens_per_s / devices,
    }


@dataclass(frozen=True)
class Unquantised:
    """The quantised configuration's twin with weights and KV cache in the activation dtype, at the same
    batch (point None when that batch does not fit), to say what the quantisation changed."""

    weight_bytes_per_device: float
    max_concurrent: int
    point: ServingPoint | None

    def note(self, quantised: ServeResult) -> str:
        """The closing note: memory, capacity, decode and prefill against the unquantised twin."""
        from planner.optimize.serving_costs import weight_bytes_per_device
        from planner.units import format_quantity

        s, p, dtype = quantised.setup, quantised.point, quantised.setup.dtype

        def size(value: float) -> str:
            return format_quantity(value, "memory")

        parts = [
            f"vs {dtype} throughout: weights {size(self.weight_bytes_per_device)} -> "
            f"{size(weight_bytes_per_device(s))} per device, max concurrent sequences "
            f"{self.max_concurrent:,} -> {quantised.max_concurrent:,}"
        ]
        if self.point is None:
            parts.append(f"batch {p.batch} does not fit in {dtype}")
        else:
            base = self.point
            parts.append(
                f"at batch {p.batch} decode step {base.decode_step_s * 1e3:.2f} -> "
                f"{p.decode_step_s * 1e3:.2f} ms "
                f"({'compute' if p.compute_bound else 'memory'}-bound), one prompt's prefill "
                f"{base.prefill_s * 1e3:.1f} -> {p.prefill_s * 1e3:.1f} ms"
            )
        why = {
            "fp8": "fp8 W8A8: 1 byte per weight, the layers' GEMMs at the fp8 peak",
            "int8": "int8 W8A8 (SmoothQuant): 1 byte per weight, the layers' GEMMs at the int8 peak",
            "int4": "int4 W4A16 (AWQ/GPTQ, 4.125 bits per weight with group scales): GEMMs stay at the "
            f"{dtype} peak; prefill adds a dequantisation pass per layer (vLLM's AWQ path), decode reads "
            "a quarter of the bytes (Marlin)",
        }
        if s.weights:
            parts.append(why[s.weights] + "; embedding, head and norms stay in " + dtype)
        if s.kv_cache:
            parts.append(f"{s.kv_cache} KV cache: 1 byte per element, attention still in {dtype}")
        return "; ".join(parts)


def unquantised_twin(setup: ServingSetup, batch: int) -> Unquantised:
    """The same setup in the activation dtype throughout, at `batch` when it fits."""
    from planner.optimize.serving_costs import (
        max_concurrent_sequences,
        serving_point,
        weight_bytes_per_device,
    )

    plain = dataclasses.replace(setup, weights=None, kv_cache=None)
    largest = max_concurrent_sequences(plain)
    point = serving_point(plain, batch) if batch <= largest else None
    return Unquantised(weight_bytes_per_device(plain), largest, point)


def serving_setup(model: LLMConfig | str, cluster: Cluster | str, options: ServeOptions) -> ServingSetup:
    from planner.cost.quantisation import Precision, missing_format
    from planner.optimize.serving_costs import ServingSetup

    options.check()
    cfg = load_llm(model)
    if cfg.architecture != "decoder":
        raise SettingError("model", "a decoder-only LLM (serving models decoder-only transformers)", cfg.name)
    machine = load_cluster(cluster, options.servers)
    device = cluster_device(machine)
    dtype = options.dtype or cfg.dtype
    if dtype not in device.peak_compute:
        raise SettingError("dtype", f"{device.name} lists no {dtype} peak", dtype)
    precision = Precision(dtype, options.weight_dtype, options.kv_cache_dtype)
    missing = missing_format(precision, device)
    if missing is not None:
        raise SettingError(
            "weight_dtype", f"a format {device.name} has a peak for ({missing})", options.weight_dtype
        )
    return ServingSetup(
        cfg,
        machine,
        device,
        dtype,
        options.tensor_parallel or 1,
        options.pipeline_parallel or 1,
        load_workload(options),
        options.attention,
        options.chunked_prefill,
        options.chunk_tokens,
        options.memory_headroom,
        options.block_tokens,
        options.weight_dtype,
        options.kv_cache_dtype,
        options.expert_parallel or 1,
    )


def split_error(setup: ServingSetup) -> SettingError | None:
    """Why the split cannot run, or None: Megatron splits heads t ways inside one server; each stage needs
    a layer; the routed experts split whole over e devices, a multiple of t (planner.optimize.
    serving_costs)."""
    t, p, e, cfg = setup.tensor, setup.pipeline, setup.expert, setup.model
    total = setup.cluster.total_devices
    if cfg.num_heads % t or t > setup.cluster.devices_per_server:
        return SettingError(
            "tensor_parallel",
            f"must divide {cfg.name}'s {cfg.num_heads} heads and fit in one server "
            f"({setup.cluster.devices_per_server} devices)",
            t,
        )
    if e > 1 and not cfg.is_moe:
        return SettingError("expert_parallel", f"1: {cfg.name} is dense, it has no experts to split", e)
    if e > 1 and (cfg.num_experts % e or e % t):
        return SettingError(
            "expert_parallel",
            f"1, or a divisor of {cfg.name}'s {cfg.num_experts} experts that `tensor_parallel` ({t}) divides",
            e,
        )
    if p > cfg.num_layers or setup.devices > total:
        return SettingError(
            "pipeline_parallel",
            f"at most {cfg.num_layers} stages and max(`tensor_parallel`, `expert_parallel`) x stages <= "
            f"{total} devices",
            p,
        )
    return None


def check_split(setup: ServingSetup) -> None:
    """Raise split_error's reason, if any."""
    error = split_error(setup)
    if error is not None:
        raise error


def serve(model: LLMConfig | str, cluster: Cluster | str, options: ServeOptions) -> ServeResult:
    """One serving configuration (module docstring); InfeasibleError when the weights leave no room for
    the batch's KV cache."""
    from planner.optimize.serving_costs import batch_grid, max_concurrent_sequences, serving_point
    from planner.optimize.serving_queue import load_point

    setup = serving_setup(model, cluster, options)
    check_split(setup)
    largest = max_concurrent_sequences(setup)
    if largest < 1:
        raise InfeasibleError(
            f"{setup.model.name} in {setup.precision.label()} leaves no room for one sequence's KV cache on "
            f"{setup.devices} x {setup.device.name}: raise `tensor_parallel`, `pipeline_parallel` or "
            "`expert_parallel`"
        )
    # vLLM's max_num_seqs holds for each data-parallel engine, i.e. each attention group
    batch = options.batch if options.batch is not None else min(largest, MAX_BATCH_DEFAULT * setup.groups)
    if batch > largest:
        raise InfeasibleError(
            f"batch {batch} needs more KV cache than fits: at most {largest} sequences (lower `batch`, "
            "`memory_headroom` or the lengths, or raise `tensor_parallel`)"
        )
    replicas = options.replicas or setup.cluster.total_devices // setup.devices
    if replicas * setup.devices > setup.cluster.total_devices:
        raise SettingError(
            "replicas",
            f"at most {setup.cluster.total_devices // setup.devices} on {setup.cluster.name}",
            replicas,
        )
    curve = tuple(serving_point(setup, b) for b in batch_grid(largest))
    twin = unquantised_twin(setup, batch) if setup.weights or setup.kv_cache else None
    rate = options.arrival_rate
    load = None if rate is None else load_point(setup, batch, rate / replicas)
    return ServeResult(options, setup, replicas, largest, serving_point(setup, batch), curve, twin, load)
