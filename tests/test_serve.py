"""`planner serve` (issue 19): KV cache, decode against its floor, continuous batching, the best serving
configuration under latency targets; the API equals the CLI's JSON; errors are one line."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import pytest
from api_payloads import api_json, cli_json

from planner.api.serve import serve
from planner.api.serve_best import serve_best
from planner.api.serve_inputs import ServeOptions
from planner.cost.decode import kv_bytes_per_token
from planner.spec.catalog import find
from planner.spec.llm import LLMConfig

SEVEN_B = ("serve", "llama-2-7b", "--cluster", "dgx-h100", "--servers", "1")
BEST_70B = ("serve", "llama-2-70b", "--cluster", "dgx-h100", "--servers", "1", "--tpot", "50ms")


def llama_3_8b() -> LLMConfig:
    """Llama-3-8B (grouped-query: 8 KV heads of 128 for 32 query heads), from its HF config.json
    (meta-llama/Meta-Llama-3-8B: hidden 4096, 32 layers, 32 heads, 8 KV heads, FFN 14336, vocab 128256)."""
    base = find("models", "llama-2-7b")
    return dataclasses.replace(
        base, name="llama-3-8b", num_kv_heads=8, ffn_size=14336, vocab_size=128256, max_sequence_length=8192
    )


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("llama-2-7b", 32 * 2 * 32 * 128 * 2),  # multi-head: 512 KiB per token
        ("llama-2-70b", 80 * 2 * 8 * 128 * 2),  # grouped-query, 8 KV heads: 320 KiB
        ("llama-3-8b", 32 * 2 * 8 * 128 * 2),  # grouped-query: 128 KiB
    ],
)
def test_kv_bytes_per_token_are_exact(model: str, expected: int) -> None:
    cfg = llama_3_8b() if model == "llama-3-8b" else find("models", model)
    assert kv_bytes_per_token(cfg, "bf16") == expected
    tensor = 8 if model == "llama-2-70b" else 1  # 138 GB of weights need more than one device
    payload = serve(cfg, "dgx-h100", ServeOptions(batch=1, tensor_parallel=tensor)).to_dict()
    assert payload["kv_cache_bytes_per_token"] == expected


def test_decode_at_batch_one_lies_between_the_floor_and_twice_it() -> None:
    payload = serve("llama-2-7b", "dgx-h100", ServeOptions(batch=1)).to_dict()
    floor = (6_738_415_616 - 32000 * 4096) * 2 + 512 * 1024 * (512 + 64)  # weights read + KV at the context
    assert payload["decode_floor_s"] == pytest.approx(floor / 3.35e12)
    assert payload["decode_floor_s"] < payload["decode_step_s"] < 2 * payload["decode_floor_s"]
    assert payload["tpot_s"] >= payload["decode_step_s"]


def test_max_concurrent_sequences_from_memory_left_after_weights() -> None:
    payload = serve("llama-2-7b", "dgx-h100", ServeOptions(prompt_len=500, output_len=100)).to_dict()
    per_sequence = 608 * 512 * 1024  # 600 tokens in blocks of 16 -> 608
    free = (80 - 1.39) * 2**30 * 0.9 - 6_738_415_616 * 2  # h100-sxm5-80gb: 1.39 GiB reserved
    assert payload["kv_cache_bytes_per_sequence_per_device"] == per_sequence
    assert payload["max_concurrent_sequences"] == int(free // per_sequence)
    two = serve("llama-2-7b", "dgx-h100", ServeOptions(prompt_len=500, output_len=100, tensor_parallel=2))
    assert two.to_dict()["max_concurrent_sequences"] > 2 * payload["max_concurrent_sequences"]


def test_the_curve_trades_latency_for_throughput() -> None:
    curve = serve("llama-2-7b", "dgx-h100", ServeOptions()).to_dict()["curve"]
    assert [c["batch"] for c in curve][:4] == [1, 2, 4, 8]
    rates = [c["tokens_per_s_per_gpu"] for c in curve]
    tpots = [c["tpot_s"] for c in curve]
    assert rates == sorted(rates) and tpots == sorted(tpots)
    assert rates[-1] > 10 * rates[0]


def test_chunked_prefill_hides_prefill_in_memory_bound_decode() -> None:
    plain = serve("llama-2-7b", "dgx-h100", ServeOptions(batch=64)).to_dict()
    chunked = serve("llama-2-7b", "dgx-h100", ServeOptions(batch=64, chunked_prefill=True)).to_dict()
    assert chunked["tpot_s"] < plain["tpot_s"]
    assert chunked["tokens_per_s_per_gpu"] > plain["tokens_per_s_per_gpu"]
    assert chunked["ttft_s"] >= chunked["prefill_s"] * 0.9  # a chunk-carrying iteration holds its prefill


def test_tensor_parallelism_reports_its_allreduces() -> None:
    payload = serve("llama-2-70b", "dgx-h100", ServeOptions(tensor_parallel=8, batch=16, servers=1))
    payload = payload.to_dict()
    comm = payload["communication_per_layer"]
    assert comm["allreduces_per_layer"] == 2
    assert comm["decode_allreduce_bytes"] == 16 * 8192 * 2
    assert comm["prefill_allreduce_s"] > comm["decode_allreduce_s"] > 0
    assert payload["replicas"] == 1 and payload["devices_per_replica"] == 8


def test_the_best_configuration_for_llama_2_70b_under_a_tpot_target() -> None:
    result = serve_best("llama-2-70b", "dgx-h100", ServeOptions(tpot=0.05, ttft=2.0, servers=1))
    payload = result.to_dict()
    best = payload["best"]
    assert best is not None and best["tpot_s"] <= 0.05 and best["ttft_s"] <= 2.0
    assert best["tensor_parallel"] * best["pipeline_parallel"] <= 8
    rates = [c["tokens_per_s_per_gpu"] for c in payload["candidates"] if c["meets_targets"]]
    assert rates == sorted(rates, reverse=True)
    losers = [c for c in payload["candidates"][1:]]
    assert losers and all(c["reason"] for c in losers)
    single = [c for c in payload["candidates"] if c["devices_per_replica"] == 1]
    assert single and "no room" in single[0]["reason"]  # 138 GB of weights on one 80 GiB device


def test_api_equals_cli_json(run_cli: Any) -> None:
    assert cli_json(run_cli, *SEVEN_B) == api_json(serve("llama-2-7b", "dgx-h100", ServeOptions(servers=1)))
    options = ServeOptions(servers=1, tpot=0.05)
    assert cli_json(run_cli, *BEST_70B) == api_json(serve_best("llama-2-70b", "dgx-h100", options))


def test_a_request_mix_of_one_row_is_the_plain_question(tmp_path: Path) -> None:
    mix = tmp_path / "mix.yaml"
    mix.write_text("spec: requests\nrequests:\n  - {prompt: 300, output: 50, weight: 2}\n", encoding="utf-8")
    plain = serve("llama-2-7b", "dgx-h100", ServeOptions(prompt_len=300, output_len=50)).to_dict()
    mixed = serve("llama-2-7b", "dgx-h100", ServeOptions(requests=str(mix))).to_dict()
    assert {k: v for k, v in mixed.items() if k != "requests"} == {
        k: v for k, v in plain.items() if k != "requests"
    }
    two = tmp_path / "two.yaml"
    two.write_text(
        "spec: requests\nrequests:\n  - {prompt: 100, output: 100}\n  - {prompt: 900, output: 300}\n"
    )
    payload = serve("llama-2-7b", "dgx-h100", ServeOptions(requests=str(two))).to_dict()
    assert payload["prompt_len"] == 500 and payload["output_len"] == 200
    assert payload["mean_context"] == pytest.approx((100 * 150 + 300 * 1050) / 400)


def test_bad_input_is_one_line_and_infeasible_is_exit_1(run_cli: Any, tmp_path: Path) -> None:
    bad = run_cli("serve", "llama-2-7b", "--cluster", "dgx-h100", "--memory-headroom", "1.5")
    assert bad.exit_code == 2 and "--memory-headroom" in bad.stderr and len(bad.stderr.splitlines()) == 1
    mix = tmp_path / "mix.yaml"
    mix.write_text("spec: requests\nrequests:\n  - {prompt: 100, output: 0}\n", encoding="utf-8")
    row = run_cli("serve", "llama-2-7b", "--cluster", "dgx-h100", "--requests", str(mix))
    assert row.exit_code == 2 and "mix.yaml:3" in row.stderr and "output" in row.stderr
    tight = run_cli("serve", "llama-2-70b", "--cluster", "dgx-h100", "-t", "1")
    assert tight.exit_code == 1 and "--tensor-parallel" in tight.stderr
    big = run_cli("serve", "llama-2-7b", "--cluster", "dgx-h100", "--batch", "100000")
    assert big.exit_code == 1 and "--batch" in big.stderr and "Traceback" not in big.stderr
    split = run_cli("serve", "llama-2-7b", "--cluster", "dgx-h100", "-t", "3")
    assert split.exit_code == 2 and "--tensor-parallel" in split.stderr
    never = run_cli(*BEST_70B[:-1], "1ms")
    assert never.exit_code == 1 and "--tpot" in never.stderr


EP_MIXTRAL = (
    "serve",
    "mixtral-8x7b",
    "--cluster",
    "dgx-h100",
    "--servers",
    "1",
    "-t",
    "2",
    "--expert-parallel",
    "8",
)


@pytest.mark.parametrize("argv", [SEVEN_B, BEST_70B, EP_MIXTRAL], ids=" ".join)
def test_tables_fit_80_columns(argv: tuple[str, ...], monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    from planner.cli import main

    monkeypatch.setattr(sys, "argv", ["planner", *argv])
    monkeypatch.setenv("COLUMNS", "80")
    try:
        main()
    except SystemExit as exc:
        assert exc.code in (0, None)
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert ("max concurrent sequences" in out) or ("best: tensor" in out)
