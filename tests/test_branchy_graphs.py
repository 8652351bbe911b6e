"""Branchy graphs (issue 17): the chain view searches PipeDream's antichain states block by block within a
state budget; the native partitioner linearises a block past it, PipeDream's search refuses with the
estimate. The graphs ship in tests/data/branchy (make_graphs.py wrote them); their time and memory are
measured by bench/bench_branchy.py, not asserted."""

from __future__ import annotations

import itertools
import json
import math
import random
import re
from pathlib import Path
from typing import Any

import pytest

from planner.cost.stage_costs import cluster_from_levels
from planner.errors import InfeasibleError
from planner.optimize import chain_view
from planner.optimize.antichain_blocks import AntichainGraph
from planner.optimize.chain_costs import chain_costs
from planner.optimize.chain_view import build_chain_view
from planner.optimize.native_types import NativeOptions
from planner.optimize.pipeline_native import NativePlanner
from planner.spec.pipedream_graph import load_graph
from planner.spec.profile import Layer, ModelProfile

DATA = Path(__file__).parent / "data" / "branchy"
# file: (partitioned nodes, the estimate of the antichain states: 1 + sum over blocks of prod(|C| + 1) - 1)
GRAPHS = {
    "parallel_4x20": (82, 1 + 22 * 21**3 - 1),
    "parallel_8x10": (82, 1 + 12 * 11**7 - 1),
    "parallel_16x5": (82, 1 + 7 * 6**15 - 1),
    "stem_3x4x6": (76, 1 + 3 * (8 * 7**3 - 1)),
}


def graph(name: str) -> ModelProfile:
    return load_graph(DATA / f"{name}.graph.txt", name)


def layer(name: str, inputs: tuple[str, ...] = (), output: float = 1.0) -> Layer:
    return Layer(name=name, forward_time=1.0, backward_time=2.0, inputs=inputs, output_bytes=output)


def bits(mask: int) -> set[int]:
    return {i for i in range(mask.bit_length()) if mask >> i & 1}


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_wide_blocks_are_linearised_for_the_native_partitioner(name: str) -> None:
    nodes, _ = GRAPHS[name]
    view = build_chain_view(graph(name), exact=False)
    assert view.num_states == nodes and view.linearised_blocks >= 1  # one state per node: its prefix
    sets = [bits(mask) for mask in view.down_sets]
    assert all(a < b for a, b in itertools.pairwise(sets))  # a chain of growing down-sets
    assert sets[-1] == set(view.nodes)


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_pipedreams_view_refuses_them_with_the_estimate(name: str) -> None:
    _, estimate = GRAPHS[name]
    expected = re.escape(f"about {estimate:.3g} antichain states") + ".*limit 2,000"
    with pytest.raises(InfeasibleError, match=expected) as caught:
        build_chain_view(graph(name))
    assert "would take about" in str(caught.value) and "B;" in str(caught.value)  # time and memory


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_the_graphs_are_partitioned_and_refused_on_the_command_line(run_cli: Any, name: str) -> None:
    path = str(DATA / f"{name}.graph.txt")
    planned = run_cli(
        "pipeline", "partition", path, "--cluster", "pipedream-cluster-a", "--straight", "-f", "json"
    )
    assert planned.exit_code == 0, planned.stderr
    payload = json.loads(planned.stdout)
    assert payload["num_states"] == GRAPHS[name][0] and len(payload["stages"]) == 16
    assert payload["linearised_blocks"] == build_chain_view(graph(name), exact=False).linearised_blocks >= 1
    table = run_cli("pipeline", "partition", path, "--cluster", "pipedream-cluster-a", "--straight")
    told = "blocks cut in layer order" in table.stdout
    assert table.exit_code == 0 and told == (payload["linearised_blocks"] > 0), table.stdout
    refused = run_cli(
        "pipeline", "partition", path, "--cluster", "pipedream-cluster-a", "--cost-model", "pipedream"
    )
    assert (
        refused.exit_code == 1 and "antichain states" in refused.stderr and "Traceback" not in refused.stderr
    )


def test_a_linearised_block_cuts_along_the_layer_order() -> None:
    # a -> (b1 -> b2, c1 -> c2) -> d: linearised, the states are the prefixes a, a b1, a b1 b2, ...; what
    # crosses a cut is every prefix node with a consumer outside the prefix
    layers = [
        layer("a", output=1.0),
        layer("b1", ("a",), 2.0),
        layer("b2", ("b1",), 4.0),
        layer("c1", ("a",), 8.0),
        layer("c2", ("c1",), 16.0),
        layer("d", ("b2", "c2"), 32.0),
    ]
    profile = ModelProfile(spec="profile", name="two", per="minibatch", layers=tuple(layers))
    exact = build_chain_view(profile)
    assert exact.num_states == 1 + 3 * 3 - 1 + 1 and exact.linearised_blocks == 0  # {b, c} prefixes, d
    original = chain_view.MAX_CHAIN_STATES
    try:
        chain_view.MAX_CHAIN_STATES = 0  # the budget becomes one state per node
        view = build_chain_view(profile, exact=False)
    finally:
        chain_view.MAX_CHAIN_STATES = original
    assert [bits(mask) for mask in view.down_sets] == [set(range(k + 1)) for k in range(6)]
    assert list(view.output_activation_bytes) == [1.0, 1.0 + 2.0, 1.0 + 4.0, 4.0 + 8.0, 4.0 + 16.0, 32.0]
    assert [list(p) for p in view.predecessors] == [list(range(s)) for s in range(6)]


def random_branchy(rng: random.Random) -> ModelProfile:
    """Blocks of 1-4 parallel branches of 1-4 layers, some with a skip edge across a branch."""
    layers = [layer("n0")]
    for _ in range(rng.randint(1, 3)):
        join, ends = layers[-1].name, []
        for _ in range(rng.randint(1, 4)):
            previous = join
            for _ in range(rng.randint(1, 4)):
                inputs = {previous} | ({join} if rng.random() < 0.2 else set())
                layers.append(layer(f"n{len(layers)}", tuple(sorted(inputs)), rng.choice([1.0, 3.0])))
                previous = layers[-1].name
            ends.append(previous)
        layers.append(layer(f"n{len(layers)}", tuple(ends)))
    return ModelProfile(spec="profile", name="random", per="minibatch", layers=tuple(layers))


@pytest.mark.parametrize("seed", range(30))
def test_block_estimates_bound_the_states(seed: int) -> None:
    profile = random_branchy(random.Random(seed))
    view = build_chain_view(profile)
    producers = [[int(name[1:]) for name in lay.inputs or ()] for lay in profile.layers]
    consumers: list[list[int]] = [[] for _ in profile.layers]
    for v, inputs in enumerate(producers):
        for u in inputs:
            consumers[u].append(v)
    blocks = AntichainGraph(len(producers), list(range(len(producers))), producers, consumers).blocks()
    assert 1 + sum(block.estimate for block in blocks) >= view.num_states
    assert [block.end for block in blocks][-1] == len(producers) - 1  # the join ends the last block


def test_the_linearised_optimum_is_the_best_partition_along_the_layer_order() -> None:
    # brute force over every 3-stage cut of the linearised 4 x 20 graph's prefixes, straight pipeline
    costs = chain_costs(graph("parallel_4x20"))
    planner = NativePlanner(costs, cluster_from_levels([(3, 10e9)]), NativeOptions(straight=True))
    best = planner.optimum().pipeline_time_s
    n = costs.num_states
    brute = min(
        planner.evaluate([(0, i, 1), (i, j, 1), (j, n, 1)]).pipeline_time_s
        for i in range(1, n - 1)
        for j in range(i + 1, n)
    )
    assert math.isclose(best, brute, rel_tol=1e-12)
