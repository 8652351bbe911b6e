"""Speculative decoding on a served batch (planner.api.specdec_batch)."""

from __future__ import annotations

import itertools

import pytest

from planner.api.specdec_batch import SpecdecBatchOptions, specdec_batch
from planner.api.specdec_models import SpecdecModelsOptions, specdec_models
from planner.errors import InfeasibleError, SettingError

PAIR = {"target": "llama-2-70b", "draft": "llama-2-7b"}


def sweep(**options):
    return specdec_batch(
        **PAIR, options=SpecdecBatchOptions(0.8, tensor_parallel=4, **options), device="h100"
    )


def test_batch_one_is_specdec_models_at_batch_one() -> None:
    point = sweep(batches=(1,)).points[0]
    models = specdec_models(**PAIR, options=SpecdecModelsOptions(0.8, tensor_parallel=4), device="h100")
    assert point.c == pytest.approx(models.c)
    assert point.table.optimal_gamma == models.table.optimal_gamma
    assert point.table.optimal_speedup == pytest.approx(models.table.optimal_speedup)


def test_speculation_fades_as_the_batch_grows() -> None:
    result = sweep()
    points = result.points
    assert points[0].batch == 1 and points[-1].batch == result.largest_batch
    speedups = [p.table.optimal_speedup for p in points]
    assert speedups[0] > 1.3  # memory-bound at batch 1: verification is about free
    assert all(a >= b - 1e-12 for a, b in itertools.pairwise(speedups))
    assert result.breakeven_batch is not None and points[-1].table.optimal_gamma == 0
    verify = [p.table.verify[0] for p in points]  # v(1, B): two tokens per sequence
    assert verify[0] == pytest.approx(1.0, abs=0.01) and verify[-1] > verify[0]
    for p in points:
        assert p.speculative_tokens_per_s == pytest.approx(p.plain_tokens_per_s * p.table.optimal_speedup)


def test_trees_and_payload() -> None:
    payload = sweep(batches=(1, 64), tree_acceptance=(0.6, 0.15, 0.08, 0.04)).to_dict()
    first, last = payload["rows"]
    assert first["tree"]["speedup"] >= first["speedup"] - 1e-9  # a tree includes the chain
    assert first["tree"]["size"] > last["tree"]["size"]  # bigger batches afford smaller trees
    assert {"largest_batch", "breakeven_batch", "rows", "error_band_pct"} <= payload.keys()


def test_bad_requests(run_cli) -> None:
    with pytest.raises(InfeasibleError, match="does not fit: at most"):
        sweep(batches=(1, 100_000))
    with pytest.raises(SettingError, match="tree_acceptance"):
        sweep(batches=(1,), tree_acceptance=(0.9, 0.9))
    base = ("specdec", "batch", "--target", "llama-2-70b", "--draft", "llama-2-7b", "--alpha", "0.8")
    bad = run_cli(*base, "--device", "h100", "--tp", "4", "--batches", "1,x")
    assert bad.exit_code == 2 and "--batches" in bad.stderr and "Traceback" not in bad.stderr
    too_big = run_cli(*base, "--device", "h100", "--tp", "4", "--batches", "100000")
    assert too_big.exit_code == 1 and "does not fit" in too_big.stderr
