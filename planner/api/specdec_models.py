"""Speculative decoding of a target and a draft LLM on hardware: c from the decode roofline (tensor
parallelism's all-reduces included), then the gamma table; and the hardware a token tree's verification
cost t(n) comes from (planner.api.specdec_tree).

Quantisation (planner.cost.quantisation, serving's decode model): the target's layer weights
(`weight_dtype`) and the draft's (`draft_weight_dtype`) are set apart, as vLLM sets them apart (`quantization`
for the target, SpeculativeConfig.quantization for the draft, "If None, we assume the model weights are not
quantized") and TensorRT-LLM builds the two as separate engines, each with its own quantisation; the KV
cache has one format for both (`kv_cache_dtype`), as vLLM's one --kv-cache-dtype sets the cache both use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from planner.api.inputs import cluster_device, load_cluster, load_device, load_llm
from planner.api.serve_inputs import KV_FORMATS, WEIGHT_FORMATS
from planner.api.specdec import DEFAULT_MAX_GAMMA, check_alpha, check_cost_ratio, check_count
from planner.errors import SettingError
from planner.limits import MAX_COUNT_OPTION, MAX_GAMMA
from planner.validate.bands import SPECULATIVE_DECODING, band_fields

if TYPE_CHECKING:
    from planner.optimize.speculation import GammaTable, PairCosts
    from planner.optimize.speculation_batch import PairPlacement
    from planner.spec.hardware import Cluster, Device
    from planner.spec.llm import LLMConfig

DTYPES = ("fp32", "fp16", "bf16")
DEFAULT_CONTEXT = 512  # tokens already in the KV cache


def resolve_hardware(
    device: Device | str | None, cluster: Cluster | str | None, tp: int
) -> tuple[Device, Cluster | None]:
    """The device, and the server whose innermost link carries tensor-parallel all-reduces (None when
    tp = 1 and no cluster is given): by default the catalog cluster of the device with the most devices
    per server, the first by name among equals (aws-p5.48xlarge for h100: its links inside a server
    equal dgx-h100's)."""
    from planner.spec.catalog import entries

    if device is None and cluster is None:
        raise SettingError("device", "give device or cluster", show_got=False)
    server = None if cluster is None else load_cluster(cluster)
    if device is None:
        assert server is not None  # one of the two is given (checked above)
        dev = cluster_device(server)
    else:
        dev = load_device(device)
    if server is not None and cluster_device(server).name != dev.name:
        raise SettingError(
            "cluster", f"holds {cluster_device(server).name}, not device {dev.name}", server.name
        )
    if tp > 1 and server is None:
        candidates = sorted(
            (e.value for e in entries("hardware") if e.spec == "cluster" and e.value.device.name == dev.name),
            key=lambda s: (-s.devices_per_server, s.name),
        )
        if not candidates:
            raise SettingError(
                "cluster",
                f"tensor parallelism over {tp} x {dev.name} needs a server holding them; no catalog cluster "
                f"has {dev.name}: give cluster (a YAML file)",
                show_got=False,
            )
        server = candidates[0]
    if server is not None and tp > server.devices_per_server:
        raise SettingError(
            "tensor_parallel",
            f"a tensor-parallel group lives inside one server; {server.name} has "
            f"{server.devices_per_server} devices per server",
            tp,
        )
    return dev, server


def check_dtype(dtype: str, device: Device) -> str:
    if dtype not in DTYPES:
        raise SettingError("dtype", f"expected {', '.join(DTYPES[:-1])} or {DTYPES[-1]}", dtype)
    if dtype not in device.peak_compute:
        raise SettingError(
            "dtype", f"{device.name} lists no {dtype} peak ({', '.join(device.peak_compute)})", dtype
        )
    return dtype


WEIGHT_SETTINGS = ("weight_dtype", "draft_weight_dtype")  # the target's and the draft's layer weights


class Formats(Protocol):
    """Options that name a KV-cache format (and weight formats, read by name)."""

    @property
    def kv_cache_dtype(self) -> str | None: ...


def check_formats(settings: Formats, weights: tuple[str, ...] = WEIGHT_SETTINGS) -> None:
    """The quantised formats (the `weights` settings and kv_cache_dtype) are ones planner.cost.quantisation
    knows."""
    for setting in weights:
        value = getattr(settings, setting)
        if value is not None and value not in WEIGHT_FORMATS:
            raise SettingError(setting, f"one of {', '.join(WEIGHT_FORMATS)}", value)
    kv_cache = settings.kv_cache_dtype
    if kv_cache is not None and kv_cache not in KV_FORMATS:
        raise SettingError("kv_cache_dtype", f"one of {', '.join(KV_FORMATS)}", kv_cache)


def check_device_formats(
    settings: Formats, dtype: str, device: Device, weights: tuple[str, ...] = WEIGHT_SETTINGS
) -> None:
    """Refuse a weight format whose GEMM peak the device lacks (fp8 on an A100), naming it."""
    from planner.cost.quantisation import Precision, missing_format

    for setting in weights:
        value = getattr(settings, setting)
        missing = missing_format(Precision(dtype, value), device)
        if missing is not None:
            raise SettingError(setting, f"a format {device.name} has a peak for ({missing})", value)


def check_split(cfg: LLMConfig, tp: int, setting: str) -> None:
    if cfg.num_heads % tp:
        raise SettingError(
            setting, f"must divide {cfg.name}'s {cfg.num_heads} attention heads (Megatron splits heads)", tp
        )


def check_allreduce(value: str) -> None:
    from planner.cost.collective_registry import algorithm_names, peer_to_peer

    allreduce = algorithm_names(peer_to_peer)  # tensor parallelism has no parameter servers
    if value not in allreduce:
        raise SettingError("allreduce", f"expected one of {', '.join(allreduce)}", value)


@dataclass(frozen=True)
class SpecdecModelsOptions:
    """How the pair decodes; c comes from the roofline unless a measured one is given."""

    alpha: float  # per-token acceptance rate, in [0, 1)
    tensor_parallel: int = 1  # devices the target is split over
    draft_tensor_parallel: int = 1  # devices the draft is split over
    batch: int = 1  # sequences decoded together
    context: int = DEFAULT_CONTEXT
    dtype: str | None = None  # fp32, fp16 or bf16 (None: the target's)
    allreduce: str = "ring"  # all-reduce algorithm of tensor parallelism
    c: float | None = None  # a measured c instead of the roofline's
    max_gamma: int = DEFAULT_MAX_GAMMA
    plot: bool = False
    weight_dtype: str | None = None  # the target's layer weights: fp8 / int8 (W8A8) or int4 (W4A16)
    draft_weight_dtype: str | None = None  # the draft's, the same formats
    kv_cache_dtype: str | None = None  # both models' KV caches: fp8 or int8

    def check(self) -> None:
        check_alpha(self.alpha)
        for setting in ("tensor_parallel", "draft_tensor_parallel", "batch"):
            check_count(getattr(self, setting), setting, 1, MAX_COUNT_OPTION)
        check_count(self.context, "context", 0, MAX_COUNT_OPTION)
        if self.dtype is not None and self.dtype not in DTYPES:
            raise SettingError("dtype", f"expected {', '.join(DTYPES[:-1])} or {DTYPES[-1]}", self.dtype)
        check_allreduce(self.allreduce)
        check_formats(self)
        check_cost_ratio(self.c, "c")
        check_count(self.max_gamma, "max_gamma", 1, MAX_GAMMA)


NOTE_ROOFLINE = (
    "roofline step times are lower bounds (no kernel-launch or per-layer overheads); measured c runs "
    "2-3x the parameter ratio, so prefer a measured `c` when you have one"
)


@dataclass(frozen=True)
class SpecdecModelsResult:
    """The pair's decode steps on the hardware, the c used, and the gamma table with time per token."""

    options: SpecdecModelsOptions
    target: LLMConfig
    draft: LLMConfig
    device: Device
    cluster: Cluster | None
    dtype: str
    costs: PairCosts
    c: float  # the c of the table: the roofline's or the measured one
    table: GammaTable
    plot: dict[str, Any] | None = None

    def rows(self) -> list[dict[str, Any]]:
        """The table's rows with the time per token: (gamma c + v(gamma)) target steps / tokens."""
        step = self.costs.target_step.time_s
        rows = self.table.rows()
        for row in rows:
            row["time_per_token_s"] = (
                (row["gamma"] * self.c + row["verify_ratio"]) * step / row["expected_tokens"]
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        from planner.cost.transformer import parameter_count

        o, costs = self.options, self.costs
        table = self.table.to_dict()
        payload = {
            **table,
            "rows": self.rows(),
            "c_source": "roofline" if o.c is None else "given",
            "c_roofline": costs.c,
            "parameter_ratio": costs.parameter_ratio,
            "device": self.device.name,
            "cluster": self.cluster.name if self.cluster is not None else None,
            "dtype": self.dtype,
            "kv_cache_dtype": o.kv_cache_dtype,
            "batch": o.batch,
            "context": o.context,
            "allreduce_algorithm": o.allreduce,
            "target": _model_dict(
                self.target, o.tensor_parallel, costs.target_step, costs.target_memory_bytes
            )
            | _formats(self.dtype, o.weight_dtype, o.kv_cache_dtype),
            "draft": _model_dict(
                self.draft, o.draft_tensor_parallel, costs.draft_step, costs.draft_memory_bytes
            )
            | _formats(self.dtype, o.draft_weight_dtype, o.kv_cache_dtype),
            "plain_decoding_time_per_token_s": costs.target_step.time_s,
            "notes": [
                *table["notes"],
                NOTE_ROOFLINE,
                *quantisation_notes(o),
                f"parameters: target {parameter_count(self.target):,}, draft {parameter_count(self.draft):,}",
            ],
        }
        if self.plot is not None:
            payload["plot"] = self.plot
        return payload | band_fields(SPECULATIVE_DECODING)


def _model_dict(cfg: LLMConfig, tp: int, step: Any, memory: float) -> dict[str, Any]:
    from planner.cost.decode import step_weights
    from planner.cost.transformer import parameter_count

    return {
        "name": cfg.name,
        "parameters": parameter_count(cfg),
        "step_weights": step_weights(cfg),
        "tensor_parallel": tp,
        "step_time_s": step.time_s,
        "roofline_s": step.roofline_s,
        "allreduce_s": step.allreduce_s,
        "allreduces_per_step": step.allreduces,
        "step_flops": step.flops,
        "step_bytes": step.bytes,
        "compute_bound": step.compute_bound,
        "memory_per_device_bytes": memory,
    }


def _formats(dtype: str, weights: str | None, kv_cache: str | None) -> dict[str, Any]:
    from planner.cost.quantisation import Precision

    return {"weight_dtype": weights, "precision": Precision(dtype, weights, kv_cache).label()}


def quantisation_notes(settings: PairSettings) -> list[str]:
    """What a quantised format changes in the pair's steps (none when nothing is quantised)."""
    s = settings
    if s.weight_dtype is None and s.draft_weight_dtype is None and s.kv_cache_dtype is None:
        return []
    return [
        "quantised steps are serving's decode steps (planner.cost.quantisation): fp8 / int8 weights are "
        "read at 1 byte and their GEMMs run at that peak (W8A8), int4 weights are read at 4.125 bits "
        "(group-128 scales) and multiplied at the activation dtype's peak (Marlin's fused kernel, so "
        "verification adds no dequantisation pass), an fp8 / int8 KV cache is read at 1 byte; c is the "
        "ratio of the quantised steps and verification is the target's quantised step of gamma + 1 tokens"
    ]


class PairSettings(Protocol):
    """What placing a target and a draft reads from a command's options."""

    @property
    def tensor_parallel(self) -> int: ...
    @property
    def draft_tensor_parallel(self) -> int: ...
    @property
    def dtype(self) -> str | None: ...
    @property
    def allreduce(self) -> str: ...
    @property
    def context(self) -> int: ...
    @property
    def weight_dtype(self) -> str | None: ...
    @property
    def draft_weight_dtype(self) -> str | None: ...
    @property
    def kv_cache_dtype(self) -> str | None: ...


def resolve_pair(
    target: LLMConfig | str,
    draft: LLMConfig | str,
    settings: PairSettings,
    *,
    device: Device | str | None,
    cluster: Cluster | str | None,
) -> tuple[PairPlacement, Device, Cluster | None]:
    """The two models on their devices (tensor-parallel all-reduces on the server's links), checked: the
    dtype and the weight formats the device lists, heads divisible by each model's degree."""
    from planner.cost.decode import Placement
    from planner.optimize.speculation_batch import PairPlacement

    s = settings
    target_cfg, draft_cfg = load_llm(target), load_llm(draft)
    dev, server = resolve_hardware(device, cluster, max(s.tensor_parallel, s.draft_tensor_parallel))
    dtype = check_dtype(s.dtype or target_cfg.dtype, dev)
    check_device_formats(s, dtype, dev)
    check_split(target_cfg, s.tensor_parallel, "tensor_parallel")
    check_split(draft_cfg, s.draft_tensor_parallel, "draft_tensor_parallel")
    target_at, draft_at = (
        Placement(dev, tp, server if tp > 1 else None, s.allreduce)
        for tp in (s.tensor_parallel, s.draft_tensor_parallel)
    )
    pair = PairPlacement(
        target_cfg,
        draft_cfg,
        target_at,
        draft_at,
        dtype,
        s.context,
        s.weight_dtype,
        s.draft_weight_dtype,
        s.kv_cache_dtype,
    )
    return pair, dev, server


def specdec_models(
    target: LLMConfig | str,
    draft: LLMConfig | str,
    options: SpecdecModelsOptions,
    *,
    device: Device | str | None = None,
    cluster: Cluster | str | None = None,
) -> SpecdecModelsResult:
    """Derive c from model sizes and hardware (decode roofline, tensor parallelism), then the gamma table.
    Give the device or the cluster (or both); InfeasibleError when a model does not fit its devices."""
    from planner.api.specdec import plot_series
    from planner.optimize.speculation_batch import pair_table

    options.check()
    o = options
    pair, dev, server = resolve_pair(target, draft, o, device=device, cluster=cluster)
    costs, table = pair_table(pair, o.batch, alpha=o.alpha, max_gamma=o.max_gamma, c=o.c)
    plot = plot_series(o.alpha, table.c, o.max_gamma, list(table.verify)) if o.plot else None
    return SpecdecModelsResult(
        o, pair.target, pair.draft, dev, server, pair.dtype, costs, table.c, table, plot
    )
