"""Real engines: PyTorch runs the model (layer profiles, DDP and pipeline runs on local processes).

Everything here needs the optional extra `planner[torch]`; `require_torch` is the one place that says so.
This layer measures and knows nothing of YAML, plans or the terminal: planner.api.profile and
planner.api.verify call it. Imports of torch stay inside functions, so importing planner.engine is cheap.
"""

from __future__ import annotations

import importlib.util

from planner.errors import PlannerError

EXTRA = "torch"  # pyproject.toml [project.optional-dependencies]


class ExtraMissing(PlannerError):
    """A command needs a package of an optional extra that is not installed (bad input: exit 2)."""


def require(what: str, *modules: str) -> None:
    """Raise ExtraMissing naming `what` needs and the extra to install, when a module is absent."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise ExtraMissing(
            f"{what} needs {', '.join(missing)}, not installed: install the extra with "
            f"pip install 'planner[{EXTRA}]'"
        )


def require_torch(what: str) -> None:
    """torch and torchvision, the packages every engine run needs."""
    require(what, "torch", "torchvision")
