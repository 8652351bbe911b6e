"""Declarative validation cases, loaded from YAML case files (planner/validate/cases/*.yaml).

Each case names an evaluator (planner.validate.evaluators), its setup in catalog terms, the published
value with its source, and a tolerance fixed before looking at the prediction. `exact` cases are counts
or formulas that must match (a miss is a bug); `published` cases are measurements our models predict,
whose error is reported honestly; `measured` cases are runs of `planner verify` on a machine
class, recorded with the profile and calibration they are predicted from (validate predicts them again
and never runs verify; planner/validate/measured/). A `known_deviation` reason keeps a miss visible but
out of the exit status; it never widens the tolerance. A case marked `calibration: true` was used to fit
a parameter (its figure set a hardware or system field), so its error is not out of sample: it still
runs, but the error bands (planner.validate.bands) leave it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from planner.spec.schema import build, spec_field
from planner.spec.yamlio import Document, load_yaml

CASES_DIR = Path(__file__).resolve().parent / "cases"


@dataclass(frozen=True)
class Case:
    name: str = spec_field("unique case name, e.g. vgg16-parameters")
    kind: Literal["exact", "published", "measured"] = spec_field(
        "exact (must match), published (a paper's measurement) or measured (a recorded planner verify run)"
    )
    source: str = spec_field("where the published value comes from (paper, table, page)")
    quantity: str = spec_field("what is compared, with its unit, e.g. 'parameters (count)'")
    evaluator: str = spec_field("name of the evaluator that computes our prediction")
    setup: Any = spec_field("the evaluator's inputs, in catalog terms")
    published: float = spec_field("the published value")
    tolerance_pct: float = spec_field(
        "allowed |error| in percent, fixed before looking at the prediction", minimum=0
    )
    comparison: Literal["value", "at_least", "at_most", "match", "model"] = spec_field(
        "value: |error| within the tolerance; at_least / at_most: the paper states a bound ('over 20x'), "
        "met when the prediction is on its side (the tolerance still allows that much short of it); "
        "match: a configuration, 1 when ours equals the paper's (counted apart from the values' errors); "
        "model: another model's output on the same inputs, not a measurement (|error| within the "
        "tolerance, counted apart from the values' errors)",
        default="value",
    )
    known_deviation: str = spec_field(
        "why a miss is understood (keeps it visible, out of the exit status)", default=""
    )
    requires: tuple[str, ...] = spec_field("files the case needs, relative to the data folder", default=())
    confidence: str = spec_field(
        "primary, or secondary where the figure is a transcription", default="primary"
    )
    calibration: bool = spec_field(
        "true for a case whose figure was used to fit a parameter (left out of the error bands and of the "
        "reported median and maximum |error|)",
        default=False,
    )
    calibrates: str = spec_field(
        "the parameter a calibration case's figure fits, as DEVICE.FIELD (e.g. "
        "a100-sxm4-80gb.compute_efficiency): `python -m planner.validate.fit` fits it again from every case "
        "that names it; empty for none",
        default="",
    )


@dataclass(frozen=True)
class CaseFile:
    spec: Literal["validation"] = spec_field("file type marker: validation")
    cases: tuple[Case, ...] = spec_field("the cases", min_items=1)


@dataclass(frozen=True)
class LoadedCase:
    case: Case
    doc: Document
    index: int


@cache
def all_cases(directory: Path = CASES_DIR) -> tuple[LoadedCase, ...]:
    """Every case of every file in `directory`, in file then list order."""
    loaded = []
    for path in sorted(directory.glob("*.yaml")):
        doc = load_yaml(path, f"planner/validate/cases/{path.name}")
        for index, case in enumerate(build(CaseFile, doc).cases):
            loaded.append(LoadedCase(case, doc, index))
    names = [item.case.name for item in loaded]
    for item in loaded:
        if names.count(item.case.name) > 1:
            raise item.doc.error(("cases", item.index, "name"), "expected a unique case name", item.case.name)
        calibrates = item.case.calibrates
        if calibrates and (not item.case.calibration or calibrates.count(".") != 1):
            raise item.doc.error(
                ("cases", item.index, "calibrates"),
                "expected DEVICE.FIELD on a case marked calibration: true",
                calibrates,
            )
    return tuple(loaded)
