"""The registry of all-reduce algorithms: one registration makes an algorithm appear in every consumer."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from planner.api.comm import CommOptions, algorithm_choices, allreduce_comparison
from planner.cost import collective_registry as registry
from planner.cost.collective_algorithms import ring_on_cluster
from planner.cost.collective_layout import CollectiveResult, Layout
from planner.cost.collective_ps import ServerSettings
from planner.errors import SettingError
from planner.validate.evaluators import Context
from planner.validate.evaluators.communication import cluster_allreduce_lower_bound, cluster_allreduce_time


def _at_the_bound(plan: Layout, g: float, servers: ServerSettings) -> CollectiveResult:
    """A toy algorithm as fast as the lower bound allows (the ring's traffic, the bound's time)."""
    ring = ring_on_cluster(plan, g)
    return dataclasses.replace(ring, algorithm="toy", time_s=ring.lower_bound_s, notes="toy")


TOY = registry.Algorithm(
    "toy", "a test's algorithm at the lower bound", _at_the_bound, affine=True, nccl=True
)


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> registry.Algorithm:
    monkeypatch.setitem(registry.REGISTRY, TOY.name, TOY)
    return TOY


def test_a_registered_algorithm_is_offered_by_comm(toy: registry.Algorithm, run_cli: Any) -> None:
    everything = allreduce_comparison("pipedream-cluster-a", CommOptions(size=1e8, servers=4))
    names = [r.algorithm for r in everything.results]
    assert set(names) == {"ps", "ps-sharded", "ring", "tree", "halving-doubling", "hierarchical", "toy"}
    assert names[0] == "toy"  # at the lower bound: nothing is faster
    assert "toy: a test's algorithm" in algorithm_choices()
    alone = allreduce_comparison("pipedream-cluster-a", CommOptions(size=1e8, algorithm="toy"))
    assert [r.algorithm for r in alone.results] == ["toy"]
    cli = run_cli(
        "comm", "--size", "100MB", "--cluster", "pipedream-cluster-a", "--algorithm", "toy", "-f", "json"
    )
    assert cli.exit_code == 0, cli.stderr
    assert json.loads(cli.stdout)["best"] == "toy"


def test_a_registered_algorithm_reaches_every_consumer(toy: registry.Algorithm) -> None:
    from planner.api.specdec_models import SpecdecModelsOptions
    from planner.cost.data_parallel import all_algorithms
    from planner.cost.llm_comm import llm_algorithms
    from planner.cost.stage_costs import sync_algorithms

    assert "toy" in all_algorithms()
    assert "toy" in sync_algorithms()
    assert "toy" in llm_algorithms()
    SpecdecModelsOptions(alpha=0.5, allreduce="toy").check()
    setup = {"cluster": "pipedream-cluster-a", "algorithm": "toy", "message_bytes": "100 MB"}
    time = cluster_allreduce_time(setup, Context(None))
    assert time == cluster_allreduce_lower_bound(setup, Context(None))


def test_the_consumers_read_the_declared_properties() -> None:
    from planner.cost.llm_comm import llm_algorithms
    from planner.cost.stage_costs import sync_algorithms

    assert "toy" not in registry.REGISTRY
    assert sync_algorithms() == ("ring", "halving-doubling", "hierarchical")  # tree is not affine
    assert llm_algorithms() == ("ring", "tree", "hierarchical")
    with pytest.raises(SettingError, match="algorithm"):
        CommOptions(size=1e8, algorithm="toy").check()


def test_a_name_is_registered_once(toy: registry.Algorithm) -> None:
    for name in ("toy", "ring", "all"):
        with pytest.raises(ValueError, match="already taken"):
            registry.register(dataclasses.replace(TOY, name=name))
    with pytest.raises(ValueError, match="unknown algorithm 'butterfly'; expected one of ps, ps-sharded"):
        registry.named("butterfly")
