"""Pictures (issue 24): --plot draws in 80 columns, --plot-file writes SVG/PNG through planner.fileout,
deterministic, and the marked point (the plan, the recommendation, the optimum) is the one the JSON
names, read back from where the SVG draws it and the colour the PNG has there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.picture_checks import hex_rgb, mark_data, png_colour, positions

pytest.importorskip("matplotlib")

DP = ("dp", "vgg16", "--cluster", "pipedream-cluster-b", "--servers", "2")


def draw(run_cli, tmp_path: Path, argv: tuple[str, ...]) -> tuple[dict[str, Any], bytes, bytes, str]:
    """The command's JSON, its SVG and PNG, and its table output with the terminal picture."""
    svg, png = tmp_path / "p.svg", tmp_path / "p.png"
    result = run_cli(*argv, "--format", "json", "--plot-file", str(svg))
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert run_cli(*argv, "--format", "json", "--plot-file", str(png)).exit_code == 0
    shown = run_cli(*argv, "--plot")
    assert shown.exit_code == 0, shown.stderr
    return payload, svg.read_bytes(), png.read_bytes(), shown.stdout


def assert_mark(svg: bytes, png: bytes, panel: int, name: str, series, logs, expected) -> None:
    from planner.render.figure_file import DPI, MARK_COLOUR

    got = mark_data(svg, panel, name, series, logs)
    assert got == pytest.approx(expected, rel=1e-3)
    (where,) = positions(svg, panel, f"mark-{name}")
    assert png_colour(png, where, DPI) == hex_rgb(MARK_COLOUR)


def picture_lines(stdout: str, title: str) -> list[str]:
    return stdout[stdout.index(title) :].splitlines()


def test_dp_marks_the_plan_on_its_speedup_and_efficiency_curves(run_cli, tmp_path) -> None:
    payload, svg, png, stdout = draw(run_cli, tmp_path, DP)
    main, weak = payload["plan"], payload["scaling"]["weak"]
    speedups = [(float(r["devices"]), r["speedup"]) for r in weak]
    assert_mark(
        svg, png, 0, "plan", [("series-0", speedups)], (True, True), (main["devices"], main["speedup"])
    )
    efficiency = [(float(r["devices"]), r["scaling_efficiency"] * 100) for r in weak]
    expected = (main["devices"], main["scaling_efficiency"] * 100)
    assert_mark(svg, png, 1, "plan", [("series-0", efficiency)], (True, False), expected)
    lines = picture_lines(stdout, "speed-up against devices")
    assert all(len(line) <= 80 for line in lines)
    assert f"this plan ({main['devices']} devices, {main['algorithm']})" in stdout


def test_the_same_inputs_give_the_same_bytes_and_no_dates(run_cli, tmp_path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    _, svg1, png1, _ = draw(run_cli, first, DP)
    _, svg2, png2, _ = draw(run_cli, second, DP)
    assert svg1 == svg2 and png1 == png2
    assert b"dc:date" not in svg1 and b"Matplotlib" not in svg1
    assert png1.startswith(b"\x89PNG") and b"Software" not in png1


def test_picture_options_are_checked_and_stdout_stays_json(run_cli, tmp_path) -> None:
    beside_json = run_cli(*DP, "--plot", "--format", "json")  # the picture on stderr, stdout stays JSON
    assert json.loads(beside_json.stdout) and "speed-up against devices" in beside_json.stderr
    wrong = run_cli(*DP, "--plot-file", str(tmp_path / "p.pdf"))
    assert wrong.exit_code == 2 and ".svg or .png" in wrong.stderr
    existing = tmp_path / "p.svg"
    existing.write_text("mine")
    refused = run_cli(*DP, "--plot-file", str(existing))
    assert refused.exit_code == 2 and "--force" in refused.stderr and existing.read_text() == "mine"
    assert run_cli(*DP, "--plot-file", str(existing), "--force").exit_code == 0
    assert existing.read_bytes().startswith(b"<?xml")


def test_the_file_writer_writes_bytes_atomically(tmp_path) -> None:
    from planner import fileout

    target = tmp_path / "x.png"
    fileout.write_bytes(target, b"\x89PNG\x00", setting="--plot-file", force=False)
    assert target.read_bytes() == b"\x89PNG\x00" and [p.name for p in tmp_path.iterdir()] == ["x.png"]


GIB = 2**30
LLM = ("llm-parallel", "llama-2-7b", "--cluster", "dgx-h100", "--servers", "1", "--global-batch", "64")


def test_plan_marks_the_recommendation_against_memory_and_cost(run_cli, tmp_path) -> None:
    payload, svg, png, stdout = draw(run_cli, tmp_path, ("plan",))
    fits = [s for s in payload["strategies"] if s["fits"]]
    winner = next(s for s in payload["strategies"] if s["name"] == payload["winner"])
    for panel, key, scale, logs in (
        (0, "memory_per_device_bytes", 1 / GIB, (False, True)),
        (1, "cost_per_million_samples_usd", 1.0, (True, True)),
    ):
        points = [(s[key] * scale, s["time_per_sample_s"] * 1e3) for s in fits]
        expected = (winner[key] * scale, winner["time_per_sample_s"] * 1e3)
        assert_mark(svg, png, panel, "recommendation", [("series-0", points)], logs, expected)
    assert f"recommendation: {winner['name']} ({winner['config']})" in stdout
    assert all(len(line) <= 80 for line in picture_lines(stdout, "time against memory"))


def test_llm_parallel_marks_the_best_plan_on_its_front(run_cli, tmp_path) -> None:
    payload, svg, png, stdout = draw(run_cli, tmp_path, LLM)
    plans = payload["search"]["plans"]
    points = [(p["memory_per_device_bytes"] / GIB, p["time_per_iteration_s"]) for p in plans if p["feasible"]]
    best = plans[0]
    expected = (best["memory_per_device_bytes"] / GIB, best["time_per_iteration_s"])
    assert_mark(svg, png, 0, "recommendation", [("series-0", points)], (False, True), expected)
    assert all(len(line) <= 80 for line in picture_lines(stdout, "time against memory"))


def test_the_pareto_front_keeps_only_points_nothing_beats_on_both_axes() -> None:
    from planner.render.figure import pareto_front

    points = [(1.0, 5.0), (2.0, 3.0), (2.5, 4.0), (3.0, 1.0), (4.0, 1.0)]
    assert pareto_front(points) == [(1.0, 5.0), (2.0, 3.0), (3.0, 1.0)]


@pytest.mark.parametrize("schedule", ["gpipe", "interleaved"])
def test_pipeline_bubble_marks_the_rule_of_thumbs_micro_batches(run_cli, tmp_path, schedule) -> None:
    payload, svg, png, stdout = draw(
        run_cli, tmp_path, ("pipeline", "bubble", "-k", "4", "--schedule", schedule)
    )
    points = [(float(r["microbatches"]), r["bubble_fraction"]) for r in payload["sweep"]]
    advice = payload["advice"]
    expected = (advice["minimum_microbatches"], advice["bubble_fraction_at_minimum"])
    assert_mark(svg, png, 0, "minimum", [("series-0", points)], (True, False), expected)
    assert all(len(line) <= 80 for line in picture_lines(stdout, "bubble against micro-batches"))


def test_specdec_speedup_marks_the_optimal_gamma(run_cli, tmp_path) -> None:
    payload, svg, png, stdout = draw(
        run_cli, tmp_path, ("specdec", "speedup", "--alpha", "0.7", "--c", "0.1")
    )
    rows = [(float(r["gamma"]), r["speedup"]) for r in payload["rows"]]
    alpha = list(payload["plot"]["series"]).index("0.7")
    expected = (payload["optimal_gamma"], payload["optimal_speedup"])
    assert_mark(svg, png, 0, "optimum", [(f"series-{alpha}", rows)], (False, False), expected)
    assert f"optimum: gamma {payload['optimal_gamma']}" in stdout
    assert all(len(line) <= 80 for line in picture_lines(stdout, "speed-up against draft length"))
