"""Schedule simulation against the closed forms, event-list invariants, text and SVG pictures."""

from __future__ import annotations

import itertools
import random
import xml.etree.ElementTree as ET

import pytest

from planner.cost.pipeline import (
    bubble_fraction,
    bubble_overhead,
    gpipe_time,
    in_flight_microbatches,
    one_f_one_b_time_bounds,
    uniform_pipeline_time,
)
from planner.cost.pipeline_schedule import Timeline, simulate
from planner.render.gantt import render_rows, render_text, to_svg

UNIFORM_CASES = (
    [("gpipe", k, m, 1) for k in (1, 2, 3, 4, 7) for m in (1, 2, 3, 8, 13)]
    + [("1f1b", k, m, 1) for k in (1, 2, 3, 4, 7) for m in (1, 2, 3, 8, 13)]
    + [("interleaved", k, k * j, v) for k in (1, 2, 3, 4) for j in (1, 2, 3) for v in (2, 3, 4)]
)


@pytest.mark.parametrize(("schedule", "k", "m", "v"), UNIFORM_CASES)
def test_uniform_makespan_and_bubble_equal_the_closed_forms(schedule: str, k: int, m: int, v: int) -> None:
    timeline = simulate(schedule, k, m, [1e-3], [2e-3], chunks=v)
    assert timeline.makespan == pytest.approx(uniform_pipeline_time(k, m, 1e-3, 2e-3, v), rel=1e-12)
    assert timeline.bubble_fraction == pytest.approx(bubble_fraction(k, m, v), rel=1e-9, abs=1e-12)
    assert timeline.bubble_overhead == pytest.approx(bubble_overhead(k, m, v), rel=1e-9, abs=1e-12)
    check_events(timeline)
    for device in range(k):
        assert timeline.peak_in_flight(device) == in_flight_microbatches(schedule, device, k, m, v)  # type: ignore[arg-type]


def check_events(timeline: Timeline) -> None:
    """Each device's events tile [0, makespan]; every op runs once; dependencies hold."""
    k, v = timeline.stages, timeline.chunks
    ends: dict[tuple[str, int, int], tuple[float, float]] = {}
    for device in range(k):
        events = timeline.device_events(device)
        assert events[0].start == 0.0 and events[-1].end == pytest.approx(timeline.makespan)
        for before, after in itertools.pairwise(events):
            assert after.start == before.end
        for e in events:
            if e.kind != "idle":
                key = (e.kind, e.microbatch or 0, (e.chunk or 0) * k + device)
                assert key not in ends
                ends[key] = (e.start, e.end)
    assert len(ends) == 2 * timeline.microbatches * k * v
    last = k * v - 1
    for (kind, mb, stage), (start, _) in ends.items():
        if kind == "fwd" and stage > 0:
            assert start >= ends[("fwd", mb, stage - 1)][1] - 1e-15
        if kind == "bwd":
            before = ("bwd", mb, stage + 1) if stage < last else ("fwd", mb, stage)
            assert start >= ends[before][1] - 1e-15


def test_gpipe_closed_form_is_exact_for_unequal_stages_and_transfers() -> None:
    rng = random.Random(5)
    for _ in range(150):
        k, m = rng.randint(1, 6), rng.randint(1, 9)
        f = [rng.random() for _ in range(k)]
        b = [2 * rng.random() for _ in range(k)]
        c = [0.3 * rng.random() for _ in range(k - 1)]
        timeline = simulate("gpipe", k, m, f, b, transfer=c or [0.0])
        assert timeline.makespan == pytest.approx(gpipe_time(f, b, m, c or 0.0), rel=1e-12)
        check_events(timeline)


def test_one_f_one_b_lies_within_its_bounds() -> None:
    rng = random.Random(9)
    for _ in range(150):
        k, m = rng.randint(1, 6), rng.randint(1, 9)
        f = [rng.random() for _ in range(k)]
        b = [2 * rng.random() for _ in range(k)]
        lower, upper = one_f_one_b_time_bounds(f, b, m)
        timeline = simulate("1f1b", k, m, f, b)
        assert lower * (1 - 1e-12) <= timeline.makespan <= upper * (1 + 1e-12)
        check_events(timeline)


def test_interleaved_accepts_per_device_or_per_virtual_stage_times() -> None:
    per_device = simulate("interleaved", 2, 4, [2.0, 2.0], [4.0, 4.0], chunks=2)
    per_chunk = simulate("interleaved", 2, 4, [1.0] * 4, [2.0] * 4, chunks=2)
    assert per_device.makespan == per_chunk.makespan == pytest.approx(4 * 6.0 + 6.0 / 2)


def test_schedule_orders() -> None:
    timeline = simulate("1f1b", 4, 8, [1.0], [2.0])
    first = [e.kind for e in timeline.device_events(0) if e.kind != "idle"][:5]
    assert first == ["fwd", "fwd", "fwd", "fwd", "bwd"]  # K - 1 warm-up forwards, then 1F1B
    gpipe = simulate("gpipe", 2, 3, [1.0], [2.0])
    backwards = [e.microbatch for e in gpipe.device_events(1) if e.kind == "bwd"]
    assert backwards == [2, 1, 0]  # GPipe's backward starts from the last micro-batch


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("interleaved", 4, 6, [1.0], [2.0]), {"chunks": 2}),  # M not a multiple of K
        (("gpipe", 4, 8, [1.0], [2.0]), {"chunks": 2}),
        (("1f1b", 4, 8, [1.0, 1.0], [2.0, 2.0]), {}),  # 2 times for 4 stages
        (("1f1b", 0, 8, [1.0], [2.0]), {}),
        (("zero-bubble", 4, 8, [1.0], [2.0]), {}),
        (("1f1b", 2, 8, [-1.0], [2.0]), {}),
    ],
)
def test_bad_simulation_input(args: tuple, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        simulate(*args, **kwargs)


def test_text_chart_has_a_row_per_device_of_the_requested_width() -> None:
    timeline = simulate("gpipe", 3, 4, [1.0], [2.0])
    lines = render_text(timeline, 60)
    assert len(lines) == 3
    for line in lines:
        body = line.split("│")[1]
        assert len(body) == 60
        assert "F1" in body and "B1" in body
    assert "·" in lines[0]  # device 0 idles while the pipeline fills from the last stage
    # narrow charts fall back to letters; every column is filled
    for row in render_rows(timeline, 10):
        assert sum(len(text) for text, _ in row) == 10
    one = render_text(simulate("1f1b", 1, 2, [1.0], [1.0]), 20)[0]
    assert "·" not in one  # a single stage never idles


def test_svg_is_well_formed_and_draws_every_op() -> None:
    timeline = simulate("interleaved", 2, 4, [1e-3], [2e-3], chunks=2)
    svg = to_svg(timeline, title="a <title> & more")
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    titles = [t.text or "" for t in root.iter(f"{ns}title")]
    ops = [t for t in titles if t.startswith(("fwd", "bwd"))]
    assert len(ops) == 2 * 4 * 2 * 2  # fwd + bwd, M, K, v
    texts = "".join(t.text or "" for t in root.iter(f"{ns}text"))
    assert "a <title> & more" in texts and "bubble fraction" in texts
