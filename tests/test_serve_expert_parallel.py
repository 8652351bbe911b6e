"""Expert parallelism in `planner serve` (issue 20): the experts whole over e devices with the attention
data-parallel over e / t groups, the dispatch and combine all-to-alls, decode's reads of the touched
experts only, the refusals, and the search over e."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from api_payloads import api_json, cli_json

from planner.api.serve import serve, serving_setup
from planner.api.serve_best import serve_best
from planner.api.serve_inputs import ServeOptions
from planner.cost.decode import Placement, routed_expert_bytes, skipped_parameters, step_time, step_weights
from planner.cost.llm_comm import ep_alltoall_time
from planner.cost.moe import dispatch_rows, distinct_experts
from planner.cost.quantisation import Precision
from planner.errors import SettingError
from planner.optimize.serving_costs import alltoall_time, weight_bytes_per_device
from planner.spec.catalog import find

MIXTRAL = ("serve", "mixtral-8x7b", "--cluster", "dgx-h100", "--servers", "1")
EP8 = (*MIXTRAL, "-t", "1", "--expert-parallel", "8", "--batch", "256")


def _setup(**options: Any) -> Any:
    return serving_setup("mixtral-8x7b", "dgx-h100", ServeOptions(servers=1, **options))


@pytest.mark.parametrize("tokens", [1, 3, 16])
def test_distinct_experts_matches_a_monte_carlo_of_top_k_routing(tokens: int) -> None:
    cfg = find("models", "mixtral-8x7b")
    experts, k = cfg.num_experts, cfg.routed_experts_per_token
    rng = np.random.default_rng(20)
    trials = 20_000
    # each token picks k distinct experts uniformly: the first k of a random permutation
    picks = np.argsort(rng.random((trials, tokens, experts)), axis=2)[:, :, :k]
    hit = np.zeros((trials, experts), dtype=bool)
    for j in range(k):
        np.put_along_axis(hit, picks[:, :, j], True, axis=1)
    sampled = hit.sum(axis=1)
    expected = float(distinct_experts(cfg, tokens))
    assert abs(sampled.mean() - expected) < 4 * sampled.std() / np.sqrt(trials) + 1e-9
    assert float(distinct_experts(cfg, 1)) == pytest.approx(k)


def test_expert_parallelism_divides_the_experts_bytes_by_e() -> None:
    plain, ep = _setup(), _setup(expert_parallel=8)
    experts = routed_expert_bytes(plain.model, plain.precision)
    assert experts > 0.8 * weight_bytes_per_device(plain)  # Mixtral's experts are most of its weights
    assert weight_bytes_per_device(plain) - weight_bytes_per_device(ep) == pytest.approx(experts * 7 / 8)
    assert ep.devices == 8 and ep.groups == 8
    tp = _setup(tensor_parallel=2, expert_parallel=8)  # the rest split 2 ways as well
    assert weight_bytes_per_device(tp) == pytest.approx(
        weight_bytes_per_device(ep) - (weight_bytes_per_device(plain) - experts) / 2
    )


def test_decode_reads_only_the_experts_the_batch_touches() -> None:
    cfg = find("models", "mixtral-8x7b")
    at = Placement(find("hardware", "h100", ("device",)), 1)
    one = step_time(cfg, at, dtype="bf16", batch=1, context=0)
    assert one.bytes == pytest.approx(2.0 * (step_weights(cfg) - skipped_parameters(cfg)))  # k of E
    many = step_time(cfg, at, dtype="bf16", batch=256, context=0)
    assert many.bytes == pytest.approx(2.0 * step_weights(cfg), rel=1e-6)  # all 8 hit
    assert many.flops == pytest.approx(256 * one.flops)  # active FLOPs per token, whatever the batch
    dense = find("models", "llama-2-7b")
    assert step_time(dense, at, dtype="bf16", batch=7, context=0).bytes == 2.0 * step_weights(dense)


def test_several_attention_groups_dispatch_and_combine_by_all_to_all() -> None:
    ep = _setup(tensor_parallel=2, expert_parallel=8)
    cfg = ep.model
    tokens = 64.0  # one group's
    message = dispatch_rows(cfg, tokens / 2, 8) * cfg.hidden_size * 2
    assert message == pytest.approx(cfg.routed_experts_per_token * tokens / 2 * cfg.hidden_size * 2)
    assert alltoall_time(ep, tokens) == ep_alltoall_time(ep.cluster, 1, 8, message) > 0.0
    comm = serve("mixtral-8x7b", "dgx-h100", ServeOptions(servers=1, tensor_parallel=2, expert_parallel=8))
    layer = comm.to_dict()["communication_per_layer"]
    assert (layer["allreduces_per_layer"], layer["alltoalls_per_layer"]) == (1, 2)
    one_group = serve(
        "mixtral-8x7b", "dgx-h100", ServeOptions(servers=1, tensor_parallel=8, expert_parallel=8)
    )
    layer = one_group.to_dict()["communication_per_layer"]  # tokens on every device already: all-reduces
    assert (layer["allreduces_per_layer"], layer["alltoalls_per_layer"]) == (2, 0)


def test_each_group_keeps_its_own_kv_cache_and_batch() -> None:
    result = serve("mixtral-8x7b", "dgx-h100", ServeOptions(servers=1, expert_parallel=8)).to_dict()
    assert result["attention_groups"] == 8 and result["batch"] == 8 * 256  # max_num_seqs per group
    assert result["max_concurrent_sequences"] % 8 == 0


@pytest.mark.parametrize(
    ("model", "options", "why"),
    [
        ("mixtral-8x7b", {"expert_parallel": 3}, "divisor of mixtral-8x7b's 8 experts"),
        ("mixtral-8x7b", {"tensor_parallel": 4, "expert_parallel": 2}, "`tensor_parallel` (4) divides"),
        ("llama-3-8b", {"expert_parallel": 2}, "dense"),
    ],
)
def test_refused_splits_name_the_setting(model: str, options: dict[str, int], why: str) -> None:
    with pytest.raises(SettingError, match="expert_parallel") as caught:
        serve(model, "dgx-h100", ServeOptions(servers=1, **options))
    assert why in str(caught.value)


def test_the_search_considers_expert_parallelism() -> None:
    payload = serve_best("mixtral-8x7b", "dgx-h100", ServeOptions(servers=1, tpot=0.05)).to_dict()
    degrees = {c["expert_parallel"] for c in payload["candidates"]}
    assert degrees == {1, 2, 4, 8}
    pinned = serve_best("mixtral-8x7b", "dgx-h100", ServeOptions(servers=1, tpot=0.05, expert_parallel=1))
    assert {c["expert_parallel"] for c in pinned.to_dict()["candidates"]} == {1}
    assert payload["best"]["tokens_per_s_per_gpu"] >= pinned.to_dict()["best"]["tokens_per_s_per_gpu"]


def test_cli_equals_api_and_refuses_in_one_line(run_cli: Any) -> None:
    options = ServeOptions(servers=1, tensor_parallel=1, expert_parallel=8, batch=256)
    assert cli_json(run_cli, *EP8) == api_json(serve("mixtral-8x7b", "dgx-h100", options))
    bad = run_cli(*MIXTRAL, "--expert-parallel", "3")
    assert bad.exit_code == 2 and "--expert-parallel" in bad.stderr and len(bad.stderr.splitlines()) == 1


def test_the_table_shows_the_all_to_alls(run_cli: Any) -> None:
    out = run_cli(*EP8[:-2], "-t", "2").stdout
    assert "EP all-to-all per layer, decode" in out and "t2 x p1 x e8" in out


def test_quantised_experts_shrink_with_the_weights() -> None:
    ep = _setup(expert_parallel=8)
    fp8 = dataclasses.replace(ep, weights="fp8")
    assert (
        routed_expert_bytes(fp8.model, Precision("bf16", "fp8"))
        == routed_expert_bytes(ep.model, ep.precision) / 2
    )
    assert weight_bytes_per_device(fp8) < weight_bytes_per_device(ep)
