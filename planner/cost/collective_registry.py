"""The all-reduce algorithms the planner models, registered in one table (`REGISTRY`).

Every consumer enumerates this table instead of naming algorithms: `planner comm` and `planner dp` offer
all of them, a pipeline stage's replica sync (planner.cost.stage_costs) the affine peer-to-peer ones, LLM
communication (planner.cost.llm_comm) those NCCL implements, tensor-parallel decoding every peer-to-peer
one, validation's `allreduce_time` those with a closed form on identical links. A new algorithm is one
function costing it on a cluster's levels (a `ClusterTime`) and one `register(Algorithm(...))` below.

Units: bytes, bytes/s, seconds (alpha-beta model: planner.cost.collectives).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from numpy.typing import ArrayLike

from planner.cost import collectives as flat
from planner.cost.collective_algorithms import (
    halving_doubling_on_cluster,
    hierarchical_on_cluster,
    ring_on_cluster,
    tree_on_cluster,
)
from planner.cost.collective_layout import CollectiveResult, Layout
from planner.cost.collective_ps import ServerSettings, ps_on_cluster, sharded_servers, single_server
from planner.cost.collective_transports import lookup

# (placed devices, G bytes, parameter-server settings) -> one all-reduce on the cluster's levels
ClusterTime = Callable[[Layout, float, ServerSettings], CollectiveResult]
# (G bytes, N devices, bandwidth bytes/s, latency s, parameter-server settings) -> seconds, vectorised
FlatTime = Callable[[ArrayLike, ArrayLike, ArrayLike, ArrayLike, ServerSettings], flat.Array]


@dataclass(frozen=True)
class Algorithm:
    """One all-reduce algorithm and what it declares about itself.

    `servers` maps (shards requested, N devices) to the parameter servers it uses (None: peer-to-peer, no
    servers). `affine`: its time on a fixed placement is alpha + beta·G, so two message sizes determine it
    (planner.cost.stage_costs relies on that). `nccl`: NCCL (or Horovod's hierarchical mode over NCCL)
    implements it, so NCCL-based LLM training (Megatron-LM) can use it. `flat_time`: its closed form on N
    devices joined by identical links, if it has one.
    """

    name: str
    source: str  # one line: what it does, after whom
    on_cluster: ClusterTime
    affine: bool
    nccl: bool
    servers: Callable[[int, int], int] | None = None
    flat_time: FlatTime | None = None


REGISTRY: dict[str, Algorithm] = {}


def register(algorithm: Algorithm) -> Algorithm:
    """Add an algorithm to the table (its name must be new); returns it."""
    if algorithm.name in REGISTRY or algorithm.name in ("all", "best"):
        raise ValueError(f"all-reduce algorithm '{algorithm.name}' is already taken")
    REGISTRY[algorithm.name] = algorithm
    return algorithm


def named(name: str) -> Algorithm:
    """The registered algorithm called `name`; ValueError naming the choices otherwise."""
    return lookup(REGISTRY, name, "algorithm")


def algorithm_names(where: Callable[[Algorithm], bool] = lambda _: True) -> tuple[str, ...]:
    """Names of the registered algorithms that satisfy `where`, in registration order."""
    return tuple(name for name, algorithm in REGISTRY.items() if where(algorithm))


def peer_to_peer(algorithm: Algorithm) -> bool:
    return algorithm.servers is None


def _peer(function: Callable[[Layout, float], CollectiveResult]) -> ClusterTime:
    """A peer-to-peer algorithm's cost, which has no parameter-server settings to read."""
    return lambda plan, g, _servers: function(plan, g)


def _flat_peer(function: Callable[..., flat.Array]) -> FlatTime:
    return lambda g, n, bandwidth, latency, _servers: function(g, n, bandwidth, latency)


def _flat_ps(
    g: ArrayLike, n: ArrayLike, bandwidth: ArrayLike, latency: ArrayLike, s: ServerSettings
) -> flat.Array:
    return flat.ps_allreduce_time(
        g, n, bandwidth, latency, shards=s.shards, dedicated=s.dedicated, backups=s.backups
    )


register(
    Algorithm(
        "ps",
        "one synchronous parameter server (Li et al., OSDI 2014)",
        lambda plan, g, s: ps_on_cluster(plan, g, s, "ps"),
        affine=True,
        nccl=False,
        servers=single_server,
        flat_time=_flat_ps,
    )
)
register(
    Algorithm(
        "ps-sharded",
        "parameter servers sharding the gradient (Li et al., OSDI 2014, Sec. 4)",
        lambda plan, g, s: ps_on_cluster(plan, g, s, "ps-sharded"),
        affine=True,
        nccl=False,
        servers=sharded_servers,
    )
)
register(
    Algorithm(
        "ring",
        "reduce-scatter + all-gather around a ring (Patarasuk & Yuan 2009)",
        _peer(ring_on_cluster),
        affine=True,
        nccl=True,
        flat_time=_flat_peer(flat.ring_allreduce_time),
    )
)
register(
    Algorithm(
        "tree",
        "double binary tree, pipelined (Sanders, Speck & Traeff 2009; NCCL 2.4)",
        _peer(tree_on_cluster),
        affine=False,  # the best chunk count gives (sqrt(depth·alpha) + sqrt(busy))^2
        nccl=True,
        flat_time=_flat_peer(flat.tree_allreduce_time),
    )
)
register(
    Algorithm(
        "halving-doubling",
        "recursive halving + doubling (Rabenseifner; Thakur, Rabenseifner & Gropp 2005)",
        _peer(halving_doubling_on_cluster),
        affine=True,
        nccl=False,
        flat_time=_flat_peer(flat.halving_doubling_allreduce_time),
    )
)
register(
    Algorithm(
        "hierarchical",
        "ring reduce-scatter level by level, all-reduce at the top (Goyal et al. 2017)",
        _peer(hierarchical_on_cluster),
        affine=True,
        nccl=True,
    )
)
