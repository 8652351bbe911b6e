"""Error bands (issue 15): which cases count, the percentile, the stored file, and the band on every printed
prediction (JSON and table) of plan, llm-parallel, dp, edge, fl and specdec."""

from __future__ import annotations

import dataclasses
import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from planner.validate import bands
from planner.validate.bands import EVALUATOR_CLASSES, MODEL_CLASSES, compute, error_band, percentile
from planner.validate.cases import Case, all_cases
from planner.validate.evaluators import load_all
from planner.validate.runner import CaseResult


def _published(evaluator: str) -> Case:
    return next(
        item.case
        for item in all_cases()
        if item.case.evaluator == evaluator
        and item.case.kind == "published"
        and item.case.comparison == "value"
    )


def _cases(errors: list[float], **changes: Any) -> tuple[list[CaseResult], dict[str, Case]]:
    """LLM-training cases with these signed % errors (each changed by `changes`), and their results."""
    base = _published("llm_plan")
    cases = {f"c{i}": dataclasses.replace(base, name=f"c{i}", **changes) for i in range(len(errors))}
    results = [
        CaseResult(name, "published", "", "", 1.0, 1.0, err, 25.0, "pass", "")
        for name, err in zip(cases, errors, strict=True)
    ]
    return results, cases


def test_percentile_is_linear_between_order_statistics() -> None:
    # rank 0.9 x (5 - 1) = 3.6: 4 + 0.6 x (10 - 4)
    assert percentile([10.0, 1.0, 3.0, 2.0, 4.0], 90) == pytest.approx(7.6)
    assert percentile([5.0], 90) == 5.0
    rng = random.Random(15)
    for n in (2, 5, 6, 11, 16):
        values = [rng.uniform(0, 200) for _ in range(n)]
        assert percentile(values, 90) == pytest.approx(float(np.percentile(values, 90, method="linear")))


def test_the_band_is_p90_of_absolute_errors_and_names_its_cases() -> None:
    results, cases = _cases([-10.0, 1.0, -3.0, 2.0, 4.0])
    band = compute(results, cases)["llm-training"]
    assert band.pct == pytest.approx(7.6) and band.cases == 5
    assert band.case_names == ("c0", "c1", "c2", "c3", "c4")


def test_a_class_under_five_cases_has_no_band() -> None:
    results, cases = _cases([10.0, 20.0, 30.0, 40.0])
    band = compute(results, cases)["llm-training"]
    assert band.pct is None and band.cases == 4


def test_calibration_cases_are_left_out() -> None:
    results, cases = _cases([10.0, 20.0, 30.0, 40.0, 50.0])
    cases["c4"] = dataclasses.replace(cases["c4"], calibration=True)
    band = compute(results, cases)["llm-training"]
    assert band.cases == 4 and band.pct is None and "c4" not in band.case_names


@pytest.mark.parametrize(
    "changes",
    [{"kind": "exact"}, {"comparison": "at_least"}, {"evaluator": "pipeline_native_config_match"}],
    ids=["exact", "bound", "configuration-match"],
)
def test_exact_bound_and_configuration_cases_do_not_count(changes: dict[str, Any]) -> None:
    results, cases = _cases([10.0] * 6, **changes)
    assert all(band.cases == 0 for band in compute(results, cases).values())


def test_a_case_file_may_mark_a_calibration_case(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        "spec: validation\ncases:\n  - {name: a, kind: published, source: s, quantity: q,\n"
        "     evaluator: llm_plan, setup: {}, published: 1, tolerance_pct: 10, calibration: true}\n",
        encoding="utf-8",
    )
    (loaded,) = all_cases(tmp_path)
    assert loaded.case.calibration and not bands.counts(loaded.case)


def test_every_evaluator_names_its_class_or_none() -> None:
    assert set(load_all()) == set(EVALUATOR_CLASSES)
    assert set(EVALUATOR_CLASSES.values()) - {None} <= set(MODEL_CLASSES)


def test_the_stored_bands_are_those_of_a_validation_run_now(
    shared_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stored = json.loads(bands.BANDS_FILE.read_text(encoding="utf-8"))
    written = tmp_path / "error_bands.json"
    assert bands.main(["--data", str(shared_dir), "--output", str(written)]) == 0, capsys.readouterr().err
    fresh = json.loads((tmp_path / "error_bands.json").read_text(encoding="utf-8"))
    stale = f"planner/validate/error_bands.json is stale: run `{bands.REGENERATE}` and commit it"
    assert fresh.keys() == stored.keys() and set(fresh["classes"]) == set(stored["classes"]), stale
    for name, now in fresh["classes"].items():
        then = stored["classes"][name]
        assert (now["cases"], now["case_names"]) == (then["cases"], then["case_names"]), f"{name}: {stale}"
        pcts = (now["pct"], then["pct"])
        same = pcts[0] == pcts[1] or (None not in pcts and math.isclose(*pcts, rel_tol=1e-9))
        assert same, f"{name}: {then['pct']} stored, {now['pct']} now; {stale}"


def test_regenerating_without_the_data_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "error_bands.json"
    assert bands.main(["--data", str(tmp_path), "--output", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "skipped" in err
    assert not target.exists()


def test_an_unknown_class_is_a_setting_error() -> None:
    from planner.errors import SettingError

    with pytest.raises(SettingError, match="model_class"):
        error_band("weather")


PLAN_LLM = ("plan", "gpt2", "--cluster", "dgx-a100", "--servers", "1", "--global-batch", "16")
COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "plan-llm": (PLAN_LLM, "llm-training"),
    "llm-parallel": (("llm-parallel", *PLAN_LLM[1:]), "llm-training"),
    "dp": (("dp", "resnet18", "--cluster", "pipedream-cluster-a", "--servers", "2"), "data-parallel"),
    "edge-adcnn": (
        ("edge", "adcnn", "vgg16", "--cut", "pool5", "--tiles", "2x2", "--conv-nodes", "3"),
        "edge",
    ),
    "fl-round": (
        ("fl", "round", "--fleet", "mixed-edge", "--model", "resnet18", "-m", "10", "--trials", "100"),
        "federated",
    ),
    "specdec-speedup": (("specdec", "speedup", "--alpha", "0.8", "--c", "0.05"), "speculative-decoding"),
}


def _note(model_class: str) -> str:
    from planner.render import band_note

    band = error_band(model_class)
    return band_note({"error_band_pct": band.pct, "error_band_basis": band.basis()})


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_band_is_in_the_json_and_under_the_table(run_cli: Any, name: str) -> None:
    argv, model_class = COMMANDS[name]
    band = error_band(model_class)
    payload = json.loads(run_cli(*argv, "--format", "json").stdout)
    assert payload["error_band_pct"] == band.pct
    assert payload["error_band_basis"] == {
        "model_class": model_class,
        "cases": band.cases,
        "percentile": 90.0,
    }
    table = run_cli(*argv)
    assert table.exit_code == 0, table.stderr
    assert _note(model_class) in table.stdout


def test_the_llm_band_is_a_number_and_printed_as_one(run_cli: Any) -> None:
    band = error_band("llm-training")
    assert band.pct is not None and band.cases >= 5  # the Megatron Table 1 throughputs
    out = run_cli(*PLAN_LLM).stdout
    assert f"error band ±{band.pct:.0f}% (p90 |error|, {band.cases} published cases, llm-training)" in out


def test_plan_gives_each_strategy_the_band_of_its_class(run_cli: Any) -> None:
    argv = ("plan", "vgg16", "--cluster", "pipedream-cluster-a")
    payload = json.loads(run_cli(*argv, "--format", "json").stdout)
    pipelines = ("pipeline", "gpipe", "1f1b")  # PipeDream's, GPipe's and 1F1B's pipelines
    for strategy in payload["strategies"]:
        model_class = "pipeline" if strategy["family"] in pipelines else "data-parallel"
        assert strategy["error_band_pct"] == error_band(model_class).pct
        assert strategy["error_band_basis"]["model_class"] == model_class
    assert {s["family"] for s in payload["strategies"]} >= {"data-parallel", "pipeline"}
    out = run_cli(*argv).stdout
    assert _note("data-parallel") in out and _note("pipeline") in out
    header = next(line for line in out.splitlines() if "strategy" in line)  # 200 columns: every column
    assert "band" in header
