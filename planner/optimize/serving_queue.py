"""Requests arriving at a served replica: how many run at once, and how long a request waits for a slot.

Arrivals are Poisson at `rate` requests per second per replica. A request holds one of the replica's B slots
(its running batch, continuous batching) for its output: E[O] iterations of TPOT each (planner.optimize.
serving_costs.serving_point, whose TPOT grows with the sequences in flight).

* In flight (Little's law; Little, Operations Research 9(3), 1961): n = rate · E[O] · TPOT(n). The
  replica's output rate n / TPOT(n) grows with n, so the smallest whole n whose output rate meets the demand
  rate · E[O] tokens/s is the operating point (a bisection over n in [1, B]). None up to B: the demand
  exceeds the capacity B / (E[O] · TPOT(B)) requests/s and the queue grows without bound (InfeasibleError).
* Waiting for a slot: the B slots are the servers of an M/G/B queue with offered load a = rate · S,
  S = E[O] · TPOT(n) the time a request holds its slot. Erlang's C formula gives the probability that all
  B are busy (Kleinrock, Queueing Systems Vol. 1, 1975, Sec. 3.5, Eq. 3.42; computed through the Erlang B
  recursion, which stays finite for thousands of servers); the mean wait by the Allen-Cunneen approximation,
  W = C(B, a) · S / (B - a) · (1 + c_s^2) / 2 (Allen, Probability, Statistics, and Queueing Theory, 2nd ed.,
  1990, Sec. 6.5: the M/M/B wait scaled by (c_a^2 + c_s^2) / 2 with c_a^2 = 1 for Poisson arrivals), c_s^2
  the squared coefficient of variation of S, i.e. of the output length over the request mix.
* TTFT under load = W + the point's own TTFT at n (its prefill and half an iteration).

Units: requests/s, seconds, sequences.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.errors import InfeasibleError
from planner.optimize.serving_costs import ServingPoint, ServingSetup, serving_point


@dataclass(frozen=True)
class LoadPoint:
    """A replica at an arrival rate: its operating point and the wait for a slot."""

    rate: float  # requests/s arriving at this replica
    capacity: float  # requests/s the replica sustains with all B slots busy
    point: ServingPoint  # continuous batching at the sequences in flight
    offered_load: float  # a = rate · S, mean busy slots
    slots: int  # B
    wait_probability: float  # Erlang C: all B slots busy on arrival
    mean_wait_s: float  # W, waiting for a slot

    @property
    def utilisation(self) -> float:
        return self.offered_load / self.slots

    @property
    def ttft_s(self) -> float:
        return self.mean_wait_s + self.point.ttft_s


def erlang_c(servers: int, load: float) -> float:
    """P(an arrival waits) in M/M/c with c = `servers` and offered load `load` < c (Erlang C), via the
    Erlang B recursion B(k) = a B(k-1) / (k + a B(k-1)), C = B / (1 - (a / c)(1 - B))."""
    if not 0.0 <= load < servers:
        raise ValueError(f"the offered load must be in [0, {servers}), got {load}")
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking / (1.0 - load / servers * (1.0 - blocking))


def load_point(setup: ServingSetup, slots: int, rate: float) -> LoadPoint:
    """The replica with `slots` running sequences at most, `rate` requests/s arriving (module docstring)."""
    if not rate > 0.0:
        raise ValueError(f"the arrival rate must be > 0, got {rate}")
    output = setup.workload.output_mean
    full = serving_point(setup, slots)
    capacity = slots / (output * full.tpot_s)
    if rate >= capacity:
        raise InfeasibleError(
            f"{rate:.4g} requests/s per replica exceed what {slots} running sequences sustain, "
            f"{capacity:.4g} requests/s ({output:g} output tokens each at {full.tpot_s * 1e3:.3g} ms per "
            "token): add replicas or raise the batch"
        )
    low, high = 1, slots  # the smallest n whose output rate meets the demand (high always does)
    while low < high:
        middle = (low + high) // 2
        point = serving_point(setup, middle)
        if middle / point.tpot_s >= rate * output:
            high = middle
        else:
            low = middle + 1
    point = serving_point(setup, low)
    hold = output * point.tpot_s
    load = rate * hold
    wait_probability = erlang_c(slots, load)
    wait = wait_probability * hold / (slots - load) * (1.0 + setup.workload.output_variation) / 2.0
    return LoadPoint(rate, capacity, point, load, slots, wait_probability, wait)
