"""Non-IID label partitions across federated clients and the cost of Zhao et al.'s shared-data fix.

Zhao, Li, Lai, Suda, Civin, Chandra, "Federated Learning with Non-IID Data", arXiv:1806.00582, 2018:

* Sec. 3: the weight divergence of FedAvg from centralised SGD is bounded by a term proportional to
  Σ_i ‖p^(k)(y = i) − p(y = i)‖, the earth mover's distance (EMD) between a client's label distribution
  and the population's; they tie it to the accuracy loss on skewed data. Here EMD_k = Σ_i |p_k(i) − p(i)|
  with p the distribution of all clients' samples pooled (0 for IID data; 2(1 − 1/C) for a one-class
  client of a balanced C-class population).
* Sec. 2: k-class non-IID: each client holds samples of k classes only (1-class and 2-class in the
  paper, 10 clients).
* Sec. 4: the fix: a globally shared set G of β × the clients' total data (β = 5% in their CIFAR-10
  study), of which a random α portion is sent to every client, which then trains on it with its own data.
  Its cost is what this module counts: α·β·N samples sent to every client once, and that many more
  samples in every local epoch afterwards. Accuracy itself is not modelled.

Units: samples (counts), bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _counts(counts: npt.ArrayLike) -> FloatArray:
    table = np.asarray(counts, dtype=float)
    if table.ndim != 2 or table.shape[0] < 1 or table.shape[1] < 1:
        raise ValueError("the label partition must be a clients × classes table")
    if np.any(table < 0) or not np.all(np.isfinite(table)):
        raise ValueError("label counts must be finite and >= 0")
    if np.any(table.sum(axis=1) <= 0):
        raise ValueError("every client must hold at least one sample")
    return table


def label_distributions(counts: npt.ArrayLike) -> FloatArray:
    """Each client's label distribution p_k(i): its row of counts over its total."""
    table = _counts(counts)
    return table / table.sum(axis=1, keepdims=True)


def population_distribution(counts: npt.ArrayLike) -> FloatArray:
    """p(i): the label distribution of all clients' samples pooled."""
    table = _counts(counts)
    return table.sum(axis=0) / table.sum()


def earth_movers_distance(counts: npt.ArrayLike) -> FloatArray:
    """EMD_k = Σ_i |p_k(i) − p(i)| for every client (Zhao et al. 2018, Sec. 3), in [0, 2]."""
    return np.abs(label_distributions(counts) - population_distribution(counts)[None, :]).sum(axis=1)


def k_class_partition(
    samples: npt.ArrayLike, classes: int, per_client: int, seed: int | None = None
) -> IntArray:
    """A k-class non-IID partition (Zhao et al. 2018, Sec. 2): client k holds `samples[k]` samples split
    as evenly as possible over `per_client` distinct classes. Classes go round-robin (client j gets
    classes j·k, j·k + 1, ... mod C, so the population stays balanced when K·k is a multiple of C), or,
    with a seed, a random k-subset per client. `per_client` = C gives an IID partition."""
    n = np.asarray(samples, dtype=np.int64)
    if n.ndim != 1 or len(n) < 1 or np.any(n < 1):
        raise ValueError("samples must be a non-empty list of counts >= 1")
    if classes < 1:
        raise ValueError(f"classes must be >= 1, got {classes}")
    if not 1 <= per_client <= classes:
        raise ValueError(f"classes per client must be in 1..{classes}, got {per_client}")
    rng = None if seed is None else np.random.default_rng(seed)
    table = np.zeros((len(n), classes), dtype=np.int64)
    for client, total in enumerate(n):
        if rng is None:
            chosen = (client * per_client + np.arange(per_client)) % classes
        else:
            chosen = rng.choice(classes, size=per_client, replace=False)
        share, extra = divmod(int(total), per_client)
        table[client, chosen] = share
        table[client, chosen[:extra]] += 1
    return table


@dataclass(frozen=True)
class SharedSubset:
    """Zhao et al.'s globally shared data: what each client receives once and trains on every epoch."""

    shared_samples: float  # |G| = β·N
    samples_per_client: float  # α·β·N
    bytes_per_client: float
    total_bytes: float  # sent to all K clients

    def to_dict(self) -> dict[str, float]:
        return {
            "shared_samples": self.shared_samples,
            "samples_per_client": self.samples_per_client,
            "bytes_per_client": self.bytes_per_client,
            "total_bytes": self.total_bytes,
        }


def shared_subset(
    total_samples: float, clients: int, fraction: float, sample_bytes: float, portion: float = 1.0
) -> SharedSubset:
    """The cost of a globally shared set of `fraction` (β) × the clients' `total_samples` (N), of which a
    `portion` (α) goes to each of `clients` (K) clients (Zhao et al. 2018, Sec. 4)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"the shared fraction β must be in (0, 1], got {fraction}")
    if not 0 < portion <= 1:
        raise ValueError(f"the portion α sent to each client must be in (0, 1], got {portion}")
    if total_samples <= 0 or clients < 1 or sample_bytes <= 0:
        raise ValueError("total samples, clients and bytes per sample must be positive")
    shared = fraction * total_samples
    per_client = portion * shared
    per_client_bytes = per_client * sample_bytes
    return SharedSubset(shared, per_client, per_client_bytes, clients * per_client_bytes)
