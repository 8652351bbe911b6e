"""Round cost of synchronous federated learning (FedAvg, FedProx) on a heterogeneous fleet.

One round (McMahan et al., "Communication-Efficient Learning of Deep Networks from Decentralized Data",
AISTATS 2017, Algorithm 1): the server sends the global model to m selected clients; client k runs E
local epochs of minibatch SGD over its n_k samples with batch B, u_k = E·n_k/B steps (Sec. 3); it uploads
its model; the server averages the updates weighted by n_k. A synchronous round therefore ends with its
slowest selected client:

    t_k = download_k + u_k · step_k + upload_k,     round = max over the selected k of t_k (+ aggregation)

* download / upload, step_k and FedProx's extra work per step: planner.cost.federated_clients.

Random selection of m = max(C·K, 1) of K clients without replacement: the expected round time is an
order statistic of the K client times, in closed form (planner.cost.order_statistics). Availability (dropout),
over-selection (select s > m, keep the first m reports: Bonawitz et al., "Towards Federated Learning at
Scale", SysML 2019, select 130% of the target) and deadlines (stragglers dropped) keep a closed form
when availability is the same for every client; otherwise Monte Carlo (monte_carlo_round), which the
tests check against it.

The number of rounds is the user's input: accuracy after R rounds has no closed form (FedAvg's 10–100×
fewer rounds than FedSGD is a published range, McMahan et al. 2017, not a model).
Units: seconds, bytes, FLOP, bytes/s, FLOP/s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from planner.cost.compute import roofline_time
from planner.cost.federated_clients import FloatArray, Workload
from planner.cost.order_statistics import order_statistic_pmf
from planner.spec.hardware import Device
from planner.spec.profile import DTYPE_BYTES

AGGREGATION_FLOPS_PER_PARAMETER = 2.0  # w += (n_k / n) · w_k: one multiply and one add per update


def clients_per_round(fraction: float, total: int) -> int:
    """m = max(⌊C·K⌋, 1) (McMahan et al. 2017, Algorithm 1)."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"the client fraction C must be in [0, 1], got {fraction}")
    return max(math.floor(fraction * total + 1e-9), 1)


@dataclass(frozen=True)
class RoundExpectation:
    """Expected end of a round (seconds after it starts, aggregation excluded) and updates received.

    `reports`: clients heard from by the round's end, with or without an update (CMFL's skipped uploads
    are reports without one). `time_stderr_s` / `updates_stderr`: Monte Carlo standard errors (0 for the
    closed form).
    """

    time_s: float
    updates: float
    method: str
    time_stderr_s: float = 0.0
    updates_stderr: float = 0.0
    reports: float | None = None

    def __post_init__(self) -> None:
        if self.reports is None:
            object.__setattr__(self, "reports", self.updates)


def _check_round(
    count: int, selected: int, target: int | None, deadline: float | None, arrival: FloatArray | None
) -> int:
    if not 1 <= selected <= count:
        raise ValueError(f"clients selected must be in 1..{count}, got {selected}")
    target = selected if target is None else target
    if not 1 <= target <= selected:
        raise ValueError(f"the clients to wait for must be in 1..{selected} (those selected), got {target}")
    if deadline is not None and not deadline > 0:
        raise ValueError(f"the deadline must be > 0, got {deadline}")
    if arrival is not None:
        if deadline is None:
            raise ValueError("partial work (FedProx) needs a deadline: without one every client finishes")
        if target != selected:
            raise ValueError("partial work keeps every selected client: do not over-select with it")
    return target


def expected_round(
    times: npt.ArrayLike,
    selected: int,
    target: int | None = None,
    availability: float = 1.0,
    deadline: float | None = None,
    arrival: npt.ArrayLike | None = None,
) -> RoundExpectation:
    """Closed-form expected round for `selected` clients drawn uniformly without replacement.

    Each selected client reports with probability `availability` (the same for all; a dropped client is
    known at once and not waited for). The server waits for the first `target` reports (over-selection
    when target < selected) or, with fewer responders R, for all of them, and never past `deadline`:
    round = min(D, τ) with τ the min(target, R)-th smallest responder time (no responder: D, or 0 without
    a deadline). Updates received: min(target, responders finishing by D). With `arrival` (FedProx partial
    work: the time a client's first-step update would arrive), every responder whose arrival ≤ D sends an
    update, and the round still ends at min(D, slowest full time).

    R ~ Binomial(s, p); given R = r, the responders are a uniform r-subset, so τ follows
    order_statistic_pmf and the count finishing by D is hypergeometric.
    """
    from scipy.stats import binom, hypergeom

    t = np.sort(np.asarray(times, dtype=float))
    count = len(t)
    arrive = None if arrival is None else np.asarray(arrival, dtype=float)
    target = _check_round(count, selected, target, deadline, arrive)
    if not 0 < availability <= 1:
        raise ValueError(f"availability must be in (0, 1], got {availability}")
    capped = t if deadline is None else np.minimum(t, deadline)
    on_time = count if deadline is None else int(np.sum(t <= deadline))
    if arrive is not None:
        on_time = int(np.sum(arrive <= deadline))
    time_s = updates = 0.0
    weights = binom.pmf(np.arange(selected + 1), selected, availability)
    for responders in range(selected + 1):
        weight = float(weights[responders])
        if weight < 1e-15:
            continue
        if responders == 0:
            time_s += weight * (deadline or 0.0)
            continue
        rank = min(target, responders)
        time_s += weight * float(order_statistic_pmf(count, responders, rank) @ capped)
        if arrive is not None:
            updates += weight * responders * on_time / count
        else:
            h = np.arange(0, responders + 1)
            finishing = hypergeom.pmf(h, count, on_time, responders)
            updates += weight * float(finishing @ np.minimum(h, rank))
    return RoundExpectation(time_s, updates, "closed-form")


def monte_carlo_round(
    times: npt.ArrayLike,
    selected: int,
    target: int | None = None,
    availability: npt.ArrayLike = 1.0,
    deadline: float | None = None,
    arrival: npt.ArrayLike | None = None,
    relevant: float = 1.0,
    upload_s: npt.ArrayLike | None = None,
    trials: int = 4000,
    seed: int = 0,
) -> RoundExpectation:
    """Monte Carlo of the round expected_round describes, for what has no closed form here: availability
    per client, and CMFL filtering (Wang, Wang, Li, "CMFL: Mitigating Communication Overhead for
    Federated Learning", ICDCS 2019): a client's update is relevant with probability `relevant`; an
    irrelevant one is not uploaded (its report ends `upload_s` earlier and brings no update).

    Selection: a uniformly random s-subset per trial (the s smallest of K uniform keys). Deterministic for
    a seed. Returns the means with their standard errors.
    """
    t_all = np.asarray(times, dtype=float)
    count = len(t_all)
    arrive = None if arrival is None else np.asarray(arrival, dtype=float)
    target = _check_round(count, selected, target, deadline, arrive)
    avail = np.broadcast_to(np.asarray(availability, dtype=float), (count,))
    if np.any(avail <= 0) or np.any(avail > 1):
        raise ValueError("availability must be in (0, 1] for every client")
    if not 0 <= relevant <= 1:
        raise ValueError(f"the fraction of relevant updates must be in [0, 1], got {relevant}")
    if relevant < 1 and upload_s is None:
        raise ValueError("CMFL filtering needs the clients' upload times")
    up = np.zeros(count) if upload_s is None else np.broadcast_to(np.asarray(upload_s, float), (count,))
    if trials < 2:
        raise ValueError(f"trials must be >= 2, got {trials}")
    rng = np.random.default_rng(seed)
    ends, received, reported = [], [], []
    chunk = max(1, min(trials, 4_000_000 // max(count, 1)))
    done = 0
    while done < trials:
        n = min(chunk, trials - done)
        done += n
        keys = rng.random((n, count))
        chosen = (
            np.argpartition(keys, selected - 1, axis=1)[:, :selected]
            if selected < count
            else (np.broadcast_to(np.arange(count), (n, count)))
        )
        responds = rng.random((n, selected)) < avail[chosen]
        useful = rng.random((n, selected)) < relevant
        report = np.where(useful, t_all[chosen], t_all[chosen] - up[chosen])
        report = np.where(responds, report, np.inf)
        order = np.argsort(report, axis=1)
        ranked = np.take_along_axis(report, order, axis=1)
        ranked_useful = np.take_along_axis(useful, order, axis=1)
        responders = responds.sum(axis=1)
        rank = np.minimum(target, responders)
        tau = np.take_along_axis(ranked, np.maximum(rank - 1, 0)[:, None], axis=1)[:, 0]
        end = np.where(rank > 0, tau, deadline or 0.0)
        if deadline is not None:
            end = np.minimum(end, deadline)
        if arrive is not None:
            heard = responds & (arrive[chosen] <= deadline)
            got, told = (heard & useful).sum(axis=1), heard.sum(axis=1)
        else:
            position = np.arange(selected)[None, :]
            heard = (position < rank[:, None]) & (ranked <= end[:, None])
            got, told = (heard & ranked_useful).sum(axis=1), heard.sum(axis=1)
        ends.append(end)
        received.append(got)
        reported.append(told)
    end_all = np.concatenate(ends)
    got_all = np.concatenate(received).astype(float)
    scale = 1.0 / math.sqrt(trials)
    return RoundExpectation(
        float(end_all.mean()),
        float(got_all.mean()),
        "monte-carlo",
        float(end_all.std(ddof=1) * scale),
        float(got_all.std(ddof=1) * scale),
        float(np.concatenate(reported).mean()),
    )


# ---------------------------------------------------------------------------------------------------------
# Server, bytes, totals.


def aggregation_time(updates: float, parameters: int, dtype: str, device: Device) -> float:
    """Seconds the server takes to average `updates` models (McMahan et al. 2017, Algorithm 1:
    w ← Σ_k (n_k/n) w_k): the roofline of 2P FLOP and P values read per update, plus the result written."""
    if updates <= 0:
        return 0.0
    size = DTYPE_BYTES[dtype]
    flops = AGGREGATION_FLOPS_PER_PARAMETER * parameters * updates
    moved = (updates + 1.0) * parameters * size
    return float(roofline_time(flops, moved, device, dtype))


@dataclass(frozen=True)
class RoundBytes:
    """Bytes moved in one round: the model to every selected client, and the updates received."""

    download: float
    upload: float

    @property
    def total(self) -> float:
        return self.download + self.upload


def round_bytes(selected: int, updates: float, work: Workload) -> RoundBytes:
    """Every selected client downloads the model (s × model bytes); each received update is uploaded
    (updates × update bytes). Over-selected clients stopped after the target is met upload nothing."""
    return RoundBytes(selected * work.download_bytes, updates * work.upload_bytes)


def cmfl_relevance(update: npt.ArrayLike, global_update: npt.ArrayLike) -> float:
    """CMFL relevance e(u, ū) = (1/N) Σ_j 1[sgn(u_j) = sgn(ū_j)] (Wang, Wang, Li, ICDCS 2019): the fraction
    of parameters whose local update has the sign of the (previous) global update."""
    u, g = np.asarray(update, dtype=float), np.asarray(global_update, dtype=float)
    if u.shape != g.shape or u.size == 0:
        raise ValueError("the local and global updates must be non-empty and of the same shape")
    return float(np.mean(np.sign(u) == np.sign(g)))


def cmfl_upload_savings(reports: float, update_bytes: float, relevant: float) -> float:
    """Expected upload bytes CMFL saves per round: of the clients that report, the irrelevant fraction
    (1 − f) does not upload its update (Wang et al. 2019; f = the fraction of updates whose relevance
    clears the threshold, the user's input)."""
    if not 0 <= relevant <= 1:
        raise ValueError(f"the fraction of relevant updates must be in [0, 1], got {relevant}")
    return (1.0 - relevant) * reports * update_bytes


@dataclass(frozen=True)
class TrainingTotals:
    """Time and bytes of R rounds (R is the user's input)."""

    rounds: int
    time_s: float
    bytes: float


def training_totals(rounds: int, round_s: float, bytes_per_round: float) -> TrainingTotals:
    """R rounds of equal expected cost: R × round time, R × bytes (linearity of expectation)."""
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    return TrainingTotals(rounds, rounds * round_s, rounds * bytes_per_round)
