"""JSON Schema (draft 2020-12) of every YAML spec format, generated from the spec dataclasses.

One source of truth: the schema of a kind is read off its dataclass (planner.spec.catalog.SPEC_TYPES,
plus `partition` and `validation` files) by the rules `planner.spec.schema.build` applies when it loads
a file, so the two cannot disagree on structure:

* every mapping is a dataclass: `properties` in field order, `required` for the fields without a
  default, `additionalProperties: false` (build rejects unknown keys); `description` from the
  field's `spec_field` doc (the class docstring for the object), `default` from the field's default;
* `Literal[...]` is an `enum` (a one-value marker such as `spec: device` a `const`); `bool` is a
  boolean, `int` an integer, `str` a non-empty string; `X | None` also accepts null;
* a `float` is a number, or a string holding a float literal such as `1.5e9` (YAML 1.1, which PyYAML
  follows, reads an exponent without a sign as a string; the loader accepts it);
* a field with a `unit` is a string: a number, optional blanks, then one of the unit spellings
  planner.units.accepted_units(kind) lists (the `pattern`; the description lists them too); a
  field whose minimum is 0 admits no minus sign, and one that must be > 0 (or >= a positive minimum)
  needs a non-zero digit;
* bounds (`minimum`, `exclusiveMinimum`, `maximum`, `minItems`, the keys a dict accepts) come from the
  field's metadata;
* a CNN layer (`planner.spec.architecture.CNNLayer`) is a one-key mapping: `oneOf` its layer types.

Cross-field checks that `__post_init__` makes (unique layer names, a layer's inputs among the earlier
layers, CNN shape inference, heads divisible by KV heads, ...) are beyond a schema: a file the schema
accepts can still be refused by the loader, with the line and field. The kind `any` accepts a file of
any kind, dispatched on its `spec` key, for an editor mapping one schema onto every planner YAML file.

The package ships the generated schemas in planner/spec/schemas/ (`SCHEMA_DIR`); tests/test_json_schema.py
checks that they equal this module's output.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

from planner.spec.catalog import SPEC_TYPES
from planner.spec.schema import _FLOAT_LITERAL
from planner.units import accepted_units, format_quantity

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
# Formats loaded outside the catalog: `planner fl noniid --partition`, the validation case files.
EXTRA_TYPES = {
    "partition": "planner.spec.fleet:LabelPartition",
    "validation": "planner.validate.cases:CaseFile",
}
SCHEMA_TYPES: dict[str, str] = {**SPEC_TYPES, **EXTRA_TYPES}
ANY = "any"
KINDS: tuple[str, ...] = (*SCHEMA_TYPES, ANY)
# One-key unions: a mapping with exactly one of the class's (optional) fields, as __post_init__ demands.
ONE_KEY_UNIONS = ("planner.spec.architecture:CNNLayer",)

_NUMBER = r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_NONZERO = r"(?=[+]?0*\.?0*[1-9])"  # a mantissa with a non-zero digit (for values that must be > 0)


def _load(ref: str) -> type:
    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)


def schema_filename(kind: str) -> str:
    """The file name of a kind's shipped schema, e.g. `device.schema.json`."""
    return f"{kind}.schema.json"


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of spec files of `kind` (one of KINDS); ValueError otherwise."""
    if kind not in KINDS:
        raise ValueError(f"unknown spec kind {kind!r}; expected one of {', '.join(KINDS)}")
    generator = _Generator()
    head: dict[str, Any] = {"$schema": DRAFT, "$id": f"urn:planner:schema:{kind}"}
    if kind == ANY:
        refs = {name: generator.ref(_load(ref)) for name, ref in SCHEMA_TYPES.items()}
        body: dict[str, Any] = {
            "title": "planner spec file (any kind)",
            "description": "A planner YAML file of any kind; its `spec` key says which: "
            + ", ".join(SCHEMA_TYPES),
            "type": "object",
            "properties": {"spec": {"description": "file type marker", "enum": list(SCHEMA_TYPES)}},
            "required": ["spec"],
            "allOf": [
                {"if": {"properties": {"spec": {"const": name}}, "required": ["spec"]}, "then": ref}
                for name, ref in refs.items()
            ],
        }
    else:
        cls = _load(SCHEMA_TYPES[kind])
        body = {"title": f"planner {kind} spec", **generator.object_schema(cls)}
    schema = {**head, **body}
    if generator.defs:
        schema["$defs"] = dict(sorted(generator.defs.items()))
    return schema


def dumps_schema(schema: dict[str, Any]) -> str:
    """A schema as the shipped files hold it: JSON, two-space indent, keys in generated order."""
    import json

    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


class _Generator:
    """Builds the schema of one file format; nested dataclasses go to `defs` once each (by class name)."""

    def __init__(self) -> None:
        self.defs: dict[str, dict[str, Any]] = {}
        self.classes: dict[str, type] = {}

    def ref(self, cls: type) -> dict[str, Any]:
        name = cls.__name__
        known = self.classes.get(name)
        if known is not None and known is not cls:
            raise TypeError(f"two spec classes are both called {name}: {known} and {cls}")
        if known is None:
            self.classes[name] = cls
            self.defs[name] = {}  # placeholder: a recursive reference (Repeat -> CNNLayer) finds it
            self.defs[name] = self.object_schema(cls)
        return {"$ref": f"#/$defs/{name}"}

    def object_schema(self, cls: type) -> dict[str, Any]:
        if f"{cls.__module__}:{cls.__qualname__}" in ONE_KEY_UNIONS:
            return self.one_key_schema(cls)
        hints = typing.get_type_hints(cls)
        properties: dict[str, Any] = {}
        required: list[str] = []
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            schema = self.type_schema(hints[f.name], f.metadata)
            properties[f.name] = {**_describe(f), **schema, **_default(f)}
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                required.append(f.name)
        out: dict[str, Any] = {}
        doc = _class_doc(cls)
        if doc:
            out["description"] = doc
        out.update({"type": "object", "properties": properties})
        if required:
            out["required"] = required
        out["additionalProperties"] = False
        return out

    def one_key_schema(self, cls: type) -> dict[str, Any]:
        """A mapping with exactly one key, one of the class's fields, whose value is that field's type."""
        hints = typing.get_type_hints(cls)
        options = []
        for f in dataclasses.fields(cls):
            inner = [a for a in typing.get_args(hints[f.name]) if a is not type(None)]
            value = self.type_schema(inner[0] if len(inner) == 1 else hints[f.name], f.metadata)
            options.append(
                {
                    "type": "object",
                    "properties": {f.name: {**_describe(f), **value}},
                    "required": [f.name],
                    "additionalProperties": False,
                }
            )
        out: dict[str, Any] = {}
        doc = _class_doc(cls)
        if doc:
            out["description"] = doc
        out["oneOf"] = options
        return out

    def type_schema(self, tp: Any, meta: typing.Mapping[str, Any]) -> dict[str, Any]:
        """The schema of a value of type `tp` under a field's metadata (mirrors schema.convert)."""
        if tp is Any:
            return {}
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin in (Union, types.UnionType):
            options = [a for a in args if a is not type(None)]
            branches = [self.type_schema(o, meta) for o in options]
            if type(None) in args:
                branches.append({"type": "null"})
            return branches[0] if len(branches) == 1 else {"anyOf": branches}
        if origin is Literal:
            values = list(args)
            return {"const": values[0]} if len(values) == 1 else {"enum": values}
        if origin in (tuple, list):
            out: dict[str, Any] = {"type": "array", "items": self.type_schema(args[0], {})}
            if meta.get("min_items"):
                out["minItems"] = meta["min_items"]
            return out
        if origin is dict:
            item_meta = {k: v for k, v in meta.items() if k not in ("key_choices", "min_items")}
            out = {"type": "object"}
            if meta.get("key_choices"):
                out["propertyNames"] = {"enum": list(meta["key_choices"])}
            out["additionalProperties"] = self.type_schema(args[1], item_meta)
            if meta.get("min_items"):
                out["minProperties"] = meta["min_items"]
            return out
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            return self.ref(tp)
        if meta.get("unit"):
            return _unit_schema(meta)
        if tp is bool:
            return {"type": "boolean"}
        if tp is int:
            return {"type": "integer", **_bounds(meta)}
        if tp is float:
            return {
                "anyOf": [
                    {"type": "number", **_bounds(meta)},
                    {"type": "string", "pattern": f"^\\s*{_FLOAT_LITERAL.pattern}\\s*$"},
                ]
            }
        if tp is str:
            return {"type": "string", "minLength": 1, "pattern": "\\S"}
        raise TypeError(f"unsupported spec field type {tp!r}")  # a programming error


def _bounds(meta: typing.Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, name in (
        ("minimum", "minimum"),
        ("exclusive_minimum", "exclusiveMinimum"),
        ("maximum", "maximum"),
    ):
        if meta.get(key) is not None:
            out[name] = meta[key]
    return out


def _unit_schema(meta: typing.Mapping[str, Any]) -> dict[str, Any]:
    """A quantity with a unit: the pattern parse_quantity accepts (and the sign the bounds allow)."""
    kind = meta["unit"]
    units = sorted(accepted_units(kind), key=lambda u: (-len(u), u))
    low, low_open = meta.get("minimum"), meta.get("exclusive_minimum")
    non_negative = (low is not None and low >= 0) or (low_open is not None and low_open >= 0)
    sign = "[+]?" if non_negative else "[+-]?"
    positive = (low_open is not None and low_open >= 0) or (low is not None and low > 0)
    lead = _NONZERO if positive else ""
    alternatives = "|".join(re.escape(u) for u in units)
    return {"type": "string", "pattern": f"^\\s*{lead}{sign}{_NUMBER}\\s*(?:{alternatives})\\s*$"}


def _describe(f: dataclasses.Field[Any]) -> dict[str, Any]:
    doc = f.metadata.get("doc", "")
    kind = f.metadata.get("unit")
    if kind:
        bounds = _bound_text(f.metadata)
        doc = f"{doc} ({kind} with a unit{bounds}; accepted units: {', '.join(accepted_units(kind))})"
    return {"description": doc} if doc else {}


def _bound_text(meta: typing.Mapping[str, Any]) -> str:
    parts = []
    if meta.get("exclusive_minimum") is not None:
        parts.append(f"> {meta['exclusive_minimum']:g}")
    if meta.get("minimum") is not None:
        parts.append(f">= {meta['minimum']:g}")
    if meta.get("maximum") is not None:
        parts.append(f"<= {meta['maximum']:g}")
    return f", {' and '.join(parts)}" if parts else ""


def _default(f: dataclasses.Field[Any]) -> dict[str, Any]:
    """The field's default as the YAML would write it (a unit field's SI default formatted back)."""
    if f.default is dataclasses.MISSING:
        return {}
    value = f.default
    if value == "":
        return {}  # "absent": the loader refuses an empty string, so an editor must not insert one
    if value is not None and f.metadata.get("unit"):
        value = format_quantity(value, f.metadata["unit"])
    if isinstance(value, tuple):
        value = list(value)
    return {"default": value}


def _class_doc(cls: type) -> str:
    """The class docstring, unless it is the signature dataclasses writes for an undocumented class."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    return "" if doc.startswith(f"{cls.__name__}(") else doc


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every kind's schema into `directory` (the refresh the shipped files need after a spec change)."""
    from planner.fileout import write_text

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in KINDS:
        path = directory / schema_filename(kind)
        write_text(path, dumps_schema(json_schema(kind)), setting=str(directory), force=True)
        written.append(path)
    return written
