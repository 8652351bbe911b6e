"""PipeDream's antichain search, block by block, with each block's state count bounded before it is searched.

The antichain states (planner.optimize.chain_view) multiply across parallel branches: a block of w branches
of l layers has about (l+1)^w of them (issue 17: 4 chains of 20 layers give 194,481 states and a 35 GiB
matrix). This module cuts the graph into a chain of blocks, estimates each block's states, and searches a
block only within a state budget; a block past the budget is refused (PipeDream's own search) or
linearised (the native partitioner).

Blocks. In the layer order (a topological order), node c is a *cut* when the nodes up to c are exactly
c's down-set and every edge leaving them starts at c: then [c] is an antichain state that every state
chain passes through, nothing before c feeds anything after it, and the antichain DAG is the
concatenation of the blocks' DAGs, block b running from state [c_{b-1}] to state [c_b] (the first node
is a cut; nodes after the last cut form a tail block with no end). Searching block by block therefore
finds PipeDream's states, edges and depth-first order exactly (chain_view checks it on its profiles).

Estimate (an upper bound, before any search): the states of a block are distinct down-sets of the block's
nodes, and a down-set takes a prefix of every chain of a chain decomposition (Dilworth), so a block with
chains C_1..C_k (greedy: a node extends a chain ending at one of its producers) has at most
prod(|C_i| + 1) - 1 states besides its start. Exact for parallel chains; loose where branches cross.

Linearised block: its states are the prefixes of its nodes in layer order (one state per node), each a
down-set; the state's "augmented antichain" (what crosses a cut after it) is the set of its nodes with a
consumer outside the prefix, as PipeDream's augmentation gives for an antichain state. Stages then cut
the block only along the layer order (branch after branch, as the profile lists them) instead of along
every antichain: the partition is optimal among those cuts, not among all of PipeDream's.

Cost: reachability masks O(L^2 / 64) words; the cuts O(L + E) plus O(L/64) per node; the estimate O(L +
E); the search O(states · |X| · d · w · L/64) (chain_view's complexity), about 16 µs per state on the
reference machine (bench/bench_branchy.py).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Block:
    """The nodes after cut `start` up to `end` (a cut, or None for the tail), in layer order, and the
    upper bound on its antichain states besides [start]."""

    start: int
    end: int | None
    nodes: tuple[int, ...]
    estimate: int


@dataclass(frozen=True)
class BlockStates:
    """A searched or linearised block: its states' augmented antichains and down-set masks, in the block's
    depth-first order (the start state excluded), each state's out-edges as indices into that order, the
    start state's out-edges, and the index of the end state [end] (the last state for the tail)."""

    augmented: tuple[tuple[int, ...], ...]
    down_sets: tuple[int, ...]
    edges: tuple[tuple[int, ...], ...]
    start_edges: tuple[int, ...]
    end: int
    linearised: bool


class AntichainGraph:
    """The preprocessed graph with reachability bit masks, its blocks and the antichain search on it."""

    def __init__(self, count: int, nodes: list[int], producers: list[list[int]], consumers: list[list[int]]):
        self.nodes = nodes
        self.producers = producers
        self.consumers = consumers
        self.pred = [0] * count  # strict transitive predecessors
        self.succ = [0] * count  # strict transitive successors
        for v in nodes:  # layer order is topological
            for u in producers[v]:
                self.pred[v] |= self.pred[u] | (1 << u)
        for u in reversed(nodes):
            for v in consumers[u]:
                self.succ[u] |= self.succ[v] | (1 << v)
        out_masks = [sum(1 << v for v in consumers[u]) for u in range(count)]
        # extra[a]: predecessors of a with an edge leaving a's down-set (augment_antichain, per node). A
        # predecessor with one consumer has it inside the down-set, so only branch points can qualify.
        branches = sum(1 << u for u in range(count) if len(consumers[u]) > 1)
        self.extra = [0] * count
        for a in nodes:
            inside = self.pred[a] | (1 << a)
            self.extra[a] = sum(1 << p for p in bits(self.pred[a] & branches) if out_masks[p] & ~inside)

    def blocks(self) -> list[Block]:
        """The graph cut at its cuts (see the module doc), in layer order."""
        cuts: list[int] = []
        open_from: dict[int, int] = {}  # a node -> its consumers not yet placed
        processed = 0
        for v in self.nodes:
            processed |= 1 << v
            for u in self.producers[v]:
                open_from[u] -= 1
                if not open_from[u]:
                    del open_from[u]
            if self.consumers[v]:
                open_from[v] = len(self.consumers[v])
            if set(open_from) <= {v} and processed == self.pred[v] | (1 << v):
                cuts.append(v)
        position = {v: k for k, v in enumerate(self.nodes)}
        found = []
        for start, end in zip(cuts, [*cuts[1:], None], strict=True):
            last = len(self.nodes) if end is None else position[end] + 1
            inside = tuple(self.nodes[position[start] + 1 : last])
            if inside:
                found.append(Block(start, end, inside, self._estimate(inside)))
        return found

    def _estimate(self, nodes: tuple[int, ...]) -> int:
        """prod(|C| + 1) - 1 over a greedy chain decomposition of `nodes` (see the module doc)."""
        tails: dict[int, int] = {}  # a chain's last node -> its length
        for v in nodes:
            extended = next((u for u in self.producers[v] if u in tails), None)
            length = tails.pop(extended) + 1 if extended is not None else 1
            tails[v] = length
        return math.prod(length + 1 for length in tails.values()) - 1

    def search(self, block: Block, cap: int) -> BlockStates | None:
        """The antichain states of `block` (breadth-first from [start], [end] not expanded), in depth-first
        order; None as soon as more than `cap` states are found."""
        first = [block.start]
        stop = None if block.end is None else 1 << block.end
        state_of = {_mask(first): 0}
        augmented = [self.augment(first)]
        edges: list[list[int]] = [[]]
        queue = deque([first])
        expanded: set[int] = set()
        while queue:
            antichain = queue.popleft()
            key = _mask(antichain)
            if key in expanded or key == stop:
                continue
            expanded.add(key)
            source = state_of[key]
            for following in self.next_antichains(antichain):
                target_key = _mask(following)
                target = state_of.get(target_key)
                if target is None:
                    if len(augmented) > cap:  # the start state is not counted
                        return None
                    target = state_of[target_key] = len(augmented)
                    augmented.append(self.augment(following))
                    edges.append([])
                edges[source].append(target)
                queue.append(following)
        order = reverse_postorder(edges)
        rank = {state: r - 1 for r, state in enumerate(order)}
        chain = [augmented[state] for state in order[1:]]
        return BlockStates(
            augmented=tuple(tuple(a) for a in chain),
            down_sets=tuple(self.down_set(a) for a in chain),
            edges=tuple(tuple(rank[t] for t in edges[state]) for state in order[1:]),
            start_edges=tuple(rank[t] for t in edges[order[0]]),
            end=rank[state_of[stop]] if stop in state_of else len(chain) - 1,
            linearised=False,
        )

    def linearise(self, block: Block) -> BlockStates:
        """The prefixes of the block's nodes in layer order as states (see the module doc)."""
        prefix = self.pred[block.start] | (1 << block.start)
        open_nodes = {block.start} if self.consumers[block.start] else set()
        augmented, down_sets = [], []
        for v in block.nodes:
            prefix |= 1 << v
            open_nodes.add(v)
            open_nodes = {u for u in open_nodes if any(not prefix >> w & 1 for w in self.consumers[u])}
            augmented.append(tuple(sorted(open_nodes)) or (v,))
            down_sets.append(prefix)
        count = len(block.nodes)
        return BlockStates(
            augmented=tuple(augmented),
            down_sets=tuple(down_sets),
            edges=tuple((k + 1,) if k + 1 < count else () for k in range(count)),
            start_edges=(0,),
            end=count - 1,
            linearised=True,
        )

    def augment(self, antichain: list[int]) -> list[int]:
        extra = 0
        for a in antichain:
            extra |= self.extra[a]
        return bits(extra) + antichain

    def next_antichains(self, antichain: list[int]) -> list[list[int]]:
        members = _mask(antichain)
        augmented = self.augment(antichain)
        augmented_mask = _mask(augmented)
        found = []
        for u in augmented:
            for v in self.consumers[u]:
                if members >> v & 1 or self.succ[v] & augmented_mask:
                    continue
                replaced = (augmented_mask & ~(1 << u)) | (1 << v)
                found.append(
                    [x for x in (v if x == u else x for x in augmented) if not self.succ[x] & replaced]
                )
        return found

    def down_set(self, augmented: tuple[int, ...] | list[int]) -> int:
        mask = 0
        for a in augmented:
            mask |= self.pred[a] | (1 << a)
        return mask


def reverse_postorder(edges: list[list[int]]) -> list[int]:
    """Depth-first topological order from state 0, children in edge order (iterative)."""
    seen = [False] * len(edges)
    seen[0] = True
    finished: list[int] = []
    stack = [(0, iter(edges[0]))]
    while stack:
        node, children = stack[-1]
        for child in children:
            if not seen[child]:
                seen[child] = True
                stack.append((child, iter(edges[child])))
                break
        else:
            stack.pop()
            finished.append(node)
    finished.reverse()
    return finished


def _mask(items: list[int]) -> int:
    mask = 0
    for i in items:
        mask |= 1 << i
    return mask


def bits(mask: int) -> list[int]:
    """Indices of the set bits of `mask`, ascending."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out
