"""The structural rules an LLM training configuration must keep, as in Megatron-LM: t divides the attention
heads, the key/value heads and the FFN size; the expert-parallel degree e divides the experts and the
data-parallel degree (Megatron-core's layout, planner.optimize.llm_setup); p divides the layers (no uneven
stages, Megatron's --num-layers constraint); v > 1 needs p > 1, v dividing l/p and m a multiple of p (the
interleaved schedule's constraint); B a multiple of b·d (m = B/(b·d) whole). Evaluated on arrays (one entry
per candidate), with the message that explains each broken rule for one configuration.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from planner.optimize.llm_setup import Configuration, TrainingSetup

BoolArray = NDArray[np.bool_]


def rule_failures(
    setup: TrainingSetup, t: Any, p: Any, d: Any, b: Any, v: Any, e: Any = 1
) -> dict[str, BoolArray]:
    """For each structural rule (the codes of llm_setup.DETAILS but memory, in that order), where it fails."""
    cfg, batch = setup.model, setup.global_batch
    t, p, d, b, v, e = (np.asarray(x, dtype=np.int64) for x in (t, p, d, b, v, e))
    per_stage = np.where(cfg.num_layers % p == 0, cfg.num_layers // p, 0)
    whole = batch % (b * d) == 0
    return {
        "tensor-heads": cfg.num_heads % t != 0,
        "tensor-kv-heads": cfg.kv_heads % t != 0,
        "tensor-ffn": cfg.ffn_size % t != 0,
        "expert-experts": cfg.num_experts % e != 0,
        "expert-data": d % e != 0,
        "pipeline-layers": cfg.num_layers % p != 0,
        "interleave-pipeline": (v > 1) & (p == 1),
        "interleave-layers": (v > 1) & (p > 1) & ((cfg.num_layers % p != 0) | (per_stage % v != 0)),
        "batch-multiple": ~whole,
        "interleave-microbatches": (v > 1) & whole & ((batch // (b * d)) % p != 0),
    }


def rule_message(code: str, setup: TrainingSetup, c: Configuration) -> str:
    """Why configuration `c` breaks the structural rule `code` (a key of rule_failures)."""
    cfg = setup.model
    messages = {
        "tensor-heads": f"t={c.tensor} does not divide the {cfg.num_heads} attention heads",
        "tensor-kv-heads": f"t={c.tensor} does not divide the {cfg.kv_heads} key/value heads",
        "tensor-ffn": f"t={c.tensor} does not divide the FFN size {cfg.ffn_size}",
        "expert-experts": f"e={c.expert} does not divide the {cfg.num_experts} experts",
        "expert-data": f"e={c.expert} does not divide the data-parallel degree d={c.data}",
        "pipeline-layers": f"p={c.pipeline} does not divide the {cfg.num_layers} layers",
        "interleave-pipeline": f"v={c.interleave} needs pipeline parallelism (p > 1)",
        "interleave-layers": f"v={c.interleave} does not divide the layers per stage ({cfg.num_layers}/p)",
        "batch-multiple": (
            f"global batch {setup.global_batch} is not a multiple of b·d = {c.microbatch * c.data}"
        ),
        "interleave-microbatches": (
            f"the interleaved schedule needs m={setup.global_batch // (c.microbatch * c.data)} to be a "
            f"multiple of p={c.pipeline}"
        ),
    }
    return messages[code]
