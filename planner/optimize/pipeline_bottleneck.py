"""Native partitioning of long chains on large clusters: search the bottleneck value, check feasibility.

Same model and same optimum as planner.optimize.pipeline_native with `use_fewer_machines` (a plan may
leave devices idle) and `cut_links="boundary"` (a cut's term on the link at the boundary device: the
search below needs it to depend on the cut and the device's residue alone), for a chain whose stage
figures grow with the range (a plain chain: every cut valid, prefix sums nondecreasing); no memory
limit. The exact dynamic program there costs O(N^2 · n^2) (n states, N devices): 2.6·10^11 candidate
evaluations for 1,000 layers on 128 × 8 GPUs. This search does not enumerate (stage, replicas) pairs
per device count; it asks, for a candidate bottleneck τ, whether some plan keeps every stage and
transfer term <= τ, and narrows τ.

Feasibility check for τ. Every cost depends on a block's offset o only through o mod M, M the devices
below the outermost level (one server; the block's shape on the levels below and the link at a cut are
periodic in M; the outermost level is spanned whenever servers are), and with idle devices allowed, a
prefix covered on fewer devices is never worse than the same prefix on more devices with the same
residue (the rest of the plan sees the same costs and has more devices left). So the check keeps, per
cut i and residue c, the fewest devices D[i][c] that cover states [0, i) within τ (O(n · M) states, not
O(n · N)). From (i, c) with D = o devices used, a stage of r <= N - o replicas reaches every j up to
J(i, c, r), the largest j whose stage term is <= τ (stage terms grow with j); the cut i itself must pass
its transfer term. J(i, c, r) never decreases with i (a shorter range is never slower), so each entry's J
moves forward: one test per entry and cut, and a vectorised binary search for the entries that move. A
reached (j, c + r mod M) takes o + r devices: the intervals are recorded at their end J, and D[j] is the
minimum over the intervals ending at J >= j (started before j). Feasible iff some D[n][c] <= N.
Per check: O(n · M · N) entry tests plus O(n · M · N · log n) binary-search steps in the worst case
(the pointers move O(n) in total per entry) and O(n^2 · M) for the suffix minima.

Search. The optimum τ* is one of the model's terms. Start with [total compute / N, data parallelism on
all N]; bisect (a feasible check returns its plan, whose exact cost becomes the upper end); an infeasible
check at τ also returns the smallest term above τ among the tests it made on reached states (the next
value at which anything reached can change), so every τ below it is infeasible too. When the bracket's
lower end is feasible it is the optimum. Each check is exact; floating-point terms are the same
expressions as in the dynamic program (planner.optimize.pipeline_native.sync_time / stage_time).

Ties: the time is the dynamic program's optimum; the plan is the one the last feasible check
reconstructs (the fewest devices at every reached state, the lowest residue at the end, arrays scanned
in a fixed order: no hashing, no randomness), a function of the inputs. Among equally fast plans it may
differ from pipeline_native's choice (fewest stages).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from planner.cost.overlap import device_overlap
from planner.cost.stage_costs import stage_time, sync_tail, sync_time
from planner.errors import SpecError
from planner.optimize.chain_costs import ChainCosts
from planner.optimize.native_types import NativeOptions, NativeResult
from planner.optimize.pipeline_native import NativePlanner, cluster_device
from planner.spec.hardware import Cluster

INF = math.inf
BIG = np.iinfo(np.int64).max // 4
BRACKET = 1e-9  # bisect until hi / lo - 1 is below this, then step through the next terms


@dataclass(frozen=True)
class SearchStats:
    """How the search went: feasibility checks made, block patterns costed, seconds in each part."""

    checks: int
    patterns: int
    coefficient_s: float
    search_s: float


def partition_bottleneck(
    costs: ChainCosts,
    cluster: Cluster,
    *,
    straight: bool = False,
    activation_compression_ratio: float = 1.0,
) -> tuple[NativeResult, SearchStats]:
    """The optimal native plan on at most all of `cluster`'s devices (use_fewer_machines), by the
    bottleneck search (see the module doc). SpecError for a chain whose ranges are not all valid or
    whose prefix sums decrease (a branchy chain view: use partition_native)."""
    import time

    if costs.view is not None and len(costs.pair_start) != costs.num_states * (costs.num_states + 1) // 2:
        raise SpecError("model", "chain", "expected a plain chain (every cut valid); use partition_native")
    for name in ("cum_forward_s", "cum_backward_s", "cum_parameter_bytes"):
        if np.any(np.diff(getattr(costs, name)) < 0):
            raise SpecError(
                "model", name, "expected nondecreasing prefix sums (a plain chain)", show_got=False
            )
    options = NativeOptions(
        straight=straight,
        use_fewer_machines=True,
        activation_compression_ratio=activation_compression_ratio,
        overlap=device_overlap(cluster_device(cluster)),
        cut_links="boundary",  # a cut's term must depend on (cut, residue) alone for this search
    )
    planner = NativePlanner(costs, cluster, options)
    start = time.perf_counter()
    search = _Search(planner)
    built = time.perf_counter()
    bounds = search.run()
    result = planner.evaluate(bounds)
    stats = SearchStats(
        checks=search.checks,
        patterns=planner.topology.patterns,
        coefficient_s=built - start,
        search_s=time.perf_counter() - built,
    )
    return result, stats


class _Search:
    def __init__(self, planner: NativePlanner):
        self.planner = planner
        costs, topology = planner.costs, planner.topology
        self.n = costs.num_states
        self.devices = topology.total
        self.modulus = topology.groups[-2] if len(topology.groups) > 1 else topology.total
        m, big_n = self.modulus, self.devices
        replicas = [1] if planner.options.straight else list(range(1, big_n + 1))
        self.entry_c = np.repeat(np.arange(m), len(replicas))
        self.entry_r = np.tile(np.array(replicas), m)
        alpha = np.zeros((3, len(self.entry_c)))
        beta = np.zeros((3, len(self.entry_c)))
        for e, (c, r) in enumerate(zip(self.entry_c.tolist(), self.entry_r.tolist(), strict=True)):
            if r > 1 and c + r <= big_n:
                alpha[:, e], beta[:, e] = topology.sync_coefficients(r, c)
        self.alpha, self.beta = alpha, beta
        self.replicas = self.entry_r.astype(float)
        self.cumulative = np.stack([costs.cum_forward_s, costs.cum_backward_s, costs.cum_parameter_bytes])
        # transfer[i, c]: the cut before state i onto a device of residue c (c = 0: a server boundary)
        self.transfer = np.full((self.n + 1, m), INF)
        for c in range(m):
            offset = c if c else (m if big_n > m else 0)
            if offset:
                cuts = np.arange(1, self.n)
                self.transfer[1 : self.n, c] = planner.transfer_time(cuts, offset - 1, offset, offset + 1)
        self.checks = 0

    def cost(self, i: int, entries: NDArray[np.int64], j: NDArray[np.int64]) -> NDArray[np.float64]:
        """Stage terms of [i, j) for the entries (the DP's expressions)."""
        forward, backward, parameters = self.cumulative[:, j] - self.cumulative[:, i : i + 1]
        alpha, beta = self.alpha[:, entries], self.beta[:, entries]
        options = self.planner.options
        return stage_time(
            forward,
            backward,
            sync_time(parameters, alpha, beta),
            self.replicas[entries],
            overlap=options.overlap,
            tail=sync_tail(parameters, alpha, beta, options.overlap.bucket_bytes),
            update=parameters * options.update_s_per_parameter_byte,
        )

    def check(self, tau: float) -> tuple[list[tuple[int, int, int]] | None, float]:
        """(a plan within τ or None, the smallest term above τ met on reached states)."""
        self.checks += 1
        n, m, big_n = self.n, self.modulus, self.devices
        ends = np.full((m, n + 1), BIG, dtype=np.int64)  # fewest devices of an interval ending at J
        end_i = np.zeros((m, n + 1), dtype=np.int64)
        end_r = np.zeros((m, n + 1), dtype=np.int64)
        fewest = np.full((n + 1, m), BIG, dtype=np.int64)
        came = np.zeros((n + 1, m, 2), dtype=np.int64)  # (i, r) of the stage reaching (j, c)
        fewest[0, 0] = 0
        pointer = np.zeros(len(self.entry_c), dtype=np.int64)
        event = INF
        rows = np.arange(m)
        for i in range(n):
            if i > 0:
                tail = ends[:, i:]
                arg = tail.argmin(axis=1)
                fewest[i] = tail[rows, arg]
                came[i, :, 0] = end_i[rows, i + arg]
                came[i, :, 1] = end_r[rows, i + arg]
            reach = fewest[i] < BIG
            if i > 0:
                blocked = reach & (self.transfer[i] > tau)
                if blocked.any():
                    event = min(event, float(self.transfer[i][blocked].min()))
                reach &= ~blocked
            if not reach.any():
                continue
            used = fewest[i][self.entry_c]
            live = np.flatnonzero(reach[self.entry_c] & (self.entry_r <= big_n - used))
            if not len(live):
                continue
            reach_j, blocking = self._advance(i, live, pointer, tau)
            event = min(event, blocking)
            moved = reach_j > i
            live, reach_j = live[moved], reach_j[moved]
            target_c = (self.entry_c[live] + self.entry_r[live]) % m
            devices = used[live] + self.entry_r[live]
            flat = target_c * (n + 1) + reach_j
            before = ends.ravel()[flat]
            np.minimum.at(ends.ravel(), flat, devices)
            won = (devices < before) & (devices == ends.ravel()[flat])
            end_i.ravel()[flat[won]] = i
            end_r.ravel()[flat[won]] = self.entry_r[live[won]]
        tail = ends[:, n]
        if tail.min() > big_n:
            return None, event
        return self._plan(came, ends, end_i, end_r), event

    def _advance(
        self, i: int, live: NDArray[np.int64], pointer: NDArray[np.int64], tau: float
    ) -> tuple[NDArray[np.int64], float]:
        """Move the entries' pointers to J(i, c, r) (the farthest end within τ); return them and the
        smallest blocking term above τ (the term of [i, J + 1))."""
        n = self.n
        current = np.maximum(pointer[live], i)
        unsaturated = np.flatnonzero(current < n)
        terms = self.cost(i, live[unsaturated], current[unsaturated] + 1)
        fits = terms <= tau
        event = float(terms[~fits].min()) if not fits.all() else INF
        active = unsaturated[fits]
        if len(active):
            low, blocked = self._gallop(i, live[active], current[active] + 1, tau)
            current[active] = low
            if len(blocked):
                event = min(event, float(blocked.min()))
        pointer[live] = current
        return current, event

    def _gallop(
        self, i: int, entries: NDArray[np.int64], low: NDArray[np.int64], tau: float
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """J per entry, the largest j >= low (low fits) with [i, j) within τ: steps of 1, 2, 4, ... until
        one does not fit, then bisection. Also returns the terms of [i, J + 1) for J < n (blocking)."""
        n = self.n
        low = low.copy()
        high = np.full(len(entries), n + 1)  # the first j known not to fit (n + 1: none so far)
        high_term = np.full(len(entries), INF)
        span = np.ones(len(entries), dtype=np.int64)
        galloping = np.ones(len(entries), dtype=bool)
        open_ = np.flatnonzero(high - low > 1)
        while len(open_):
            lo, hi = low[open_], high[open_]
            probe = np.where(galloping[open_], np.minimum(lo + span[open_], hi - 1), (lo + hi) // 2)
            terms = self.cost(i, entries[open_], probe)
            ok = terms <= tau
            low[open_] = np.where(ok, probe, lo)
            high[open_] = np.where(ok, hi, probe)
            high_term[open_] = np.where(ok, high_term[open_], terms)
            span[open_] *= 2
            galloping[open_] &= ok
            open_ = open_[high[open_] - low[open_] > 1]
        return low, high_term[low < n]

    def _plan(
        self,
        came: NDArray[np.int64],
        ends: NDArray[np.int64],
        end_i: NDArray[np.int64],
        end_r: NDArray[np.int64],
    ) -> list[tuple[int, int, int]]:
        n, m = self.n, self.modulus
        c = int(ends[:, n].argmin())
        stages = []
        j, i, r = n, int(end_i[c, n]), int(end_r[c, n])
        while True:
            stages.append((i, j, r))
            if i == 0:
                break
            c = (c - r) % m
            j, i, r = i, int(came[i, c, 0]), int(came[i, c, 1])
        return stages[::-1]

    def run(self) -> list[tuple[int, int, int]]:
        costs, planner = self.planner.costs, self.planner
        n, big_n = self.n, self.devices
        total = float(costs.cum_forward_s[-1] + costs.cum_backward_s[-1])
        low = total / big_n
        best = [(0, n, big_n)] if not planner.options.straight else [(k, k + 1, 1) for k in range(n)]
        if planner.options.straight and n > big_n:
            best = self._straight_start()
        high = planner.evaluate(best).pipeline_time_s
        while True:
            tau = low if high <= low * (1 + BRACKET) else math.sqrt(low * high) if low > 0 else high / 2
            plan, event = self.check(tau)
            if plan is not None:
                cost = planner.evaluate(plan).pipeline_time_s
                if cost <= high:
                    best, high = plan, cost
                if tau <= low:
                    return best
            else:
                low = max(low, event)
                if low >= high:
                    return best

    def _straight_start(self) -> list[tuple[int, int, int]]:
        """A feasible straight plan when there are more states than devices: equal state counts."""
        n, big_n = self.n, self.devices
        cuts = np.linspace(0, n, big_n + 1).round().astype(int)
        return [(int(a), int(b), 1) for a, b in itertools.pairwise(cuts) if b > a]
