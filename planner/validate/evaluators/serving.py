"""Evaluators of LLM serving (planner.api.serve): KV-cache bytes, the decode floor, a static batch's output
throughput and one request's first-token latency."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.validate.evaluators import Context, evaluator

OPTIONAL = (
    "cluster",
    "dtype",
    "weight_dtype",
    "kv_cache_dtype",
    "tensor_parallel",
    "batch",
    "prompt_len",
    "output_len",
)


def _serve(setup: Mapping[str, Any]) -> dict[str, Any]:
    from planner.api.serve import serve
    from planner.api.serve_inputs import ServeOptions

    settings = {key: setup[key] for key in OPTIONAL[1:] if key in setup}
    result = serve(setup["model"], setup.get("cluster", "dgx-h100"), ServeOptions(servers=1, **settings))
    return result.to_dict()


@evaluator("serving_kv_bytes_per_token", setup=("model",), optional=OPTIONAL)
def serving_kv_bytes_per_token(setup: Mapping[str, Any], ctx: Context) -> float:
    """KV-cache bytes per token, all layers (planner.cost.decode.kv_bytes_per_token)."""
    from planner.api.inputs import load_llm
    from planner.cost.decode import kv_bytes_per_token

    cfg = load_llm(setup["model"])
    return kv_bytes_per_token(cfg, str(setup.get("kv_cache_dtype") or setup.get("dtype", cfg.dtype)))


@evaluator("serving_decode_floor_ms", setup=("model",), optional=OPTIONAL)
def serving_decode_floor_ms(setup: Mapping[str, Any], ctx: Context) -> float:
    """The batch-1 decode floor, (weights read + KV at the context) / peak bandwidth, in ms."""
    return float(_serve({**setup, "batch": 1})["decode_floor_s"]) * 1e3


@evaluator("serving_throughput", setup=("model", "batch"), optional=OPTIONAL)
def serving_throughput(setup: Mapping[str, Any], ctx: Context) -> float:
    """Output tokens/s of one replica at `batch` running sequences (continuous batching's steady state)."""
    return float(_serve(setup)["tokens_per_s_per_replica"])


@evaluator("serving_first_token_ms", setup=("model", "prompt_len"), optional=OPTIONAL)
def serving_first_token_ms(setup: Mapping[str, Any], ctx: Context) -> float:
    """First-token latency of one request alone: its prefill with communication, in ms."""
    return float(_serve({**setup, "batch": 1})["prefill_s"]) * 1e3
