"""Native partitioning past the dynamic program's limits (planner.optimize.pipeline_scale): the bottleneck
search's proven lower bound and incumbent against the exact dynamic program on small chains, the
dispatch from partition_native, plan / partition / export agreeing on it, and the refusal's estimate."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from api_payloads import cli_json

from planner.cost.overlap import device_overlap
from planner.cost.stage_costs import Topology, _probe, sync_algorithms
from planner.errors import InfeasibleError
from planner.optimize import limits
from planner.optimize.bottleneck_cuts import ExactCuts, outer_link_bound
from planner.optimize.chain_costs import plain_chain
from planner.optimize.native_types import NativeOptions
from planner.optimize.pipeline_bottleneck import _Search, search_bottleneck
from planner.optimize.pipeline_native import NativePlanner, cluster_device, partition_native
from planner.optimize.pipeline_scale import optimum_at_scale
from planner.optimize.replica_cut_kernel import cut_term
from planner.spec.catalog import find
from planner.spec.hardware import Cluster, Level, Link

REL = 1e-12


def _chain(rng: np.random.Generator, layers: int) -> Any:
    forward = rng.uniform(1e-3, 5e-3, layers) * (rng.random(layers) > 0.1)
    parameters = rng.uniform(0, 2e8, layers) * (rng.random(layers) > 0.3)
    return plain_chain(forward, 2 * forward, parameters, rng.uniform(1e5, 2e7, layers))


def test_the_search_bounds_and_often_meets_the_dynamic_programs_optimum() -> None:
    """Lower bound <= the DP's optimum <= the incumbent, on every case; gap 0 means the DP's optimum."""
    base = find("hardware", "pipedream-cluster-b", ("cluster",))
    exact = 0
    for seed in range(40):
        rng = np.random.default_rng(900 + seed)
        costs = _chain(rng, int(rng.integers(1, 26)))
        cluster = base.with_top_count(int(rng.integers(1, 4)))
        settings: dict[str, Any] = {
            "use_fewer_machines": seed % 2 == 0,
            "straight": seed % 5 == 1,
            "memory_limit_bytes": 6e9 if seed % 4 == 3 else None,
            "activation_compression_ratio": [1.0, 4.0][seed % 2],
        }
        try:
            expected = partition_native(costs, cluster, **settings).pipeline_time_s
        except InfeasibleError:
            continue
        options = NativeOptions(overlap=device_overlap(cluster_device(cluster)), **settings)
        try:
            found = optimum_at_scale(NativePlanner(costs, cluster, options))
        except InfeasibleError as exc:  # only the memory limit can defeat the candidates
            assert "memory limit" in str(exc), seed
            continue
        assert found.lower_bound_s is not None and found.method == "bottleneck search"
        assert found.lower_bound_s <= expected * (1 + REL), seed
        assert found.pipeline_time_s >= expected * (1 - REL), seed
        if found.gap == 0:
            exact += 1
            assert found.pipeline_time_s == pytest.approx(expected, rel=REL), seed
        if not settings["use_fewer_machines"] and not settings["straight"]:
            assert found.devices_used == cluster.total_devices, seed
    assert exact >= 20  # most of these small cases are proven optimal


def test_the_replica_aware_bound_holds_across_servers() -> None:
    """On 2-3 servers of Cluster-A (a 10 Gb/s NIC) the tighter bound of the third search still stays below
    the DP's optimum, and the incumbent above it."""
    base = find("hardware", "pipedream-cluster-a", ("cluster",))
    for seed in range(16):
        rng = np.random.default_rng(300 + seed)
        costs = _chain(rng, int(rng.integers(2, 25)))
        cluster = base.with_top_count(int(rng.integers(2, 4)))
        settings: dict[str, Any] = {"use_fewer_machines": seed % 2 == 0, "straight": seed % 5 == 1}
        try:
            expected = partition_native(costs, cluster, **settings).pipeline_time_s
        except InfeasibleError:  # straight on every device, more devices than states
            continue
        options = NativeOptions(overlap=device_overlap(cluster_device(cluster)), **settings)
        found = optimum_at_scale(NativePlanner(costs, cluster, options))
        assert found.lower_bound_s is not None and found.lower_bound_s <= expected * (1 + REL), seed
        assert found.pipeline_time_s >= expected * (1 - REL), seed


def test_partition_native_past_the_limits_answers_by_the_search(monkeypatch: pytest.MonkeyPatch) -> None:
    costs = _chain(np.random.default_rng(5), 30)
    cluster = find("hardware", "pipedream-cluster-b", ("cluster",)).with_top_count(2)
    exact = partition_native(costs, cluster, use_fewer_machines=True)
    assert exact.method == "dynamic program" and exact.lower_bound_s is None and exact.gap == 0
    monkeypatch.setattr(limits, "MAX_NATIVE_WORK", 1.0)
    found = partition_native(costs, cluster, use_fewer_machines=True)
    assert found.method == "bottleneck search"
    assert found.lower_bound_s is not None and found.lower_bound_s <= exact.pipeline_time_s * (1 + REL)
    assert found.pipeline_time_s >= exact.pipeline_time_s * (1 - REL)
    assert found.to_dict()["gap"] == found.gap


def test_plan_partition_and_export_agree_past_the_limits(
    run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The three commands reach the search through partition_native, so they answer the same plan."""
    monkeypatch.setattr(limits, "MAX_NATIVE_WORK", 1.0)
    vgg = ("vgg16", "--cluster", "pipedream-cluster-a")
    partition = cli_json(run_cli, "pipeline", "partition", *vgg)
    winner = cli_json(run_cli, "plan", *vgg)["strategies"][0]
    export = cli_json(run_cli, "export", "pipeline", *vgg, "--to", "torch")
    assert partition["method"] == "bottleneck search" and partition["gap"] >= 0
    assert partition["lower_bound_s"] <= partition["pipeline_time_s"]
    assert partition["config"] == export["pipeline_config"]
    assert partition["pipeline_time_s"] == export["pipeline_time_s"]
    if winner["family"] == "pipeline" and winner["devices"] == partition["devices_used"]:
        assert winner["iteration_s"] == partition["pipeline_time_s"]


def test_a_search_past_its_own_limit_is_refused_with_time_and_memory() -> None:
    with pytest.raises(InfeasibleError, match=r"about \d+ s and [\d.]+ GB"):
        limits.check_bottleneck(4_000, 100_000, (8, 100_000), straight=False)
    with pytest.raises(InfeasibleError, match="2,048 devices"):
        limits.check_bottleneck(5, 4_096, (8, 4_096), straight=False)
    limits.check_bottleneck(4_000, 1_024, (8, 1_024), straight=False)  # the target is accepted


def test_sync_coefficients_from_the_steps_equal_the_probes() -> None:
    for name, servers in (("pipedream-cluster-b", 5), ("pipedream-cluster-a", 3)):
        cluster = find("hardware", name, ("cluster",)).with_top_count(servers)
        topology = Topology(cluster)
        for replicas in range(2, cluster.total_devices + 1):
            for offset in range(cluster.total_devices - replicas + 1):
                alpha, beta = topology.sync_coefficients(replicas, offset)
                counts = topology.block_counts(replicas, offset)
                levels = tuple(
                    replace(level, count=count) for level, count in zip(cluster.levels, counts, strict=True)
                )
                sub = replace(cluster, levels=levels)
                probed = np.array([_probe(sub, replicas, name) for name in sync_algorithms()])
                np.testing.assert_allclose(alpha, probed[:, 0], rtol=1e-9, atol=1e-15)
                np.testing.assert_allclose(beta, probed[:, 1], rtol=1e-9)


def test_the_outer_link_bound_is_below_every_replica_aware_cut_term() -> None:
    """share[e] · cost[i] <= the cut term for every stage before the cut (brute force over the offset and
    both stages' replicas), and equal to it on some cuts (a stage onto a new server)."""
    rng = np.random.default_rng(17)
    tight = 0
    for case in range(12):
        counts = (int(rng.integers(1, 4)), int(rng.integers(2, 5)))
        links = [
            Link(bandwidth=float(rng.choice([1.25e9, 10e9])), latency=1e-5, efficiency=0.9) for _ in counts
        ]
        levels = tuple(
            Level(f"l{k}", count, link) for k, (count, link) in enumerate(zip(counts, links, strict=True))
        )
        cluster = Cluster(spec="cluster", name="c", device="(none)", levels=levels)
        costs = _chain(rng, 5)
        planner = NativePlanner(
            costs, cluster, NativeOptions(activation_compression_ratio=[1.0, 3.0][case % 2])
        )
        devices, m = cluster.total_devices, counts[0]
        residues = np.repeat(np.arange(m), devices)
        share, cost = outer_link_bound(planner, residues, np.tile(np.arange(1, devices + 1), m))
        for offset in range(1, devices):
            for after in range(1, devices - offset + 1):
                for before in range(1, offset + 1):
                    term = planner.transfer_time(np.arange(1, 5), offset - before, offset, offset + after)
                    bound = share[(offset % m) * devices + after - 1] * cost[1:5]
                    assert np.all(bound <= term), (case, offset, before, after)
                    tight += int(np.sum(bound >= term * (1 - 1e-8)))
    assert tight > 0


def test_the_exact_cut_term_equals_the_cut_links_term_bit_for_bit() -> None:
    """replica_cut_kernel.cut_term (closed form per residue) against CutLinks.term at real offsets, on
    one, two and three levels, aligned and unaligned offsets, every stage size."""

    def link(bandwidth: float) -> Link:
        return Link(bandwidth=bandwidth, latency=1e-5, efficiency=0.8)

    three = (Level("gpu", 4, link(1e11)), Level("server", 3, link(1e10)), Level("rack", 2, link(1e9)))
    clusters = [
        find("hardware", "pipedream-cluster-b", ("cluster",)).with_top_count(3),
        find("hardware", "pipedream-cluster-a", ("cluster",)).with_top_count(4),
        Cluster(spec="cluster", name="three", device="(none)", levels=three),
        Cluster(spec="cluster", name="one", device="(none)", levels=(Level("gpu", 12, link(1e11)),)),
    ]
    rng = np.random.default_rng(23)
    for cluster in clusters:
        planner = NativePlanner(_chain(rng, 3), cluster)
        links = ExactCuts(planner, 1).links
        devices = cluster.total_devices
        modulus = Topology(cluster).groups[-2] if len(cluster.levels) > 1 else devices
        for offset in range(1, devices):
            for before in range(1, offset + 1):
                for after in range(1, devices - offset + 1):
                    size = float(rng.uniform(1e5, 3e7))
                    expected = float(
                        planner.cut_links.term(np.array([size]), offset - before, offset, offset + after)[0]
                    )
                    assert cut_term(size, offset % modulus, before, after, links) == expected


def test_the_exact_cut_search_finds_the_dynamic_programs_optimum() -> None:
    """Idle devices allowed, no memory limit, replica-aware cuts: the scale path's answer is the DP's
    optimum exactly and proven (gap 0) on multi-server chains where the outer-link bound alone left a gap;
    every device used: bound <= DP <= incumbent, equal when proven."""
    gaps = 0
    for seed in range(24):
        rng = np.random.default_rng(4_000 + seed)
        name = ("pipedream-cluster-a", "pipedream-cluster-b")[seed % 2]
        cluster = find("hardware", name, ("cluster",)).with_top_count(int(rng.integers(2, 5)))
        costs = _chain(rng, int(rng.integers(4, 30)))
        fewer = seed % 3 != 0
        expected = partition_native(costs, cluster, use_fewer_machines=fewer).pipeline_time_s
        options = NativeOptions(overlap=device_overlap(cluster_device(cluster)), use_fewer_machines=fewer)
        planner = NativePlanner(costs, cluster, options)
        found = optimum_at_scale(planner)
        assert found.lower_bound_s is not None
        assert found.lower_bound_s <= expected <= found.pipeline_time_s, seed
        if fewer:
            assert found.pipeline_time_s == expected and found.gap == 0, seed
        if found.gap == 0:
            assert found.pipeline_time_s == expected, seed
        _, bound, _ = search_bottleneck(planner, "replicas")
        gaps += int(bound < expected)
    assert gaps > 0  # some cases need the exact search (the outer-link bound is below the optimum)


def test_the_searchs_plan_cost_equals_the_evaluated_plan() -> None:
    """_Search.cost (the checks' own arithmetic) against NativePlanner.evaluate, bit for bit, on random
    plans, in the exact model (stage and replica-aware cut terms) and the relaxation (stage terms)."""
    rng = np.random.default_rng(41)
    for name, servers in (("pipedream-cluster-b", 3), ("pipedream-cluster-a", 2)):
        cluster = find("hardware", name, ("cluster",)).with_top_count(servers)
        devices = cluster.total_devices
        for case in range(6):
            options = NativeOptions(
                overlap=device_overlap(cluster_device(cluster)),
                update_s_per_parameter_byte=[0.0, 1e-11][case % 2],
                activation_compression_ratio=[1.0, 3.0][case % 2],
            )
            planner = NativePlanner(_chain(rng, 30), cluster, options)
            searches = {mode: _Search(planner, mode) for mode in ("exact", "none")}
            for _ in range(10):
                cuts = sorted(rng.choice(np.arange(1, 30), size=int(rng.integers(0, 6)), replace=False))
                bounds = [0, *cuts, 30]
                stages = len(bounds) - 1
                replicas = rng.multinomial(devices - stages, np.ones(stages) / stages) + 1
                plan = [(int(bounds[k]), int(bounds[k + 1]), int(replicas[k])) for k in range(stages)]
                evaluated = planner.evaluate(plan).stages
                stage = max(s.time_s for s in evaluated)
                assert searches["none"].cost(plan) == stage
                assert searches["exact"].cost(plan) == max(stage, *(s.transfer_in_s for s in evaluated))
