"""Tests for planner.optimize.pipedream: PipeDream's partitioning optimizer, exact and fast.

The optimizer is checked against an explicit enumeration of PipeDream's search space (every stage
sequence, replica assignment and machine budget) on small random profiles, against the plain-loop
transcription (planner.optimize.pipedream_reference) table by table, and against the four outputs PipeDream's
own optimizer printed on its profiles (../shared/reference/pipedream_optimizer_outputs.yaml).
"""

from __future__ import annotations

import itertools
import math
import random
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import yaml

from planner.errors import InfeasibleError, SpecError
from planner.optimize import pipedream_dp as pipedream
from planner.optimize import pipedream_relax
from planner.optimize.chain_view import ChainView, build_chain_view
from planner.optimize.pipedream import partition_pipedream
from planner.optimize.pipedream_dp import solve_tables
from planner.optimize.pipedream_levels import check_levels, levels_from_cluster, parse_levels
from planner.optimize.pipedream_reference import check_entries, reference_tables
from planner.optimize.pipedream_types import PipeDreamOptions
from planner.spec.catalog import find
from planner.spec.pipedream_graph import load_graph
from planner.spec.profile import Layer, ModelProfile

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
INF = math.inf


# ----------------------------------------------------------------------------------- random profiles


def random_profile(rng: random.Random, size: int, branchy: bool) -> ModelProfile:
    """Layers with random (often zero, often equal) times and sizes; a chain or a small DAG, sometimes
    with an Input source and a __getitem__ sink as in PipeDream's profiles."""
    layers: list[Layer] = []
    names: list[str] = []
    if rng.random() < 0.3:
        layers.append(Layer(name="in", op="Input0", forward_time=5.0, is_input=True, inputs=()))
        names.append("in")
    for i in range(size):
        inputs: tuple[str, ...] = (names[-1],) if names else ()
        if branchy and len(names) >= 2 and rng.random() < 0.35:
            inputs = (*inputs, rng.choice(names[:-1]))
        layers.append(
            Layer(
                name=f"n{i}",
                forward_time=rng.choice([0.0, 0.001, 0.002, 0.005, 0.01]),
                backward_time=rng.choice([0.0, 0.002, 0.004]),
                parameter_bytes=rng.choice([0.0, 1e6, 4e6, 2e7]),
                output_bytes=rng.choice([0.0, 1e5, 1e6, 5e6]),
                inputs=inputs,
            )
        )
        names.append(f"n{i}")
    if rng.random() < 0.3:
        layers.append(Layer(name="get", op="__getitem__(1)", forward_time=0.0, inputs=(names[-1],)))
    return ModelProfile(spec="profile", name="random", per="minibatch", layers=tuple(layers))


def random_levels(rng: random.Random) -> list[tuple[int, float]]:
    while True:
        levels = [(rng.randint(1, 4), rng.choice([1e9, 5e9, 25e9])) for _ in range(rng.randint(1, 3))]
        if math.prod(count for count, _ in levels) <= 8:
            return levels


def random_options(rng: random.Random) -> dict[str, object]:
    return {
        "memory_limit_bytes": rng.choice([None, None, 2e7, 6e7]),
        "straight": rng.random() < 0.2,
        "use_fewer_machines": rng.random() < 0.3,
        "activation_compression_ratio": rng.choice([None, 1.0, 4.0]),
    }


def random_case(seed: int, max_states: int = 10) -> tuple[ChainView, ModelProfile, list, dict]:
    rng = random.Random(seed)
    while True:
        graph = random_profile(rng, rng.randint(1, 10), branchy=rng.random() < 0.5)
        view = build_chain_view(graph)
        if view.num_states <= max_states:
            return view, graph, random_levels(rng), random_options(rng)


# ------------------------------------------------------------------------------------- brute force


def brute_force(
    view: ChainView,
    levels: list[tuple[int, float]],
    memory_limit_bytes: float | None = None,
    straight: bool = False,
    use_fewer_machines: bool = False,
    activation_compression_ratio: float | None = None,
) -> float:
    """PipeDream's optimum by enumerating its search space: at each level, every sequence of stages
    r..k1, k1+1..k2, ..., each split point a predecessor of the next stage's end (and not before r), every
    replica count per stage and every nominal machine budget (fewer machines: a budget may shrink at a
    range of two or more states), the cost of each plan being its slowest stage."""
    count = view.num_states
    preds = [set(int(k) for k in p) for p in view.predecessors]
    cum_c, cum_p, cum_a = view.cum_compute_s, view.cum_parameter_bytes, view.cum_activation_bytes
    out = view.output_activation_bytes

    def figure(cum: np.ndarray, a: int, b: int) -> float:
        return float(cum[b + 1] - cum[a])

    @cache
    def compute(level: int, a: int, b: int) -> float:
        if level == 0:
            return figure(cum_c, a, b)
        return best(level - 1, a, b, levels[level - 1][0])

    def chains(r: int, j: int) -> list[tuple[int, ...]]:
        """Split points (k1 < ... < k_{t-1}), each a predecessor of the next end, all >= r."""
        found = [()]
        for k in preds[j]:
            if k >= r:
                found += [(*rest, k) for rest in chains(r, k)]
        return found

    def plans(ends: tuple[int, ...], r: int, budget: int, machines: int) -> list[list[tuple[int, int]]]:
        """(replicas, nominal budget) per stage, last stage first reversed at the end."""
        stage = len(ends) - 1
        budgets = range(1, budget + 1) if use_fewer_machines and ends[stage] > r else [budget]
        found = []
        for nominal in budgets:
            if stage == 0:
                if nominal <= (1 if straight else machines):
                    found.append([(nominal, nominal)])
                continue
            for replicas in [1] if straight else range(1, nominal):
                if replicas < nominal:
                    found += [
                        [*head, (replicas, nominal)]
                        for head in plans(ends[:-1], r, nominal - replicas, machines)
                    ]
        return found

    @cache
    def best(level: int, r: int, j: int, budget: int) -> float:
        machines, bandwidth = levels[level]
        inner = levels[level - 1][0] if level else 1
        result = INF
        for split in chains(r, j):
            ends = (*split, j)
            for plan in plans(ends, r, budget, machines):
                cost = 0.0
                for index, (replicas, nominal) in enumerate(plan):
                    start = r if index == 0 else ends[index - 1] + 1
                    end = ends[index]
                    time = compute(level, start, end)
                    parameters = figure(cum_p, start, end)
                    stashed = figure(cum_a, start, end) + parameters
                    if index == 0:
                        stashed *= math.ceil((machines - replicas) / replicas)
                        sync = 4 * (replicas - 1) * parameters / (bandwidth * replicas) / inner
                    else:
                        stashed *= math.ceil((machines - nominal) / replicas)
                        sync = 4 * (replicas - 1) * parameters / (bandwidth * replicas)
                    if memory_limit_bytes is not None and stashed > memory_limit_bytes:
                        cost = INF
                        break
                    time = (time + sync) / replicas
                    if index > 0 and activation_compression_ratio is not None:
                        scale = bandwidth * replicas * activation_compression_ratio
                        time = max(time, 2.0 * out[start - 1] / scale)
                        if end < count - 1:
                            time = max(time, 2.0 * out[end] / scale)
                    cost = max(cost, time)
                result = min(result, cost)
        return result

    top = len(levels) - 1
    return best(top, 0, count - 1, levels[top][0])


def close(a: float, b: float) -> bool:
    return (a == b) or (math.isfinite(a) and math.isfinite(b) and abs(a - b) <= 1e-12 * max(abs(a), abs(b)))


@pytest.mark.parametrize("seed", range(120))
def test_optimum_equals_brute_force(seed: int) -> None:
    view, graph, levels, options = random_case(seed)
    expected = brute_force(view, levels, **options)
    tables = solve_tables(view, levels, PipeDreamOptions(**options))
    assert close(float(tables[-1][levels[-1][0] - 1, view.num_states - 1, 0]), expected), (levels, options)
    if not math.isfinite(expected):
        with pytest.raises(InfeasibleError):
            partition_pipedream(view, levels, **options)
        return
    result = partition_pipedream(view, levels, **options)
    assert close(result.pipeline_time_s, expected)
    check_stages(result, view, graph, levels, options)


@pytest.mark.parametrize("chunk", [128, 3])
@pytest.mark.parametrize("seed", range(40))
def test_tables_equal_the_plain_loop_transcription(
    seed: int, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # small row chunks and batches exercise the chunked, batched paths on small tables
    monkeypatch.setattr(pipedream_relax, "ROW_CHUNK", chunk)
    if chunk < 10:
        monkeypatch.setattr(pipedream_relax, "BATCH", 7)
    view, _, levels, options = random_case(1000 + seed, max_states=30)
    fast = solve_tables(view, levels, PipeDreamOptions(**options))
    slow = reference_tables(view, levels, **options)
    for table, loops in zip(fast, slow, strict=True):
        machines, count, rows = table.shape
        expected = np.array(
            [[[loops[r][j][m] for r in range(rows)] for j in range(count)] for m in range(machines)]
        )
        assert np.array_equal(table, expected)


def check_stages(result, view: ChainView, graph: ModelProfile, levels, options) -> None:
    stages = result.stages
    assert max(stage.time_s for stage in stages) == result.pipeline_time_s
    assert stages[0].start == 0 and stages[-1].end == view.num_states
    for before, after in itertools.pairwise(stages):
        assert before.end == after.start
    for stage in stages:
        assert stage.start < stage.end and stage.layer_names, "empty stage"
        assert stage.replicas == len(stage.devices) >= 1
    names = [name for stage in stages for name in stage.layer_names]
    assert sorted(names) == sorted(layer.name for layer in graph.layers)  # every layer exactly once
    devices = [d for stage in stages for d in stage.devices]
    assert len(set(devices)) == len(devices) and all(0 <= d < result.num_devices for d in devices)
    if not options["use_fewer_machines"]:
        assert result.devices_used == result.num_devices
    if options["straight"]:
        assert all(stage.replicas == 1 for stage in stages)
    replicas = [stage.replicas for stage in stages]
    if len(stages) == 1:
        assert result.config == str(replicas[0])
    elif set(replicas) == {1}:
        assert result.config == "straight"
    else:
        assert result.config == "-".join(map(str, replicas))


# --------------------------------------------------------------------------------------- properties


@pytest.mark.parametrize("seed", range(40))
def test_properties(seed: int) -> None:
    view, _, levels, options = random_case(2000 + seed, max_states=40)
    options = {**options, "straight": False}
    try:
        result = partition_pipedream(view, levels, **options)
    except InfeasibleError:
        return
    # the pure data-parallel plan is one of the candidates: never worse than it
    assert result.pipeline_time_s <= result.data_parallel_time_s
    assert result.speedup_over_dp >= 1.0
    # more bandwidth at any level is never slower
    for index in range(len(levels)):
        faster = list(levels)
        faster[index] = (levels[index][0], levels[index][1] * 4)
        assert partition_pipedream(view, faster, **options).pipeline_time_s <= result.pipeline_time_s
    # a straight pipeline is a special case: never better than the optimum
    try:
        straight = partition_pipedream(view, levels, **{**options, "straight": True})
    except InfeasibleError:
        return
    assert result.pipeline_time_s <= straight.pipeline_time_s


def test_single_state_and_single_device() -> None:
    graph = ModelProfile(
        spec="profile",
        name="one",
        per="minibatch",
        layers=(Layer(name="x", forward_time=2.0, parameter_bytes=8e6),),
    )
    result = partition_pipedream(graph, [(4, 1e9)])
    assert result.config == "4" and result.num_states == 1
    assert result.pipeline_time_s == result.data_parallel_time_s == (2.0 + 4 * 3 * 8e6 / 4e9) / 4
    assert partition_pipedream(graph, [(1, 1e9)]).pipeline_time_s == 2.0


def test_infeasible_cases() -> None:
    chain = ModelProfile(
        spec="profile",
        name="chain",
        per="minibatch",
        layers=tuple(Layer(name=f"l{i}", forward_time=1.0, parameter_bytes=1e9) for i in range(3)),
    )
    with pytest.raises(InfeasibleError, match="straight"):
        partition_pipedream(chain, [(4, 1e9)], straight=True)  # 3 states cannot fill 4 single-replica stages
    assert partition_pipedream(chain, [(4, 1e9)], straight=True, use_fewer_machines=True).config == "straight"
    with pytest.raises(InfeasibleError):
        partition_pipedream(chain, [(2, 1e9)], memory_limit_bytes=1.0, straight=True)


# ------------------------------------------------------------------------------------------ levels


def test_parse_levels() -> None:
    assert parse_levels("4:10GB/s,4:1.25GB/s") == [(4, 10e9), (4, 1.25e9)]
    assert parse_levels(" 8 : 25e9 B/s ") == [(8, 25e9)]
    assert parse_levels("2:10Gbps") == [(2, 1.25e9)]


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "4",
        "4:",
        ":10GB/s",
        "0:10GB/s",
        "4:10",
        "4:-1GB/s",
        "4:0GB/s",
        "4:10 Gb/s",
        "a:1GB/s",
        "4:1GB/s,",
    ],
)
def test_bad_levels_strings(text: str) -> None:
    with pytest.raises(SpecError, match=r"^levels: "):
        parse_levels(text)


@pytest.mark.parametrize(
    "levels", [[], [(0, 1e9)], [(2, 0.0)], [(2, math.nan)], [(1.5, 1e9)], [(True, 1e9)], [(2,)], ["4:1GB/s"]]
)
def test_bad_levels(levels) -> None:
    with pytest.raises(SpecError):
        check_levels(levels)


def test_bad_options() -> None:
    graph = random_profile(random.Random(0), 3, branchy=False)
    with pytest.raises(SpecError, match="activation_compression_ratio"):
        partition_pipedream(graph, [(2, 1e9)], activation_compression_ratio=0.0)
    with pytest.raises(SpecError, match="memory_limit_bytes"):
        partition_pipedream(graph, [(2, 1e9)], memory_limit_bytes=-1.0)


def test_levels_from_cluster() -> None:
    cluster = find("hardware", "pipedream-cluster-a")
    levels = levels_from_cluster(cluster)
    assert [count for count, _ in levels] == [level.count for level in cluster.levels]
    assert [bandwidth for _, bandwidth in levels] == [level.link.bandwidth for level in cluster.levels]


# ------------------------------------------------------------------------ PipeDream's printed outputs


def reference_cases() -> list[dict]:
    path = SHARED / "reference" / "pipedream_optimizer_outputs.yaml"
    if not path.is_file():
        return []
    return yaml.safe_load(path.read_text())["cases"]


def pipedream_args(args: str) -> tuple[list[tuple[int, float]], float | None]:
    """PipeDream's -n/-b/--activation_compression_ratio arguments as levels and a ratio."""
    values: dict[str, list[str]] = {}
    flag = ""
    for token in args.split():
        if token.startswith("-"):
            flag = token
            values[flag] = []
        else:
            values[flag].append(token)
    assert set(values) <= {"-n", "-b", "--activation_compression_ratio"}, args
    levels = [(int(n), float(b)) for n, b in zip(values["-n"], values["-b"], strict=True)]
    ratio = values.get("--activation_compression_ratio")
    return levels, float(ratio[0]) if ratio else None


@pytest.mark.parametrize("case", reference_cases() or [None], ids=lambda c: c["profile"] if c else "absent")
def test_pipedreams_printed_outputs(case: dict | None) -> None:
    if case is None:
        pytest.skip("../shared/reference/pipedream_optimizer_outputs.yaml is absent")
    path = SHARED / "profiles" / "pipedream" / f"{case['profile']}.graph.txt"
    levels, ratio = pipedream_args(case["args"])
    result = partition_pipedream(load_graph(path, path.name), levels, activation_compression_ratio=ratio)
    for key in ("pipeline_time_s", "single_stage_time_s", "dp_speedup_vs_single"):
        assert getattr(result, key) == pytest.approx(case[key], rel=1e-9, abs=0), key
    assert max(stage.time_s for stage in result.stages) == result.pipeline_time_s
    assert all(stage.layer_names for stage in result.stages)


@pytest.mark.parametrize("seed", range(10))
def test_entry_check_accepts_the_tables_and_rejects_a_change(seed: int) -> None:
    view, _, levels, options = random_case(3000 + seed, max_states=25)
    tables = solve_tables(view, levels, PipeDreamOptions(**options))
    entries = [
        (level, r, j, m)
        for level, table in enumerate(tables)
        for m in range(table.shape[0])
        for j in range(table.shape[1])
        for r in range(table.shape[2])
    ]
    check_entries(view, levels, tables, entries, **options)
    finite = [e for e in entries if 0 < tables[e[0]][e[3], e[2], e[1]] < INF]
    level, r, j, m = finite[len(finite) // 2]
    tables[level][m, j, r] *= 1.0 + 1e-9
    with pytest.raises(AssertionError, match="recurrence gives"):
        check_entries(view, levels, tables, [(level, r, j, m)], **options)


def test_validation_evaluator_rejects_bad_setups() -> None:
    from planner.validate.evaluators import Context
    from planner.validate.evaluators.pipeline_optimizer import pipedream_optimizer

    setup = {"profile": "vgg16", "levels": "4:10GB/s", "quantity": "pipeline_time_s"}
    context = Context(data_dir=None)
    with pytest.raises(ValueError, match="quantity must be one of"):
        pipedream_optimizer({**setup, "quantity": "time"}, context)
    with pytest.raises(ValueError, match="straight"):
        pipedream_optimizer({**setup, "straight": "yes"}, context)
    with pytest.raises(ValueError, match="memory_limit"):
        pipedream_optimizer({**setup, "memory_limit": 16e9}, context)
    with pytest.raises(ValueError, match="data folder"):
        pipedream_optimizer({**setup, "profile": "data:profiles/pipedream/vgg16.graph.txt"}, context)


# ------------------------------------------------------------------------------------- back-pointers


def first_candidate(
    view: ChainView, level: pipedream.LevelTerms, tables: list, index: int, entry: tuple
) -> int:
    """The choice the tie-break order gives entry (m, j, r) of a level: the first of one stage, one machine
    fewer, then the splits by (not genuine, idle last stage, replicas, -k) whose value equals the entry."""
    m, j, r = entry
    values = tables[index].values
    value = values[m, j, r]
    cum_c, cum_p, cum_a = view.cum_compute_s, view.cum_parameter_bytes, view.cum_activation_bytes

    def compute(a: int, b: int) -> float:
        return float(cum_c[b + 1] - cum_c[a]) if index == 0 else float(tables[index - 1].values[-1, b, a])

    def figures(cum: np.ndarray, a: int, b: int) -> np.ndarray:
        return np.array([cum[b + 1] - cum[a]])

    base = level.base(np.array([compute(r, j)]), figures(cum_p, r, j), figures(cum_a, r, j), m)[0]
    if m < level.max_m and base == value:
        return pipedream.BASE
    if level.options.use_fewer_machines and m > 0 and j > r and values[m - 1, j, r] == value:
        return pipedream.FEWER
    splits = []
    for k in (int(k) for k in view.predecessors[j] if k >= r):
        genuine = r == 0 or r - 1 in set(int(p) for p in view.predecessors[k])
        idle = cum_c[j + 1] - cum_c[k + 1] <= 0
        for replicas in [1] if level.options.straight else range(1, m + 1):
            splits.append(((not genuine, idle, replicas, -k), (k, replicas)))
    for _, (k, replicas) in sorted(splits):
        parameters, activations = figures(cum_p, k + 1, j), figures(cum_a, k + 1, j)
        stage = level.last_stage(np.array([compute(k + 1, j)]), parameters, np.array([k]), j, replicas)[0]
        fits = level.stash_fits(activations, parameters, m, replicas)[0]
        if fits and max(values[m - replicas, k, r], stage) == value:
            code = int(tables[index].choices[m, j, r])
            return code if level.split_of(code) == (k, replicas) else -3
    raise AssertionError(f"no candidate reproduces entry {entry} of level {index}")


@pytest.mark.parametrize("chunk", [128, 3])
@pytest.mark.parametrize("seed", range(30))
def test_each_finite_entry_points_to_its_first_optimal_candidate(
    seed: int, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random profiles have many zero and equal figures: ties everywhere. Small chunks and batches run
    the chunked, batched fill on small tables."""
    monkeypatch.setattr(pipedream_relax, "ROW_CHUNK", chunk)
    if chunk < 10:
        monkeypatch.setattr(pipedream_relax, "BATCH", 7)
    view, _, levels, options = random_case(5000 + seed, max_states=25)
    settings = PipeDreamOptions(**options)
    tables = pipedream.solve(view, levels, settings)
    inner = 1
    for index, ((machines, bandwidth), table) in enumerate(zip(levels, tables, strict=True)):
        level = pipedream.LevelTerms(view, machines, bandwidth, inner, settings)
        inner = machines
        for entry in zip(*np.nonzero(np.isfinite(table.values)), strict=True):
            m, j, r = (int(i) for i in entry)
            if j >= r:
                assert table.choices[m, j, r] == first_candidate(view, level, tables, index, (m, j, r))


@pytest.mark.parametrize(
    ("levels", "straight", "ms"),
    [([(4, 10e9), (4, 1.25e9)], True, (1, 3)), ([(8, 10e9), (2, 1e9)], False, (7,))],
)
def test_gnmts_entries_point_to_their_first_optimal_candidate(
    levels: list, straight: bool, ms: tuple
) -> None:
    """GNMT's branches make splits that are not genuine (state r-1 no predecessor of k) and candidates of
    different replica counts that tie: a sample of the inner level's entries."""
    path = SHARED / "profiles" / "pipedream" / "gnmt.graph.txt"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    view = build_chain_view(load_graph(path, path.name))
    settings = PipeDreamOptions(straight=straight)
    tables = pipedream.solve(view, levels, settings)
    level = pipedream.LevelTerms(view, levels[0][0], levels[0][1], 1, settings)
    count = view.num_states
    entries = [(m, j, r) for m in ms for r in range(1, count, 4) for j in range(r, count, 3)]
    for entry in entries:
        if math.isfinite(tables[0].values[entry]):
            assert tables[0].choices[entry] == first_candidate(view, level, tables, 0, entry), entry
