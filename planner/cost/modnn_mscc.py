"""MoDNN's partition of a sparse fully-connected layer over workers: MSCC next to the plain 1-D split.

Source: Mao, Chen, Nixon, Krieger, Chen, "MoDNN", DATE 2017 (abstract: two partition schemes that cut the
non-parallel data delivery time) and Mao's MS thesis, "Local Distributed Mobile Computing System for Deep
Neural Networks", U. Pittsburgh 2017 (abstract; d-scholarship.pitt.edu/31183): convolutions by BODP,
sparse fully-connected layers by a Modified Spectral Co-Clustering (MSCC). Only the abstracts are
reachable; the algorithm below is spectral co-clustering as Dhillon defines it plus a balancing step, our
reading of "modified", not the paper's exact procedure.

A layer y = W x with W of shape (outputs, inputs) is a bipartite graph: output neuron i (row) joins input
element j (column) when W[i, j] != 0. Device k computes the rows R_k it owns and holds the input elements
C_k (what the previous layer left on it); it must receive every input its rows read and it does not hold:

    work_k = nnz(W[R_k, :])                      (multiply-adds)
    received_k = |{j not in C_k : W[i, j] != 0 for some i in R_k}|   (input elements)

* 1-D split (MoDNN's baseline): R_k and C_k contiguous, sized in proportion to the device's share. Closed
  form for a dense W: work_k = |R_k|·inputs and sum_k received_k = (N - 1)·inputs, the whole input sent
  to each other worker (planner.cost.modnn's fc delivery).
* MSCC: Dhillon, "Co-clustering documents and words using bipartite spectral graph partitioning", KDD
  2001, Sec. 4-5: singular vectors of An = D1^-1/2 A D2^-1/2 (A the 0/1 pattern, D1, D2 its row and
  column degrees), Z = [D1^-1/2 U; D2^-1/2 V], k-means on the rows of Z gives k co-clusters (rows with
  the columns they mostly read), which minimises the normalised cut = the non-zeros off the diagonal
  blocks = the traffic. Dhillon takes l = ceil(log2 k) vectors after the first; we keep the k leading
  ones, a superset, so the k-fold degenerate spectrum of k disconnected blocks still separates. The
  singular vectors come from randomized subspace iteration (Halko, Martinsson, Tropp, SIAM Review 2011,
  Alg. 4.4; confidence: recalled), cheap on VGG-16's 25088 x 4096 fc6.
* Balance ("modified"): the co-clusters (one per device, and, tried too, two per device so that more
  natural blocks than devices pack whole; the one moving fewer inputs is kept) go to devices largest
  first, each to the device furthest below its share; then the rows nearest the under-loaded device's
  co-clusters move to it until every device's work is within `tolerance` of its share of the total
  (or one row of it).

Random sparsity model (an assumption, for a catalog CNN whose pruned weights are not given): every weight
is kept independently with probability `density` (unstructured magnitude pruning seen as uniform). Such
a pattern has no block structure, so MSCC cannot beat the 1-D split on it by much; a trained, pruned
matrix given as a file can.

Units: elements, bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from planner.cost.edge_model import EdgeModel

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
TOLERANCE = 0.02  # balance: each device's work within 2 % of its share (or one row)
SUBSPACE_ITERATIONS = 12
OVERSAMPLING = 8  # extra random vectors of the subspace iteration (Halko et al. Sec. 4.2 suggest 5-10)
KMEANS_RESTARTS = 4
# the finer co-clustering also tried: blocks more than the devices pack whole onto fewer devices
CLUSTERS_PER_DEVICE = 2
ROW_CHUNK = 256  # rows of the random pattern drawn at once (bounds the memory of the draw)
MAX_NONZEROS = 30_000_000  # ~0.5 GB of CSR: a random pattern beyond it is refused, not swapped


@dataclass(frozen=True)
class FCPartition:
    """One FC layer over devices: who owns each output row and input column, work and inputs moved."""

    method: str
    shares: tuple[float, ...]
    row_owner: IntArray
    col_owner: IntArray
    work: tuple[int, ...]  # non-zero weights per device
    needed: tuple[int, ...]  # distinct input elements each device's rows read
    received: tuple[int, ...]  # of those, the ones the device does not hold

    @property
    def imbalance(self) -> float:
        """Largest |work / (share · total work) - 1| over the devices."""
        total = sum(self.work)
        targets = np.array(self.shares) * total
        return float(np.max(np.abs(np.array(self.work) - targets) / np.maximum(targets, 1e-300)))

    def to_dict(self, element_bytes: float) -> dict[str, Any]:
        return {
            "method": self.method,
            "work_nonzeros": list(self.work),
            "inputs_needed": list(self.needed),
            "inputs_received": list(self.received),
            "received_bytes": sum(self.received) * element_bytes,
            "imbalance": self.imbalance,
        }


@dataclass(frozen=True)
class FCLayer:
    """A fully-connected layer of an EdgeModel: its weight matrix is outputs x inputs."""

    name: str
    outputs: int
    inputs: int
    element_bytes: float  # bytes of one input element on the wire


def fc_layers(model: EdgeModel) -> tuple[FCLayer, ...]:
    """The model's fully-connected (Linear) layers, in order (CNN architectures: shapes known)."""
    if model.shapes_in is None or model.shapes_out is None:
        return ()
    return tuple(
        FCLayer(
            model.names[i],
            int(np.prod(model.shapes_out[i])),
            int(np.prod(model.shapes_in[i])),
            float(model.input_bytes[i]) / int(np.prod(model.shapes_in[i])),
        )
        for i, op in enumerate(model.ops)
        if op.startswith("Linear")
    )


def as_pattern(weights: npt.ArrayLike | sp.spmatrix | sp.sparray) -> sp.csr_matrix:
    """The 0/1 non-zero pattern of a weight matrix (outputs x inputs), as CSR."""
    matrix = sp.csr_matrix(weights)
    matrix.eliminate_zeros()
    return sp.csr_matrix((np.ones(matrix.nnz), matrix.indices, matrix.indptr), shape=matrix.shape)


def random_pattern(outputs: int, inputs: int, density: float, seed: int = 0) -> sp.csr_matrix:
    """Each of outputs x inputs weights kept with probability `density` (the random sparsity model)."""
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must be in (0, 1], got {density}")
    if density * outputs * inputs > MAX_NONZEROS:
        raise ValueError(
            f"density {density:g} gives {density * outputs * inputs:.3g} non-zeros in a {outputs}x{inputs} "
            f"layer; at most {MAX_NONZEROS:.0e} are drawn here"
        )
    rng = np.random.default_rng(seed)
    blocks = [
        sp.csr_matrix(rng.random((min(ROW_CHUNK, outputs - start), inputs)) < density, dtype=np.float64)
        for start in range(0, outputs, ROW_CHUNK)
    ]
    return sp.csr_matrix(sp.vstack(blocks, format="csr"))


def proportional_counts(total: int, shares: FloatArray) -> IntArray:
    """`total` items split in proportion to `shares` (largest remainder), summing exactly to `total`."""
    exact = shares / shares.sum() * total
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(counts - exact)[: total - int(counts.sum())]] += 1
    return counts


def evaluate(
    pattern: sp.csr_matrix, row_owner: IntArray, col_owner: IntArray, shares: FloatArray, method: str
) -> FCPartition:
    """Work and inputs received per device for a given ownership of rows and columns."""
    n = len(shares)
    work, needed, received = [], [], []
    for k in range(n):
        rows = pattern[row_owner == k]
        reads = np.asarray(rows.getnnz(axis=0)) > 0
        work.append(int(rows.nnz))
        needed.append(int(reads.sum()))
        received.append(int((reads & (col_owner != k)).sum()))
    return FCPartition(
        method, tuple(float(s) for s in shares), row_owner, col_owner, tuple(work), tuple(needed),
        tuple(received),
    )  # fmt: skip


def one_d(pattern: sp.csr_matrix, shares: FloatArray) -> FCPartition:
    """MoDNN's plain split: contiguous bands of output rows and of input columns, sized by share."""
    outputs, inputs = pattern.shape
    rows = np.repeat(np.arange(len(shares)), proportional_counts(outputs, shares))
    cols = np.repeat(np.arange(len(shares)), proportional_counts(inputs, shares))
    return evaluate(pattern, rows, cols, shares, "1d")


def _top_singular_vectors(matrix: sp.csr_matrix, k: int, seed: int) -> tuple[FloatArray, FloatArray]:
    """The k leading left and right singular vectors (randomized subspace iteration, Halko Alg. 4.4)."""
    outputs, inputs = matrix.shape
    width = min(k + OVERSAMPLING, outputs, inputs)
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(matrix @ rng.standard_normal((inputs, width)))[0]
    for _ in range(SUBSPACE_ITERATIONS):
        right = np.linalg.qr(matrix.T @ basis)[0]
        basis = np.linalg.qr(matrix @ right)[0]
    small = np.asarray((matrix.T @ basis).T)  # basis^T · matrix, width x inputs
    u, _, vt = np.linalg.svd(small, full_matrices=False)
    return (basis @ u)[:, :k], vt[:k].T


def _kmeans(points: FloatArray, k: int, seed: int) -> tuple[IntArray, FloatArray]:
    """Lloyd's k-means with k-means++ seeding (Arthur, Vassilvitskii, SODA 2007), best of a few starts."""
    rng = np.random.default_rng(seed)
    best: tuple[float, IntArray, FloatArray] | None = None
    for _ in range(KMEANS_RESTARTS):
        centres = points[[rng.integers(len(points))]]
        while len(centres) < k:
            gap = ((points[:, None, :] - centres[None]) ** 2).sum(axis=2).min(axis=1)
            pick = rng.choice(len(points), p=gap / gap.sum()) if gap.sum() > 0 else rng.integers(len(points))
            centres = np.vstack([centres, points[pick]])
        labels = np.zeros(len(points), dtype=np.int64)
        for step in range(100):
            distance = ((points[:, None, :] - centres[None]) ** 2).sum(axis=2)
            new = distance.argmin(axis=1)
            if step and np.array_equal(new, labels):
                break
            labels = new
            for c in range(k):
                if (labels == c).any():
                    centres[c] = points[labels == c].mean(axis=0)
        inertia = float(distance[np.arange(len(points)), labels].sum())
        if best is None or inertia < best[0]:
            best = (inertia, labels, centres.copy())
    assert best is not None
    return best[1], best[2]


def _coclusters(pattern: sp.csr_matrix, k: int, seed: int) -> tuple[IntArray, IntArray, FloatArray]:
    """Dhillon's co-clustering: a cluster per row and per column, and each row's distance to each centre.
    Rows or columns without a non-zero join cluster 0 (no work, never read)."""
    row_degree = np.asarray(pattern.sum(axis=1)).ravel()
    col_degree = np.asarray(pattern.sum(axis=0)).ravel()
    inv_row = np.divide(1.0, np.sqrt(row_degree), out=np.zeros_like(row_degree), where=row_degree > 0)
    inv_col = np.divide(1.0, np.sqrt(col_degree), out=np.zeros_like(col_degree), where=col_degree > 0)
    normalised = sp.csr_matrix(sp.diags(inv_row) @ pattern @ sp.diags(inv_col))
    u, v = _top_singular_vectors(normalised, k, seed)
    z = np.vstack([inv_row[:, None] * u, inv_col[:, None] * v])  # Dhillon's Z
    live = np.concatenate([row_degree > 0, col_degree > 0])
    live_labels, centres = _kmeans(z[live], k, seed)
    labels = np.zeros(len(z), dtype=np.int64)
    labels[live] = live_labels
    rows = pattern.shape[0]
    row_distance = ((z[:rows, None, :] - centres[None]) ** 2).sum(axis=2)
    return labels[:rows], labels[rows:], row_distance


def _balance(
    row_owner: IntArray, row_work: FloatArray, distance: FloatArray, shares: FloatArray, tolerance: float
) -> IntArray:
    """Move rows from over- to under-loaded devices, nearest the receiver's centre first, until every
    device's work is within `tolerance` of its share (or no single row can improve it)."""
    owner = row_owner.copy()
    targets = shares * row_work.sum()
    for _ in range(4 * len(shares) ** 2 + 16):
        excess = np.bincount(owner, weights=row_work, minlength=len(shares)) - targets
        if np.all(np.abs(excess) <= tolerance * targets):
            break
        giver, taker = int(np.argmax(excess)), int(np.argmin(excess))
        amount = min(excess[giver], -excess[taker])
        candidates = np.flatnonzero((owner == giver) & (row_work > 0))
        candidates = candidates[np.argsort(distance[candidates, taker] - distance[candidates, giver])]
        moved = int(np.searchsorted(np.cumsum(row_work[candidates]), amount, side="right"))
        if moved == 0:
            if not len(candidates) or row_work[candidates[0]] >= 2 * amount:
                break  # one row would overshoot more than it fixes
            moved = 1
        owner[candidates[:moved]] = taker
    return owner


def _pack(cluster_work: FloatArray, shares: FloatArray) -> IntArray:
    """Co-clusters to devices, largest first, each to the device furthest below its share of the work
    (longest-processing-time-first list scheduling, Graham 1969, weighted by the shares)."""
    targets = shares * cluster_work.sum()
    load = np.zeros(len(shares))
    device_of = np.zeros(len(cluster_work), dtype=np.int64)
    for c in np.argsort(-cluster_work, kind="stable"):
        device_of[c] = int(np.argmax(targets - load))
        load[device_of[c]] += cluster_work[c]
    return device_of


def _packed(
    pattern: sp.csr_matrix, shares: FloatArray, clusters: int, tolerance: float, seed: int
) -> FCPartition:
    """`clusters` co-clusters packed onto the devices, then balanced row by row."""
    n = len(shares)
    rows, cols, distance = _coclusters(pattern, clusters, seed)
    row_work = np.asarray(pattern.getnnz(axis=1), dtype=np.float64)
    device_of = _pack(np.bincount(rows, weights=row_work, minlength=clusters).astype(np.float64), shares)
    rows, cols = device_of[rows], device_of[cols]
    far = distance.max() + 1.0  # a device given no co-cluster is far from every row
    distance = np.stack(
        [distance[:, device_of == d].min(axis=1) if (device_of == d).any() else np.full(len(rows), far)
         for d in range(n)], axis=1,
    )  # fmt: skip
    return evaluate(pattern, _balance(rows, row_work, distance, shares, tolerance), cols, shares, "mscc")


def mscc(
    pattern: sp.csr_matrix, shares: FloatArray, tolerance: float = TOLERANCE, seed: int = 0
) -> FCPartition:
    """MoDNN's MSCC (our reading): Dhillon's spectral co-clustering, one co-cluster per device or
    CLUSTERS_PER_DEVICE packed (whichever moves fewer inputs), balanced to the devices' shares."""
    n = len(shares)
    if n == 1 or pattern.nnz == 0:  # nothing to co-cluster
        zeros = np.zeros(pattern.shape[0], dtype=np.int64)
        return evaluate(pattern, zeros, np.zeros(pattern.shape[1], dtype=np.int64), shares, "mscc")
    counts = sorted({min(c, *pattern.shape) for c in (n, CLUSTERS_PER_DEVICE * n)})
    candidates = [_packed(pattern, shares, c, tolerance, seed) for c in counts]
    return min(candidates, key=lambda p: sum(p.received))  # the first of equals: one per device
