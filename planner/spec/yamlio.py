"""Safe YAML loading that remembers the line of every value, for error messages.

PyYAML's SafeLoader composes the node tree (no arbitrary tags); we build plain Python values from it
ourselves so that duplicate keys are an error, recursion and alias bombs are bounded, and each value's
path maps to its 1-based line.
"""

from __future__ import annotations

import codecs
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from planner.errors import SpecError

# the bounds and their reasons: planner/limits.py
from planner.limits import MAX_YAML_ALIAS_NODES as MAX_ALIAS_NODES
from planner.limits import MAX_YAML_BYTES as MAX_BYTES
from planner.limits import MAX_YAML_DEPTH as MAX_DEPTH
from planner.limits import MAX_YAML_NODES as MAX_NODES

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Document:
    """A parsed YAML document: its data, where it came from, and the line of each value's path."""

    source: str
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line(self, path: PathKey) -> int | None:
        """Line of the value at `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            found = self.lines.get(tuple(path[:end]))
            if found is not None:
                return found
        return None

    def error(self, path: PathKey, expected: str, got: object = None, show_got: bool = True) -> SpecError:
        """A SpecError located at `path` in this document."""
        return SpecError(self.source, dotted(path), expected, got, self.line(path), show_got)


def dotted(path: PathKey) -> str:
    """`('levels', 0, 'link')` -> `levels[0].link`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def is_dir(path: Path) -> bool:
    """Whether `path` is a folder; False for a name the file system cannot hold (too long, NUL)."""
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def read_text(path: Path, source: str | None = None) -> str:
    """Read an input file as UTF-8 text (a leading byte-order mark dropped); any failure is a SpecError
    naming the file.

    Only a regular file is read: a device (/dev/zero never ends), a FIFO (opening it blocks until a writer
    comes) or a socket is refused from its stat, before it is opened. At most MAX_BYTES + 1 bytes are read,
    whatever the size the file system reports (0 for /proc files, and a file may grow while it is read).
    """
    source = source or str(path)
    try:
        _check_regular(os.stat(path).st_mode, source)
        # O_NONBLOCK: should the name be swapped for a FIFO after the stat, opening it does not block and
        # the fstat below refuses it
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
        with open(fd, "rb") as handle:
            _check_regular(os.fstat(fd).st_mode, source)
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise SpecError(source, "", "file not found", show_got=False) from None
    except OSError as exc:
        raise SpecError(source, "", f"cannot read the file ({exc.strerror})", show_got=False) from None
    except ValueError:  # a name the file system cannot hold (NUL)
        raise SpecError(source, "", "file not found", show_got=False) from None
    if len(data) > MAX_BYTES:
        raise SpecError(source, "", f"expected a file under {MAX_BYTES // 2**20} MiB", show_got=False)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise SpecError(
            source, "", "expected UTF-8 text, got UTF-16 (a UTF-16 byte-order mark)", show_got=False
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(
            source, "", f"expected UTF-8 text ({exc.reason} at byte {exc.start})", show_got=False
        ) from None
    return text.removeprefix("\ufeff")  # editors on Windows write a UTF-8 BOM; it is no content


_FILE_TYPES = {
    stat.S_IFDIR: "a directory",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
}


def _check_regular(mode: int, source: str) -> None:
    """Refuse anything but a regular file, naming what it is."""
    if not stat.S_ISREG(mode):
        what = _FILE_TYPES.get(stat.S_IFMT(mode), "not a regular file")
        raise SpecError(source, "", f"expected a regular file, got {what}", show_got=False)


def load_yaml(path: Path, source: str | None = None, catalog: bool = False) -> Document:
    """Load one YAML document from a file (`catalog`: a shipped catalog file, see parse_yaml)."""
    source = source or str(path)
    return parse_yaml(read_text(path, source), source, catalog)


class _Loader(yaml.SafeLoader):
    """SafeLoader whose composer refuses nesting deeper than MAX_DEPTH before Python's recursion limit
    does (PyYAML composes nested collections recursively), and more than MAX_NODES nodes while it
    composes them (a 64 MiB file of one-character items would otherwise take minutes and gigabytes
    before the count in _Builder)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.depth = 0
        self.nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        self.depth += 1
        self.nodes += 1
        try:
            if self.nodes > MAX_NODES:
                raise yaml.composer.ComposerError(
                    None, None, f"expected at most {MAX_NODES} values", self.peek_event().start_mark
                )
            if self.depth > MAX_DEPTH + 1:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"expected nesting at most {MAX_DEPTH} levels deep",
                    self.peek_event().start_mark,
                )
            # types-PyYAML declares index an int; PyYAML also passes None, and a mapping value's key node
            return super().compose_node(parent, index)  # type: ignore[arg-type]  # the stub's int is too narrow
        finally:
            self.depth -= 1


# The shipped catalog is parsed on every run (planner plan: 67 files, 0.12 s in Python): libyaml's
# loader, where PyYAML has it, composes it in 0.02 s. The files are ours, so the composer's bounds are not
# needed (the builder still counts values and depth); user files keep _Loader's bounds and messages.
_CatalogLoader: type[yaml.SafeLoader | yaml.CSafeLoader] = getattr(yaml, "CSafeLoader", _Loader)


def parse_yaml(text: str, source: str, catalog: bool = False) -> Document:
    """Parse one YAML document from text; syntax errors become SpecErrors with the line. `catalog`: a
    shipped catalog file (libyaml's loader)."""
    try:
        loader = (_CatalogLoader if catalog else _Loader)(text)  # the reader checks the characters here
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, text, source) from None
    try:
        node = loader.get_single_node()
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, text, source) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = exc.problem or "invalid YAML"
        raise SpecError(source, "", f"invalid YAML: {reason}", line=line, show_got=False) from None
    except yaml.YAMLError as exc:
        raise SpecError(source, "", f"invalid YAML: {exc}", show_got=False) from None
    finally:
        loader.dispose()
    if node is None:
        raise SpecError(source, "", "expected a YAML mapping, got an empty document", show_got=False)
    builder = _Builder(source, loader)
    data = builder.build(node, ())
    return Document(source, data, builder.lines)


def _reader_error(exc: yaml.reader.ReaderError, text: str, source: str) -> SpecError:
    """A character YAML does not allow (e.g. NUL), located by its line."""
    line = text.count("\n", 0, exc.position) + 1 if isinstance(exc.position, int) else None
    char = exc.character
    what = f"#x{char:04x}" if isinstance(char, int) else repr(char)
    return SpecError(
        source, "", f"invalid YAML: character {what} is not allowed ({exc.reason})", line=line, show_got=False
    )


_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Builder:
    def __init__(self, source: str, loader: yaml.SafeLoader | yaml.CSafeLoader) -> None:
        self.source = source
        self.loader = loader
        self.lines: dict[PathKey, int] = {}
        self.nodes = 0
        self.seen: set[int] = set()  # nodes built once: meeting one again means an alias repeats it
        self.repeating = 0  # how deep inside a repeated node the build is
        self.repeated = 0  # values built inside repeated nodes

    def fail(self, node: yaml.Node, path: PathKey, expected: str) -> SpecError:
        return SpecError(self.source, dotted(path), expected, line=node.start_mark.line + 1, show_got=False)

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        again = id(node) in self.seen
        self.seen.add(id(node))
        self.repeating += again
        try:
            return self._build(node, path)
        finally:
            self.repeating -= again

    def _build(self, node: yaml.Node, path: PathKey) -> Any:
        self.nodes += 1
        self.repeated += self.repeating > 0
        if self.nodes > MAX_NODES:
            raise self.fail(node, path, f"expected at most {MAX_NODES} values (aliases included)")
        if self.repeated > MAX_ALIAS_NODES:
            raise self.fail(node, path, f"expected at most {MAX_ALIAS_NODES} values repeated through aliases")
        if len(path) > MAX_DEPTH:
            raise self.fail(node, path, f"expected nesting at most {MAX_DEPTH} levels deep")
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            return self.build_mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        if node.tag == _TIMESTAMP_TAG:  # a date stays the text written (specs hold dates as strings)
            return node.value
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            reason = getattr(exc, "problem", None) or str(exc)
            raise self.fail(node, path, f"expected a plain YAML value ({reason})") from None
        except (ValueError, TypeError) as exc:  # an explicit tag on a value it does not fit (!!int abc)
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise self.fail(node, path, f"expected a value that fits its tag {tag} ({exc})") from None

    def build_mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        written = sum(1 for key_node, _ in node.value if key_node.tag != _MERGE_TAG)
        try:
            self.loader.flatten_mapping(node)  # resolves `<<` merge keys: merged pairs first, then written
        except yaml.YAMLError as exc:
            raise self.fail(
                node, path, f"expected a valid merge key ({getattr(exc, 'problem', exc)})"
            ) from None
        merged = len(node.value) - written
        result: dict[str, Any] = {}
        explicit: set[str] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.fail(key_node, path, "expected keys to be plain strings")
            key = self.build(key_node, path)
            if not isinstance(key, str):
                raise self.fail(key_node, path, f"expected keys to be strings, got {key!r}")
            key_path = (*path, key)
            if key in explicit:  # a key written twice; a written key may override a merged one (YAML)
                raise self.fail(key_node, key_path, "expected each key once, found a duplicate key")
            if index >= merged:
                explicit.add(key)
            self.lines[key_path] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, key_path)
        return result
