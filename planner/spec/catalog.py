"""The shipped catalog (hardware/, models/) and loading of any spec by catalog name or file path.

A spec file is a YAML mapping whose `spec` key says what it is (device, cluster, profile, cnn, llm);
PipeDream `graph.txt` profiles are recognised by their name. The catalog sits at the repo root in a
checkout (editable install) and inside the package (`planner/_catalog`) in a wheel.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from planner.errors import PlannerWarning, SpecError
from planner.spec.profile import has_work
from planner.spec.schema import build
from planner.spec.yamlio import Document, is_dir, load_yaml

SPEC_TYPES = {
    "device": "planner.spec.hardware:Device",
    "cluster": "planner.spec.hardware:Cluster",
    "profile": "planner.spec.profile:ModelProfile",
    "cnn": "planner.spec.architecture:CNNArchitecture",
    "llm": "planner.spec.llm:LLMConfig",
    "fleet": "planner.spec.fleet:Fleet",
}
AREAS = {"hardware": ("device", "cluster"), "models": ("profile", "cnn", "llm"), "fleets": ("fleet",)}
# the command that lists an area, for error hints (default: `planner AREA list`)
LIST_COMMANDS = {"fleets": "planner fl fleets"}
_PACKAGE = Path(__file__).resolve().parent.parent


def catalog_dir(area: str) -> Path:
    """The folder of a catalog area: inside the installed package, else at the checkout's root."""
    for candidate in (_PACKAGE / "_catalog" / area, _PACKAGE.parent / area):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"the '{area}' catalog is missing from this installation (looked beside {_PACKAGE})"
    )


def spec_class(spec: str) -> type:
    module, name = SPEC_TYPES[spec].split(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Entry:
    """One catalog file: its name, aliases, kind, path and the loaded spec."""

    name: str
    spec: str
    path: Path
    aliases: tuple[str, ...]
    value: Any


@cache
def _paths(area: str) -> tuple[Path, ...]:
    return tuple(sorted(catalog_dir(area).rglob("*.yaml")))


@cache
def _document(path: Path) -> Document:
    return load_yaml(path, _source_name(path), catalog=True)


def _documents(area: str) -> tuple[tuple[Path, Document], ...]:
    """Every YAML file of a catalog area, parsed once."""
    return tuple((path, _document(path)) for path in _paths(area))


def _catalog_device_names() -> list[str]:
    """Catalog devices' names and aliases (clusters refer to them; devices refer to nothing)."""
    return sorted(key for _, doc in _documents("hardware") for key in _keys(doc, ("device",)))


@cache
def entries(area: str) -> tuple[Entry, ...]:
    """Every spec in a catalog area, sorted by kind then name (each file fully validated)."""
    found = []
    for path, doc in _documents(area):
        spec = _built(doc, AREAS[area])
        found.append(Entry(spec.name, spec.spec, path, tuple(getattr(spec, "aliases", ())), spec))
    return tuple(sorted(found, key=lambda e: (AREAS[area].index(e.spec), e.name)))


_BUILT: dict[int, Any] = {}  # catalog documents built so far, by id (each built once per process)


def _built(doc: Document, allowed: tuple[str, ...]) -> Any:
    if id(doc) not in _BUILT:
        _BUILT[id(doc)] = build_spec(doc, allowed)
    return _BUILT[id(doc)]


# catalog devices replaced by the open device_fields_replaced blocks, by doc id
_REPLACED: dict[int, Any] = {}


@contextmanager
def device_fields_replaced(name: str, **fields: Any) -> Iterator[Any]:
    """Within the block, the catalog device `name` has `fields` replaced (dataclasses.replace), and so
    does every spec built from the catalog in it (a cluster of that device, an inline mapping naming it):
    how a calibration fit evaluates its cases at a trial value (planner.validate.fit). Blocks nest (an
    inner block starts from the outer one's device). Yields the device; nothing on disk changes, and the
    specs built before the block are back after it. Caches of results outside the catalog (an evaluator's
    own) are not cleared."""
    doc = _named_document("hardware", ("device",), name)
    if doc is None:
        find("hardware", name, ("device",))  # raises the catalog's "no device named" error
        raise AssertionError(name)  # unreachable: find found what _named_document did not
    device = dataclasses.replace(_built(doc, ("device",)), **fields)
    saved, outer = dict(_BUILT), _REPLACED.get(id(doc))
    _REPLACED[id(doc)] = device
    _reset_built(_REPLACED)  # a cluster built before holds the device it was built with
    try:
        yield device
    finally:
        if outer is None:
            del _REPLACED[id(doc)]
        else:
            _REPLACED[id(doc)] = outer
        _reset_built(saved)


def _reset_built(specs: dict[int, Any]) -> None:
    """The built catalog specs become `specs` (by doc id); the catalog listing is built again."""
    _BUILT.clear()
    _BUILT.update(specs)
    entries.cache_clear()


def _named_document(area: str, kinds: tuple[str, ...], name: str) -> Document | None:
    """The document of one of `kinds` whose file gives `name` as its name or an alias (names and aliases
    are unique in the catalog: tests); only its file is parsed when it is named `name`.yaml, as catalog
    files are. None: left to `entries` (which validates every file and suggests close names)."""
    named = [path for path in _paths(area) if path.stem == name]
    for path in [*named, *(p for p in _paths(area) if p not in named)]:
        if name in _keys(_document(path), kinds):
            return _document(path)
    return None


def _keys(doc: Document, kinds: tuple[str, ...]) -> list[str]:
    """The name and aliases a catalog file gives, as written (none unless it is one of `kinds`)."""
    data = doc.data
    if not (isinstance(data, dict) and data.get("spec") in kinds):
        return []
    aliases = data.get("aliases")
    return [str(data.get("name")), *(map(str, aliases) if isinstance(aliases, list) else ())]


def _source_name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_file(path: Path, allowed: tuple[str, ...] | None = None) -> Any:
    """Load and validate one spec file of any kind (or of the `allowed` kinds); where an LLM may be, a
    Hugging Face config.json (or the folder holding one) too."""
    source = _source_name(path)
    if path.name.endswith(".graph.txt") or path.name == "graph.txt":
        if allowed is not None and "profile" not in allowed:
            raise SpecError(
                source, "", f"expected a {' or '.join(allowed)} file, got a PipeDream profile", show_got=False
            )
        from planner.spec.pipedream_graph import load_graph

        return load_graph(path, source)
    if allowed is None or "llm" in allowed:
        if is_dir(path) and (path / "config.json").is_file():  # a Hugging Face model folder
            path = path / "config.json"
            source = _source_name(path)
        if path.name.endswith(".json"):
            return _json_model(path, source, allowed)
    doc = load_yaml(path, source)
    return build_spec(doc, allowed)


def _json_model(path: Path, source: str, allowed: tuple[str, ...] | None) -> Any:
    """A JSON file where a model is expected: a Hugging Face config.json, or a spec (it has `spec`)."""
    from planner.spec.hf_config import default_name, hf_config_from_document, read_json

    doc = read_json(path, source)
    if isinstance(doc.data, dict) and "spec" in doc.data:
        return build_spec(doc, allowed)
    return hf_config_from_document(doc, default_name(path))


def build_spec(doc: Document, allowed: tuple[str, ...] | None = None) -> Any:
    """Build the spec a YAML document describes, dispatching on its `spec` key."""
    kinds = allowed or tuple(SPEC_TYPES)
    if not isinstance(doc.data, dict):
        raise doc.error((), "expected a mapping with a 'spec' key", doc.data)
    kind = doc.data.get("spec")
    if kind not in kinds:
        if "spec" not in doc.data:
            raise doc.error(("spec",), f"missing required field: one of {', '.join(kinds)}", show_got=False)
        raise doc.error(("spec",), f"expected one of: {', '.join(kinds)}", kind)
    spec: Any = build(spec_class(kind), doc)  # the class `kind` names
    if kind == "cluster" and isinstance(spec.device, str):
        spec = dataclasses.replace(spec, device=_catalog_device(spec.device, doc))
    if kind == "fleet":
        spec = spec.resolve_devices(lambda name, path: _catalog_device(name, doc, path))
    if kind == "profile" and not has_work(spec):
        raise doc.error(("layers",), "expected some work: every layer but the inputs takes 0 s and 0 FLOP")
    _warn_assumed_figures(spec, doc)
    return spec


def _warn_assumed_figures(spec: Any, doc: Document) -> None:
    """A PlannerWarning for each device of `spec` (itself, a cluster's, a fleet's) whose file left out an
    efficiency figure: its default stands in, never silently."""
    from planner.spec.hardware import Device

    devices = {
        "device": lambda: [spec],
        "cluster": lambda: [spec.device],
        "fleet": lambda: [c.device for c in spec.classes] + ([spec.server.device] if spec.server else []),
    }.get(spec.spec, list)()
    for device in devices:
        if isinstance(device, Device) and device.assumed_figures:
            assumed = ", ".join(f"{name} {getattr(device, name):g}" for name in device.assumed_figures)
            warnings.warn(
                PlannerWarning(
                    f"{doc.source}: device '{device.name}' gives no {' or '.join(device.assumed_figures)}; "
                    f"assuming {assumed} (the documented defaults, planner.spec.hardware): give the "
                    "measured figures for a trustworthy estimate"
                ),
                stacklevel=2,
            )


def _catalog_device(name: str, doc: Document, path: tuple[str | int, ...] = ("device",)) -> Any:
    named = _named_document("hardware", ("device",), name)
    device = _built(named, ("device",)) if named is not None else None
    if device is None:
        close = difflib.get_close_matches(name, _catalog_device_names(), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise doc.error(path, f"expected a catalog device name{hint} or an inline device mapping", name)
    return device


def _looks_like_path(text: str) -> bool:
    if "/" in text or text.endswith((".yaml", ".yml", ".txt", ".json")):
        return True
    try:
        return Path(text).exists()
    except (OSError, ValueError):  # a name the file system cannot hold (too long, NUL): not a file
        return False


def find(area: str, name_or_path: str, allowed: tuple[str, ...] | None = None) -> Any:
    """A spec by catalog name or alias, or from a file path."""
    kinds = allowed or AREAS[area]
    if _looks_like_path(name_or_path):
        return load_file(Path(name_or_path), kinds)
    doc = _named_document(area, kinds, name_or_path)
    if doc is not None:  # build the one file named, not the whole area (start-up of every command)
        return _built(doc, AREAS[area])
    names: dict[str, Entry] = {}
    for entry in entries(area):
        if entry.spec in kinds:
            for key in (entry.name, *entry.aliases):
                names[key] = entry
    found = names.get(name_or_path)
    if found is None:
        close = difflib.get_close_matches(name_or_path, sorted(names), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise SpecError(
            "catalog",
            area,
            f"no {' or '.join(kinds)} named '{name_or_path}'{hint}; "
            f"see `{LIST_COMMANDS.get(area, f'planner {area} list')}`, or give a file path",
            show_got=False,
        )
    return found.value
