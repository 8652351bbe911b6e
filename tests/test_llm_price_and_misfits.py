"""llm-parallel's cost per million tokens and the fastest candidates that do not fit (for its picture)."""

from __future__ import annotations

import pytest

from planner.api.llm import LLMOptions, llm_parallel
from planner.render.figures_training import llm_figure


def test_price_per_million_tokens_and_the_misfits() -> None:
    payload = llm_parallel("llama-2-7b", "dgx-h100", LLMOptions(global_batch=64, servers=1)).to_dict()
    inputs, search = payload["inputs"], payload["search"]
    price = inputs["usd_per_device_hour"]
    assert price is not None and price > 0  # dgx-h100 lists a price
    tokens = inputs["global_batch"] * inputs["seq_len"]
    for plan in search["plans"]:
        expected = price * plan["devices"] * plan["time_per_iteration_s"] / 3600 / tokens * 1e6
        assert plan["usd_per_million_tokens"] == pytest.approx(expected)
    misfits = search["over_memory"]
    assert misfits and all(m["memory_per_device_bytes"] > inputs["device_memory_bytes"] for m in misfits)
    times = [m["time_per_iteration_s"] for m in misfits]
    assert times == sorted(times) and len(misfits) <= len(search["plans"])
    figure = llm_figure(payload)
    memory, cost = figure.panels
    best = search["plans"][0]
    assert cost.marks[0].x == pytest.approx(best["usd_per_million_tokens"])
    assert memory.marks[0].y == cost.marks[0].y == pytest.approx(best["time_per_iteration_s"])
    greyed = next(s for s in memory.series if s.label == "does not fit")
    assert len(greyed.xs) == len(misfits)


def test_an_unpriced_cluster_draws_no_cost_panel() -> None:
    payload = llm_parallel("gpt2", "dgx-a100", LLMOptions(global_batch=16, servers=1)).to_dict()
    assert payload["inputs"]["usd_per_device_hour"] is None  # the catalog's DGX A100 lists no price
    assert payload["search"]["plans"][0]["usd_per_million_tokens"] is None
    assert len(llm_figure(payload).panels) == 1
