"""The llm_plan evaluator: what a case leaves unstated is the planner's pick; the per-device quantities."""

from __future__ import annotations

import pytest

from planner.validate.evaluators import Context
from planner.validate.evaluators.parallelism import llm_plan, plan_of

SETUP = {"model": "gpt2", "cluster": "dgx-a100", "servers": 2, "global_batch": 64, "seq_len": 1024}
CONTEXT = Context(data_dir=None)


def test_tokens_per_s_per_device_divides_by_the_plans_devices() -> None:
    setup = {**SETUP, "tensor": 2, "pipeline": 1, "data": 4, "microbatch": 2, "interleave": 1}
    total = llm_plan({**setup, "quantity": "tokens_per_s"}, CONTEXT)
    per_device = llm_plan({**setup, "quantity": "tokens_per_s_per_device"}, CONTEXT)
    assert per_device == pytest.approx(total / 8)


def test_unstated_degrees_span_the_clusters_devices() -> None:
    plan = plan_of(SETUP)
    config = plan.config
    assert config.tensor * config.pipeline * config.data == 16
    # the stated degrees are kept and the picked plan is no slower than a stated alternative
    pinned = plan_of({**SETUP, "tensor": 2})
    assert pinned.config.tensor == 2
    assert plan.time_per_iteration_s <= pinned.time_per_iteration_s


def test_stated_recompute_and_zero_are_kept_in_the_search() -> None:
    plan = plan_of({**SETUP, "recompute": "none", "zero": 2})
    assert (plan.config.recompute, plan.config.zero) == ("none", 2)


def test_data_without_the_other_degrees_is_rejected() -> None:
    with pytest.raises(ValueError, match="data is derived"):
        llm_plan({**SETUP, "data": 4, "quantity": "mfu"}, CONTEXT)
