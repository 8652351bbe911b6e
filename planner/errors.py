"""Errors a user can cause, each with the exit code the CLI returns for it.

Exit codes (DESIGN.md): 0 ok, 1 the question has no feasible answer, 2 bad input.
"""

from __future__ import annotations


class PlannerError(Exception):
    """Base of every error that the CLI reports as one line, without a traceback."""

    exit_code = 2


class SpecError(PlannerError):
    """Bad input: names the file, the line, the field and what was expected."""

    def __init__(
        self,
        source: str,
        field: str,
        expected: str,
        got: object = None,
        line: int | None = None,
        show_got: bool = True,
    ) -> None:
        self.source = source
        self.field = field
        self.expected = expected
        self.got = got
        self.line = line
        where = f"{source}:{line}" if line is not None else source
        what = f"field '{field}': " if field else ""
        tail = f", got {_short(got)}" if show_got else ""
        super().__init__(f"{where}: {what}{expected}{tail}")


class InfeasibleError(PlannerError):
    """The question is well formed but has no feasible answer (e.g. the model does not fit)."""

    exit_code = 1


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
