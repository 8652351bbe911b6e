"""`planner pipeline bubble` and `planner pipeline schedule`: numbers, JSON = table, SVG files, bad input."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest


def test_help_lists_pipeline(run_cli) -> None:
    result = run_cli("--help")
    assert result.exit_code == 0 and "pipeline" in result.stdout
    sub = run_cli("pipeline", "--help")
    assert "bubble" in sub.stdout and "schedule" in sub.stdout


def test_bubble_json_and_table_agree(run_cli) -> None:
    data = json.loads(
        run_cli("pipeline", "bubble", "--stages", "4", "--microbatches", "8", "-f", "json").stdout
    )
    assert data["bubble_fraction"] == pytest.approx(3 / 11)
    assert data["bubble_overhead"] == pytest.approx(3 / 8)
    assert data["utilisation"] == pytest.approx(8 / 11)
    assert data["naive_utilisation"] == 0.25
    assert data["advice"]["minimum_microbatches"] == 16
    table = run_cli("pipeline", "bubble", "--stages", "4", "--microbatches", "8")
    assert table.exit_code == 0
    assert "3/11 = 0.2727" in table.stdout and "3/8 = 0.375" in table.stdout
    for key in ("bubble_fraction", "bubble_overhead", "utilisation"):
        assert f"{data[key]:.4g}" in table.stdout


def test_bubble_sweep_rows_equal_json(run_cli) -> None:
    args = ("pipeline", "bubble", "-k", "8", "--schedule", "interleaved", "--chunks", "4")
    data = json.loads(run_cli(*args, "-f", "json").stdout)
    sweep = data["sweep"]
    assert [row["microbatches"] for row in sweep] == [8, 16, 32, 64, 128]
    table = run_cli(*args).stdout
    rows = [line for line in table.splitlines() if line.startswith("│")]
    assert len(rows) == len(sweep)
    for line, row in zip(rows, sweep, strict=True):
        cells = [c.strip() for c in line.strip("│").split("│")]
        assert int(cells[0]) == row["microbatches"]
        assert float(cells[1]) == pytest.approx(row["bubble_fraction"], rel=1e-3)
        assert float(cells[2]) == pytest.approx(row["bubble_overhead"], rel=1e-3)
    assert "M = 4K" in table  # the GPipe rule's row is marked


def test_interleaving_divides_the_overhead(run_cli) -> None:
    plain = json.loads(
        run_cli("pipeline", "bubble", "-k", "4", "-m", "8", "--schedule", "1f1b", "-f", "json").stdout
    )
    inter = json.loads(
        run_cli(
            "pipeline",
            "bubble",
            "-k",
            "4",
            "-m",
            "8",
            "--schedule",
            "interleaved",
            "--chunks",
            "4",
            "-f",
            "json",
        ).stdout
    )
    assert inter["chunks"] == 4
    assert inter["bubble_overhead"] == pytest.approx(plain["bubble_overhead"] / 4)


def test_schedule_json_matches_closed_form_and_table(run_cli) -> None:
    args = (
        "pipeline",
        "schedule",
        "-k",
        "4",
        "-m",
        "8",
        "--schedule",
        "gpipe",
        "--forward",
        "1ms",
        "--backward",
        "2ms",
        "--no-rematerialise",
    )
    data = json.loads(run_cli(*args, "-f", "json").stdout)
    assert data["time_s"] == pytest.approx(0.033) and not data["rematerialised"]
    assert data["closed_form"]["exact"] and data["closed_form"]["time_s"] == pytest.approx(data["time_s"])
    assert data["bubble_fraction"] == pytest.approx(3 / 11)
    ops = [e for e in data["events"] if e["kind"] != "idle"]
    assert len(ops) == 2 * 4 * 8 and {e["microbatch"] for e in ops} == set(range(1, 9))
    assert [d["peak_in_flight_microbatches"] for d in data["devices"]] == [8, 8, 8, 8]
    table = run_cli(*args, "--width", "66")
    assert table.exit_code == 0
    assert "33 ms" in table.stdout and f"{data['bubble_fraction']:.4g}" in table.stdout
    chart = [line for line in table.stdout.splitlines() if line.startswith("dev ")]
    assert len(chart) == 4 and all(len(line.split("│")[1]) == 66 for line in chart)


def test_gpipe_rematerialises_by_default_one_more_forward_per_backward(run_cli) -> None:
    args = ("pipeline", "schedule", "-k", "4", "-m", "8", "--schedule", "gpipe", "--forward", "1ms")
    data = json.loads(run_cli(*args, "--backward", "2ms", "-f", "json").stdout)
    # (M + K - 1)(f + b + f) = 11 x 4 ms (GPipe Sec. 2.3: the backward recomputes the forward)
    assert data["rematerialised"] and data["time_s"] == pytest.approx(0.044)
    assert data["closed_form"]["time_s"] == pytest.approx(0.044)
    assert data["backward_time_s"] == pytest.approx([2e-3])  # the given backward, as given
    table = run_cli(*args, "--backward", "2ms", "--width", "60")
    assert "re-materialised" in table.stdout and "44 ms" in table.stdout
    one_f_one_b = json.loads(run_cli("pipeline", "schedule", "-k", "4", "-m", "8", "-f", "json").stdout)
    assert not one_f_one_b["rematerialised"] and one_f_one_b["time_s"] == pytest.approx(0.033)


def test_schedule_with_stage_times_reports_bounds(run_cli) -> None:
    result = run_cli(
        "pipeline", "schedule", "-k", "3", "-m", "4", "--stage-times", "1ms/2ms,2ms/4ms,1ms/2ms", "-f", "json"
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    closed = data["closed_form"]
    assert closed["time_s"] is None
    assert closed["lower_bound_s"] <= data["time_s"] <= closed["upper_bound_s"]
    assert data["forward_time_s"] == pytest.approx([1e-3, 2e-3, 1e-3])


def test_svg_is_written_once_and_never_replaced_without_force(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "chart.svg"
    args = ("pipeline", "schedule", "-k", "2", "-m", "4", "--svg", str(target))
    first = run_cli(*args)
    assert first.exit_code == 0, first.stderr
    assert "wrote" in first.stdout
    ET.parse(target)  # well-formed XML
    target.write_text("user data")
    again = run_cli(*args)
    assert again.exit_code == 2 and "--force" in again.stderr and "Traceback" not in again.stderr
    assert target.read_text() == "user data"
    forced = run_cli(*args, "--force", "-f", "json")
    assert forced.exit_code == 0 and json.loads(forced.stdout)["svg_path"] == str(target)
    assert ET.parse(target).getroot().tag.endswith("svg")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("bubble", "-k", "0", "-m", "4"), "--stages"),
        (("bubble", "-k", "4", "-m", "0"), "--microbatches"),
        (("bubble", "-k", "4", "-m", "6", "--schedule", "interleaved"), "multiple of --stages"),
        (("bubble", "-k", "4", "-m", "8", "--chunks", "2"), "interleaved"),
        (("bubble", "-k", "4", "-m", "8", "--schedule", "interleaved", "--chunks", "1"), "--chunks"),
        (("schedule", "-k", "0", "-m", "4"), "--stages"),
        (("schedule", "-k", "4", "-m", "0"), "--microbatches"),
        (("schedule", "-k", "4", "-m", "6", "--schedule", "interleaved"), "multiple of --stages"),
        (("schedule", "-k", "2", "-m", "4", "--forward", "fast"), "--forward"),
        (("schedule", "-k", "2", "-m", "4", "--backward", "2"), "--backward"),
        (("schedule", "-k", "2", "-m", "4", "--forward", "-1ms"), "--forward"),
        (("schedule", "-k", "2", "-m", "4", "--stage-times", "1ms/2ms"), "expected 2 items"),
        (("schedule", "-k", "2", "-m", "4", "--stage-times", "1ms,2ms"), "FORWARD/BACKWARD"),
        (("schedule", "-k", "2", "-m", "4", "--stage-times", "1ms/2ms,1ms/x"), "--stage-times"),
        (
            ("schedule", "-k", "2", "-m", "4", "--stage-times", "1ms/2ms,1ms/2ms", "--forward", "1ms"),
            "not both",
        ),
        (("schedule", "-k", "2", "-m", "4", "--svg", "/no/such/folder/x.svg"), "does not exist"),
        (("schedule", "-k", "2", "-m", "4", "--width", "3"), "--width"),
        (("schedule", "-k", "1000", "-m", "1000"), "ops"),
        (("schedule", "-k", "2", "-m", "4", "--schedule", "1f1b", "--rematerialise"), "--rematerialise"),
    ],
)
def test_bad_input_exits_2(run_cli, args: tuple[str, ...], message: str) -> None:
    result = run_cli("pipeline", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
