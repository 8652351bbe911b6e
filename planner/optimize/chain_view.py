"""PipeDream's chain view of a model graph: the antichain states its optimizer partitions.

Source: Narayanan et al., "PipeDream: Generalized Pipeline Parallelism for DNN Training", SOSP 2019,
§3.1 (the partitioning algorithm works on a chain; branchy graphs are linearised), and its public
optimizer (msr-fiddle/pipedream, `optimizer/optimizer_graph_hierarchical.py` with `graph/graph.py`:
`antichain_dag`, `augment_antichain`, `next_antichains`, `topological_sort`). This is our own code for
the same construction; the steps and their quirks are reproduced because the optimizer's results depend
on them.

Construction, for a profile's DAG (layers and their `inputs`):

1. Preprocessing, as PipeDream does before it partitions: every source whose description starts with
   "Input" is removed (its figures are zeroed; AlexNet's Input carries 636 ms of data loading); then,
   in one pass over the sinks of what is left, every sink whose description starts with "__getitem__"
   is removed. The remaining nodes are the graph G that is partitioned.
2. Antichains. An antichain is a set of mutually unreachable nodes; it stands for its down-set (the
   nodes and everything before them). The first antichain is the first source of G in layer order
   (PipeDream takes the first source of its node list; with one data source it is the same node). The
   *augmented* antichain adds every strict predecessor p of an antichain node a that has an edge to a
   node outside a's down-set (p's output is still needed later). From an antichain A with augmented set
   X, a next antichain replaces one u in X by a consumer v of u (v not in A) such that no node of X is
   reachable from v, and keeps the maximal nodes of the result. A breadth-first search from the first
   antichain gives the antichain DAG (each antichain a state, an edge per such step). PipeDream lists
   the extra nodes of an augmented set in Python set order (hash order, different between runs); here
   they come in layer order, so the construction is deterministic. A layer that no state's down-set
   reaches (one that only a second source of G leads to) would be in no stage: that is a SpecError
   here (PipeDream drops such a layer silently).
3. The chain: a depth-first topological order of the antichain DAG from the first state (children in
   discovery order, reverse post-order). States are numbered by their position in it.
4. Figures of a state s (units: seconds, bytes): C(s), P(s), A(s) are the sums of compute time
   (forward + backward), parameter bytes and activation bytes over the down-set of s; the output
   activation of s is the sum of the activation sizes of its augmented antichain.

Bounded search (planner.optimize.antichain_blocks). The graph is cut into a chain of blocks at its cut
nodes and searched block by block, which gives the same states, edges and order as one search; the states
in all are bounded by max(MAX_CHAIN_STATES, nodes) (planner.limits), each block's counted as it is found.
A block past its share is refused with the estimated states, time and memory (`exact`, PipeDream's own
search), or linearised (`exact=False`, the native partitioner: the block's states are the prefixes of its
layers in layer order; `linearised_blocks` counts them). So a 4 x 20 parallel block (194,481 states)
costs 82 states natively instead of a 35 GiB matrix.

Ranges. PipeDream's figure for the states [i, j) (its `compute_times[i][j-1]`) is C(j-1) - C(i-1)
with C(-1) = 0: `cum_compute_s[j] - cum_compute_s[i]`, an O(1) look-up (likewise for parameters and
activations). When state i-1 precedes state j-1 in the antichain DAG this is the figure of exactly
the nodes in down(j-1) minus down(i-1); PipeDream's recurrence also forms other ranges (see
planner.optimize.pipedream), whose figures are the same differences.

State counts on PipeDream's profiles: vgg16 40, alexnet 22 (chains of the non-Input nodes), resnet50
240, gnmt 99, gnmt_large 1495 (README of the profiles: resnet50 240, gnmt 99).

Complexity, with L layers, S states and E antichain-DAG edges (node sets are Python int bit masks of L
bits, so a set operation costs O(L/64) words): preprocessing and the reachability masks O(L^2 / 64) word
operations, plus O(L · b) for the augmenting predecessors (b branch points: a predecessor with a single
consumer never augments); each state's expansion O(|X| · d) candidate steps of O(w · L/64) each (d the
out-degree, w the antichain width); the topological order O(S + E); the transitive predecessors of every
state O(E · S/64); the down-set sums one (S × L) matrix product. A 1,000-layer chain takes about 0.04 s,
GNMT-16 (96 nodes, 1,495 states) about 0.09 s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from planner.errors import SpecError
from planner.limits import MAX_CHAIN_STATES
from planner.optimize.antichain_blocks import AntichainGraph, Block, BlockStates, bits
from planner.optimize.limits import check_chain_layers, refuse_chain_states
from planner.spec.profile import ModelProfile

LayerTimes = Sequence[float] | np.ndarray  # seconds per layer, by profile index

INPUT_PREFIX = "Input"
GETITEM_PREFIX = "__getitem__"


@dataclass(frozen=True, eq=False)
class ChainView:
    """The antichain states of a profile, in chain order, with the figures PipeDream sums over them.

    Layers are named by their index in the profile (`layer_inputs[i]`: the producers of layer i).
    `nodes` are the layers partitioned, `dropped_inputs` and `dropped_sinks` those PipeDream removes
    first. `antichains[s]` is state s's augmented antichain
    and `down_sets[s]` the bit mask (bit i = profile layer i) of its down-set. `predecessors[s]` lists,
    ascending, the states before s in the antichain DAG (transitively). `cum_*[s + 1]` is the figure of
    state s's down-set and `cum_*[0]` is 0, so the states [i, j) have `cum[j] - cum[i]`.
    """

    layer_names: tuple[str, ...]
    layer_inputs: tuple[tuple[int, ...], ...]
    nodes: tuple[int, ...]
    dropped_inputs: tuple[int, ...]
    dropped_sinks: tuple[int, ...]
    antichains: tuple[tuple[int, ...], ...]
    down_sets: tuple[int, ...]
    predecessors: tuple[np.ndarray, ...]
    cum_compute_s: np.ndarray
    cum_parameter_bytes: np.ndarray
    cum_activation_bytes: np.ndarray
    output_activation_bytes: np.ndarray
    linearised_blocks: int = 0

    @property
    def num_states(self) -> int:
        return len(self.antichains)

    def compute_s(self, start: int, end: int) -> float:
        """Compute time (forward + backward, s) of the states [start, end): C(end-1) - C(start-1)."""
        return float(self.cum_compute_s[end] - self.cum_compute_s[start])

    def parameter_bytes(self, start: int, end: int) -> float:
        """Parameter bytes of the states [start, end): P(end-1) - P(start-1)."""
        return float(self.cum_parameter_bytes[end] - self.cum_parameter_bytes[start])

    def activation_bytes(self, start: int, end: int) -> float:
        """Activation bytes of the states [start, end): A(end-1) - A(start-1)."""
        return float(self.cum_activation_bytes[end] - self.cum_activation_bytes[start])

    def cumulative(self, values: LayerTimes) -> np.ndarray:
        """Prefix sums over the states of a per-layer figure (by profile index): index s + 1 sums state
        s's down-set, index 0 is 0 (another time than the view's own, e.g. the backward pass alone)."""
        sums = _membership(self.down_sets, len(self.layer_names)) @ np.asarray(values, dtype=float)
        return np.concatenate(([0.0], sums))

    def layers_in(self, end: int, assigned: int = 0) -> list[int]:
        """Profile indices of the layers in the down-set of state end-1 that are not in `assigned` (a
        bit mask), ascending: how PipeDream assigns the nodes of consecutive stages."""
        return bits(self.down_sets[end - 1] & ~assigned)


def build_chain_view(
    profile: ModelProfile, layer_time_s: LayerTimes | None = None, *, exact: bool = True
) -> ChainView:
    """PipeDream's chain of antichain states for `profile` (see the module doc).

    `layer_time_s` gives each layer's compute time per minibatch (s), by profile index; by default the
    profile's measured forward + backward time (a layer without a measured time is a SpecError).
    `exact` False lets blocks past the state budget be linearised instead of refused (see the module doc).
    """
    count = len(profile.layers)
    check_chain_layers(count)  # O(count^2) memory below: refuse a huge profile at once
    times = _layer_times(profile, layer_time_s)
    position = {layer.name: i for i, layer in enumerate(profile.layers)}
    inputs = [_inputs(profile, i, position) for i in range(count)]

    inputs_dropped = [i for i, layer in enumerate(profile.layers) if layer.is_input and not inputs[i]]
    alive = [True] * count
    for i in inputs_dropped:
        alive[i] = False
    consumers: list[list[int]] = [[] for _ in range(count)]
    for v in range(count):
        for u in inputs[v]:
            if alive[u] and alive[v]:
                consumers[u].append(v)
    sinks_dropped = [
        i
        for i, layer in enumerate(profile.layers)
        if alive[i] and not consumers[i] and layer.op.startswith(GETITEM_PREFIX)
    ]
    for i in sinks_dropped:
        alive[i] = False
        for u in inputs[i]:
            if i in consumers[u]:
                consumers[u].remove(i)
    nodes = [i for i in range(count) if alive[i]]
    if not nodes:
        raise SpecError(
            f"profile {profile.name}", "layers", "expected layers besides Input sources and __getitem__ sinks"
        )
    producers = [[u for u in inputs[v] if alive[u]] if alive[v] else [] for v in range(count)]

    graph = AntichainGraph(count, nodes, producers, consumers)
    antichains, down_sets, edges, linearised = _assemble(graph, exact, profile.name)
    pred_masks = [0] * len(antichains)
    for s, targets in enumerate(edges):  # chain order is topological
        for t in targets:
            pred_masks[t] |= pred_masks[s] | (1 << s)
    predecessors = tuple(_indices(mask, len(antichains)) for mask in pred_masks)  # row by row: no S x S

    stranded = [profile.layers[i].name for i in nodes if not (down_sets[-1] >> i) & 1]
    if stranded:  # the stages cover the last state's down-set: these layers would be in no stage
        raise SpecError(
            f"profile {profile.name}",
            "layers",
            f"expected every layer to be reached from the first source '{profile.layers[nodes[0]].name}' "
            f"(PipeDream's chain view grows from one source); not reached: {', '.join(stranded[:5])}"
            f"{' ...' if len(stranded) > 5 else ''} (a branch of its own from the data source: no stage "
            "would hold it)",
            show_got=False,
        )
    membership = _membership(down_sets, count)
    parameters = np.array([profile.layer_parameter_bytes(layer) for layer in profile.layers], dtype=float)
    activations = np.array([layer.output_bytes for layer in profile.layers], dtype=float)
    output = np.array([float(sum(activations[a] for a in augmented)) for augmented in antichains])

    def cumulative(values: np.ndarray) -> np.ndarray:
        return np.concatenate(([0.0], membership @ values))

    return ChainView(
        layer_names=tuple(layer.name for layer in profile.layers),
        layer_inputs=tuple(tuple(i) for i in inputs),
        nodes=tuple(nodes),
        dropped_inputs=tuple(inputs_dropped),
        dropped_sinks=tuple(sinks_dropped),
        antichains=tuple(antichains),
        down_sets=tuple(down_sets),
        predecessors=predecessors,
        cum_compute_s=cumulative(times),
        cum_parameter_bytes=cumulative(parameters),
        cum_activation_bytes=cumulative(activations),
        output_activation_bytes=output,
        linearised_blocks=linearised,
    )


def _assemble(
    graph: AntichainGraph, exact: bool, name: str
) -> tuple[list[tuple[int, ...]], list[int], list[list[int]], int]:
    """The states of every block joined into one chain: augmented antichains, down-set masks, out-edges
    (chain indices) and how many blocks were linearised. Block b's first state follows block b-1's end."""
    start = graph.nodes[0]
    antichains: list[tuple[int, ...]] = [(start,)]  # a cut has nothing to augment
    down_sets = [graph.down_set([start])]
    edges: list[list[int]] = [[]]
    end, linearised = 0, 0
    for states in _block_states(graph, graph.blocks(), exact, name):
        base = len(antichains)
        edges[end] = [base + t for t in states.start_edges]
        antichains += states.augmented
        down_sets += states.down_sets
        edges += [[base + t for t in targets] for targets in states.edges]
        end = base + states.end
        linearised += states.linearised
    return antichains, down_sets, edges, linearised


def _block_states(graph: AntichainGraph, blocks: list[Block], exact: bool, name: str) -> list[BlockStates]:
    """Each block's states within the budget of max(MAX_CHAIN_STATES, nodes) states in all: blocks are
    searched smallest estimate first, each capped so that the blocks still to come fit linearised; a block
    past its cap is linearised, or refused when `exact`. Searches that fail stop being tried once they
    have explored twice the budget (a block whose estimate fits is always searched: it cannot fail)."""
    budget = max(MAX_CHAIN_STATES, len(graph.nodes))
    reserved = sum(len(block.nodes) for block in blocks)
    used, explored = 1, 0
    chosen: dict[int, BlockStates] = {}
    for index in sorted(range(len(blocks)), key=lambda k: (blocks[k].estimate, k)):
        block = blocks[index]
        reserved -= len(block.nodes)
        cap = budget - used - reserved  # >= len(block.nodes): the budget covers every node linearised
        states = None
        if block.estimate <= cap or explored < 2 * budget:
            states = graph.search(block, cap)
            explored += cap if states is None else len(states.augmented)
        if states is None:
            if exact:
                refuse_chain_states(name, 1 + sum(b.estimate for b in blocks), budget)
            states = graph.linearise(block)
        used += len(states.augmented)
        chosen[index] = states
    return [chosen[k] for k in range(len(blocks))]


def _layer_times(profile: ModelProfile, layer_time_s: LayerTimes | None) -> np.ndarray:
    if layer_time_s is not None:
        if len(layer_time_s) != len(profile.layers):
            raise SpecError(
                f"profile {profile.name}",
                "layer_time_s",
                f"expected one time per layer ({len(profile.layers)})",
                len(layer_time_s),
            )
        return np.asarray(layer_time_s, dtype=float)
    times = []
    for i, layer in enumerate(profile.layers):
        if layer.forward_time is None and not layer.is_input:
            raise SpecError(
                f"profile {profile.name}",
                f"layers[{i}].forward_time",
                "expected measured layer times (PipeDream's optimizer partitions measured times)",
                show_got=False,
            )
        times.append((layer.forward_time or 0.0) + (layer.backward_time or 0.0))
    return np.array(times, dtype=float)


def _inputs(profile: ModelProfile, index: int, position: dict[str, int]) -> list[int]:
    layer = profile.layers[index]
    if layer.inputs is None:
        return [] if index == 0 or layer.is_input else [index - 1]
    return [position[name] for name in layer.inputs]


def _membership(masks: Sequence[int], count: int) -> np.ndarray:
    """0/1 matrix (one row per mask, `count` columns) of bit masks."""
    width = (count + 7) // 8
    raw = b"".join(mask.to_bytes(width, "little") for mask in masks)
    bits = np.unpackbits(
        np.frombuffer(raw, dtype=np.uint8).reshape(len(masks), width), axis=1, bitorder="little"
    )
    return bits[:, :count].astype(float)


def _indices(mask: int, count: int) -> np.ndarray:
    """Indices (int64, ascending) of the set bits of `mask` below `count`."""
    raw = np.frombuffer(mask.to_bytes((count + 7) // 8, "little"), dtype=np.uint8)
    return np.flatnonzero(np.unpackbits(raw, bitorder="little")[:count]).astype(np.int64)
