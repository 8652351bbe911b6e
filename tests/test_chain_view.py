"""Tests for planner.optimize.chain_view: PipeDream's chain of antichain states."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from planner.errors import SpecError
from planner.optimize.chain_view import build_chain_view
from planner.spec.pipedream_graph import load_graph
from planner.spec.profile import Layer, ModelProfile

STATES = {"vgg16": 40, "alexnet": 22, "resnet50": 240, "gnmt": 99, "gnmt_large": 1495}


def layer(name: str, time: float = 1.0, inputs: tuple[str, ...] = (), **kwargs) -> Layer:
    kwargs.setdefault("parameter_bytes", 4.0 * time)
    kwargs.setdefault("output_bytes", 8.0 * time)
    return Layer(name=name, forward_time=time, backward_time=time / 2, inputs=inputs, **kwargs)


def profile(*layers: Layer) -> ModelProfile:
    return ModelProfile(spec="profile", name="test", per="minibatch", layers=layers)


def bits(mask: int) -> set[int]:
    return {i for i in range(mask.bit_length()) if mask >> i & 1}


def test_chain_states_are_the_layers_with_prefix_sums() -> None:
    chain = profile(*(layer(f"l{i}", float(i + 1), (f"l{i - 1}",) if i else ()) for i in range(5)))
    view = build_chain_view(chain)
    assert view.num_states == 5
    assert [bits(mask) for mask in view.down_sets] == [set(range(i + 1)) for i in range(5)]
    assert [list(p) for p in view.predecessors] == [list(range(i)) for i in range(5)]
    assert view.compute_s(1, 4) == pytest.approx(1.5 * (2 + 3 + 4))
    assert view.parameter_bytes(0, 5) == pytest.approx(4.0 * 15)
    assert view.activation_bytes(2, 3) == pytest.approx(8.0 * 3)
    assert list(view.output_activation_bytes) == [8.0 * (i + 1) for i in range(5)]


def test_default_inputs_mean_the_previous_layer() -> None:
    chain = profile(*(Layer(name=f"l{i}", forward_time=1.0) for i in range(3)))
    view = build_chain_view(chain)
    assert view.num_states == 3
    assert view.compute_s(0, 3) == 3.0


def test_diamond_states_by_hand() -> None:
    # a -> b, a -> c, b -> d, c -> d: antichains {a}, {b}, {c}, {b, c}, {d}; from {b} the augmented set is
    # {a, b} (a still feeds c), so {b} also steps to {d} directly (PipeDream's next_antichains).
    graph = profile(
        layer("a", 1.0),
        layer("b", 2.0, ("a",)),
        layer("c", 4.0, ("a",)),
        layer("d", 8.0, ("b", "c")),
    )
    view = build_chain_view(graph)
    sets = [frozenset(bits(mask)) for mask in view.down_sets]
    assert set(sets) == {frozenset(s) for s in ({0}, {0, 1}, {0, 2}, {0, 1, 2}, {0, 1, 2, 3})}
    assert sets[0] == {0} and sets[-1] == {0, 1, 2, 3}
    compute = {s: view.cum_compute_s[i + 1] for i, s in enumerate(sets)}
    assert compute[frozenset({0, 1, 2})] == pytest.approx(1.5 * 7)
    state_b = sets.index(frozenset({0, 1}))
    assert sorted(view.antichains[state_b]) == [0, 1]  # augmented by a
    assert view.output_activation_bytes[state_b] == pytest.approx(8.0 * 3)
    last = len(sets) - 1
    assert set(view.predecessors[last].tolist()) == set(range(last))


def test_inputs_and_getitem_sinks_are_dropped() -> None:
    graph = profile(
        layer("input", 636.0, op="Input0", is_input=True),
        layer("conv", 1.0, ("input",)),
        layer("lstm", 2.0, ("conv",)),
        layer("h", 0.0, ("lstm",), op="__getitem__(0)"),
        layer("c", 0.0, ("lstm",), op="__getitem__(1)"),
        layer("fc", 3.0, ("h",)),
    )
    view = build_chain_view(graph)
    assert view.dropped_inputs == (0,)
    assert view.dropped_sinks == (4,)  # the sink; `h` feeds fc and stays
    assert view.nodes == (1, 2, 3, 5)
    assert view.cum_compute_s[-1] == pytest.approx(1.5 * 6)  # Input's 636 s is not counted


def test_layer_times_override_and_missing_times() -> None:
    graph = profile(layer("a", 1.0), layer("b", 1.0, ("a",)))
    assert build_chain_view(graph, [0.25, 0.5]).cum_compute_s[-1] == 0.75
    with pytest.raises(SpecError, match="one time per layer"):
        build_chain_view(graph, [1.0])
    flops_only = profile(Layer(name="x", forward_flops=1e9))
    with pytest.raises(SpecError, match="forward_time"):
        build_chain_view(flops_only)


def random_dag(rng: random.Random, size: int) -> ModelProfile:
    layers = [layer("n0", rng.choice([0.0, 1.0, 2.5]))]
    for i in range(1, size):
        inputs = {f"n{i - 1}"} | {f"n{j}" for j in range(i - 1) if rng.random() < 0.25}
        layers.append(layer(f"n{i}", rng.choice([0.0, 1.0, 2.5, 4.0]), tuple(sorted(inputs))))
    return profile(*layers)


@pytest.mark.parametrize("seed", range(40))
def test_random_dags_states_are_consistent(seed: int) -> None:
    rng = random.Random(seed)
    graph = random_dag(rng, rng.randint(1, 9))
    view = build_chain_view(graph)
    sets = [bits(mask) for mask in view.down_sets]
    assert len({frozenset(s) for s in sets}) == view.num_states  # distinct antichains, distinct down-sets
    assert sets[0] == {0} and sets[-1] == set(range(len(graph.layers)))
    times = [layer.forward_time + layer.backward_time for layer in graph.layers]
    index = {layer.name: i for i, layer in enumerate(graph.layers)}
    for s, members in enumerate(sets):
        assert view.cum_compute_s[s + 1] == pytest.approx(math.fsum(times[i] for i in members))
        for p in view.predecessors[s]:
            assert p < s and sets[p] < members  # chain order is topological; down-sets grow
        # every state's down-set is closed under predecessors
        for i in members:
            assert {index[name] for name in graph.layers[i].inputs or ()} <= members


def shared_profile(name: str) -> Path:
    path = (
        Path(__file__).resolve().parents[1].parent / "shared" / "profiles" / "pipedream" / f"{name}.graph.txt"
    )
    if not path.is_file():
        pytest.skip(f"{path} is absent (../shared not checked out)")
    return path


@pytest.mark.parametrize("name", sorted(STATES))
def test_state_counts_of_pipedreams_profiles(name: str) -> None:
    graph = load_graph(shared_profile(name), name)
    view = build_chain_view(graph)
    assert view.num_states == STATES[name]  # the README: resnet50 240, gnmt 99 (PipeDream's counts)
    covered = bits(view.down_sets[-1])
    assert covered == set(view.nodes)  # the last state holds every partitioned node
    kept = [graph.layers[i] for i in view.nodes]
    assert view.cum_compute_s[-1] == pytest.approx(
        math.fsum(lay.forward_time + lay.backward_time for lay in kept)
    )
