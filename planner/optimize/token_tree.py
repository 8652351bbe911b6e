"""Token trees for speculative decoding: expected tokens, Sequoia's optimal tree, Medusa's greedy tree.

A token tree (SpecInfer, Miao et al., ASPLOS 2024) holds several drafted continuations; the target
verifies all its nodes in one pass with a tree attention mask and accepts one root-to-node path. The
root is the last verified token; a node's *rank* is its position among its siblings (1 = tried first).

Acceptance model: a node at depth k with rank i is accepted, given that its parent was, with probability
A[k-1, i-1]; the rows of A are:

* Sequoia's positional acceptance (Chen et al., NeurIPS 2024, Sec. 3.2): A[k, i] = P[i] for every depth,
  P[i] = Pr(the i-th child is the accepted one), sum_i P[i] <= 1;
* Medusa's per-head top-i accuracies (Cai et al. 2024, Sec. 2.3.1): A[k, i] = a_k^(i), the accuracy of
  head k's i-th ranked prediction.

Expected tokens per target step F(T) = sum over nodes v of f(v), f(v) = prod of A over the path to v and
f(root) = 1 (Sequoia Sec. 3.2; the root stands for the token the target adds itself). For a chain with
P = (alpha) this is Leviathan et al.'s Eq. 1. Dimensionless (tokens).

Ties: Sequoia's DP gives the new child subtree the fewest nodes among equal values (argmax takes the
first) and adds a child only when F grows by more than 1e-12 (fewest children); the hardware-aware
search takes the lowest height, then the smallest size; Medusa's greedy takes, among equal products,
the node pushed first (a counter in the heap key).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
NEG = -np.inf


@dataclass(frozen=True)
class TokenTree:
    """A rooted tree in topological order: node 0 is the root, parents[v] < v, ranks[v] >= 1 (root 0)."""

    parents: tuple[int, ...]
    ranks: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.parents or self.parents[0] != -1 or self.ranks[0] != 0:
            raise ValueError("node 0 must be the root (parent -1, rank 0)")
        if len(self.parents) != len(self.ranks):
            raise ValueError("parents and ranks must have one entry per node")
        for v in range(1, len(self.parents)):
            if not 0 <= self.parents[v] < v or self.ranks[v] < 1:
                raise ValueError(f"node {v}: need 0 <= parent < {v} and rank >= 1")

    @property
    def size(self) -> int:
        return len(self.parents)

    @property
    def depths(self) -> tuple[int, ...]:
        out = [0] * self.size
        for v in range(1, self.size):
            out[v] = out[self.parents[v]] + 1
        return tuple(out)

    @property
    def depth(self) -> int:
        """Longest root-to-leaf path in edges (the number of sequential draft runs that build the tree)."""
        return max(self.depths)

    def children(self, v: int) -> list[int]:
        """Children of v in rank order."""
        kids = [u for u in range(v + 1, self.size) if self.parents[u] == v]
        return sorted(kids, key=lambda u: self.ranks[u])

    def paths(self) -> list[tuple[int, ...]]:
        """Each node as its rank path from the root, e.g. (1, 2) = the 2nd child of the 1st child."""
        out: list[tuple[int, ...]] = [()]
        for v in range(1, self.size):
            out.append((*out[self.parents[v]], self.ranks[v]))
        return out

    @staticmethod
    def chain(length: int) -> TokenTree:
        """A chain of `length` drafted tokens below the root (standard speculative decoding, gamma)."""
        return TokenTree(tuple(range(-1, length)), (0,) + (1,) * length)


def acceptance_matrix(acceptance: npt.ArrayLike, depth: int) -> FloatArray:
    """A per-depth acceptance matrix (depth rows) from a positional vector P or a matrix (rows = depths).

    Raises ValueError when values fall outside [0, 1] or a vector's sum exceeds 1.
    """
    a = np.asarray(acceptance, dtype=float)
    if a.ndim not in (1, 2) or a.size == 0:
        raise ValueError("acceptance must be a non-empty vector (per rank) or matrix (depth x rank)")
    if np.any((a < 0) | (a > 1)) or np.any(np.isnan(a)):
        raise ValueError("acceptance probabilities must lie in [0, 1]")
    if a.ndim == 1:
        if a.sum() > 1 + 1e-9:
            raise ValueError(
                f"positional acceptance sums to {a.sum():.4g} > 1 (at most one child is accepted)"
            )
        return np.broadcast_to(a, (max(depth, 1), a.size))
    return a


def node_values(tree: TokenTree, acceptance: npt.ArrayLike) -> FloatArray:
    """f(v) for every node: the probability that node v is accepted (f(root) = 1)."""
    depths = tree.depths
    matrix = acceptance_matrix(acceptance, max(tree.depth, 1))
    values = np.ones(tree.size)
    for v in range(1, tree.size):
        k, i = depths[v] - 1, tree.ranks[v] - 1
        inside = k < matrix.shape[0] and i < matrix.shape[1]
        values[v] = values[tree.parents[v]] * (matrix[k, i] if inside else 0.0)
    return values


def expected_tokens(tree: TokenTree, acceptance: npt.ArrayLike) -> float:
    """F(T) = sum_v f(v): expected tokens per target step (Sequoia, Chen et al. 2024, Sec. 3.2). Tokens."""
    return float(node_values(tree, acceptance).sum())


@dataclass(frozen=True)
class TreeTable:
    """best[h, n]: the largest F of a tree of n nodes whose height is at most h (n = 1..size; -inf where
    no tree exists), and the trees themselves on request. Computed by optimal_tree_table."""

    best: FloatArray
    _children: tuple[npt.NDArray[np.int32], ...]  # per layer: (branching + 1, size + 1) child sizes
    _branch: tuple[npt.NDArray[np.int32], ...]  # per layer: (size + 1,) root branching of the best tree

    def tree(self, size: int, height: int | None = None) -> TokenTree:
        """The optimal tree of `size` nodes and height <= `height` (default the table's largest)."""
        h = self.best.shape[0] - 1 if height is None else height
        if not 1 <= size < self.best.shape[1] or not 0 <= h < self.best.shape[0]:
            raise ValueError(
                f"size must be in [1, {self.best.shape[1] - 1}], height in [0, {self.best.shape[0] - 1}]"
            )
        if not np.isfinite(self.best[h, size]):
            raise ValueError(f"no tree of {size} nodes has height <= {h}")
        parents, ranks = [-1], [0]
        stack = [(0, h, size)]  # (node, layer, nodes in its subtree)
        while stack:
            node, layer, n = stack.pop()
            b = int(self._branch[layer][n]) if layer > 0 else 0
            sizes = []
            for rank in range(b, 0, -1):  # peel children from the last rank, as the DP built them
                m = int(self._children[layer][rank, n])
                sizes.append((rank, m))
                n -= m
            for rank, m in sorted(sizes):
                parents.append(node)
                ranks.append(rank)
                stack.append((len(parents) - 1, layer - 1, m))
        order = _topological(parents)
        return _renumber(parents, ranks, order)


def optimal_tree_table(acceptance: npt.ArrayLike, size: int, depth: int | None = None) -> TreeTable:
    """Sequoia's dynamic program for the tree of at most `size` nodes that maximises F (Chen et al. 2024,
    Sec. 3.2.1), with a depth bound: for every height h <= depth and every n <= size, the best tree.

    Recurrence, layer h = trees of height <= h whose children (at depth k below the root of the whole
    tree, k = depth - h + 1) use acceptance row k-1:
        L_0[1] = 1;  T_h[n, 0] = L_0[n];
        T_h[n, b] = max_{1 <= m <= n-1} T_h[n-m, b-1] + A[k-1, b-1] * L_{h-1}[m];  L_h[n] = max_b T_h[n, b].
    With a positional vector (the same row at every depth) L_h is the best tree of height <= h, so the
    table answers every (n, h) of the hardware-aware search at once, and the layers stop early once
    L_h = L_{h-1} (a fixed point). With a per-depth matrix only the top layer's root is at depth 0.

    Complexity: O(size^2 * B * D) time (B = branching = the acceptance row length, D = depth, default
    size - 1), vectorised over (n, m); O(size * B * D) memory for the back-pointers.
    """
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    if depth is not None and depth < 0:
        raise ValueError(f"depth must be >= 0, got {depth}")
    # a tree of `size` nodes is at most size - 1 high: a larger bound is the same bound (and the layers
    # below would only repeat; --depth 1e9 ran a billion of them)
    max_depth = size - 1 if depth is None else min(depth, size - 1)
    a = np.asarray(acceptance, dtype=float)
    positional = a.ndim == 1
    matrix = acceptance_matrix(a, max(max_depth, 1))
    if not positional and matrix.shape[0] < max_depth:
        max_depth = matrix.shape[0]  # no acceptance below the matrix's last row
    branching = min(matrix.shape[1], max(size - 1, 1))
    n_idx = np.arange(size + 1)
    m_idx = np.arange(size + 1)
    rest = n_idx[:, None] - m_idx[None, :]  # n - m
    valid = (m_idx[None, :] >= 1) & (rest >= 1)
    rest = np.where(valid, rest, 0)

    base = np.full(size + 1, NEG)
    base[1] = 1.0
    layers = [base]
    children: list[npt.NDArray[np.int32]] = [np.zeros((1, size + 1), np.int32)]
    branch: list[npt.NDArray[np.int32]] = [np.zeros(size + 1, np.int32)]
    for h in range(1, max_depth + 1):
        row = matrix[max_depth - h] if not positional else matrix[0]
        below = layers[-1]
        current = base.copy()  # T_h[., 0]
        best = base.copy()
        best_b = np.zeros(size + 1, np.int32)
        picks = np.zeros((branching + 1, size + 1), np.int32)
        for b in range(1, branching + 1):
            child = np.where(np.isfinite(below), row[b - 1] * np.where(np.isfinite(below), below, 0.0), NEG)
            candidates = np.where(valid, current[rest] + child[None, :], NEG)
            pick = np.argmax(candidates, axis=1)
            current = candidates[n_idx, pick]
            picks[b] = pick
            better = current > best + 1e-12
            best = np.where(better, current, best)
            best_b = np.where(better, b, best_b)
        layers.append(best)
        children.append(picks)
        branch.append(best_b)
        if positional and np.array_equal(best, below) and depth is None:
            break
    return TreeTable(np.array(layers), tuple(children), tuple(branch))


def optimal_tree(acceptance: npt.ArrayLike, size: int, depth: int | None = None) -> tuple[TokenTree, float]:
    """The tree of exactly `size` nodes (root included) and height <= depth that maximises F, and F."""
    table = optimal_tree_table(acceptance, size, depth)
    tree = table.tree(size)
    return tree, float(table.best[-1, size])


def hardware_aware_tree(
    acceptance: npt.ArrayLike, max_size: int, c: float, verify_ratio: npt.ArrayLike, depth: int | None = None
) -> tuple[TokenTree, float, float]:
    """Sequoia's hardware-aware choice (Chen et al. 2024, Sec. 3.3): maximise G(n, d) / (t(n) + d c)
    over the tree size n <= max_size and height d <= depth, where G(n, d) is the best F with n nodes and
    height <= d, t(n) = verify time of n tokens / time of one target step (verify_ratio[n-1]), and each of
    the d levels costs one draft step (c target steps). Needs a positional vector. Returns the tree, its F
    and its speedup over plain decoding.
    """
    if np.asarray(acceptance).ndim != 1:
        raise ValueError("the hardware-aware search needs a positional acceptance vector")
    t = np.asarray(verify_ratio, dtype=float)
    if t.shape != (max_size,):
        raise ValueError(f"verify_ratio needs one entry per size 1..{max_size}")
    table = optimal_tree_table(acceptance, max_size, depth)
    heights = np.arange(table.best.shape[0])[:, None]
    with np.errstate(invalid="ignore"):
        score = table.best[:, 1:] / (t[None, :] + heights * c)
    score = np.where(np.isfinite(score), score, NEG)
    h, n = np.unravel_index(int(np.argmax(score)), score.shape)
    tree = table.tree(int(n) + 1, int(h))
    return tree, float(table.best[h, n + 1]), float(score[h, n])


def medusa_greedy_tree(accuracies: npt.ArrayLike, size: int) -> tuple[TokenTree, float]:
    """Medusa's tree construction (Cai et al. 2024, Sec. 2.3.1, "optimized tree construction"): start
    from the root and repeatedly add the node, among the children of nodes already in the tree, with the
    largest accuracy product prod_j a_j^(i_j) (accuracies[k, i] = head k+1's (i+1)-th prediction).

    Because a node's product never exceeds its parent's, the greedy tree holds `size` nodes of largest
    products that form a connected tree, and so it maximises the expected acceptance length among trees
    of that size (ties aside). Returns the tree and its expected tokens per step (1 + acceptance length).
    O(size * R log(size * R)) with R predictions per head.
    """
    if np.asarray(accuracies).ndim != 2:
        raise ValueError("Medusa accuracies need a matrix: one row per head, one column per rank")
    acc = acceptance_matrix(accuracies, 1)
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    heads, ranks_per_head = acc.shape
    parents, ranks, values, depths = [-1], [0], [1.0], [0]
    frontier: list[tuple[float, int, int, int]] = []  # (-value, tie-break, parent, rank)
    counter = 0

    def push_children(node: int) -> None:
        nonlocal counter
        if depths[node] >= heads:
            return
        for i in range(ranks_per_head):
            value = values[node] * acc[depths[node], i]
            heapq.heappush(frontier, (-value, counter, node, i + 1))
            counter += 1

    push_children(0)
    while len(parents) < size and frontier:
        neg, _, parent, rank = heapq.heappop(frontier)
        parents.append(parent)
        ranks.append(rank)
        values.append(-neg)
        depths.append(depths[parent] + 1)
        push_children(len(parents) - 1)
    tree = TokenTree(tuple(parents), tuple(ranks))
    return tree, float(sum(values))


def _topological(parents: list[int]) -> list[int]:
    """Breadth-first order from the root (children in insertion order)."""
    kids: dict[int, list[int]] = {}
    for v, p in enumerate(parents):
        kids.setdefault(p, []).append(v)
    order, queue = [], [0]
    while queue:
        v = queue.pop(0)
        order.append(v)
        queue.extend(kids.get(v, []))
    return order


def _renumber(parents: list[int], ranks: list[int], order: list[int]) -> TokenTree:
    new = {old: i for i, old in enumerate(order)}
    new_parents = [-1] + [new[parents[old]] for old in order[1:]]
    new_ranks = [ranks[old] for old in order]
    return TokenTree(tuple(new_parents), tuple(new_ranks))
