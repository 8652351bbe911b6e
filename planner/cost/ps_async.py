"""Parameter servers without a barrier, with backup workers, and after a failure. Units: seconds, bytes,
bytes/s; rates in gradients (updates) per second.

One-port model of Li et al., "Scaling distributed machine learning with the parameter server", OSDI 2014
(the model of planner.cost.collective_ps): S servers each hold G / S of the parameters; a worker pushes
its gradient (G bytes, G / S to each server) and pulls the new weights (G bytes) through its own link of
bandwidth B; a server's port carries one message at a time each way.

* Synchronous (a barrier per iteration): every worker computes (t_i), the servers take the N pushes
  one at a time, then serve the N pulls: T = t_(N) + 2 max(1, N / S) G / B, t_(N) the slowest worker.
* Backup workers (Chen, Pan, Monga, Bengio & Jozefowicz, "Revisiting distributed synchronous SGD",
  arXiv:1604.00981, 2016, Sec. 3): N workers, the servers update after the first N - b gradients and
  drop the b slowest: T = t_(N-b) + 2 max(1, (N - b) / S) G / B, (N - b) gradients per iteration.
* Asynchronous (Dean et al., "Large scale distributed deep networks", NeurIPS 2012, Downpour SGD; Li et
  al. 2014 Sec. 3.2, no barrier): worker i cycles compute, push, pull at rate r_i = 1 / (t_i + 2G/B); the
  servers apply gradients at R = min(sum r_i, S B / G) (each port receives G / S per update; when the
  ports bind, every worker slows in proportion). Worker
  i's gradient is stale by the updates of the others during its cycle: (R - r_i) / r_i; weighted by
  rate the mean is N - 1 for any speeds (sum_i r_i (R - r_i) / r_i / R = N - 1 when R = sum r_i).
* A worker lost: asynchronous and backed-up training go on with the others (the rates and order
  statistics above over N - 1 workers); a synchronous barrier without backups waits for ever (until the
  worker is replaced: not modelled).
* A server lost (Li et al. 2014 Sec. 4.3, replication: each key range is copied to `backups` other
  servers, chain replication): with a replica, a replica server takes the key range over at once and
  one copy of the shard, G / S bytes, is sent to a new server to restore the replication factor:
  G / (S B) seconds on one link. Without a replica the shard's parameters are lost (restart from a
  checkpoint: not modelled). Failure detection (heartbeat timeouts) is not modelled.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _times(worker_s: Sequence[float]) -> np.ndarray:
    t = np.asarray(worker_s, dtype=np.float64)
    if t.ndim != 1 or t.size == 0 or np.any(~np.isfinite(t)) or np.any(t <= 0):
        raise ValueError("worker times must be one finite time > 0 per worker")
    return t


def push_pull_s(gradient_bytes: float, bandwidth: float, pushes: int, servers: int) -> float:
    """Push then pull of `pushes` gradients through S server ports, one message at a time each, and each
    worker's own link: 2 max(1, pushes / S) G / B (seconds)."""
    if not bandwidth > 0 or gradient_bytes < 0 or servers < 1 or pushes < 1:
        raise ValueError("need bandwidth > 0, gradient bytes >= 0, servers >= 1 and pushes >= 1")
    return 2.0 * max(1.0, pushes / servers) * gradient_bytes / bandwidth


def synchronous_iteration_s(
    worker_s: Sequence[float], gradient_bytes: float, bandwidth: float, servers: int, backups: int = 0
) -> float:
    """Seconds per synchronous iteration waiting for the first N - b of N workers (b = 0: all of them)."""
    t = np.sort(_times(worker_s))
    waited = t.size - backups
    if not 0 <= backups < t.size:
        raise ValueError(f"backup workers must be in [0, {t.size - 1}], got {backups}")
    return float(t[waited - 1]) + push_pull_s(gradient_bytes, bandwidth, waited, servers)


def asynchronous_rates(
    worker_s: Sequence[float], gradient_bytes: float, bandwidth: float, servers: int
) -> tuple[np.ndarray, float]:
    """Each worker's gradients per second without a barrier and their total, capped by the servers' ports
    (S B / G updates per second; when it binds, every worker slows in proportion)."""
    t = _times(worker_s)
    rates = 1.0 / (t + push_pull_s(gradient_bytes, bandwidth, 1, 1))
    cap = servers * bandwidth / gradient_bytes if gradient_bytes > 0 else np.inf
    rates = rates * min(1.0, cap / rates.sum())
    return rates, float(rates.sum())


def staleness_updates(rates: np.ndarray, total_rate: float) -> np.ndarray:
    """Expected updates by the other workers between a worker's pull and its push: (R - r_i) / r_i."""
    return (total_rate - rates) / rates


def resync_s(gradient_bytes: float, bandwidth: float, servers: int) -> float:
    """Seconds to copy one shard (G / S bytes) to a new replica over one link after a server is lost."""
    return gradient_bytes / servers / bandwidth
