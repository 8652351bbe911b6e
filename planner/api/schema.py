"""The JSON Schema (draft 2020-12) of each YAML spec format, generated from the spec definitions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planner.errors import SettingError


@dataclass(frozen=True)
class SchemaResult:
    """The schema of one file format (`any`: every kind, chosen by the file's `spec` key)."""

    kind: str
    schema: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.schema


def schema(kind: str) -> SchemaResult:
    """The schema of `kind`: one of planner.spec.json_schema.KINDS (device, cluster, ..., any)."""
    from planner.spec.json_schema import KINDS, json_schema

    if kind not in KINDS:
        raise SettingError("kind", f"one of: {', '.join(KINDS)}", kind)
    return SchemaResult(kind, json_schema(kind))
