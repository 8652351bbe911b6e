"""Fitted parameters (planner.validate.fit): every value fitted on a declared calibration subset is the fit
of that subset as the catalog writes it; calibration cases are reported apart from the published error."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.errors import PlannerError
from planner.spec.catalog import device_fields_replaced, find
from planner.validate import fit
from planner.validate.cases import all_cases
from planner.validate.runner import CaseResult, summarize


def test_every_fitted_catalog_value_is_the_fit_of_its_calibration_cases(shared_dir: Path) -> None:
    found = fit.targets()
    assert "a100-sxm4-80gb.compute_efficiency" in found and "tpu-v3.kernel_overhead" in found
    for target, items in found.items():
        result = fit.fit(target, items, shared_dir)
        assert result.catalog_agrees(), fit.report(result)
        # at the fit, each calibration case is within its tolerance or carries its known deviation
        for item, (_, error) in zip(items, result.errors_pct, strict=True):
            assert abs(error) <= item.case.tolerance_pct or item.case.known_deviation, fit.report(result)


def test_the_a100_fit_is_stable_when_any_one_case_is_left_out(shared_dir: Path) -> None:
    """Cross-validation: each Korthikanti case left out, the others give nearly the same value, which
    predicts the left-out case within its 25 % tolerance."""
    target = "a100-sxm4-80gb.compute_efficiency"
    items = fit.targets()[target]
    whole = fit.fit(target, items, shared_dir).value
    rows = fit.leave_one_out(target, items, shared_dir)
    assert [name for name, _, _ in rows] == [item.case.name for item in items]
    for (name, value, error), item in zip(rows, items, strict=True):
        assert abs(value - whole) < 0.02, name
        assert abs(error) <= item.case.tolerance_pct, name


def test_the_a100_fit_moves_its_cases_as_the_field_does(shared_dir: Path) -> None:
    items = fit.targets()["a100-sxm4-80gb.compute_efficiency"]
    slow = fit.errors_at("a100-sxm4-80gb.compute_efficiency", 0.6, items, shared_dir)
    fast = fit.errors_at("a100-sxm4-80gb.compute_efficiency", 0.9, items, shared_dir)
    # iteration times: a slower matmul predicts longer iterations for every case
    assert all(s > f for (_, s), (_, f) in zip(slow, fast, strict=True))


def test_a_replaced_device_field_is_back_after_the_block() -> None:
    before = find("hardware", "a100-sxm4-80gb", ("device",)).compute_efficiency
    with device_fields_replaced("a100-sxm4-80gb", compute_efficiency=0.5) as device:
        assert device.compute_efficiency == 0.5
        assert find("hardware", "dgx-a100", ("cluster",)).device.compute_efficiency == 0.5
    assert find("hardware", "a100-sxm4-80gb", ("device",)).compute_efficiency == before
    assert find("hardware", "dgx-a100", ("cluster",)).device.compute_efficiency == before


def test_replaced_devices_nest_and_reach_the_catalog_listing() -> None:
    from planner.spec.catalog import entries

    with device_fields_replaced("a100-sxm4-80gb", compute_efficiency=0.5):
        listed = {entry.name: entry.value for entry in entries("hardware")}
        assert listed["dgx-a100"].device.compute_efficiency == 0.5
        with device_fields_replaced("h100-sxm5-80gb", compute_efficiency=0.3):
            assert find("hardware", "a100-sxm4-80gb", ("device",)).compute_efficiency == 0.5
            with device_fields_replaced("a100-sxm4-80gb", memory_efficiency=0.5) as inner:
                assert (inner.compute_efficiency, inner.memory_efficiency) == (0.5, 0.5)
        assert find("hardware", "h100-sxm5-80gb", ("device",)).compute_efficiency == pytest.approx(0.8)
    listed = {entry.name: entry.value for entry in entries("hardware")}
    assert listed["dgx-a100"].device.compute_efficiency == pytest.approx(0.78)


def test_a_calibrated_field_without_a_fit_range_is_refused_at_its_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "c.yaml").write_text(
        "spec: validation\ncases:\n  - {name: a, kind: published, source: s, quantity: q,\n"
        "     evaluator: llm_plan, setup: {}, published: 1, tolerance_pct: 10, calibration: true,\n"
        "     calibrates: a100-sxm4-80gb.memory_bandwidth}\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(fit, "all_cases", lambda: all_cases(tmp_path))
    with pytest.raises(
        PlannerError, match=r"c\.yaml:5: field .cases\[0\]\.calibrates.: expected DEVICE\.FIELD"
    ):
        fit.targets()


def test_calibrates_needs_a_calibration_case(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        "spec: validation\ncases:\n  - {name: a, kind: published, source: s, quantity: q,\n"
        "     evaluator: llm_plan, setup: {}, published: 1, tolerance_pct: 10,\n"
        "     calibrates: a100-sxm4-80gb.compute_efficiency}\n",
        encoding="utf-8",
    )
    with pytest.raises(
        PlannerError,
        match=r"c\.yaml:5: field .cases\[0\]\.calibrates.: expected DEVICE\.FIELD on a case marked "
        r"calibration: true",
    ):
        all_cases(tmp_path)


def _result(name: str, error: float, calibration: bool = False) -> CaseResult:
    return CaseResult(
        name, "published", "s", "q", 1.0 + error / 100, 1.0, error, 25.0, "pass", "", calibration=calibration
    )


def test_the_summary_reports_calibration_cases_apart() -> None:
    summary = summarize([_result("a", 2.0), _result("b", -4.0), _result("c", 30.0, calibration=True)])
    assert summary["published_abs_error_pct"] == {"cases": 2, "median": 3.0, "max": 4.0}
    assert summary["calibration_abs_error_pct"] == {"cases": 1, "median": 30.0, "max": 30.0}


def test_every_calibration_case_of_the_shipped_files_names_what_it_fits() -> None:
    calibration = [item.case for item in all_cases() if item.case.calibration]
    assert calibration and all(case.calibrates for case in calibration)
