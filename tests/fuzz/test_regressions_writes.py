"""Issue 13, writes: every file the tool writes goes through planner.fileout; a full disk, a read-only
folder or file system, or a symbolic link at the target exits 2 with one line naming the option, and
leaves the target as it was (no partial, empty or truncated file; no temporary file).

The faults are injected in-process (no root, no real small file system): `tempfile.mkstemp` records the
writer's temporary files, and `os.write` on them fails with the given errno once a byte budget is spent,
after writing as much as the budget allows, as a disk that fills up does."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import pytest

from .harness import Sandbox, check, invoke, sandbox

CHART = ["pipeline", "schedule", "-k", "4", "-m", "8"]
PRECIOUS = "precious\n"
# one command per writer caller: schema, calibrate, export (each with --output OUT)
OUTPUT_COMMANDS = {
    "schema": ["schema", "any"],
    "calibrate": ["calibrate", "--quick", "--format", "json"],
    "export": ["export", "dp", "vgg16", "--cluster", "pipedream-cluster-a"],
}


def inject(monkeypatch: pytest.MonkeyPatch, code: int, budget: int | None = None) -> None:
    """Fail the writer with OSError(code): at mkstemp when `budget` is None (a read-only or full
    folder), else in os.write once `budget` bytes have gone into the writer's temporary files."""
    real_mkstemp, real_write = tempfile.mkstemp, os.write
    ours: set[int] = set()
    left = [budget or 0]

    def mkstemp(*args, **kwargs):
        if budget is None:
            raise OSError(code, os.strerror(code))
        fd, name = real_mkstemp(*args, **kwargs)
        ours.add(fd)
        return fd, name

    def write(fd: int, data) -> int:
        if fd not in ours:
            return real_write(fd, data)
        if left[0] <= 0:
            raise OSError(code, os.strerror(code))
        done = real_write(fd, bytes(data[: left[0]]))
        left[0] -= done
        return done

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(os, "write", write)


def no_temporary_files(box: Sandbox) -> bool:
    return not [name for name in box.files() if name.endswith(".tmp")]


@pytest.mark.parametrize("budget", [0, 1, 4096, 8192])
def test_svg_onto_a_full_disk_leaves_no_file(monkeypatch: pytest.MonkeyPatch, budget: int) -> None:
    # pipeline: --svg opened the target in place ("x"/"w") and left a 0-byte or partial file
    with sandbox() as box:
        inject(monkeypatch, errno.ENOSPC, budget)
        out = check(box, [*CHART, "--svg", "chart.svg"], outputs=["chart.svg"])
        assert out is not None and out.exit_code == 2
        assert "--svg: cannot write chart.svg (No space left on device)" in out.stderr
        assert not (box.cwd / "chart.svg").exists() and no_temporary_files(box)


def test_svg_onto_a_dangling_symlink_is_refused_and_force_replaces_the_link(tmp_path: Path) -> None:
    # pipeline: `exists()` follows the link, so --svg wrote through a dangling link (and --force wrote
    # into whatever a link pointed at). `invoke`, not `check`: the harness cannot read a dangling link
    with sandbox() as box:
        target = tmp_path / "elsewhere.svg"
        link = box.cwd / "chart.svg"
        link.symlink_to(target)
        out = invoke(box, [*CHART, "--svg", "chart.svg"])
        assert out.exit_code == 2
        assert out.stderr == "error: --svg: chart.svg is a symbolic link; --force replaces the link itself\n"
        assert link.is_symlink() and not target.exists()
        forced = invoke(box, [*CHART, "--svg", "chart.svg", "--force"])
        assert forced.exit_code == 0 and not link.is_symlink() and not target.exists()
        assert link.read_text(encoding="utf-8").lstrip().startswith("<")


def test_svg_into_a_read_only_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    # pipeline: PermissionError traceback. chmod stops a normal user (refused before the chart is drawn);
    # root passes the permission check, so mkstemp's EACCES is injected for the folder too
    with sandbox() as box:
        folder = box.cwd / "ro"
        folder.mkdir()
        folder.chmod(0o555)
        real_mkstemp = tempfile.mkstemp

        def mkstemp(*args, dir=None, **kwargs):
            if dir is not None and Path(dir) == Path("ro"):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
            return real_mkstemp(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
        try:
            out = check(box, [*CHART, "--svg", "ro/chart.svg"], outputs=["ro/chart.svg"])
        finally:
            folder.chmod(0o755)
        assert out is not None and out.exit_code == 2
        assert out.stderr.startswith("error: --svg: cannot write") and "(Permission denied)" in out.stderr
        assert not list(folder.iterdir())


@pytest.mark.parametrize("command", OUTPUT_COMMANDS)
def test_output_force_on_a_read_only_file_system_keeps_the_file(
    monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    # cli/calibrate._write (also schema's and export's): mkstemp's OSError escaped as a traceback
    with sandbox() as box:
        box.write("out.txt", PRECIOUS)
        inject(monkeypatch, errno.EROFS)
        out = check(box, [*OUTPUT_COMMANDS[command], "--output", "out.txt", "--force"], outputs=["out.txt"])
        assert out is not None and out.exit_code == 2
        assert "--output: cannot write out.txt (Read-only file system)" in out.stderr
        assert (box.cwd / "out.txt").read_text(encoding="utf-8") == PRECIOUS


@pytest.mark.parametrize("command", OUTPUT_COMMANDS)
@pytest.mark.parametrize("budget", [0, 100])
def test_output_force_onto_a_full_disk_keeps_the_file(
    monkeypatch: pytest.MonkeyPatch, command: str, budget: int
) -> None:
    # cli/calibrate._write: the ENOSPC of a --force write escaped as a traceback
    with sandbox() as box:
        box.write("out.txt", PRECIOUS)
        inject(monkeypatch, errno.ENOSPC, budget)
        out = check(box, [*OUTPUT_COMMANDS[command], "--output", "out.txt", "--force"], outputs=["out.txt"])
        assert out is not None and out.exit_code == 2
        assert "--output: cannot write out.txt (No space left on device)" in out.stderr
        assert (box.cwd / "out.txt").read_text(encoding="utf-8") == PRECIOUS
        assert no_temporary_files(box)


def test_schema_output_on_a_full_disk_leaves_no_file_and_the_rerun_writes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # cli/calibrate._write without --force: an exclusive open then a write left a truncated
    # 8,192-byte file, and the rerun refused because it "exists"
    with sandbox() as box:
        with monkeypatch.context() as faults:
            inject(faults, errno.ENOSPC, 8192)
            out = check(box, ["schema", "any", "--output", "s.json"], outputs=["s.json"])
        assert out is not None and out.exit_code == 2 and "No space left on device" in out.stderr
        assert not (box.cwd / "s.json").exists() and no_temporary_files(box)
        rerun = check(box, ["schema", "any", "--output", "s.json"], outputs=["s.json"])
        printed = check(box, ["schema", "any"])
        assert rerun is not None and rerun.exit_code == 0 and printed is not None
        assert (box.cwd / "s.json").read_text(encoding="utf-8") == printed.stdout
