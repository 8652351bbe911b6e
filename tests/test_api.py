"""The Python API (planner.api) gives what the CLI prints: for each command moved onto it, the API's
result and `--format json` on the same inputs are equal; its docstring example runs; a bad setting is named
as the setting in the API and as the option on the command line."""

from __future__ import annotations

import doctest
from pathlib import Path
from typing import Any

import pytest
from api_payloads import api_json, cli_json

import planner.api
from planner.api import LROptions, lr_schedule
from planner.api.llm import LLMOptions, llm_parallel
from planner.api.pipeline import BubbleOptions, ScheduleOptions, pipeline_bubble, pipeline_schedule
from planner.errors import InfeasibleError, SettingError


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
    assert api_json(lr_schedule(options)) == cli_json(run_cli, "lr", *argv.split())


def test_a_bad_setting_is_named_as_the_setting_in_the_api_and_as_the_option_in_the_cli(run_cli: Any) -> None:
    with pytest.raises(SettingError, match="field 'warmup_epochs'"):
        lr_schedule(LROptions(batch=8192, warmup_epochs=100))
    result = run_cli("lr", "--batch", "8192", "--warmup-epochs", "100")
    assert result.exit_code == 2 and result.stderr.startswith("error: --warmup-epochs: ")


def test_lr_epochs_are_bounded_before_the_schedule_lists_them(run_cli: Any) -> None:
    # issue 13: --epochs 1e9 listed a billion per-epoch rates (past any time-out)
    result = run_cli("lr", "--batch", "8192", "--epochs", "1000000000")
    assert result.exit_code == 2 and "--epochs" in result.stderr and "planner/limits.py" in result.stderr


@pytest.mark.parametrize(
    ("model", "cluster", "options", "argv"),
    [
        ("gpt2", "dgx-a100", LLMOptions(global_batch=16), "--global-batch 16"),
        (
            "llama-2-7b",
            "dgx-a100",
            LLMOptions(global_batch=64, seq_len=2048, tensor_parallel=2, zero=1, top=3),
            "--global-batch 64 --seq-len 2048 -t 2 --zero 1 --top 3",
        ),
        (
            "llama-2-13b",
            "dgx-h100",
            LLMOptions(
                global_batch=1024, tensor_parallel=4, pipeline_parallel=1, data_parallel=4, microbatch=1
            ),
            "--global-batch 1024 -t 4 -p 1 -d 4 -b 1",
        ),
    ],
)
def test_llm_parallel_api_equals_cli(
    run_cli: Any, model: str, cluster: str, options: LLMOptions, argv: str
) -> None:
    expected = cli_json(run_cli, "llm-parallel", model, "--cluster", cluster, *argv.split())
    assert api_json(llm_parallel(model, cluster, options)) == expected


def test_plan_evaluates_a_configuration_as_the_search_recommends_it(run_cli: Any) -> None:
    # issue 14: -t 4 -p 1 -d 4 -b 1 evaluated recompute=full ZeRO-0 while the search recommended
    # recompute=none ZeRO-3 for the same t, p, d, b
    base = ["plan", "llama-2-13b", "--cluster", "dgx-h100", "--servers", "2", "--global-batch", "1024"]
    searched = cli_json(run_cli, *base, "-t", "4", "-p", "1", "-b", "1")
    evaluated = cli_json(run_cli, *base, "-t", "4", "-p", "1", "-d", "4", "-b", "1")
    assert searched["recommendation"] == evaluated["recommendation"]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--global-batch", "0"], 2, "error: --global-batch: "),  # silently 1024 before
        (["-t", "3", "-p", "1", "-d", "1", "-b", "1"], 1, "t=3 does not divide"),  # exit 0 'does not fit'
        (["-t", "3"], 1, "no candidate configuration"),  # '0 candidates fail ()'
        (["--dtype", ""], 2, "error: --dtype: "),  # silently bf16
        (["--recompute", "some"], 2, "error: --recompute: "),
    ],
)
def test_plan_refuses_what_it_cannot_evaluate(run_cli: Any, argv: list[str], code: int, message: str) -> None:
    result = run_cli("plan", "llama-2-70b", "--cluster", "dgx-h100", *argv)
    assert result.exit_code == code and message in result.stderr, result.stderr


def test_plan_refuses_an_empty_dtype_for_a_cnn_too(run_cli: Any) -> None:
    result = run_cli("plan", "--dtype", "")  # silently fp32 before
    assert result.exit_code == 2 and "--dtype" in result.stderr


def test_a_search_with_nothing_to_evaluate_says_why() -> None:
    with pytest.raises(InfeasibleError, match="tensor_parallel=3"):
        llm_parallel("llama-2-70b", "dgx-h100", LLMOptions(global_batch=1024, tensor_parallel=3))


@pytest.mark.parametrize(
    ("options", "argv"),
    [
        (BubbleOptions(stages=4), "-k 4"),
        (
            BubbleOptions(stages=4, microbatches=8, schedule="interleaved", chunks=4),
            "-k 4 -m 8 --schedule interleaved --chunks 4",
        ),
    ],
)
def test_pipeline_bubble_api_equals_cli(run_cli: Any, options: BubbleOptions, argv: str) -> None:
    assert api_json(pipeline_bubble(options)) == cli_json(run_cli, "pipeline", "bubble", *argv.split())


@pytest.mark.parametrize(
    ("options", "argv"),
    [
        (ScheduleOptions(stages=3, microbatches=4), "-k 3 -m 4"),
        (
            ScheduleOptions(3, 6, "gpipe", None, (1e-3, 2e-3, 1e-3), (2e-3, 4e-3, 2e-3)),
            "-k 3 -m 6 --schedule gpipe --stage-times 1ms/2ms,2ms/4ms,1ms/2ms",
        ),
    ],
)
def test_pipeline_schedule_api_equals_cli(run_cli: Any, options: ScheduleOptions, argv: str) -> None:
    expected = cli_json(run_cli, "pipeline", "schedule", *argv.split())
    assert expected.pop("svg_path") is None  # the CLI's: where it wrote the chart
    assert api_json(pipeline_schedule(options)) == expected


def test_the_readme_api_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "README.md (Python API)", "exec"), {})
    out = capsys.readouterr().out
    assert "t=" in out and "MFU" in out and "field 'warmup_epochs'" in out
