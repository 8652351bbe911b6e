"""A JSON Schema as text (planner.api.schema): JSON as the package ships it, or the same as YAML."""

from __future__ import annotations

from typing import Any

from planner.render import OutputFormat


def schema_text(schema: dict[str, Any], fmt: OutputFormat) -> str:
    """JSON (two-space indent, keys in generated order) or YAML with the keys in the same order."""
    if fmt is OutputFormat.yaml:
        import yaml

        return yaml.safe_dump(schema, sort_keys=False, allow_unicode=True, default_flow_style=False)
    from planner.spec.json_schema import dumps_schema

    return dumps_schema(schema)
