"""What `serve` reads besides the model and the cluster: its options (ServeOptions, checked) and the
request mix (a `spec: requests` YAML of prompt/output/weight rows, each error at its line). Light to
import."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from planner.errors import SettingError
from planner.limits import MAX_COUNT_OPTION

if TYPE_CHECKING:
    from planner.optimize.serving_costs import Workload

ATTENTION = ("flash", "standard")  # planner.cost.megatron.ATTENTION, without importing numpy here
DTYPES = ("fp32", "fp16", "bf16")
WEIGHT_FORMATS = ("fp8", "int8", "int4")  # planner.cost.quantisation's, without importing numpy here
KV_FORMATS = ("fp8", "int8")
MAX_BATCH_DEFAULT = 256  # vLLM's max_num_seqs default (vllm/config.py SchedulerConfig; engine args docs)
BLOCK_TOKENS = 16  # vLLM's default KV-cache block size (Kwon et al., SOSP 2023, Sec. 7: block size 16)
MEMORY_HEADROOM = 0.1  # 1 - vLLM's gpu_memory_utilization default 0.9 (engine args docs)
CHUNK_TOKENS = 512  # Sarathi-Serve's token budget for strict latency targets (Agrawal et al. 2024, Sec. 5)


def _whole(value: object, setting: str, low: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_COUNT_OPTION:
        raise SettingError(setting, f"a whole number in [{low}, {MAX_COUNT_OPTION:,}]", value)


@dataclass(frozen=True)
class ServeOptions:
    """How the model is served; the latency targets (tpot, ttft) turn on the search for the best
    configuration, where unset tensor_parallel / pipeline_parallel / expert_parallel / batch are searched."""

    prompt_len: int = 512  # prompt tokens per request
    output_len: int = 128  # output tokens per request
    requests: str | None = None  # a request-mix YAML instead of prompt_len / output_len
    batch: int | None = None  # running sequences per replica (None: up to max_num_seqs that fit)
    tensor_parallel: int | None = None  # None: 1, or searched under targets
    pipeline_parallel: int | None = None  # None: 1, or searched under targets
    expert_parallel: int | None = None  # devices per stage holding the experts; None: 1, or searched
    replicas: int | None = None  # None: as many as the cluster's devices hold
    servers: int | None = None  # the cluster's outermost count
    dtype: str | None = None  # activations, and weights / KV cache unless set (None: the model's)
    weight_dtype: str | None = None  # the layers' weights: fp8 / int8 (W8A8) or int4 (weight-only W4A16)
    kv_cache_dtype: str | None = None  # the KV cache: fp8 or int8
    attention: str = "flash"  # flash (fused) or standard
    chunked_prefill: bool = False  # prompts ride in decode iterations (Sarathi-Serve)
    chunk_tokens: int = CHUNK_TOKENS
    memory_headroom: float = MEMORY_HEADROOM  # fraction of usable device memory left for activations
    block_tokens: int = BLOCK_TOKENS  # tokens per paged KV-cache block
    tpot: float | None = None  # target seconds per output token
    ttft: float | None = None  # target seconds to the first token
    arrival_rate: float | None = None  # requests/s arriving at the deployment (spread over the replicas)

    def check(self) -> None:
        _whole(self.prompt_len, "prompt_len")
        _whole(self.output_len, "output_len")
        counts = ("batch", "tensor_parallel", "pipeline_parallel", "expert_parallel", "replicas", "servers")
        for setting in counts:
            if getattr(self, setting) is not None:
                _whole(getattr(self, setting), setting)
        _whole(self.chunk_tokens, "chunk_tokens")
        _whole(self.block_tokens, "block_tokens")
        if self.dtype is not None and self.dtype not in DTYPES:
            raise SettingError("dtype", f"one of {', '.join(DTYPES)}", self.dtype)
        if self.weight_dtype is not None and self.weight_dtype not in WEIGHT_FORMATS:
            raise SettingError("weight_dtype", f"one of {', '.join(WEIGHT_FORMATS)}", self.weight_dtype)
        if self.kv_cache_dtype is not None and self.kv_cache_dtype not in KV_FORMATS:
            raise SettingError("kv_cache_dtype", f"one of {', '.join(KV_FORMATS)}", self.kv_cache_dtype)
        if self.attention not in ATTENTION:
            raise SettingError("attention", f"one of {', '.join(ATTENTION)}", self.attention)
        if not (isinstance(self.memory_headroom, (int, float)) and 0.0 <= self.memory_headroom < 1.0):
            raise SettingError("memory_headroom", "a fraction in [0, 1)", self.memory_headroom)
        rate = self.arrival_rate
        if rate is not None and not (isinstance(rate, (int, float)) and 0.0 < rate < 1e9):
            raise SettingError("arrival_rate", "requests per second > 0", rate)
        if rate is not None and self.searching:
            raise SettingError(
                "arrival_rate", "a load on one configuration: give it without tpot / ttft", rate
            )
        for setting in ("tpot", "ttft"):
            value = getattr(self, setting)
            if value is not None and not (isinstance(value, (int, float)) and 0.0 < value < 1e6):
                raise SettingError(setting, "a time > 0 s", value)

    @property
    def searching(self) -> bool:
        return self.tpot is not None or self.ttft is not None


def load_workload(options: ServeOptions) -> Workload:
    """The request mix: one row (prompt_len, output_len), or the rows of the `requests` YAML file."""
    from planner.optimize.serving_costs import Request, Workload

    if options.requests is None:
        return Workload((Request(options.prompt_len, options.output_len),))
    from pathlib import Path

    from planner.spec.yamlio import load_yaml

    doc = load_yaml(Path(os.fspath(options.requests)))
    if not isinstance(doc.data, dict) or doc.data.get("spec") != "requests":
        raise doc.error(("spec",), "expected a `spec: requests` file", show_got=False)
    rows = doc.data.get("requests")
    if not isinstance(rows, list) or not rows:
        raise doc.error(("requests",), "a list of {prompt, output, weight} rows", rows)
    found = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict) or set(row) - {"prompt", "output", "weight"}:
            raise doc.error(("requests", index), "a row of prompt, output and (optional) weight", row)
        for key in ("prompt", "output"):
            value = row.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT_OPTION:
                raise doc.error(("requests", index, key), "a whole number of tokens >= 1", value)
        weight = row.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight < 1e12:
            raise doc.error(("requests", index, "weight"), "a number > 0 (the row's share)", weight)
        found.append(Request(row["prompt"], row["output"], float(weight)))
    return Workload(tuple(found))
