"""The one writer of every file the tool writes (--output, --svg, --plot-file, exports, calibrate, schemas).

A file is written whole or not at all: the text goes to a temporary file in the target's folder, is
flushed and fsynced, and only then takes the target's name in one atomic step (then the folder is fsynced
so the new name survives a crash). On any failure (a full disk, a read-only file system, a signal) the
temporary file is removed and the target is left as it was: never a partial, empty or truncated file.

- Without `force` an existing target is refused: a file, a directory, or a symbolic link (dangling or
  not). The temporary file is hard-linked to the target's name, which fails if a file appeared there
  meanwhile, so nothing is ever replaced.
- With `force` a regular file is replaced (keeping its mode); a symbolic link is replaced by the new
  file, the link itself, never written through; a directory or any other non-regular file is refused.
- A new file gets the mode `open()` gives it: 0666 less the umask (0644 under the usual 022), not the
  0600 of a temporary file.

Errors are one-line SpecErrors that name the `setting` the caller passes (e.g. "--svg") and the OS's
reason; the caller also names the setting that allows replacing (`force_setting`), so the CLI owns the
flag names.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

from planner.errors import SpecError

# link(2) refused by the file system itself (e.g. FAT, some FUSE mounts): fall back to a checked rename
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK}


def check_target(path: Path, *, setting: str, force: bool, force_setting: str = "--force") -> None:
    """Refuse early (before any long work) a target that `write_text` would refuse."""
    try:
        if not path.parent.is_dir():
            raise _error(
                setting, f"folder {path.parent} does not exist (expected a path in an existing directory)"
            )
        kind = _existing_kind(path)
        if kind == "a directory":
            raise _error(setting, f"expected a file path, not a directory ({path})")
        if kind == "not a regular file":
            raise _error(setting, f"{path} is not a regular file (a FIFO, socket or device)")
        if kind == "a symbolic link" and not force:
            raise _error(setting, f"{path} is a symbolic link; {force_setting} replaces the link itself")
        if kind is not None and not force:
            raise _exists(path, setting, force_setting)
        if not os.access(path.parent, os.W_OK):
            raise _error(setting, f"cannot write in folder {path.parent} ({_not_writable(path.parent)})")
    except OSError as exc:  # e.g. a name too long for the file system
        raise _error(setting, f"cannot write {path} ({_reason(exc)})") from None


def write_text(path: Path, text: str, *, setting: str, force: bool, force_setting: str = "--force") -> None:
    """Write `text` (UTF-8) to `path` atomically, as the module docstring describes."""
    write_bytes(path, text.encode("utf-8"), setting=setting, force=force, force_setting=force_setting)


def write_bytes(
    path: Path, data: bytes, *, setting: str, force: bool, force_setting: str = "--force"
) -> None:
    """Write `data` (e.g. a PNG) to `path` atomically, as the module docstring describes."""
    check_target(path, setting=setting, force=force, force_setting=force_setting)
    tmp: str | None = None
    try:
        mode = _mode_for(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, mode)
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if force:
            os.replace(tmp, path)
        else:
            _place_new(tmp, path, setting, force_setting)
        _sync_folder(path.parent)
    except OSError as exc:
        raise _error(setting, f"cannot write {path} ({_reason(exc)})") from None
    finally:  # a failure or a signal (KeyboardInterrupt, SystemExit from SIGTERM) leaves no temporary file
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _place_new(tmp: str, path: Path, setting: str, force_setting: str) -> None:
    """Give the complete temporary file the target's name, never over a file that appeared meanwhile."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise _exists(path, setting, force_setting) from None
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        # no hard links here: a rename after a last check (a file appearing in between is replaced)
        if os.path.lexists(path):
            raise _exists(path, setting, force_setting) from None
        os.replace(tmp, path)


def _existing_kind(path: Path) -> str | None:
    """What is at `path` now, without following a symbolic link; None when nothing is."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return "a symbolic link"
    if stat.S_ISDIR(st.st_mode):
        return "a directory"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    return "a file"


def _mode_for(path: Path) -> int:
    """The replaced regular file's permission bits, else those a new file gets (0666 less the umask)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISREG(st.st_mode):
        return stat.S_IMODE(st.st_mode)
    return 0o666 & ~_umask()


def _umask() -> int:
    # the only portable read of the umask sets it; set it straight back
    current = os.umask(0o022)
    os.umask(current)
    return current


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _sync_folder(folder: Path) -> None:
    """fsync the folder so the rename is durable; some file systems cannot open or sync a folder."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _not_writable(folder: Path) -> str:
    read_only = os.statvfs(folder).f_flag & getattr(os, "ST_RDONLY", 1)
    return os.strerror(errno.EROFS if read_only else errno.EACCES)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _exists(path: Path, setting: str, force_setting: str) -> SpecError:
    return _error(setting, f"{path} exists; {force_setting} replaces it")


def _error(setting: str, message: str) -> SpecError:
    return SpecError(setting, "", message, show_got=False)
