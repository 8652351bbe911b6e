"""Parameter-server training modes (`planner ps`): synchronous, with backup workers, asynchronous; and what a
lost worker or a lost server costs (planner.cost.ps_async states the model and its sources).

The workers' compute times per gradient are given one per worker (stragglers are the slow ones); each
gradient covers `batch` samples. The gradient is `gradient` bytes (fp32: 4 bytes per parameter)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planner.errors import SettingError


@dataclass(frozen=True)
class PSOptions:
    worker_times: tuple[float, ...]  # seconds of compute per gradient, one per worker
    gradient: float  # bytes pushed (and pulled) per gradient
    bandwidth: float  # bytes/s of each worker's and each server's link
    servers: int = 1  # parameter-server shards S, each holding gradient / S
    backup_workers: int = 1  # b: the synchronous servers update after the first N - b gradients
    replicas: int = 1  # copies of each shard on other servers (Li et al. 2014 Sec. 4.3)
    batch: int = 32  # samples per gradient
    lose_worker: int | None = None  # 0-based index of the worker lost (None: the slowest)

    def check(self) -> None:
        n = len(self.worker_times)
        if n < 2:
            raise SettingError("worker_times", "at least 2 workers (one time each)", n)
        if any(not t > 0 for t in self.worker_times):
            raise SettingError("worker_times", "times > 0", list(self.worker_times))
        if not self.gradient > 0:
            raise SettingError("gradient", "bytes > 0", self.gradient)
        if not self.bandwidth > 0:
            raise SettingError("bandwidth", "bytes/s > 0", self.bandwidth)
        for setting in ("servers", "batch"):
            if getattr(self, setting) < 1:
                raise SettingError(setting, "a whole number >= 1", getattr(self, setting))
        if not 0 <= self.backup_workers < n - 1:
            raise SettingError(
                "backup_workers", f"0 to {n - 2} (fewer than the workers but one)", self.backup_workers
            )
        if self.replicas < 0:
            raise SettingError("replicas", "a whole number >= 0", self.replicas)
        if self.lose_worker is not None and not 0 <= self.lose_worker < n:
            raise SettingError("lose_worker", f"a worker index 0 to {n - 1}", self.lose_worker)


def _synchronous(times: tuple[float, ...], o: PSOptions, mode: str, backups: int) -> dict[str, Any]:
    from planner.cost.ps_async import synchronous_iteration_s

    waited = len(times) - backups
    iteration = synchronous_iteration_s(times, o.gradient, o.bandwidth, o.servers, backups)
    return {
        "mode": mode,
        "gradients_per_update": waited,
        "iteration_s": iteration,
        "samples_per_s": waited * o.batch / iteration,
        "mean_staleness_updates": 0.0,
        "max_staleness_updates": 0.0,
    }


def _asynchronous(times: tuple[float, ...], o: PSOptions) -> dict[str, Any]:
    from planner.cost.ps_async import asynchronous_rates, staleness_updates

    rates, total = asynchronous_rates(times, o.gradient, o.bandwidth, o.servers)
    stale = staleness_updates(rates, total)
    return {
        "mode": "asynchronous",
        "gradients_per_update": 1,
        "iteration_s": 1.0 / total,
        "samples_per_s": total * o.batch,
        "mean_staleness_updates": float((rates * stale).sum() / total),
        "max_staleness_updates": float(stale.max()),
    }


@dataclass(frozen=True)
class PSResult:
    options: PSOptions
    modes: list[dict[str, Any]]
    lost_worker: int
    after_worker_lost: list[dict[str, Any]]
    resync_s: float | None

    def to_dict(self) -> dict[str, Any]:
        o = self.options
        before = {row["mode"]: row["samples_per_s"] for row in self.modes}
        after = [
            {**row, "fraction_of_before": row["samples_per_s"] / before[row["mode"]]}
            for row in self.after_worker_lost
        ]
        shard = o.gradient / o.servers
        return {
            "workers": len(o.worker_times),
            "worker_times_s": list(o.worker_times),
            "gradient_bytes": o.gradient,
            "bandwidth_bytes_per_s": o.bandwidth,
            "servers": o.servers,
            "backup_workers": o.backup_workers,
            "replicas": o.replicas,
            "batch": o.batch,
            "modes": self.modes,
            "worker_lost": {"index": self.lost_worker, "after": after},
            "server_lost": {
                "shard_bytes": shard,
                "takes_over": "a replica server, at once" if o.replicas else None,
                "resync_bytes": shard if o.replicas else None,
                "resync_s": self.resync_s,
                "note": (
                    "one copy of the lost shard to a new server restores the replication factor"
                    if o.replicas
                    else "no replica: the shard's parameters are lost (restart from a checkpoint)"
                ),
            },
            "sources": (
                "Li et al. OSDI 2014 (servers, replication Sec. 4.3); Chen et al. arXiv:1604.00981 "
                "(backup workers); Dean et al. NeurIPS 2012 (asynchronous Downpour SGD)"
            ),
            "not_modelled": "failure detection (heartbeat timeouts), replacing a worker, restarting a shard",
        }


def parameter_server_modes(options: PSOptions) -> PSResult:
    """Every mode on the given workers, then with one worker lost, and a lost server's take-over."""
    from planner.cost.ps_async import resync_s

    options.check()
    times, b = options.worker_times, options.backup_workers
    lost = options.lose_worker
    if lost is None:
        lost = max(range(len(times)), key=lambda i: times[i])
    rest = times[:lost] + times[lost + 1 :]
    modes = [_synchronous(times, options, "synchronous", 0)]
    after: list[dict[str, Any]] = [  # the barrier waits for the lost worker for ever
        {"mode": "synchronous", "gradients_per_update": 0, "iteration_s": None, "samples_per_s": 0.0}
    ]
    if b:  # the servers still wait for N - b gradients, now of N - 1 workers: one backup fewer
        modes.append(_synchronous(times, options, "backup workers", b))
        after.append(_synchronous(rest, options, "backup workers", b - 1))
    modes.append(_asynchronous(times, options))
    after.append(_asynchronous(rest, options))
    resync = resync_s(options.gradient, options.bandwidth, options.servers) if options.replicas else None
    return PSResult(options, modes, lost, after, resync)
