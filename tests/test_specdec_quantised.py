"""Quantised speculative decoding: the target's and the draft's weight formats and the KV cache's, through
serving's decode model (planner.api.specdec_models, specdec_batch)."""

from __future__ import annotations

import json

import pytest

from planner.api.specdec_batch import SpecdecBatchOptions, specdec_batch
from planner.api.specdec_models import SpecdecModelsOptions, specdec_models
from planner.cost.decode import Placement, step_time
from planner.cost.quantisation import Precision
from planner.errors import SettingError

PAIR = {"target": "llama-2-70b", "draft": "llama-2-7b"}
BASE = ("specdec", "models", "--target", "llama-2-70b", "--draft", "llama-2-7b", "--alpha", "0.8")


def models(device: str = "h100", **options):
    return specdec_models(
        **PAIR, options=SpecdecModelsOptions(0.8, tensor_parallel=4, **options), device=device
    )


def test_int4_target_lowers_its_step_and_raises_c_at_batch_one() -> None:
    plain, int4 = models(), models(weight_dtype="int4")
    assert int4.costs.target_step.time_s < 0.8 * plain.costs.target_step.time_s  # ~3.9x fewer weight bytes
    assert int4.costs.draft_step.time_s == plain.costs.draft_step.time_s  # the draft stays in bf16
    assert int4.c > 1.5 * plain.c
    assert int4.costs.target_memory_bytes < 0.5 * plain.costs.target_memory_bytes
    assert int4.costs.draft_memory_bytes == plain.costs.draft_memory_bytes


def test_draft_weights_quantised_apart_lower_c() -> None:
    plain, draft_fp8 = models(), models(draft_weight_dtype="fp8")
    assert draft_fp8.costs.target_step.time_s == plain.costs.target_step.time_s
    assert draft_fp8.costs.draft_step.time_s < 0.7 * plain.costs.draft_step.time_s
    assert draft_fp8.c < plain.c and draft_fp8.table.optimal_speedup > plain.table.optimal_speedup


def test_the_target_step_is_serving_decode_step() -> None:
    """One implementation: the pair's target step is planner.cost.decode.step_time in the same precision."""
    result = models(weight_dtype="fp8", kv_cache_dtype="fp8", batch=8)
    placement = Placement(result.device, 4, result.cluster)
    direct = step_time(
        result.target,
        placement,
        dtype="bf16",
        batch=8,
        context=512,
        precision=Precision("bf16", "fp8", "fp8"),
    )
    assert result.costs.target_step.time_s == pytest.approx(direct.time_s, rel=1e-12)


def test_fp8_kv_cache_lowers_the_step_more_at_long_context() -> None:
    def saving(context: int) -> float:
        plain, fp8 = models(context=context, batch=8), models(context=context, batch=8, kv_cache_dtype="fp8")
        assert fp8.costs.target_step.time_s < plain.costs.target_step.time_s
        assert fp8.costs.draft_step.time_s < plain.costs.draft_step.time_s  # one KV format for both
        return 1.0 - fp8.costs.target_step.time_s / plain.costs.target_step.time_s

    assert saving(16_384) > 0.1 > saving(128)


def test_verification_runs_at_the_quantised_peak() -> None:
    """Compute-bound verification (batch 128 x 16 tokens): fp8 GEMMs at twice the bf16 peak, at the H100's
    own fp8 matmul efficiency (0.71 against bf16's 0.8: 0.56 of bf16's GEMM time, plus what stays bf16);
    int4 weights are multiplied at the bf16 peak, so its verification costs about as much as bf16's."""

    def verify_s(**options) -> float:
        result = models(batch=128, max_gamma=15, **options)
        return result.rows()[-1]["verify_ratio"] * result.costs.target_step.time_s

    plain = verify_s()
    assert 0.56 * plain < verify_s(weight_dtype="fp8") < 0.7 * plain
    assert verify_s(weight_dtype="int4") > 0.95 * plain


def test_refused_where_the_device_lacks_the_format(run_cli) -> None:
    with pytest.raises(SettingError, match=r"weight_dtype.*a100.*no fp8 peak"):
        models(device="a100", weight_dtype="fp8")
    with pytest.raises(SettingError, match="draft_weight_dtype"):
        specdec_batch(
            **PAIR,
            options=SpecdecBatchOptions(0.8, tensor_parallel=4, draft_weight_dtype="fp8"),
            device="a100",
        )
    assert models(device="a100", weight_dtype="int4").costs.target_step.time_s > 0  # int4 needs no fp8
    for flag in ("--weight-dtype", "--draft-weight-dtype"):
        bad = run_cli(*BASE, "--device", "a100", "--tp", "4", flag, "fp8")
        assert bad.exit_code == 2 and flag in bad.stderr and "a100" in bad.stderr
        assert "Traceback" not in bad.stderr
    unknown = run_cli(*BASE, "--device", "h100", "--tp", "4", "--kv-cache-dtype", "int4")
    assert unknown.exit_code == 2 and "--kv-cache-dtype" in unknown.stderr


def test_cli_equals_api_and_json_carries_the_dtypes(run_cli) -> None:
    formats = {"weight_dtype": "int4", "draft_weight_dtype": "fp8", "kv_cache_dtype": "fp8"}
    flags = ("--weight-dtype", "int4", "--draft-weight-dtype", "fp8", "--kv-cache-dtype", "fp8")
    result = run_cli(*BASE, "--device", "h100", "--tp", "4", *flags, "--format", "json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload.pop("schema_version") >= 1  # the CLI's envelope
    assert payload == json.loads(json.dumps(models(**formats).to_dict()))
    assert payload["target"]["weight_dtype"] == "int4" and payload["draft"]["weight_dtype"] == "fp8"
    assert payload["kv_cache_dtype"] == "fp8"
    assert payload["target"]["precision"] == "int4 weights / bf16 / fp8 KV cache"

    batch_args = ("--batches", "1,16", *flags, "--format", "json")
    cli = run_cli(*BASE[:1], "batch", *BASE[2:], "--device", "h100", "--tp", "4", *batch_args)
    assert cli.exit_code == 0, cli.stderr
    api = specdec_batch(
        **PAIR, options=SpecdecBatchOptions(0.8, tensor_parallel=4, batches=(1, 16), **formats), device="h100"
    )
    batch_payload = json.loads(cli.stdout)
    batch_payload.pop("schema_version")
    assert batch_payload == json.loads(json.dumps(api.to_dict()))
    assert batch_payload["target"]["weight_dtype"] == "int4" and batch_payload["kv_cache_dtype"] == "fp8"
    table = run_cli(*BASE[:1], "batch", *BASE[2:], "--device", "h100", "--tp", "4", "--batches", "1", *flags)
    assert "weights int4 / fp8, KV cache fp8" in table.stdout


def test_int4_target_fits_larger_batches() -> None:
    def largest(**formats) -> int:
        options = SpecdecBatchOptions(0.8, tensor_parallel=4, batches=(1,), **formats)
        return specdec_batch(**PAIR, options=options, device="h100").largest_batch

    assert largest(weight_dtype="int4", kv_cache_dtype="fp8") > largest()


def test_tree_verification_in_the_target_format() -> None:
    from planner.api.specdec_tree import SpecdecTreeOptions, specdec_tree

    def tree(**formats):
        options = SpecdecTreeOptions(
            acceptance=(0.6, 0.15, 0.08), size=32, c=0.1, tensor_parallel=4, batch=16, **formats
        )
        return specdec_tree(options, target="llama-2-70b", device="h100")

    plain, fp8 = tree().verify, tree(weight_dtype="fp8").verify
    assert plain is not None and fp8 is not None
    # half the weight bytes: a plain step is cheaper, so verifying 32 tokens costs more plain steps
    assert fp8.t[-1] > plain.t[-1] and fp8.t[0] == plain.t[0] == 1.0
    assert fp8.to_dict()["precision"] == "fp8 weights / bf16"
    with pytest.raises(SettingError, match=r"weight_dtype.*no fp8 peak"):
        specdec_tree(
            SpecdecTreeOptions(acceptance=(0.6,), c=0.1, tensor_parallel=4, weight_dtype="fp8"),
            target="llama-2-70b",
            device="a100",
        )
    with pytest.raises(SettingError, match="needs target and device"):
        specdec_tree(SpecdecTreeOptions(acceptance=(0.6,), c=0.1, kv_cache_dtype="fp8"))
