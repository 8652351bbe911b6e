"""Rendering of result payloads: rich tables for people, JSON/YAML with stable keys for machines.

A payload is a plain dict (str keys; values: str, int, float, bool, None, lists, dicts). JSON and YAML
carry the same content with sorted keys and `schema_version`, so the same inputs give identical bytes:
floats are written by repr (shortest round trip), and wall-clock measurements (VOLATILE_KEYS, e.g. how
long a solver ran) are shown in tables but left out of JSON/YAML.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

# 2: llm-parallel/plan with -t -p -d -b add `chosen_by_search` (the settings the search chose); export made by
#    plan --export adds `strategy` and `strategy_config` (listed in the README beside --format)
# 3: every result with a predicted time or throughput adds `error_band_pct` and `error_band_basis` (plan: on
#    each strategy; planner.validate.bands)
SCHEMA_VERSION = 3
# Keys whose values are wall-clock measurements, not functions of the inputs: left out of JSON/YAML.
VOLATILE_KEYS = frozenset({"solve_s"})


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    yaml = "yaml"


def _clean(value: Any) -> Any:
    """Plain JSON-compatible values; non-finite floats become None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if type(value).__module__ == "numpy" and hasattr(value, "item"):  # a numpy scalar: its Python value
        return _clean(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Enum):
        return value.value
    return value


def dumps(payload: dict[str, Any], fmt: OutputFormat) -> str:
    """Serialise a payload as JSON or YAML (sorted keys, schema_version added)."""
    body = _clean({"schema_version": SCHEMA_VERSION, **payload})
    if fmt is OutputFormat.json:
        return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    import yaml

    return yaml.safe_dump(body, sort_keys=True, allow_unicode=True, default_flow_style=False)


def emit(
    payload: dict[str, Any], fmt: OutputFormat, table: Callable[[dict[str, Any]], Iterable[Any]]
) -> None:
    """Print a payload: as JSON/YAML, or as the rich renderables `table(payload)` yields, then, for a
    payload that carries one error band (planner.validate.bands.band_fields), the line that states it."""
    if fmt is OutputFormat.table:
        from rich.console import Console
        from rich.measure import Measurement

        console = Console()

        def needed(renderable: Any) -> int:
            return Measurement.get(console, console.options.update_width(10_000), renderable).minimum

        for renderable in table(payload):
            # A table too wide for the terminal leaves out its secondary columns, one at a time, until it
            # fits (and says which); one that still does not fit is printed at its own minimum width (the
            # terminal wraps the lines) rather than squeezed until numbers are cut.
            left_out: list[str] = []
            spec = getattr(renderable, "planner_spec", None)
            while spec is not None and needed(renderable) > console.width:
                candidates = spec.droppable(left_out)
                if not candidates:
                    break
                left_out.append(candidates[0])
                renderable = spec.build(left_out)
            width = needed(renderable)
            (console if width <= console.width else Console(width=width)).print(renderable)
            if left_out:
                console.print(
                    f"(left out to fit {console.width} columns: {', '.join(left_out)}; a wider terminal or "
                    "--format json shows them)",
                    style="dim",
                )
        if "error_band_pct" in payload:
            console.print(band_note(payload), highlight=False)
        return
    import sys

    sys.stdout.write(dumps(payload, fmt))


@dataclass(frozen=True)
class TableSpec:
    """What a table is made of, so that it can be made again without some columns (see `emit`)."""

    title: str | None
    columns: tuple[str, ...]
    cells: tuple[tuple[str, ...], ...]
    right: tuple[str, ...]
    keep: tuple[str, ...]
    secondary: tuple[str, ...]

    def droppable(self, left_out: Sequence[str]) -> list[str]:
        """Columns that may still be left out, first to go first: `secondary` in order, then the others
        from the right; never the first column (the row's name) or those in `keep`."""
        others = [c for c in reversed(self.columns[1:]) if c not in self.keep and c not in self.secondary]
        return [c for c in (*self.secondary, *others) if c not in left_out]

    def build(self, left_out: Sequence[str] = ()) -> Any:
        from rich.table import Table
        from rich.text import Text

        shown = [i for i, name in enumerate(self.columns) if name not in left_out]
        table = Table(title=self.title, title_justify="left", header_style="bold")
        for index in shown:
            name = self.columns[index]
            if name in self.right or name in self.keep or index == 0:
                width = max([len(name), *(Text.from_markup(row[index]).cell_len for row in self.cells)])
                table.add_column(
                    name, justify="right" if name in self.right else "left", no_wrap=True, min_width=width
                )
            else:
                table.add_column(name, overflow="fold", max_width=60)
        for row in self.cells:
            table.add_row(*(row[i] for i in shown))
        # emit reads the spec back to rebuild the table narrower; rich's Table does not declare the attribute
        table.planner_spec = self  # type: ignore[attr-defined]  # see above
        return table


def make_table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    right: Sequence[str] = (),
    keep: Sequence[str] = (),
    secondary: Sequence[str] = (),
) -> Any:
    """A rich Table; columns named in `right` are right-aligned numbers and, like the first column (the
    row's name) and those named in `keep`, never wrapped or cut. Other text wraps within 60 characters.
    On a terminal too narrow for it, columns are left out: `secondary` first, then from the right."""
    cells = tuple(tuple("" if cell is None else str(cell) for cell in row) for row in rows)
    return TableSpec(title, tuple(columns), cells, tuple(right), tuple(keep), tuple(secondary)).build()


def band_note(band: dict[str, Any]) -> str:
    """The line that states a prediction's error band, from its `error_band_pct` and `error_band_basis`:
    'error band ±35% (p90 |error|, 10 published cases, llm-training)'."""
    from planner.validate.bands import MIN_CASES

    basis, pct = band["error_band_basis"], band["error_band_pct"]
    cases = f"{basis['cases']} published case{'' if basis['cases'] == 1 else 's'}, {basis['model_class']}"
    if pct is None:
        return f"no error band ({cases}; a band needs {MIN_CASES})"
    return f"error band {fmt_band(pct)} (p{basis['percentile']:g} |error|, {cases})"


def fmt_band(pct: float | None) -> str:
    """An error band in percent ('±35%'), or 'no band'."""
    return "no band" if pct is None else f"±{pct:.0f}%"


def first_sentence(text: str, limit: int = 80) -> str:
    """The first sentence of `text` (up to a colon or period), cut to `limit` characters."""
    head = text.split(": ")[0].split(". ")[0].strip()
    return head if len(head) <= limit else head[: limit - 1] + "…"


def fmt_time(value: float | None) -> str:
    """A duration in a readable unit ('2.3 ms'), or '-' when unknown or not finite."""
    from planner.units import format_quantity

    return "-" if value is None or not math.isfinite(value) else format_quantity(value, "time")


def fmt_bytes(value: float | None) -> str:
    """A size in IEC units ('16 GiB'), or '-' when unknown or not finite."""
    from planner.units import format_quantity

    return "-" if value is None or not math.isfinite(value) else format_quantity(value, "memory")


def fmt_count(value: float | None) -> str:
    """A count with thousands separators, or '-' when unknown."""
    return "-" if value is None else f"{value:,.0f}"


def fmt_si(value: float | None, suffix: str = "", digits: int = 4) -> str:
    """A number with an SI prefix (1.23 G), or '-' when unknown."""
    if value is None:
        return "-"
    for factor, prefix in ((1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.{digits}g} {prefix}{suffix}".rstrip()
    return f"{value:.{digits}g} {suffix}".rstrip()
