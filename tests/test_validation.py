"""The validation harness: case loading, statuses, JSON shape, exit codes, and a golden file of predictions.

The golden file stores every case's prediction; any drift fails. Refresh it on purpose with
    PLANNER_UPDATE_GOLDEN=1 python -m pytest tests/test_validation.py -k golden
and commit the diff with the reason for the change.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from planner.validate.cases import all_cases
from planner.validate.evaluators import EVALUATORS, load_all
from planner.validate.runner import error_pct, run

GOLDEN = Path(__file__).parent / "golden" / "validation.json"


def test_every_case_names_a_registered_evaluator_and_a_source() -> None:
    cases = all_cases()
    load_all()
    assert len(cases) >= 20
    for item in cases:
        assert item.case.evaluator in EVALUATORS, item.case.name
        assert item.case.source.strip()


def test_error_pct_is_signed_and_relative() -> None:
    assert error_pct(110, 100) == pytest.approx(10)
    assert error_pct(90, 100) == pytest.approx(-10)
    assert error_pct(0, 0) == 0
    assert math.isinf(error_pct(1, 0))


def test_published_bounds_pass_on_their_side_only() -> None:
    from planner.validate.runner import within

    assert within(390.0, 25.0, "at_least") and within(-20.0, 25.0, "at_least")
    assert not within(-30.0, 25.0, "at_least")
    assert within(-90.0, 5.0, "at_most") and not within(10.0, 5.0, "at_most")
    assert within(-4.0, 5.0, "value") and not within(6.0, 5.0, "value")


def test_validate_passes_and_reports_json(run_cli, shared_dir: Path) -> None:
    result = run_cli("validate", "--data", str(shared_dir), "--format", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    payload = json.loads(result.stdout)
    assert payload["schema_version"] == 3
    keys = {
        "name",
        "kind",
        "source",
        "quantity",
        "predicted",
        "published",
        "error_pct",
        "tolerance_pct",
        "status",
        "reason",
    }
    for case in payload["cases"]:
        assert keys <= set(case)
        assert case["status"] in {"pass", "known-deviation"}
    summary = payload["summary"]
    assert summary["counts"]["fail"] == 0
    assert summary["counts"]["skipped"] == 0
    assert summary["published_abs_error_pct"]["max"] is not None


def test_cases_needing_data_are_skipped_without_it(run_cli, tmp_path: Path) -> None:
    result = run_cli("validate", "--data", str(tmp_path), "--only", "*-profile-nodes", "--format", "json")
    assert result.exit_code == 0
    cases = json.loads(result.stdout)["cases"]
    assert cases and all(c["status"] == "skipped" and "profiles/pipedream" in c["reason"] for c in cases)


def test_only_that_matches_nothing_is_bad_input(run_cli) -> None:
    result = run_cli("validate", "--only", "no-such-case")
    assert result.exit_code == 2 and "no case name matches" in result.stderr


def test_missing_data_folder_is_bad_input(run_cli, tmp_path: Path) -> None:
    result = run_cli("validate", "--data", str(tmp_path / "absent"))
    assert result.exit_code == 2 and "absent" in result.stderr


def test_a_failing_case_exits_1(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    from planner.validate import runner
    from planner.validate.evaluators import Registered

    real = EVALUATORS["model_parameters"]
    monkeypatch.setitem(EVALUATORS, "model_parameters", Registered(lambda s, c: 1.0, real.setup_keys, ()))
    result = run_cli("validate", "--only", "vgg16-parameters")
    assert result.exit_code == 1
    assert "fail" in result.stdout
    assert runner  # the module is imported by the CLI


def test_golden_predictions(shared_dir: Path) -> None:
    predicted = {r.name: r.predicted for r in run(shared_dir)}
    if os.environ.get("PLANNER_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(predicted, indent=2, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert sorted(predicted) == sorted(golden), "cases added or removed: refresh the golden file on purpose"
    drift = {
        name: (golden[name], value)
        for name, value in predicted.items()
        if not math.isclose(value, golden[name], rel_tol=1e-9, abs_tol=1e-12)
    }
    assert not drift, f"predictions drifted (golden, now): {drift}"
