"""The native stage partitioner: exact against brute force, its cost pieces, and properties."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest

from planner.cost.cluster_allreduce import allreduce_on_cluster
from planner.cost.overlap import backward_phase
from planner.cost.pipeline import stage_memory
from planner.cost.stage_costs import (
    Topology,
    cluster_from_levels,
    in_flight,
    stage_memory_bytes,
    sync_algorithms,
)
from planner.errors import InfeasibleError, SpecError
from planner.optimize.chain_costs import chain_costs, plain_chain
from planner.optimize.native_types import NativeOptions, config_string
from planner.optimize.pipeline_native import NativePlanner, partition_native
from planner.spec.hardware import Cluster, Level, Link
from planner.spec.profile import Layer, ModelProfile

GB = 1e9


def two_level(
    per_server: int, servers: int, inner: float = 10 * GB, outer: float = 1.25 * GB, rng=None
) -> Cluster:
    """A 2-level cluster; with `rng`, random latencies and efficiencies."""
    lat_in, lat_out, eff_in, eff_out = 0.0, 0.0, 1.0, 1.0
    if rng is not None:
        lat_in, lat_out = rng.uniform(0, 2e-5), rng.uniform(0, 1e-4)
        eff_in, eff_out = rng.uniform(0.5, 1.0), rng.uniform(0.5, 1.0)
    return Cluster(
        spec="cluster",
        name="test",
        device="(none)",
        levels=(
            Level("gpu", per_server, Link(bandwidth=inner, latency=lat_in, efficiency=eff_in, name="in")),
            Level("server", servers, Link(bandwidth=outer, latency=lat_out, efficiency=eff_out, name="out")),
        ),
    )


def random_chain(rng: np.random.Generator, layers: int):
    """Random layer figures, some zero (ties), in the ranges of PipeDream's profiles (s, bytes)."""
    forward = rng.uniform(0, 0.02, layers) * (rng.random(layers) > 0.15)
    backward = 2 * forward * rng.uniform(0.5, 1.5, layers)
    parameters = rng.uniform(0, 3e8, layers) * (rng.random(layers) > 0.3)
    activations = rng.uniform(1e5, 5e7, layers)
    return plain_chain(forward, backward, parameters, activations)


def compositions(total: int, parts: int):
    for cuts in itertools.combinations(range(1, total), parts - 1):
        bounds = (0, *cuts, total)
        yield [bounds[k + 1] - bounds[k] for k in range(parts)]


def brute_force(planner: NativePlanner) -> float:
    """The best plan time by enumerating every plan, each costed term by term from the public pieces."""
    costs, topology, options = planner.costs, planner.topology, planner.options
    n, devices = costs.num_states, topology.total
    best = math.inf
    totals = range(1, devices + 1) if options.use_fewer_machines else [devices]
    for total in totals:
        for k in range(1, min(n, total) + 1):
            replica_sets = [[1] * k] if options.straight else list(compositions(total, k))
            if options.straight and k != total:
                continue
            for cuts in itertools.combinations(range(1, n), k - 1):
                bounds = (0, *cuts, n)
                for replicas in replica_sets:
                    best = min(best, _plan_time(planner, bounds, replicas, total))
    return best


def _plan_time(planner: NativePlanner, bounds, replicas, total) -> float:
    costs, topology, options = planner.costs, planner.topology, planner.options
    worst, offset, before = 0.0, 0, 0
    for s, r in enumerate(replicas):
        i, j = bounds[s], bounds[s + 1]
        p = costs.parameter_bytes(i, j)
        sync = float(topology.sync_time(p, r, offset))
        tail = topology.sync_tail_time(p, r, offset, options.overlap.bucket_bytes)
        phase = float(backward_phase(costs.backward_s(i, j), sync, tail, options.overlap))
        worst = max(worst, (costs.forward_s(i, j) + phase + p * options.update_s_per_parameter_byte) / r)
        if s:
            cut = costs.output_activation_bytes[i - 1] / options.activation_compression_ratio
            worst = max(worst, float(planner.cut_links.term(cut, before, offset, offset + r)))
        if options.memory_limit_bytes is not None:
            memory = stage_memory_bytes(
                p, costs.activation_bytes(i, j), in_flight(total - offset, r), planner.state_factor
            )
            if memory > options.memory_limit_bytes:
                return math.inf
        before, offset = offset, offset + r
    return worst


CASES = [
    # (seed, layers, per_server, servers, options)
    (0, 6, 2, 3, {}),
    (1, 7, 3, 2, {}),
    (2, 5, 2, 2, {"use_fewer_machines": True}),
    (3, 8, 2, 3, {"straight": True}),
    (4, 6, 5, 1, {}),
    (5, 4, 2, 3, {"straight": True, "use_fewer_machines": True}),
    (6, 6, 3, 2, {"activation_compression_ratio": 4.0}),
    (7, 5, 2, 2, {"memory_fraction": 0.8}),
    (8, 5, 3, 2, {"memory_fraction": 0.7, "use_fewer_machines": True}),
    (11, 6, 2, 2, {"memory_fraction": 0.5, "straight": True, "use_fewer_machines": True}),
    (9, 1, 2, 2, {}),
    (10, 7, 1, 5, {}),
    (12, 6, 2, 3, {"cut_links": "boundary"}),
]


@pytest.mark.parametrize(("seed", "layers", "per_server", "servers", "kwargs"), CASES)
def test_optimum_equals_brute_force(seed, layers, per_server, servers, kwargs) -> None:
    kwargs = dict(kwargs)
    rng = np.random.default_rng(seed)
    costs = random_chain(rng, layers)
    cluster = two_level(per_server, servers, rng=rng)
    fraction = kwargs.pop("memory_fraction", None)
    if fraction is not None:  # a limit below the unconstrained optimum's peak, so that it binds
        free = NativePlanner(costs, cluster, NativeOptions(**kwargs)).optimum()
        kwargs["memory_limit_bytes"] = fraction * max(s.memory_bytes for s in free.stages)
    planner = NativePlanner(costs, cluster, NativeOptions(**kwargs))
    expected = brute_force(planner)
    if not math.isfinite(expected):
        with pytest.raises(InfeasibleError):
            planner.optimum()
        return
    result = planner.optimum()
    assert result.pipeline_time_s == pytest.approx(expected, rel=1e-12)
    # the reported plan reproduces the optimum, has no empty stage and uses its devices in order
    again = planner.evaluate([(s.start, s.end, s.replicas) for s in result.stages])
    assert again.pipeline_time_s == result.pipeline_time_s
    assert all(s.start < s.end for s in result.stages)
    assert [s.first_device for s in result.stages] == list(
        itertools.accumulate([0] + [s.replicas for s in result.stages[:-1]])
    )
    if not kwargs.get("use_fewer_machines"):
        assert result.devices_used == per_server * servers
    if kwargs.get("straight"):
        assert all(s.replicas == 1 for s in result.stages)
    if "memory_limit_bytes" in kwargs:
        assert all(s.memory_bytes <= kwargs["memory_limit_bytes"] for s in result.stages)


def test_more_bandwidth_is_never_slower_and_the_optimum_beats_dp_and_straight() -> None:
    for seed in range(6):
        rng = np.random.default_rng(100 + seed)
        costs = random_chain(rng, 9)
        base = two_level(2, 3, rng=rng)
        result = partition_native(costs, base)
        faster = []
        for k in range(2):  # each level's link, in turn, twice as fast
            levels = list(base.levels)
            levels[k] = replace(
                levels[k], link=replace(levels[k].link, bandwidth=2 * levels[k].link.bandwidth)
            )
            faster.append(partition_native(costs, replace(base, levels=tuple(levels))).pipeline_time_s)
        assert max(faster) <= result.pipeline_time_s * (1 + 1e-12)
        assert result.pipeline_time_s <= result.data_parallel_time_s * (1 + 1e-12)
        assert result.speedup_over_dp >= 1 - 1e-12
        straight = partition_native(costs, base, straight=True)
        assert result.pipeline_time_s <= straight.pipeline_time_s * (1 + 1e-12)
        fewer = partition_native(costs, base, use_fewer_machines=True)
        assert fewer.pipeline_time_s <= result.pipeline_time_s


def test_sync_is_affine_in_bytes_and_equals_the_collectives_on_the_block() -> None:
    """The coefficients read at two sizes predict allreduce_on_cluster on the packed block at any size."""
    cluster = two_level(4, 4, rng=np.random.default_rng(7))
    topology = Topology(cluster)
    for replicas, offset in [(2, 0), (3, 1), (4, 2), (5, 3), (15, 0), (16, 0), (7, 9), (8, 4)]:
        counts = topology.block_counts(replicas, offset)
        levels = tuple(replace(level, count=c) for level, c in zip(cluster.levels, counts, strict=True))
        sub = replace(cluster, levels=levels)
        alpha, beta = topology.sync_coefficients(replicas, offset)
        for size in (1e3, 3.3e7, 2.5e9):
            exact = [allreduce_on_cluster(sub, size, a, devices=replicas).time_s for a in sync_algorithms()]
            assert alpha + beta * size == pytest.approx(np.array(exact), rel=1e-9)
            assert float(topology.sync_time(size, replicas, offset)) == pytest.approx(min(exact), rel=1e-9)
    assert float(topology.sync_time(0.0, 4, 0)) == 0.0
    assert float(topology.sync_time(1e9, 1, 3)) == 0.0


def test_block_shapes_and_cut_links() -> None:
    topology = Topology(two_level(4, 4))
    assert topology.block_counts(15, 0) == (4, 4)  # 4 + 4 + 4 + 3 over four servers
    assert topology.block_counts(3, 3) == (2, 2)  # 1 + 2 over two servers, costed as 2 + 1
    assert topology.block_counts(4, 2) == (2, 2)  # 2 + 2
    assert topology.block_counts(3, 0) == (3, 1)  # inside one server
    assert topology.block_counts(1, 5) == (1, 1)
    assert topology.cut_link(3).name == "in"
    assert topology.cut_link(4).name == "out"
    three = Cluster(
        spec="cluster",
        name="three",
        device="(none)",
        levels=(
            Level("gpu", 2, Link(bandwidth=1e10, name="a")),
            Level("server", 2, Link(bandwidth=1e9, name="b")),
            Level("rack", 2, Link(bandwidth=1e8, name="c")),
        ),
    )
    top = Topology(three)
    assert [top.cut_link(o).name for o in range(1, 8)] == ["a", "b", "a", "c", "a", "b", "a"]
    assert top.block_counts(3, 3) == (2, 1, 2)  # device 3 | 4, 5: two servers in two racks


def test_transfer_is_two_activations_over_the_joining_link() -> None:
    cluster = two_level(2, 2)
    cluster = replace(
        cluster,
        levels=(
            cluster.levels[0],
            replace(cluster.levels[1], link=Link(bandwidth=1e9, latency=1e-4, efficiency=0.5, name="out")),
        ),
    )
    topology = Topology(cluster)
    assert float(topology.transfer_time(1e6, 2)) == pytest.approx(2 * (1e6 / 0.5e9 + 1e-4))
    assert float(topology.transfer_time(1e6, 2, compression=4)) == pytest.approx(2 * (0.25e6 / 0.5e9 + 1e-4))
    assert float(topology.transfer_time(1e6, 1)) == pytest.approx(2 * 1e6 / 10e9)


def test_memory_of_an_unreplicated_stage_is_pipedream_stage_memory() -> None:
    weights, activations = 3e8, 2e8
    for stage, stages in [(0, 4), (2, 4), (3, 4)]:
        expected = stage_memory(
            "pipedream",
            stage,
            stages,
            1,
            weights,
            activations,
            gradients_bytes=weights,
            optimizer_bytes=weights,
        ).total_bytes
        versions = in_flight(stages - stage, 1)
        assert float(stage_memory_bytes(weights, activations, versions, 3.0)) == pytest.approx(expected)
    assert in_flight(16, 15) == 2 and in_flight(16, 16) == 1 and in_flight(1, 1) == 1


def test_config_strings() -> None:
    assert config_string([15, 1]) == "15-1"
    assert config_string([1, 1, 1]) == "straight"
    assert config_string([16]) == "16"
    assert config_string([1]) == "1"


def branchy_profile() -> ModelProfile:
    """Input -> a -> (b, c) -> d -> __getitem__ sink: a diamond, like a residual block."""

    def layer(name, inputs, f=1e-3, **kw):
        return Layer(
            name=name,
            forward_time=f,
            backward_time=2 * f,
            output_bytes=1e6,
            inputs=inputs,
            parameters=1000,
            **kw,
        )

    layers = (
        Layer(name="input", op="Input0", forward_time=0.5, is_input=True, output_bytes=1e6),
        layer("a", ("input",)),
        layer("b", ("a",), f=4e-3),
        layer("c", ("a",)),
        layer("d", ("b", "c")),
        layer("e", ("d",), f=3e-3),
        Layer(name="sink", op="__getitem__(0)", forward_time=0.0, inputs=("e",)),
    )
    return ModelProfile(spec="profile", name="branchy", per="minibatch", layers=layers, batch_size=8)


def test_branchy_profile_stages_partition_the_layers_and_match_brute_force() -> None:
    profile = branchy_profile()
    costs = chain_costs(profile)
    assert costs.num_states > len(profile.layers) - 2  # antichain states, more than the 5 nodes
    planner = NativePlanner(costs, two_level(2, 2, inner=1e8, outer=1e7))
    # brute force over the valid cuts only: consecutive states must precede each other in the DAG
    valid = set(zip(costs.pair_start.tolist(), costs.pair_end.tolist(), strict=True))
    n, best = costs.num_states, math.inf
    for k in range(1, 5):
        for cuts in itertools.combinations(range(1, n), k - 1):
            bounds = (0, *cuts, n)
            if any((bounds[s], bounds[s + 1]) not in valid for s in range(k)):
                continue
            for replicas in compositions(4, k):
                best = min(best, _plan_time(planner, bounds, replicas, 4))
    result = planner.optimum()
    assert result.pipeline_time_s == pytest.approx(best, rel=1e-12)
    names = [name for stage in result.stages for name in stage.layer_names]
    assert sorted(names) == sorted(layer.name for layer in profile.layers)  # each layer exactly once
    # the Input's 0.5 s of data loading is left out, as PipeDream does
    assert result.single_device_time_s == pytest.approx(3 * (1 + 4 + 1 + 1 + 3) * 1e-3)


def test_measured_profile_needs_times_and_options_are_checked() -> None:
    flops_only = ModelProfile(
        spec="profile",
        name="flops",
        per="minibatch",
        batch_size=1,
        layers=(Layer(name="x", forward_flops=1e9),),
    )
    with pytest.raises(SpecError, match="forward_time"):
        chain_costs(flops_only)
    costs = plain_chain([1e-3], [2e-3], [1e6], [1e6])
    with pytest.raises(SpecError, match="activation_compression_ratio"):
        partition_native(costs, two_level(2, 1), activation_compression_ratio=0)
    with pytest.raises(SpecError, match="memory_limit_bytes"):
        partition_native(costs, two_level(2, 1), memory_limit_bytes=-1)
    with pytest.raises(InfeasibleError):
        partition_native(costs, two_level(2, 1), straight=True)  # 1 state, 2 devices
    assert partition_native(costs, two_level(2, 1), straight=True, use_fewer_machines=True).config == "1"
    with pytest.raises(InfeasibleError):
        partition_native(costs, two_level(2, 1), memory_limit_bytes=1e3)


def test_levels_cluster_has_catalog_free_defaults() -> None:
    cluster = cluster_from_levels([(4, 10e9), (4, 1.25e9)])
    assert [level.count for level in cluster.levels] == [4, 4]
    assert all(level.link.latency == 0 and level.link.efficiency == 1 for level in cluster.levels)
    assert cluster.levels[1].link.bandwidth == 1.25e9


def test_vgg16_on_cluster_a_is_15_1(shared_dir) -> None:
    from planner.spec.catalog import find

    profile = find("models", str(shared_dir / "profiles/pipedream/vgg16.graph.txt"))
    cluster = find("hardware", "pipedream-cluster-a", ("cluster",))
    result = partition_native(profile, cluster)
    assert result.config == "15-1"
    assert result.pipeline_time_s < result.data_parallel_time_s
    assert sorted(n for s in result.stages for n in s.layer_names) == sorted(x.name for x in profile.layers)


def test_bottleneck_search_finds_the_dynamic_programs_optimum() -> None:
    """partition_bottleneck (idle devices allowed) equals the DP with use_fewer_machines, bit for bit."""
    from planner.optimize.pipeline_bottleneck import partition_bottleneck

    three = Cluster(
        spec="cluster",
        name="three",
        device="(none)",
        levels=(
            Level("gpu", 2, Link(bandwidth=5e10, latency=2e-6, efficiency=0.8, name="a")),
            Level("server", 2, Link(bandwidth=2e9, latency=2e-5, efficiency=0.9, name="b")),
            Level("rack", 3, Link(bandwidth=3e8, latency=1e-4, efficiency=0.9, name="c")),
        ),
    )
    for seed in range(30):
        rng = np.random.default_rng(300 + seed)
        layers = int(rng.integers(1, 25))
        cluster = (
            three if seed % 6 == 0 else two_level(int(rng.integers(1, 5)), int(rng.integers(1, 5)), rng=rng)
        )
        kwargs = {"straight": seed % 5 == 1, "activation_compression_ratio": [1.0, 0.5, 6.0][seed % 3]}
        costs = random_chain(rng, layers)
        expected = partition_native(costs, cluster, use_fewer_machines=True, cut_links="boundary", **kwargs)
        found, stats = partition_bottleneck(costs, cluster, **kwargs)
        assert found.pipeline_time_s == expected.pipeline_time_s, seed
        assert found.devices_used <= cluster.total_devices and stats.checks >= 1
        assert all(s.start < s.end for s in found.stages)


def test_bottleneck_search_refuses_a_branchy_chain() -> None:
    from planner.optimize.pipeline_bottleneck import partition_bottleneck

    with pytest.raises(SpecError, match="plain chain"):
        partition_bottleneck(chain_costs(branchy_profile()), two_level(2, 2))
