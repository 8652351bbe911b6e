"""The Python API (planner.api) gives what the CLI prints: for each command moved onto it, the API's
result and `--format json` on the same inputs are equal; its docstring example runs; a bad setting is named
as the setting in the API and as the option on the command line."""

from __future__ import annotations

import doctest
import json
from typing import Any

import pytest

import planner.api
from planner.api import LROptions, lr_schedule
from planner.errors import SettingError


def _json(run_cli: Any, *argv: str) -> dict[str, Any]:
    result = run_cli(*argv, "--format", "json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    payload.pop("schema_version")
    return payload


def _plain(result: Any) -> Any:
    """The result as JSON reads it back (tuples as lists, keys as text)."""
    return json.loads(json.dumps(result.to_dict()))


def test_the_api_docstring_example_runs() -> None:
    failures, tried = doctest.testmod(planner.api, verbose=False)
    assert tried > 0 and failures == 0


@pytest.mark.parametrize(
    ("options", "argv"),
    [
        (LROptions(batch=8192), "--batch 8192"),
        (
            LROptions(batch=1024, base_lr=0.2, warmup_epochs=0, epochs=10, milestones=(3, 6), decay=0.5),
            "--batch 1024 --base-lr 0.2 --warmup-epochs 0 --epochs 10 --milestones 3,6 --decay 0.5",
        ),
    ],
)
def test_lr_api_equals_cli(run_cli: Any, options: LROptions, argv: str) -> None:
    assert _plain(lr_schedule(options)) == _json(run_cli, "lr", *argv.split())


def test_a_bad_setting_is_named_as_the_setting_in_the_api_and_as_the_option_in_the_cli(run_cli: Any) -> None:
    with pytest.raises(SettingError, match="field 'warmup_epochs'"):
        lr_schedule(LROptions(batch=8192, warmup_epochs=100))
    result = run_cli("lr", "--batch", "8192", "--warmup-epochs", "100")
    assert result.exit_code == 2 and result.stderr.startswith("error: --warmup-epochs: ")


def test_lr_epochs_are_bounded_before_the_schedule_lists_them(run_cli: Any) -> None:
    # issue 13: --epochs 1e9 listed a billion per-epoch rates (past any time-out)
    result = run_cli("lr", "--batch", "8192", "--epochs", "1000000000")
    assert result.exit_code == 2 and "--epochs" in result.stderr and "planner/limits.py" in result.stderr
