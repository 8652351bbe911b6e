"""Quantised serving (issue 20): weight formats fp8 / int8 (W8A8) and int4 (weight-only W4A16), KV cache
fp8 / int8; bytes, decode reads, prefill GEMM peaks, the dequantisation pass, refusals, the closing note."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from api_payloads import api_json, cli_json

from planner.api import serve_inputs
from planner.api.serve import serve
from planner.api.serve_best import serve_best
from planner.api.serve_inputs import ServeOptions
from planner.cost import quantisation as q
from planner.cost.decode import Placement, step_time
from planner.cost.transformer import parameter_breakdown, parameter_count
from planner.errors import SettingError
from planner.optimize.serving_costs import prefill_compute_time
from planner.spec.catalog import find

L40S_INT4 = ("serve", "llama-3-70b", "--cluster", "aws-g6e", "-t", "4", "--weight-dtype", "int4")


def test_int4_stores_4_125_bits_so_a_layer_reads_3_87x_fewer_bytes() -> None:
    # Marlin README: "the optimal 3.87x (note the 0.125 bits storage overhead of the group scales)"
    assert q.INT4_BYTES == 4.125 / 8
    assert round(2.0 / q.INT4_BYTES, 2) == 3.88  # printed 3.87 (truncated)


def test_weight_bytes_quantise_the_layers_only() -> None:
    cfg = find("models", "llama-3-8b")
    parts = parameter_breakdown(cfg)
    layers = parts["attention"] + parts["ffn"]
    rest = parameter_count(cfg) - layers
    assert q.weight_bytes(cfg, q.Precision("bf16")) == parameter_count(cfg) * 2
    for fmt, per in (("fp8", 1.0), ("int8", 1.0), ("int4", 4.125 / 8)):
        assert q.weight_bytes(cfg, q.Precision("bf16", fmt)) == pytest.approx(layers * per + rest * 2)
    assert rest > 0.1 * parameter_count(cfg)  # Llama-3's 128k vocabulary: 1.05B embedding + head in bf16


def test_precision_names_its_gemm_peak_and_refuses_unknown_formats() -> None:
    assert q.Precision("bf16", "fp8").gemm_dtype == "fp8"
    assert q.Precision("bf16", "int8").gemm_dtype == "int8"
    assert q.Precision("fp16", "int4").gemm_dtype == "fp16"
    assert q.Precision("bf16", kv_cache="fp8").kv_dtype == "fp8"
    with pytest.raises(ValueError, match="weight format"):
        q.Precision("bf16", "int3")
    assert serve_inputs.WEIGHT_FORMATS == q.WEIGHT_FORMATS and serve_inputs.KV_FORMATS == q.KV_FORMATS


def test_a_memory_bound_decode_step_scales_with_the_bytes_read() -> None:
    cfg, h100 = find("models", "llama-3-8b"), find("hardware", "h100")
    at = Placement(h100)
    plain = step_time(cfg, at, dtype="bf16", batch=1, context=0)
    assert step_time(cfg, at, dtype="bf16", batch=1, context=0, precision=q.Precision("bf16")) == plain
    for fmt in q.WEIGHT_FORMATS:
        quantised = step_time(cfg, at, dtype="bf16", batch=1, context=0, precision=q.Precision("bf16", fmt))
        assert not quantised.compute_bound
        assert quantised.roofline_s / plain.roofline_s == pytest.approx(quantised.bytes / plain.bytes)
        assert quantised.roofline_s < 0.6 * plain.roofline_s


def test_fp8_runs_the_layer_gemms_at_the_fp8_peak_and_its_own_efficiency_when_compute_bound() -> None:
    cfg, h100 = find("models", "llama-3-8b"), find("hardware", "h100")
    at = Placement(h100)
    plain = step_time(cfg, at, dtype="bf16", batch=2048, context=0)
    fp8 = step_time(cfg, at, dtype="bf16", batch=2048, context=0, precision=q.Precision("bf16", "fp8"))
    assert plain.compute_bound and fp8.compute_bound
    layers = 2048 * 2.0 * q.layer_weight_parameters(cfg)
    saved = layers / (989.4e12 * 0.8) - layers / (1978.9e12 * 0.71)  # h100-sxm5-80gb: fp8 0.71, bf16 0.8
    assert plain.compute_s - fp8.compute_s == pytest.approx(saved)


def _setup(cluster: str, **options: Any) -> Any:
    from planner.api.serve import serving_setup as setup

    return setup("llama-3-8b", cluster, ServeOptions(**options))


def test_prefill_gemms_at_the_fp8_peak_and_int4_pays_its_dequantisation() -> None:
    plain = _setup("dgx-h100")
    fp8 = dataclasses.replace(plain, weights="fp8")
    int4 = dataclasses.replace(plain, weights="int4")
    base = prefill_compute_time(plain, 1.0, 2048)
    assert 0.5 * base < prefill_compute_time(fp8, 1.0, 2048) < 0.85 * base
    per_layer = q.layer_weight_parameters(plain.model) / 32 * (4.125 / 8 + 2)
    dequant = 32 * (per_layer / (3.35e12 * 0.8) + 4 * 4e-6)
    assert prefill_compute_time(int4, 1.0, 2048) - base == pytest.approx(dequant)


def test_a_quantised_kv_cache_holds_twice_the_sequences() -> None:
    plain = serve("llama-3-8b", "dgx-h100", ServeOptions(batch=1)).to_dict()
    fp8 = serve("llama-3-8b", "dgx-h100", ServeOptions(batch=1, kv_cache_dtype="fp8")).to_dict()
    assert fp8["kv_cache_bytes_per_token"] == plain["kv_cache_bytes_per_token"] / 2
    assert fp8["weight_bytes_per_device"] == plain["weight_bytes_per_device"]
    assert 2 * plain["max_concurrent_sequences"] <= fp8["max_concurrent_sequences"]
    assert fp8["max_concurrent_sequences"] <= 2 * plain["max_concurrent_sequences"] + 1
    assert fp8["precision"] == "bf16 / fp8 KV cache"


def test_int4_llama_3_70b_on_l40s_fits_where_bf16_leaves_less_room_and_says_why() -> None:
    payload = serve("llama-3-70b", "aws-g6e", ServeOptions(tensor_parallel=4, weight_dtype="int4")).to_dict()
    plain = serve("llama-3-70b", "aws-g6e", ServeOptions(tensor_parallel=4)).to_dict()
    assert payload["weight_bytes_per_device"] < 0.3 * plain["weight_bytes_per_device"]
    assert payload["max_concurrent_sequences"] > 3 * plain["max_concurrent_sequences"]
    note = payload["notes"][-1]
    assert note.startswith("vs bf16 throughout") and "int4 W4A16" in note and "dequantisation" in note
    assert "notes" in plain and not any("vs bf16" in n for n in plain["notes"])


def test_the_search_serves_in_the_given_precision() -> None:
    options = ServeOptions(weight_dtype="int4", tpot=0.05)
    payload = serve_best("llama-3-70b", "aws-g6e", options).to_dict()
    assert payload["precision"] == "int4 weights / bf16" and payload["best"] is not None


def test_a_device_without_the_format_refuses_it_with_the_reason(run_cli: Any) -> None:
    with pytest.raises(SettingError, match="no fp8 peak"):
        serve("llama-3-8b", "dgx-a100", ServeOptions(weight_dtype="fp8"))
    serve("llama-3-8b", "dgx-a100", ServeOptions(weight_dtype="int8", batch=1))  # A100 has int8
    bad = run_cli("serve", "llama-3-8b", "--cluster", "dgx-a100", "--weight-dtype", "fp8")
    assert bad.exit_code == 2 and "--weight-dtype" in bad.stderr and len(bad.stderr.splitlines()) == 1
    odd = run_cli("serve", "llama-3-8b", "--cluster", "dgx-h100", "--kv-cache-dtype", "int4")
    assert odd.exit_code == 2 and "--kv-cache-dtype" in odd.stderr


def test_api_equals_cli_json(run_cli: Any) -> None:
    options = ServeOptions(tensor_parallel=4, weight_dtype="int4")
    assert cli_json(run_cli, *L40S_INT4) == api_json(serve("llama-3-70b", "aws-g6e", options))
