"""Run validation cases: predicted vs published, % error, status, and a summary."""

from __future__ import annotations

import difflib
import fnmatch
import functools
import os
import statistics
from dataclasses import dataclass
from pathlib import Path

from planner.errors import SettingError, SpecError
from planner.validate.cases import LoadedCase, all_cases
from planner.validate.evaluators import Context, load_all

EXACT_REL_TOLERANCE = 1e-9  # an exact case with tolerance 0 still allows float round-off
STATUSES = ("pass", "fail", "known-deviation", "skipped")


@dataclass(frozen=True)
class CaseResult:
    name: str
    kind: str
    source: str
    quantity: str
    predicted: float | None
    published: float
    error_pct: float | None
    tolerance_pct: float
    status: str
    reason: str
    comparison: str = "value"
    calibration: bool = False  # its figure fitted a parameter: reported apart (cases.Case.calibration)


def default_data_dir() -> Path | None:
    """$PLANNER_DATA, else `../shared` beside the checkout or the working folder, if present."""
    env = os.environ.get("PLANNER_DATA")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[2]
    for candidate in (checkout.parent / "shared", Path.cwd().parent / "shared"):
        if (candidate / "reference").is_dir():
            return candidate
    return None


def error_pct(predicted: float, published: float) -> float:
    """Signed relative error in percent, (predicted - published) / |published| × 100."""
    if published == 0:
        return 0.0 if predicted == 0 else float("inf")
    return (predicted - published) / abs(published) * 100.0


def within(err_pct: float, limit_pct: float, comparison: str) -> bool:
    """Whether a signed % error meets the case: |error| <= limit for a value; for a published bound,
    any error on the bound's side, and at most `limit` short of it."""
    if comparison == "at_least":
        return err_pct >= -limit_pct
    if comparison == "at_most":
        return err_pct <= limit_pct
    return abs(err_pct) <= limit_pct


def run_case(item: LoadedCase, data_dir: Path | None) -> CaseResult:
    case = item.case
    result = functools.partial(
        CaseResult,
        comparison=case.comparison,
        calibration=case.calibration,
        name=case.name,
        kind=case.kind,
        source=case.source,
        quantity=case.quantity,
        published=case.published,
        tolerance_pct=case.tolerance_pct,
    )
    missing = [req for req in case.requires if data_dir is None or not (data_dir / req).exists()]
    if missing:
        where = (
            "no data folder (pass --data DIR or set PLANNER_DATA)"
            if data_dir is None
            else f"not in {data_dir}"
        )
        return result(
            predicted=None,
            error_pct=None,
            status="skipped",
            reason=f"needs {', '.join(missing)}: {where}",
        )
    path = ("cases", item.index)
    evaluators = load_all()
    registered = evaluators.get(case.evaluator)
    if registered is None:
        raise item.doc.error(
            (*path, "evaluator"), f"expected one of: {', '.join(sorted(evaluators))}", case.evaluator
        )
    setup = case.setup if isinstance(case.setup, dict) else None
    if setup is None:
        raise item.doc.error((*path, "setup"), "expected a mapping", case.setup)
    allowed = (*registered.setup_keys, *registered.optional_keys)
    for key in registered.setup_keys:
        if key not in setup:
            raise item.doc.error(
                (*path, "setup", key), f"missing required setup key for {case.evaluator}", show_got=False
            )
    for key in setup:
        if key not in allowed:
            raise item.doc.error(
                (*path, "setup", key),
                f"unknown setup key; {case.evaluator} accepts: {', '.join(allowed)}",
                show_got=False,
            )
    try:
        predicted = float(registered.function(setup, Context(data_dir)))
    except ValueError as exc:
        raise item.doc.error((*path, "setup"), str(exc), show_got=False) from None
    except SpecError as exc:  # a referenced model or device is malformed or unknown
        raise item.doc.error((*path, "setup"), str(exc), show_got=False) from None
    err = error_pct(predicted, case.published)
    limit = (
        case.tolerance_pct if case.tolerance_pct > 0 or case.kind != "exact" else EXACT_REL_TOLERANCE * 100
    )
    if within(err, limit, case.comparison):
        status, reason = "pass", ""
    elif case.known_deviation:
        status, reason = "known-deviation", case.known_deviation
    else:
        bounds = {"at_least": "below the published lower bound", "at_most": "above the published upper bound"}
        status = "fail"
        reason = bounds.get(
            case.comparison, f"|error| {abs(err):.3g}% exceeds the tolerance {case.tolerance_pct:g}%"
        )
    return result(predicted=predicted, error_pct=err, status=status, reason=reason)


def run(data_dir: Path | None, only: str | None = None) -> list[CaseResult]:
    """Run every case (or those whose name matches the glob `only`)."""
    selected = [item for item in all_cases() if only is None or fnmatch.fnmatchcase(item.case.name, only)]
    if only is not None and not selected:
        names = [item.case.name for item in all_cases()]
        inside = [name for name in names if only in name]
        hint = (
            f"'*{only}*' matches {len(inside)}, e.g. {inside[0]}"
            if inside
            else f"close names: {', '.join(difflib.get_close_matches(only, names, n=3)) or 'none'}"
        )
        raise SettingError(
            "only", f"no case name matches this glob ({hint}; `--format json` lists them)", only
        )
    return [run_case(item, data_dir) for item in selected]


def summarize(results: list[CaseResult]) -> dict[str, object]:
    """Counts per status and the median / maximum |error| of the published value cases that ran, calibration
    cases left out (their figures fitted a parameter: not out of sample) and given apart; the published
    bounds (met or not) and configuration matches (matched or not) are counted apart: they have no error to
    average; so are comparisons with another model's output (agreeing or not), which measure no system.
    Measured cases (runs of `planner verify` recorded here) get their own median and maximum."""
    fitted = [r for r in results if r.calibration]
    return {
        "counts": {status: sum(r.status == status for r in results) for status in STATUSES},
        "published_abs_error_pct": _abs_errors([r for r in results if not r.calibration], "published"),
        "calibration_abs_error_pct": _abs_errors(fitted, "published"),
        "measured_abs_error_pct": _abs_errors(results, "measured"),
        "published_bounds": _apart(results, ("at_least", "at_most")),
        "configuration_matches": _apart(results, ("match",)),
        "model_comparisons": _apart(results, ("model",)),
    }


def _abs_errors(results: list[CaseResult], kind: str) -> dict[str, float | int | None]:
    """Median and maximum |error| of the value cases of `kind` that ran."""
    errors = [
        abs(r.error_pct)
        for r in results
        if r.kind == kind and r.comparison == "value" and r.error_pct is not None
    ]
    return {
        "cases": len(errors),
        "median": statistics.median(errors) if errors else None,
        "max": max(errors) if errors else None,
    }


def _apart(results: list[CaseResult], comparisons: tuple[str, ...]) -> dict[str, int]:
    """Published cases of these comparisons that ran, and how many pass."""
    ran = [
        r
        for r in results
        if r.kind == "published" and r.comparison in comparisons and r.predicted is not None
    ]
    return {"cases": len(ran), "pass": sum(r.status == "pass" for r in ran)}
