"""Pictures of the system questions (issue 24): pipeline partition's stacked bars, serve's batch curve,
comm's sweep over message sizes, fl round's histogram, the three bubble schedules and dp's all-reduce
bound; each marked point read back from the SVG (and its colour from the PNG) is the one the JSON
names."""

from __future__ import annotations

import pytest

from tests.picture_checks import positions
from tests.test_plots import assert_mark, draw, picture_lines

pytest.importorskip("matplotlib")

GIB = 2**30


def test_partition_marks_the_bottleneck_term_on_stacked_bars(run_cli, tmp_path) -> None:
    from planner.render.figures_systems import BAR_WIDTH

    argv = ("pipeline", "partition", "vgg16", "--cluster", "pipedream-cluster-b")
    payload, svg, png, stdout = draw(run_cli, tmp_path, argv)
    stages = payload["stages"]
    left = BAR_WIDTH / 2
    tops = [(f"bars-0-1-{k}", [(2 * k - left, s["time_s"] * 1e3)]) for k, s in enumerate(stages)]
    tops += [
        (f"bars-1-0-{k - 1}", [(2 * k - 1 - left, s["transfer_in_s"] * 1e3)])
        for k, s in enumerate(stages)
        if k
    ]
    terms = [(2 * k, s["time_s"]) for k, s in enumerate(stages)]
    terms += [(2 * k - 1, s["transfer_in_s"]) for k, s in enumerate(stages) if k]
    x, slowest = max(terms, key=lambda term: term[1])
    assert slowest == pytest.approx(payload["pipeline_time_s"])  # the largest term is the pipeline's time
    assert_mark(svg, png, 0, "bottleneck", tops, (False, False), (x, payload["pipeline_time_s"] * 1e3))
    # the memory bars stack to each stage's memory per device
    memory = [(f"bars-0-1-{k}", [(2 * k - left, s["memory_bytes"] / GIB)]) for k, s in enumerate(stages)]
    (low,), (high,) = positions(svg, 1, memory[0][0]), positions(svg, 1, memory[-1][0])
    ratio = (stages[0]["memory_bytes"] > stages[-1]["memory_bytes"]) == (low[1] < high[1])
    assert ratio  # the taller bar is drawn higher (SVG's y grows downwards)
    assert "bottleneck: stage" in stdout
    assert all(len(line) <= 80 for line in picture_lines(stdout, "time per minibatch of each pipeline term"))


def test_serve_marks_the_running_batch_on_its_curve(run_cli, tmp_path) -> None:
    payload, svg, png, stdout = draw(run_cli, tmp_path, ("serve", "llama-2-7b", "--cluster", "dgx-h100"))
    curve = [(c["tpot_s"] * 1e3, c["tokens_per_s_per_gpu"]) for c in payload["curve"]]
    expected = (payload["tpot_s"] * 1e3, payload["tokens_per_s_per_gpu"])
    assert_mark(svg, png, 0, "batch", [("series-0", curve)], (True, False), expected)
    assert f"running batch {payload['batch']}" in stdout
    assert all(len(line) <= 80 for line in picture_lines(stdout, "throughput against latency"))


def test_serve_search_marks_the_best_configuration(run_cli, tmp_path) -> None:
    argv = ("serve", "llama-2-7b", "--cluster", "dgx-h100", "--tpot", "30ms")
    payload, svg, png, _ = draw(run_cli, tmp_path, argv)
    meets = [
        (c["tpot_s"] * 1e3, c["tokens_per_s_per_gpu"]) for c in payload["candidates"] if c["meets_targets"]
    ]
    best = payload["best"]
    expected = (best["tpot_s"] * 1e3, best["tokens_per_s_per_gpu"])
    assert_mark(svg, png, 0, "best", [("series-0", meets)], (False, False), expected)


def test_comm_sweeps_sizes_and_marks_the_best_algorithm_at_the_message(run_cli, tmp_path) -> None:
    payload, svg, png, stdout = draw(run_cli, tmp_path, ("comm", "--cluster", "dgx-h100", "--size", "100MB"))
    sweep, best = payload["sweep"], payload["results"][0]
    size = payload["message"]["bytes"]
    assert size in sweep["sizes_bytes"] and sweep["sizes_bytes"] == sorted(sweep["sizes_bytes"])
    at = sweep["sizes_bytes"].index(size)
    drawn = sweep["algorithms"]
    assert [(a["algorithm"], a["time_s"][at]) for a in drawn] == [
        (r["algorithm"], pytest.approx(r["time_s"])) for r in payload["results"]
    ]
    assert all(t >= low for a in drawn for t, low in zip(a["time_s"], sweep["lower_bound_s"], strict=True))
    points = [(s, t * 1e3) for s, t in zip(sweep["sizes_bytes"], drawn[0]["time_s"], strict=True)]
    index = 0  # the best algorithm, drawn first
    assert_mark(
        svg, png, 0, "best", [(f"series-{index}", points)], (True, True), (size, best["time_s"] * 1e3)
    )
    assert f"best at {size:.3g} B: {best['algorithm']}" in stdout
    assert all(len(line) <= 80 for line in picture_lines(stdout, "time against message size"))


def test_fl_round_marks_the_expected_round_on_the_histogram(run_cli, tmp_path) -> None:
    argv = ("fl", "round", "--fleet", "mixed-edge", "--model", "resnet18", "--deadline", "300s")
    payload, svg, png, stdout = draw(run_cli, tmp_path, argv)
    hist, round_s = payload["histogram"], payload["round"]["round_s"]
    counts, edges = hist["counts"], hist["edges_s"]
    assert sum(counts) == payload["fleet"]["clients"]
    bars = [(f"bars-0-0-{i}", [(edges[i], float(c))]) for i, c in enumerate(counts)]
    at = next(i for i in range(len(counts)) if round_s < edges[i + 1])
    assert_mark(svg, png, 0, "round", bars, (True, False), (round_s, counts[at]))
    assert f"expected round: {round_s:.3g} s" in stdout
    assert all(len(line) <= 80 for line in picture_lines(stdout, "client round times"))


def test_pipeline_bubble_draws_the_three_schedules(run_cli, tmp_path) -> None:
    payload, svg, _, _ = draw(run_cli, tmp_path, ("pipeline", "bubble", "-k", "4", "--schedule", "1f1b"))
    schedules = {s["schedule"]: s for s in payload["schedules"]}
    assert list(schedules) == ["gpipe", "1f1b", "interleaved"] and schedules["interleaved"]["chunks"] == 2
    # gpipe and 1f1b idle alike; interleaving v = 2 chunks shrinks the bubble at the same M
    at = {r["microbatches"]: r["bubble_fraction"] for r in schedules["interleaved"]["sweep"]}
    for row in schedules["gpipe"]["sweep"]:
        if row["microbatches"] in at:
            assert at[row["microbatches"]] < row["bubble_fraction"]
    assert schedules["gpipe"]["sweep"] == schedules["1f1b"]["sweep"] == payload["sweep"]
    drawn = [len(positions(svg, 0, f"series-{k}")) for k in range(3)]
    assert drawn == [
        len(payload["sweep"]),
        len(schedules["gpipe"]["sweep"]),
        len(schedules["interleaved"]["sweep"]),
    ]


def test_dp_bound_is_above_every_weak_scaling_speedup(run_cli) -> None:
    import json

    for cluster in ("pipedream-cluster-a", "pipedream-cluster-b"):
        result = run_cli("dp", "vgg16", "--cluster", cluster, "--format", "json")
        scaling = json.loads(result.stdout)["scaling"]
        bounds = {b["devices"]: b for b in scaling["allreduce_bound"]}
        assert sorted(bounds) == [r["devices"] for r in scaling["weak"]]
        for row in scaling["weak"]:
            bound = bounds[row["devices"]]
            assert row["speedup"] <= bound["speedup_bound"] * (1 + 1e-12) <= row["devices"] * (1 + 1e-12)
            assert (bound["allreduce_lower_bound_s"] > 0) == (row["devices"] > 1)


def test_specdec_batch_marks_where_speculation_stops_paying(run_cli, tmp_path) -> None:
    argv = ("specdec", "batch", "--target", "llama-2-70b", "--draft", "llama-2-7b", "--device", "h100")
    payload, svg, png, stdout = draw(run_cli, tmp_path, (*argv, "--tensor-parallel", "4", "--alpha", "0.8"))
    rows, breakeven = payload["rows"], payload["breakeven_batch"]
    at = next(r for r in rows if r["batch"] == breakeven)
    assert at["speedup"] <= 1 < rows[0]["speedup"]
    points = [(float(r["batch"]), r["speedup"]) for r in rows]
    assert_mark(svg, png, 0, "breakeven", [("series-0", points)], (True, False), (breakeven, at["speedup"]))
    assert f"stops paying at batch {breakeven}" in stdout
    assert all(len(line) <= 80 for line in picture_lines(stdout, "speed-up against batch size"))
