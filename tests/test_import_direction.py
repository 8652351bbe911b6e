"""Imports run one way (DESIGN.md): spec -> cost -> optimize -> api -> render -> cli. A module may import
from its own layer or a lower one, never a higher one; every import counts, those inside functions too
(the CLI imports lazily to start fast, and a lazy upward import is still an upward arrow)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "planner"

# the second part of a module's name -> its layer (0 lowest)
LAYERS = {
    **dict.fromkeys(("__init__", "errors", "units", "limits", "fileout", "host", "runtime"), 0),
    "spec": 1,
    **dict.fromkeys(("cost", "calibrate", "engine"), 2),
    **dict.fromkeys(("optimize", "sampling"), 3),
    **dict.fromkeys(("api", "validate", "export"), 4),
    **dict.fromkeys(("render", "textplot"), 5),
    **dict.fromkeys(("cli", "__main__"), 6),
}
# upward arrows that exist today, each to be removed; the list may only shrink (issue 14 emptied it)
KNOWN_UPWARD: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return 0
    assert parts[1] in LAYERS, f"{module}: give its top-level name a layer in LAYERS"
    return LAYERS[parts[1]]


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name == "planner" or name.startswith("planner.")}


def upward_arrows() -> set[tuple[str, str]]:
    arrows = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = _module_name(path)
        for imported in _imports(path):
            if _layer(imported) > _layer(importer):
                arrows.add((importer, imported))
    return arrows


def test_imports_only_run_downward() -> None:
    new = upward_arrows() - KNOWN_UPWARD
    assert not new, f"imports from a higher layer: {sorted(new)}"


def test_the_known_upward_arrows_still_exist() -> None:
    gone = KNOWN_UPWARD - upward_arrows()
    assert not gone, f"fixed, remove from KNOWN_UPWARD: {sorted(gone)}"


def test_an_upward_import_is_found(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from planner.cli import app\n", encoding="utf-8")
    assert _imports(source) == {"planner.cli"} and _layer("planner.cli") > _layer("planner.cost.x")
