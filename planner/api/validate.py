"""Validation: run the reference cases (planner/validate) and compare predicted with published figures."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planner.errors import SettingError

if TYPE_CHECKING:
    from planner.validate.runner import CaseResult


@dataclass(frozen=True)
class ValidateOptions:
    """Which cases to run, and where their measured data lies."""

    only: str | None = None  # a glob over case names (None: every case)
    data: Path | None = None  # folder with profiles/ and reference/ (None: $PLANNER_DATA or ../shared)

    def check(self) -> None:
        from planner.spec.yamlio import is_dir

        if self.data is not None and not is_dir(self.data):
            raise SettingError(
                "data", f"expected an existing folder, and {self.data} is not one", show_got=False
            )


@dataclass(frozen=True)
class ValidationResult:
    """Every case run, with its status, and the summary over them."""

    data_dir: Path | None  # the folder the cases read (None: none found; cases that need one skip)
    cases: tuple[CaseResult, ...]

    @property
    def failed(self) -> bool:
        """Whether any case failed (the CLI then exits 1)."""
        return any(case.status == "fail" for case in self.cases)

    def to_dict(self) -> dict[str, Any]:
        from planner.validate.runner import summarize

        return {
            "data_dir": None if self.data_dir is None else str(self.data_dir),
            "cases": [dataclasses.asdict(case) for case in self.cases],
            "summary": summarize(list(self.cases)),
        }


def validate(options: ValidateOptions) -> ValidationResult:
    """Run the reference cases (those matching `only`) against the data folder."""
    from planner.validate.runner import default_data_dir, run

    options.check()
    data_dir = options.data if options.data is not None else default_data_dir()
    return ValidationResult(data_dir, tuple(run(data_dir, options.only)))
