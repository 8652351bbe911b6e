"""The Python API of planner: one function per question, the same answers the CLI prints.

Each function takes specs (or catalog names and file paths) and an options dataclass whose defaults are
defined there, once (the CLI reads its defaults from the same dataclass). It returns a typed result whose
`to_dict()` is exactly what `planner ... --format json` prints (less `schema_version`). Errors are
planner.errors types: SettingError (a setting out of range, named as the options field, e.g.
`base_batch`), SpecError (a bad file or catalog name: file, line, field), InfeasibleError (no answer).

    >>> from planner.api import LROptions, lr_schedule
    >>> result = lr_schedule(LROptions(batch=8192))
    >>> round(result.schedule.peak_lr, 6)
    3.2
"""

from planner.api.llm import LLMOptions, LLMPlanResult, llm_parallel
from planner.api.lr import LROptions, LRScheduleResult, lr_schedule
from planner.api.pipeline import (
    BubbleOptions,
    BubbleResult,
    ScheduleOptions,
    ScheduleResult,
    pipeline_bubble,
    pipeline_schedule,
)
from planner.api.specdec import (
    SpecdecAlphaOptions,
    SpecdecAlphaResult,
    SpecdecSimulateOptions,
    SpecdecSimulateResult,
    SpecdecSpeedupOptions,
    SpecdecSpeedupResult,
    specdec_alpha,
    specdec_simulate,
    specdec_speedup,
)
from planner.api.specdec_models import SpecdecModelsOptions, SpecdecModelsResult, specdec_models
from planner.api.specdec_tree import SpecdecTreeOptions, SpecdecTreeResult, VerifyCost, specdec_tree

__all__ = [
    "BubbleOptions",
    "BubbleResult",
    "LLMOptions",
    "LLMPlanResult",
    "LROptions",
    "LRScheduleResult",
    "ScheduleOptions",
    "ScheduleResult",
    "SpecdecAlphaOptions",
    "SpecdecAlphaResult",
    "SpecdecModelsOptions",
    "SpecdecModelsResult",
    "SpecdecSimulateOptions",
    "SpecdecSimulateResult",
    "SpecdecSpeedupOptions",
    "SpecdecSpeedupResult",
    "SpecdecTreeOptions",
    "SpecdecTreeResult",
    "VerifyCost",
    "llm_parallel",
    "lr_schedule",
    "pipeline_bubble",
    "pipeline_schedule",
    "specdec_alpha",
    "specdec_models",
    "specdec_simulate",
    "specdec_speedup",
    "specdec_tree",
]
