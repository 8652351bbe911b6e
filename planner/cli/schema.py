"""Print the JSON Schema of a YAML spec format (device, cluster, profile, cnn, llm, fleet, partition,
validation, or any), generated from the spec definitions, for editors to complete and check files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from planner.cli.common import force_help

# Kept here (not imported from planner.spec.json_schema) so `planner --help` stays fast; a test checks
# that it equals json_schema.KINDS.
KIND_NAMES = ("device", "cluster", "profile", "cnn", "llm", "fleet", "partition", "validation", "any")


def command(
    kind: Annotated[
        str, typer.Argument(help=f"the file format: {', '.join(KIND_NAMES)}", show_default=False)
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write the schema here (default: stdout)")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help=force_help("--output"))] = False,
) -> None:
    """Print the JSON Schema (draft 2020-12) of a YAML spec format, generated from the spec definitions
    (`any`: every kind, chosen by the file's `spec` key); the package ships them in planner/spec/schemas/."""
    import sys

    from planner.errors import SpecError
    from planner.fileout import check_target, write_text
    from planner.spec.json_schema import KINDS, dumps_schema, json_schema

    if kind not in KINDS:
        raise SpecError("planner schema", "KIND", f"expected one of: {', '.join(KINDS)}", kind)
    if output is not None:
        check_target(output, setting="--output", force=force)
    text = dumps_schema(json_schema(kind))
    if output is None:
        sys.stdout.write(text)
        return
    write_text(output, text, setting="--output", force=force)
    sys.stderr.write(f"wrote the {kind} schema to {output}\n")
