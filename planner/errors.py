"""Errors a user can cause, each with the exit code the CLI returns for it.

Exit codes (DESIGN.md): 0 ok, 1 the question has no feasible answer, 2 bad input.
"""

from __future__ import annotations

import re
from collections.abc import Callable


class PlannerError(Exception):
    """Base of every error that the CLI reports as one line, without a traceback.

    The message is kept to one line: a line break, tab or other control character that user input
    brings into it (a file name, a catalog name) is written as its escape (`\\n`).
    """

    exit_code = 2

    def __init__(self, message: str = "") -> None:
        super().__init__(one_line(message))


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
        self.show_got = show_got
        where = f"{source}:{line}" if line is not None else source
        what = f"field '{field}': " if field else ""
        tail = f", got {_short(got)}" if show_got else ""
        super().__init__(f"{where}: {what}{expected}{tail}")


class SettingError(SpecError):
    """Bad value of a setting of the Python API (a field of an options dataclass): names the setting.
    Other settings the message names are written in backquotes (`epochs`). The CLI names options instead
    (`base_batch` -> --base-batch, `for_options`)."""

    def __init__(self, setting: str, expected: str, got: object = None, show_got: bool = True) -> None:
        self.setting = setting
        super().__init__("options", setting, expected, got, show_got=show_got)

    def for_options(self, option_for: Callable[[str], str]) -> SpecError:
        """The same error told about command-line options: `option_for(setting)` names each."""
        option = option_for(self.setting)
        expected = _SETTING.sub(lambda match: option_for(match.group(1)), self.expected)
        return SpecError(option, option.lstrip("-"), expected, self.got, show_got=self.show_got)


_SETTING = re.compile(r"`([a-z_][a-z0-9_]*)`")


class InfeasibleError(PlannerError):
    """The question is well formed but has no feasible answer (e.g. the model does not fit). A setting
    the message suggests changing is written in backquotes (`max_gamma`), as in a SettingError."""

    exit_code = 1

    def for_options(self, option_for: Callable[[str], str]) -> InfeasibleError:
        """The same error told about command-line options: `option_for(setting)` names each."""
        return InfeasibleError(_SETTING.sub(lambda match: option_for(match.group(1)), str(self)))


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class PlannerWarning(UserWarning):
    """A fact a result rests on that the user did not give, e.g. an efficiency a device file left out and
    its documented default stood in for. Lower layers record it with `warnings.warn`; the CLI prints it as
    one line on stderr."""


def one_line(text: str) -> str:
    """`text` with every character that is not printable (line breaks included) escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
