"""Fit a hardware parameter on its declared calibration cases, again, from the cases alone.

A parameter that no datasheet, microbenchmark or citable measurement gives is fitted on a declared
calibration subset: the validation cases marked `calibration: true` with `calibrates: DEVICE.FIELD`. Their
errors are left out of the error bands and of the reported median and maximum |error| (they are not out of
sample); every other case is predicted with the fitted value. This module refits it, so that the value
written in the device's file can be checked against its subset (tests/test_validation_fit.py):

    python -m planner.validate.fit --data ../shared [--leave-one-out]

The fit minimises the sum of squared log errors, sum(ln(predicted / published)^2) over the subset (a
relative error, symmetric in over- and under-prediction), over the field's range in FIELD_RANGES, by
Brent's bounded method (scipy.optimize.minimize_scalar). The device is replaced only in memory, for the
catalog specs built during each evaluation (planner.spec.catalog.device_fields_replaced). `--leave-one-out`
refits without each case in turn and predicts it (cross-validation: the error to expect out of sample).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from planner.validate.cases import LoadedCase, all_cases
from planner.validate.runner import default_data_dir, run_case


@dataclass(frozen=True)
class FieldRange:
    """Where a field is searched, the step its catalog value is written to, and its printed unit."""

    low: float
    high: float
    step: float
    unit: str = ""
    scale: float = 1.0  # printed value = stored value x scale


FIELD_RANGES = {
    "compute_efficiency": FieldRange(0.05, 1.0, 0.01),
    "memory_efficiency": FieldRange(0.05, 1.0, 0.01),
    "kernel_overhead": FieldRange(0.0, 1e-3, 1e-7, "us", 1e6),
}


@dataclass(frozen=True)
class Fit:
    """A fitted parameter: its value, the catalog's, and each calibration case's signed % error at the fit."""

    target: str
    value: float
    catalog_value: float
    errors_pct: tuple[tuple[str, float], ...]

    @property
    def field_range(self) -> FieldRange:
        return FIELD_RANGES[self.target.split(".")[1]]

    def catalog_agrees(self) -> bool:
        """Whether the catalog's value is the fit written to its step (within half a step)."""
        return abs(self.catalog_value - self.value) <= self.field_range.step / 2 * (1 + 1e-9)


def targets() -> dict[str, list[LoadedCase]]:
    """Every DEVICE.FIELD some case calibrates, with its cases, in case order. Raises the case file's
    located error for a field with no fit range or a device the catalog lacks."""
    from planner.errors import SpecError
    from planner.spec.catalog import find

    found: dict[str, list[LoadedCase]] = {}
    for item in all_cases():
        target = item.case.calibrates
        if not target:
            continue
        device, field = target.split(".")
        where = ("cases", item.index, "calibrates")
        if field not in FIELD_RANGES:
            raise item.doc.error(
                where, f"expected DEVICE.FIELD with FIELD one of {', '.join(FIELD_RANGES)}", target
            )
        try:
            find("hardware", device, ("device",))
        except SpecError as exc:
            raise item.doc.error(where, str(exc), show_got=False) from None
        found.setdefault(target, []).append(item)
    return found


def _log_errors(items: Sequence[LoadedCase], data_dir: Path | None) -> list[tuple[str, float]]:
    out = []
    for item in items:
        result = run_case(item, data_dir)
        if result.predicted is None:
            raise ValueError(f"calibration case {item.case.name} did not run: {result.reason}")
        out.append((item.case.name, math.log(result.predicted / item.case.published)))
    return out


def errors_at(
    target: str, value: float, items: Sequence[LoadedCase], data_dir: Path | None
) -> list[tuple[str, float]]:
    """(case, ln(predicted / published)) for each case with the target field set to `value`."""
    from planner.spec.catalog import device_fields_replaced

    device, field = target.split(".")
    with device_fields_replaced(device, **{field: value}):
        return _log_errors(items, data_dir)


def fit(target: str, items: Sequence[LoadedCase], data_dir: Path | None) -> Fit:
    """The least-squares value of `target` on its calibration cases `items` (module docstring)."""
    from scipy.optimize import minimize_scalar

    from planner.spec.catalog import find

    device_name, field = target.split(".")
    if field not in FIELD_RANGES:
        raise ValueError(f"{target}: no fit range for {field}; expected one of {', '.join(FIELD_RANGES)}")
    span = FIELD_RANGES[field]

    def loss(value: float) -> float:
        return sum(e * e for _, e in errors_at(target, value, items, data_dir))

    if loss(span.low) == loss(span.high):  # e.g. an evaluator caching results by name across trials
        raise ValueError(f"{target}: its calibration cases do not change with it; nothing to fit")
    best = minimize_scalar(
        loss, bounds=(span.low, span.high), method="bounded", options={"xatol": span.step / 20}
    )
    value = float(best.x)
    errors = errors_at(target, value, items, data_dir)
    return Fit(
        target,
        value,
        float(getattr(find("hardware", device_name, ("device",)), field)),
        tuple((name, 100.0 * math.expm1(e)) for name, e in errors),
    )


def leave_one_out(
    target: str, items: Sequence[LoadedCase], data_dir: Path | None
) -> list[tuple[str, float, float]]:
    """For each case: (name, the value fitted without it, its % error predicted with that value): how well
    a fit on the other cases predicts the one left out (cross-validation; needs at least 2 cases)."""
    if len(items) < 2:
        return []
    out = []
    for index, item in enumerate(items):
        value = fit(target, [*items[:index], *items[index + 1 :]], data_dir).value
        ((name, error),) = errors_at(target, value, [item], data_dir)
        out.append((name, value, 100.0 * math.expm1(error)))
    return out


def report(result: Fit) -> str:
    span = result.field_range
    digits = max(0, -math.floor(math.log10(span.step * span.scale)))
    shown = f"{{:.{digits + 1}f}}{span.unit and ' ' + span.unit}"
    lines = [
        f"{result.target}: fitted {shown.format(result.value * span.scale)} on {len(result.errors_pct)} "
        f"calibration cases; catalog {shown.format(result.catalog_value * span.scale)} "
        f"({'agrees' if result.catalog_agrees() else 'DISAGREES'}: written to a step of "
        f"{span.step * span.scale:g}{span.unit and ' ' + span.unit})"
    ]
    lines += [f"  {name}: {error:+.1f}% at the fit" for name, error in result.errors_pct]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m planner.validate.fit", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data", type=Path, default=None, help="folder with profiles/ and reference/")
    parser.add_argument(
        "--leave-one-out", action="store_true", help="also predict each case from a fit on the others"
    )
    args = parser.parse_args(argv)
    data_dir = args.data or default_data_dir()
    results = []
    for target, items in targets().items():
        results.append(fit(target, items, data_dir))
        print(report(results[-1]))
        if args.leave_one_out:
            span = results[-1].field_range
            for name, value, error in leave_one_out(target, items, data_dir):
                print(
                    f"  left out {name}: fit {value * span.scale:.4g} on the others, {error:+.1f}% predicted"
                )
    return 0 if all(result.catalog_agrees() for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
