"""The two sides every API test compares: what `planner ... --format json` printed, and an API result as
that JSON carries it (tuples as lists, numpy scalars as numbers), both without `schema_version`. Importable
from every test module: pytest puts tests/ on sys.path for its rootdir conftest."""

from __future__ import annotations

import json
from typing import Any

from planner.render import OutputFormat, dumps


def cli_json(run_cli: Any, *argv: str) -> dict[str, Any]:
    """Run `planner *argv --format json` (exit 0 expected) and return its payload."""
    result = run_cli(*argv, "--format", "json")
    assert result.exit_code == 0, result.stderr
    payload: dict[str, Any] = json.loads(result.stdout)
    payload.pop("schema_version")
    return payload


def api_json(result: Any) -> Any:
    """An API result's to_dict() as the JSON output carries it."""
    payload = json.loads(dumps(result.to_dict(), OutputFormat.json))
    payload.pop("schema_version")
    return payload


def assert_setting_named(run_cli: Any, call: Any, setting: str, argv: tuple[str, ...]) -> None:
    """`call()` raises a SettingError naming `setting`; `planner *argv` names its option instead (exit 2)."""
    from planner.errors import SettingError

    try:
        call()
    except SettingError as exc:
        assert exc.setting == setting, exc
    else:
        raise AssertionError(f"no SettingError for '{setting}'")
    result = run_cli(*argv)
    option = "--" + setting.replace("_", "-")
    assert result.exit_code == 2 and result.stderr.startswith(f"error: {option}: "), result.stderr
