"""Goyal et al. 2017: linear scaling rule, gradual warm-up, step schedule; `planner lr`."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from planner.cost.lr_schedule import (
    LRSchedule,
    iterations_per_epoch,
    linear_scaled_lr,
    time_to_train,
)


def test_linear_scaling_rule() -> None:
    assert linear_scaled_lr(0.1, 256, 8192) == pytest.approx(3.2, rel=1e-12)
    assert linear_scaled_lr(0.1, 256, 256) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        linear_scaled_lr(0.1, 0, 256)


def test_goyal_schedule_counts() -> None:
    s = LRSchedule(0.1, 256, 8192, warmup_epochs=5)
    assert s.iterations_per_epoch == 157  # ceil(1,281,167 / 8192)
    assert s.warmup_iterations == 785
    assert s.warmup_increment == pytest.approx((3.2 - 0.1) / 785)
    assert s.total_iterations == 90 * 157


def test_warmup_is_linear_then_steps() -> None:
    s = LRSchedule(0.1, 256, 8192, warmup_epochs=5)
    lr = s.lr_at(np.arange(s.total_iterations))
    assert lr[0] == pytest.approx(0.1)
    assert np.all(np.diff(lr[: s.warmup_iterations]) == pytest.approx(s.warmup_increment))
    assert lr[s.warmup_iterations] == pytest.approx(3.2)
    assert lr[30 * 157 - 1] == pytest.approx(3.2)
    assert lr[30 * 157] == pytest.approx(0.32)
    assert lr[60 * 157] == pytest.approx(0.032)
    assert lr[-1] == pytest.approx(0.0032)
    assert s.lr_at_epoch(80) == pytest.approx(0.0032)
    assert np.all(np.diff(lr[s.warmup_iterations :]) <= 0)


def test_phases_cover_training_without_gaps() -> None:
    s = LRSchedule(0.1, 256, 8192, warmup_epochs=5)
    phases = s.phases()
    assert [p.name for p in phases] == ["warm-up", "constant", "step 1", "step 2", "step 3"]
    assert phases[0].start_iteration == 0
    assert phases[-1].end_iteration == s.total_iterations
    for a, b in itertools.pairwise(phases):
        assert a.end_iteration == b.start_iteration
    no_warmup = LRSchedule(0.1, 256, 8192, warmup_epochs=0)
    assert no_warmup.phases()[0].name == "constant"
    assert float(no_warmup.lr_at(0)) == pytest.approx(3.2)


def test_bad_schedules_are_refused() -> None:
    with pytest.raises(ValueError, match="milestones"):
        LRSchedule(0.1, 256, 8192, milestones=(60, 30))
    with pytest.raises(ValueError, match="warmup_epochs"):
        LRSchedule(0.1, 256, 8192, warmup_epochs=100)
    with pytest.raises(ValueError, match="base_lr"):
        LRSchedule(0.0, 256, 8192)


def test_time_to_train() -> None:
    assert iterations_per_epoch(1000, 300) == 4
    assert time_to_train(0.5, 2, 1000, 300) == pytest.approx(4.0)


def test_cli_lr_json_carries_the_schedule(run_cli) -> None:
    result = run_cli(
        "lr",
        "--base-lr",
        "0.1",
        "--base-batch",
        "256",
        "--batch",
        "8192",
        "--warmup-epochs",
        "5",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["schedule"]["peak_lr"] == pytest.approx(3.2)
    assert payload["schedule"]["warmup_iterations"] == 785
    assert len(payload["per_epoch_lr"]) == 90
    assert payload["phases"][1]["lr_start"] == pytest.approx(3.2)


def test_cli_lr_table_shows_the_same_numbers(run_cli) -> None:
    result = run_cli("lr", "--batch", "8192", "--per-epoch")
    assert result.exit_code == 0, result.stderr
    assert "3.2" in result.stdout
    assert "785" in result.stdout
    assert "0.00394904" in result.stdout


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("--batch", "0"), "--batch"),
        (("--batch", "8192", "--base-lr", "-1"), "--base-lr"),
        (("--batch", "8192", "--milestones", "30,x"), "--milestones"),
        (("--batch", "8192", "--milestones", "60,30"), "--milestones"),
        (("--batch", "8192", "--warmup-epochs", "200"), "--warmup-epochs"),
        (("--batch", "8192", "--decay", "2"), "--decay"),
    ],
)
def test_cli_lr_bad_input_exits_2(run_cli, args: tuple[str, ...], option: str) -> None:
    result = run_cli("lr", *args)
    assert result.exit_code == 2
    assert option in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
