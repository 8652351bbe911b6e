"""The fuzz harness: run one input through the real `planner` entry point, in-process, and check the
invariants every input must keep.

Invariants (issue 10): the exit code is 0, 1 or 2; an error is one line `error: ...` on stderr; no
traceback; no hang (each input runs under a wall-clock deadline, SIGALRM); no NaN or infinity in a
successful machine-readable answer; no numeric RuntimeWarning; no file appears in the working
directory, $HOME or $TMPDIR except the `--output` / `--svg` targets the input names, and no input file
is modified.

Budget: the default suite runs a small seeded sample (`SAMPLE` examples per target, derandomised, no
example database). The tests marked `fuzz` (deselected by default) are the big run: PLANNER_FUZZ_EXAMPLES
(default 10,000) generated inputs in all, shared among the targets by weight:

    python -m pytest tests/fuzz -m fuzz                                # 10,000 inputs
    PLANNER_FUZZ_EXAMPLES=50000 python -m pytest tests/fuzz -m fuzz    # more

Every input run is counted; the session prints the count (tests/fuzz/conftest.py).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, settings

DEADLINE_S = 20.0  # per input; every command answers in well under a second on the shipped catalog
SAMPLE = 12  # examples per target in the default suite
BIG_TOTAL = int(os.environ.get("PLANNER_FUZZ_EXAMPLES", "10000"))

# the two budgets of every fuzz target: the seeded sample (default suite) and the big run (-m fuzz)
MODES = [pytest.param("sample", id="sample"), pytest.param("big", id="big", marks=pytest.mark.fuzz)]

COUNTER = {"inputs": 0}
_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s+File \".*\", line \d+", re.MULTILINE)


class Hang(BaseException):
    """Raised by SIGALRM inside a run that passed its deadline (BaseException: nothing may swallow it)."""


def fuzz_settings(mode: str, weight: float, total_weight: float, sample: int = SAMPLE) -> settings:
    """Hypothesis settings for a target: the seeded sample, or its share of the big run."""
    common: dict[str, Any] = {
        "deadline": None,  # the harness enforces its own per-input deadline
        "suppress_health_check": list(HealthCheck),
        "database": None,
        "print_blob": True,
    }
    if mode == "sample":
        return settings(max_examples=sample, derandomize=True, **common)
    share = max(1, math.ceil(BIG_TOTAL * weight / total_weight))
    return settings(max_examples=share, derandomize=False, **common)


@dataclass
class Outcome:
    argv: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str
    warnings: list[str] = field(default_factory=list)


class Sandbox:
    """A fresh working directory (with its own $HOME and $TMPDIR) that input files are written into."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="planner-fuzz-"))
        self.cwd = self.root / "work"
        self.home = self.root / "home"
        self.tmp = self.root / "tmp"
        for folder in (self.cwd, self.home, self.tmp):
            folder.mkdir()

    def write(self, name: str, content: str | bytes) -> str:
        """Write an input file into the working directory; returns its relative path."""
        path = self.cwd / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8", "surrogatepass"))
        return name

    def special(self, name: str, kind: str) -> str:
        """Put a non-regular file at `name`: a FIFO, a socket, a symlink to /dev/zero or /dev/urandom, a
        dangling symlink or a folder (what a user may pass where a file is expected)."""
        path = self.cwd / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "socket":
            import socket

            with socket.socket(socket.AF_UNIX) as sock:
                sock.bind(str(path))
        elif kind == "folder":
            path.mkdir()
        else:
            path.symlink_to({"zero": "/dev/zero", "urandom": "/dev/urandom"}.get(kind, "nowhere/none"))
        return name

    def files(self) -> set[str]:
        """Every entry but folders: regular files, links and special files alike."""
        return {str(p.relative_to(self.root)) for p in self.root.rglob("*") if not _is_folder(p)}

    def contents(self) -> dict[str, bytes]:
        """Every file's bytes (the inputs are small), to check that no input is modified; a link or a
        special file stands for what it is (never read: a FIFO would block, /dev/zero never ends)."""
        return {name: _read(self.root / name) or b"" for name in self.files()}

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox()
    try:
        yield box
    finally:
        box.close()


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    def alarm(signum: int, frame: object) -> None:
        raise Hang(f"no answer within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _environment(box: Sandbox) -> Iterator[None]:
    saved_env = {k: os.environ.get(k) for k in ("COLUMNS", "HOME", "TMPDIR", "NO_COLOR", "TERM")}
    saved_argv, saved_cwd, saved_tempdir = sys.argv, os.getcwd(), tempfile.tempdir
    os.environ.update(COLUMNS="200", HOME=str(box.home), TMPDIR=str(box.tmp), TERM="dumb")
    tempfile.tempdir = str(box.tmp)
    os.chdir(box.cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        tempfile.tempdir = saved_tempdir
        sys.argv = saved_argv
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def invoke(box: Sandbox, argv: Sequence[str], deadline_s: float = DEADLINE_S) -> Outcome:
    """Run `planner *argv` in-process in the sandbox; capture exit code, stdout, stderr and warnings."""
    from planner.cli import main

    COUNTER["inputs"] += 1
    out, err = io.StringIO(), io.StringIO()
    code: int = 0
    with (
        _environment(box),
        warnings.catch_warnings(record=True) as caught,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        warnings.simplefilter("always")
        sys.argv = ["planner", *argv]
        started = time.perf_counter()
        try:
            with _deadline(deadline_s):
                main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Hang as exc:
            raise AssertionError(f"hang: {exc}\n{describe(argv, box)}") from None
        except Exception as exc:  # an escaped exception is what a user sees as a traceback
            import traceback

            raise AssertionError(
                f"uncaught {type(exc).__name__}: {exc}\n{describe(argv, box)}\n{traceback.format_exc()}"
            ) from None
    elapsed = time.perf_counter() - started
    if os.environ.get("PLANNER_FUZZ_TIMES"):  # a log of slow inputs, to keep the sample fast
        with open(os.environ["PLANNER_FUZZ_TIMES"], "a", encoding="utf-8") as log:
            log.write(f"{elapsed:.3f}\t{' '.join(_quote(a) for a in argv)}\n")
            if elapsed > 2.0:
                log.write(describe(argv, box, limit=1500) + "\n")
    notes = [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught]
    return Outcome(tuple(argv), code, out.getvalue(), err.getvalue(), notes)


def describe(argv: Sequence[str], box: Sandbox, limit: int = 3000) -> str:
    """The command and the input files, for a failure message that reproduces the input."""
    lines = [f"planner {' '.join(_quote(a) for a in argv)}"]
    for path in sorted(box.cwd.rglob("*")):
        if not _is_folder(path):
            data = _read(path) or b""
            text = data[:limit].decode("utf-8", "backslashreplace")
            more = f"\n... ({len(data)} bytes in all)" if len(data) > limit else ""
            lines.append(f"--- {path.relative_to(box.cwd)}\n{text}{more}")
    return "\n".join(lines)


def _quote(arg: str) -> str:
    return repr(arg) if not arg or any(c.isspace() or not c.isprintable() for c in arg) else arg


def check(
    box: Sandbox,
    argv: Sequence[str],
    outputs: Sequence[str] = (),
    deadline_s: float = DEADLINE_S,
    result_is_error: Callable[[Outcome], bool] | None = None,
) -> Outcome | None:
    """Run one input and assert every invariant (see `_check`); PLANNER_FUZZ_COLLECT=FILE appends each
    failure to FILE and goes on instead (for a survey of many failures in one run)."""
    collect = os.environ.get("PLANNER_FUZZ_COLLECT")
    try:
        return _check(box, argv, outputs, deadline_s, result_is_error)
    except AssertionError as exc:
        if not collect:
            raise
        with open(collect, "a", encoding="utf-8") as handle:
            handle.write(f"===== {exc}\n")
        return None


def _check(
    box: Sandbox,
    argv: Sequence[str],
    outputs: Sequence[str] = (),
    deadline_s: float = DEADLINE_S,
    result_is_error: Callable[[Outcome], bool] | None = None,
) -> Outcome:
    """Run one input and assert every invariant; `outputs` are the files the input asks to be written."""
    inputs = box.contents()
    before = set(inputs)
    outcome = invoke(box, argv, deadline_s)
    where = describe(argv, box)
    text = outcome.stdout + outcome.stderr
    problems: list[str] = []
    if outcome.exit_code not in (0, 1, 2):
        problems.append(f"exit code {outcome.exit_code}")
    if _TRACEBACK.search(text):
        problems.append("a traceback in the output")
    if outcome.exit_code != 0 and not (result_is_error and result_is_error(outcome)):
        lines = [line for line in outcome.stderr.splitlines() if line.strip()]
        if len(lines) != 1 or not lines[0].startswith("error: "):
            problems.append(f"expected one line 'error: ...' on stderr, got {len(lines)} line(s)")
    if outcome.exit_code == 0 and _has_nonfinite(argv, outcome.stdout):
        problems.append("NaN or infinity in a successful machine-readable answer")
    if outcome.exit_code == 0 and _prints_nonfinite(argv, inputs, outcome.stdout):
        problems.append("inf, nan or a number of 40 digits printed (not given in the input)")
    runtime = [w for w in outcome.warnings if w.startswith("RuntimeWarning")]
    if runtime:
        problems.append(f"numeric warnings: {runtime[:3]}")
    allowed = {str(Path("work") / o) for o in outputs}
    created = sorted((box.files() - before) - allowed)
    if created:
        problems.append(f"files written that the input did not ask for: {created}")
    changed = sorted(
        name for name, data in inputs.items() if name not in allowed and _read(box.root / name) != data
    )
    if changed:
        problems.append(f"input files modified or removed: {changed}")
    if problems:
        raise AssertionError(
            f"{'; '.join(problems)}\n{where}\n--- exit {outcome.exit_code}\n--- stderr\n"
            f"{outcome.stderr[-2000:]}\n--- stdout\n{outcome.stdout[-1500:]}"
        )
    return outcome


def _is_folder(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _read(path: Path) -> bytes | None:
    """A regular file's bytes; a link its target, a special file its type; None where nothing is."""
    import stat

    try:
        mode = path.lstat().st_mode
    except OSError:
        return None
    if stat.S_ISLNK(mode):
        return b"link -> " + os.readlink(path).encode()
    if not stat.S_ISREG(mode):
        return f"special {stat.S_IFMT(mode):o}".encode()
    return path.read_bytes()


# Python and numpy print a non-finite float as inf / nan; "Infinity" only JSON writes (checked by parsing it,
# _has_nonfinite), and as a word it is a name ("AMD Infinity Fabric" in a catalog description).
_PRINTED_NONFINITE = re.compile(r"(?<![\w.])[-+]?(?:inf|nan)(?![\w])|\d{40}", re.IGNORECASE)


def _prints_nonfinite(argv: Sequence[str], inputs: dict[str, bytes], stdout: str) -> bool:
    """Whether a table shows inf, nan or a 40-digit number that the input did not bring (a name or a
    value the user wrote is echoed back as written)."""
    found = {m.group(0).lower().lstrip("+-") for m in _PRINTED_NONFINITE.finditer(stdout)}
    if not found:
        return False
    given = " ".join(argv).lower() + b" ".join(inputs.values()).decode("utf-8", "replace").lower()
    return any(token not in given for token in found)


def _machine_format(argv: Sequence[str]) -> str:
    """The output format a command line asks for (the last --format / -f wins, as in click)."""
    chosen = "table"
    for flag, value in itertools.pairwise(argv):
        if flag in ("--format", "-f"):
            chosen = value
    return next((a.split("=", 1)[1] for a in reversed(argv) if a.startswith("--format=")), chosen)


def _has_nonfinite(argv: Sequence[str], stdout: str) -> bool:
    """Whether a JSON or YAML answer holds a NaN or an infinity (False for tables and other output)."""
    fmt = _machine_format(argv)
    try:
        if fmt == "json":
            data = json.loads(stdout, parse_constant=lambda name: math.nan)
        elif fmt == "yaml":
            data = yaml.safe_load(stdout)
        else:
            return False
    except (ValueError, yaml.YAMLError):  # not a payload (e.g. --help, or an export written as text)
        return False
    return _any_nonfinite(data)


def _any_nonfinite(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_any_nonfinite(v) for v in value.values())
    if isinstance(value, list):
        return any(_any_nonfinite(v) for v in value)
    return isinstance(value, float) and not math.isfinite(value)


def json_payload(outcome: Outcome) -> Any:
    """The JSON an exit-0 `--format json` run printed (for checks on the answer itself)."""
    return json.loads(outcome.stdout)
