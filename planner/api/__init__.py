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

__all__ = ["LLMOptions", "LLMPlanResult", "LROptions", "LRScheduleResult", "llm_parallel", "lr_schedule"]
