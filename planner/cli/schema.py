"""Print the JSON Schema of a YAML spec format (device, cluster, profile, cnn, llm, fleet, partition,
validation, or any), generated from the spec definitions, for editors to complete and check files."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from planner.cli.common import force_help

# Kept here (not imported from planner.spec.json_schema) so `planner --help` stays fast; a test checks
# that it equals json_schema.KINDS.
KIND_NAMES = ("device", "cluster", "profile", "cnn", "llm", "fleet", "partition", "validation", "any")
# mypy reads an Enum call only with literal members; these come from KIND_NAMES (the one list)
SchemaKind = Enum("SchemaKind", {name: name for name in KIND_NAMES}, type=str)  # type: ignore[misc]  # see above


class SchemaFormat(str, Enum):
    json = "json"
    yaml = "yaml"


def command(
    kind: Annotated[SchemaKind, typer.Argument(metavar="KIND", help="the file format", show_default=False)],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write the schema here (default: stdout)")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help=force_help("--output"))] = False,
    fmt: Annotated[
        SchemaFormat, typer.Option("--format", "-f", help="json (as shipped) or the same schema as yaml")
    ] = SchemaFormat.json,
) -> None:
    """Print the JSON Schema (draft 2020-12) of a YAML spec format, generated from the spec definitions
    (`any`: every kind, chosen by the file's `spec` key); the package ships them in planner/spec/schemas/."""
    import sys

    from planner.api.schema import schema
    from planner.fileout import check_target, write_text
    from planner.render import OutputFormat
    from planner.render.schema import schema_text

    if output is not None:
        check_target(output, setting="--output", force=force)
    text = schema_text(schema(kind.value).to_dict(), OutputFormat(fmt.value))
    if output is None:
        sys.stdout.write(text)
        return
    write_text(output, text, setting="--output", force=force)
    sys.stderr.write(f"wrote the {kind.value} schema to {output}\n")
