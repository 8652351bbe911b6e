"""planner.fileout, the one writer of every file the tool writes, and the solvers' private scratch folders
(issue 13, writes). The CLI reproductions (full disk, read-only, symbolic links) are in
tests/fuzz/test_regressions_writes.py."""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from planner import fileout
from planner.errors import SpecError
from planner.optimize.solver_scratch import scratch_folder


def write(path: Path, text: str = "new\n", force: bool = False) -> None:
    fileout.write_text(path, text, setting="--output", force=force)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_gets_the_mode_open_gives_not_the_temporary_files_0600(
    tmp_path: Path, umask: int, mode: int
) -> None:
    previous = os.umask(umask)
    try:
        write(tmp_path / "out.txt")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == mode
    assert (tmp_path / "out.txt").read_text() == "new\n"


def test_force_keeps_the_replaced_files_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    target.chmod(0o640)
    write(target, force=True)
    assert target.read_text() == "new\n" and stat.S_IMODE(target.stat().st_mode) == 0o640
    assert names(tmp_path) == ["out.txt"]


def _regular(folder: Path) -> Path:
    (folder / "t").write_text("old\n")
    return folder / "t"


def _dangling_link(folder: Path) -> Path:
    (folder / "t").symlink_to(folder / "nowhere")
    return folder / "t"


def _link_to_a_file(folder: Path) -> Path:
    (folder / "real").write_text("old\n")
    (folder / "t").symlink_to(folder / "real")
    return folder / "t"


def _directory(folder: Path) -> Path:
    (folder / "t").mkdir()
    return folder / "t"


def _fifo(folder: Path) -> Path:
    os.mkfifo(folder / "t")
    return folder / "t"


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (_regular, "t exists; --force replaces it"),
        (_dangling_link, "is a symbolic link; --force replaces the link itself"),
        (_link_to_a_file, "is a symbolic link; --force replaces the link itself"),
        (_directory, "expected a file path, not a directory"),
        (_fifo, "is not a regular file"),
    ],
)
def test_without_force_anything_at_the_target_is_refused_and_kept(tmp_path: Path, make, needle: str) -> None:
    target = make(tmp_path)
    before = {name: os.lstat(tmp_path / name) for name in names(tmp_path)}
    with pytest.raises(SpecError, match=needle) as caught:
        write(target)
    assert str(caught.value).startswith("--output: ")
    after = {name: os.lstat(tmp_path / name) for name in names(tmp_path)}
    assert {n: (s.st_ino, s.st_size) for n, s in after.items()} == {
        n: (s.st_ino, s.st_size) for n, s in before.items()
    }


@pytest.mark.parametrize("make", [_directory, _fifo])
def test_force_refuses_a_directory_or_a_fifo(tmp_path: Path, make) -> None:
    target = make(tmp_path)
    with pytest.raises(SpecError, match="not a"):
        write(target, force=True)
    assert not target.is_file() and names(tmp_path) == ["t"]


@pytest.mark.parametrize("make", [_dangling_link, _link_to_a_file])
def test_force_replaces_the_symlink_itself_never_writing_through_it(tmp_path: Path, make) -> None:
    target = make(tmp_path)
    pointed = os.readlink(target)
    write(target, force=True)
    assert not target.is_symlink() and target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~_umask()
    assert not Path(pointed).exists() or Path(pointed).read_text() == "old\n"


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def test_a_file_that_appears_after_the_check_is_never_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.txt"
    real_link = os.link

    def link_after_someone_else(src, dst, *args, **kwargs):
        Path(dst).write_text("theirs\n")  # another process wins the race between the check and the link
        return real_link(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "link", link_after_someone_else)
    with pytest.raises(SpecError, match=r"out\.txt exists"):
        write(target)
    assert target.read_text() == "theirs\n" and names(tmp_path) == ["out.txt"]


def test_a_file_system_without_hard_links_still_gets_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(*args, **kwargs):
        raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))  # what FAT answers to link(2)

    monkeypatch.setattr(os, "link", no_links)
    write(tmp_path / "out.txt")
    assert (tmp_path / "out.txt").read_text() == "new\n" and names(tmp_path) == ["out.txt"]


def test_the_data_is_fsynced_before_the_rename_and_the_folder_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(src, dst, *args, **kwargs):
        events.append("rename")
        real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    (tmp_path / "out.txt").write_text("old\n")
    write(tmp_path / "out.txt", force=True)
    assert events == ["fsync file", "rename", "fsync folder"]


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt(), SystemExit(128 + signal.SIGTERM)])
def test_a_signal_mid_write_leaves_the_old_file_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, interrupt: BaseException
) -> None:
    def interrupted(fd: int, data: bytes) -> None:
        os.write(fd, data[:3])
        raise interrupt

    monkeypatch.setattr(fileout, "_write_all", interrupted)
    (tmp_path / "out.txt").write_text("old\n")
    with pytest.raises(type(interrupt)):
        write(tmp_path / "out.txt", force=True)
    assert names(tmp_path) == ["out.txt"] and (tmp_path / "out.txt").read_text() == "old\n"


def test_a_missing_folder_is_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="does not exist"):
        fileout.check_target(tmp_path / "no" / "out.txt", setting="--svg", force=True)


def test_write_schemas_refreshes_through_the_writer(tmp_path: Path) -> None:
    from planner.spec.json_schema import KINDS, schema_filename, write_schemas

    (tmp_path / schema_filename("device")).symlink_to(tmp_path / "elsewhere.json")
    written = write_schemas(tmp_path)
    assert sorted(p.name for p in written) == sorted(schema_filename(k) for k in KINDS)
    assert not (tmp_path / "elsewhere.json").exists()
    assert names(tmp_path) == sorted(schema_filename(k) for k in KINDS)


# --- solver scratch folders ------------------------------------------------------------------------


def test_a_selection_solve_leaves_nothing_in_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from planner.optimize.client_selection import SelectionProblem, solve_ilp

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ones = np.ones(4)
    problem = SelectionProblem(np.array([1.0, 2.0, 3.0, 4.0]), ones, ones, 1.0, 0.1, 0.0, 2, 3)
    chosen = solve_ilp(problem).chosen
    assert chosen is not None and len(chosen) >= 2
    assert names(tmp_path) == []


def test_an_interrupted_run_kills_the_solver_child_and_removes_its_folder() -> None:
    with pytest.raises(KeyboardInterrupt), scratch_folder("test") as folder:
        (folder / "model-pulp.mps").write_text("x")
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(folder)])
        raise KeyboardInterrupt
    assert not folder.exists()
    if Path("/proc/self/task").is_dir():
        assert child.poll() is not None  # killed and reaped by the scratch folder
    else:
        child.kill()
        child.wait()


# 20x20: past adcnn_dp.MAX_GRID count vectors, so CBC solves it (smaller grids take the dynamic program)
ADCNN = ["edge", "adcnn", "vgg16", "--boards", "raspberry-pi-3b-plus:6,raspberry-pi-4b:6", "--tiles", "20x20"]


def test_sigterm_mid_solve_leaves_nothing_in_tmpdir(tmp_path: Path) -> None:
    # a SIGTERM during `edge adcnn` left *-pulp.mps/.mst and tmp*.log in TMPDIR (and CBC running)
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    command = [sys.executable, "-m", "planner", *ADCNN, "--time-limit", "60", "--format", "json"]
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        solving = _wait_for_solver_files(tmp_path, child)
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert solving, "the solve ended before CBC wrote its files; the instance needs to be harder"
    assert child.returncode == 128 + signal.SIGTERM and b"Traceback" not in err
    assert list(tmp_path.rglob("*")) == []
    if Path("/proc").is_dir():  # CBC (its command line names the scratch folder) was killed with it
        assert not [p for p in Path("/proc").glob("[0-9]*/cmdline") if _names(p, tmp_path)]


def _wait_for_solver_files(folder: Path, child: subprocess.Popen[bytes]) -> bool:
    """Until CBC's model file is in the private scratch folder (True) or the child ended (False)."""
    deadline = time.monotonic() + 120  # a hang guard, not a timing assertion
    while child.poll() is None and time.monotonic() < deadline:
        if list(folder.glob("planner-adcnn-*/*-pulp.mps")):
            return True
        time.sleep(0.05)
    return False


def _names(cmdline: Path, folder: Path) -> bool:
    try:
        return os.fsencode(folder) in cmdline.read_bytes()
    except OSError:
        return False
