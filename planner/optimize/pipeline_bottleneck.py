"""Native partitioning of long chains on large clusters: search the bottleneck value, check feasibility.

Same model and same optimum as planner.optimize.pipeline_native with `use_fewer_machines` (a plan may
leave devices idle) and `cut_links="boundary"` (a cut's term on the link at the boundary device: the
search below needs it to depend on the cut and the device's residue alone), or with no cut terms at
all (`cuts="none"`: the relaxation planner.optimize.pipeline_scale proves its lower bound by), or with
a lower bound on each replica-aware cut term that depends on the cut, the residue and the replicas after
it (`cuts="replicas"`: outer_link_bound, a tighter relaxation), or with the replica-aware cut terms
themselves (`cuts="exact"`: the state also carries the replicas before the cut, see
planner.optimize.replica_cut_kernel; exact for `cut_links="replicas"`, the default), for a
chain whose stage figures grow with the range (a plain chain: every cut valid, prefix sums
nondecreasing); no memory limit. The exact dynamic program there costs O(N^2 · n^2) (n states, N
devices): 2.6·10^11 candidate evaluations for 1,000 layers on 128 × 8 GPUs. This search does not
enumerate (stage, replicas) pairs per device count; it asks, for a candidate bottleneck τ, whether
some plan keeps every stage and transfer term <= τ, and narrows τ.

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
A state whose devices plus its remaining compute / τ exceed N is pruned (every stage term is at least its
compute over its replicas). Per check: O(n · M · N) entry tests, pointer steps O(n) per entry, and the
suffix minima in blocks of 64 (planner.optimize.bottleneck_kernel, compiled: its docstring says why).
Between checks each (cut, entry) keeps J at the last infeasible τ and the last feasible τ as bounds: J is
monotone in τ, so once the bracket is narrow most entries need no test at all.

Search. The optimum τ* is one of the model's terms. Start with [total compute / N, data parallelism on
all N]; until a check beats the starting plan, check 5 %, 10 %, 20 %, ... above the lower end (the
optimum is usually within tens of percent of it, and a check far above it reaches the most states:
the dearest); then bisect (a feasible check returns its plan, whose exact cost becomes the upper
end); an infeasible check at τ also returns the smallest term above τ among the tests it made on
reached states (the next value at which anything reached can change), so every τ below it is
infeasible too. When the bracket's
lower end is feasible it is the optimum. Once the bracket is within PROBE, each new incumbent is probed
(not twice in a row): a check at the largest double below it, infeasible, proves it optimal at once
(1,000 layers on 128 x 8: 25 -> 11 checks; 4,000: 30 -> 15); feasible, its plan is the new
incumbent. A floor given (the relaxation's optimum, for the boundary-cut search) is checked first. Each
check is exact; floating-point terms are the same expressions as in the dynamic program
(planner.optimize.pipeline_native.sync_time / stage_time).

Ties: the time is the dynamic program's optimum; the plan is the one the last feasible check
reconstructs (the fewest devices at every reached state, the lowest residue at the end, arrays scanned
in a fixed order: no hashing, no randomness), a function of the inputs. Among equally fast plans it may
differ from pipeline_native's choice (fewest stages).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from weakref import WeakKeyDictionary

import numpy as np
from numpy.typing import NDArray

from planner.cost.overlap import device_overlap
from planner.cost.stage_costs import Topology, sync_algorithms
from planner.errors import SpecError
from planner.optimize.bottleneck_cuts import ExactCuts, outer_link_bound
from planner.optimize.chain_costs import ChainCosts
from planner.optimize.native_types import NativeOptions, NativeResult
from planner.optimize.pipeline_native import NativePlanner, cluster_device
from planner.spec.hardware import Cluster

INF = math.inf
BIG = np.iinfo(np.int64).max // 4
BRACKET = 1e-9  # bisect until hi / lo - 1 is below this, then step through the next terms
PROBE = 1e-2  # below this hi / lo - 1, a feasible check is followed by one just below the incumbent
GALLOP = 0.05  # until a check beats the starting plan, check 5 %, 10 %, 20 %, ... above the lower end


@dataclass(frozen=True)
class SearchStats:
    """How the search went: feasibility checks made, block patterns costed, seconds in each part."""

    checks: int
    patterns: int
    coefficient_s: float
    search_s: float
    # J per (cut, entry) at the search's infeasible bottlenecks, -1 where untested: lower bounds on J for
    # any later search of the same chain, devices and stage terms at larger bottlenecks (`reach`)
    reach: NDArray[np.int16]
    # J per (cut, entry) at its feasible ones, n + 1 where untested: upper bounds on J for such a search
    # at bottlenecks up to the last feasible one, `ceiling_s` (+inf: none)
    ceiling: NDArray[np.int16]
    ceiling_s: float


def partition_bottleneck(
    costs: ChainCosts,
    cluster: Cluster,
    *,
    straight: bool = False,
    activation_compression_ratio: float = 1.0,
) -> tuple[NativeResult, SearchStats]:
    """The optimal native plan on at most all of `cluster`'s devices (use_fewer_machines) with boundary
    cut terms, by the bottleneck search (see the module doc). SpecError for a chain whose ranges are not
    all valid or whose prefix sums decrease (a branchy chain view: use partition_native)."""
    options = NativeOptions(
        straight=straight,
        use_fewer_machines=True,
        activation_compression_ratio=activation_compression_ratio,
        overlap=device_overlap(cluster_device(cluster)),
        cut_links="boundary",
    )
    planner = NativePlanner(costs, cluster, options)
    plan, _, stats = search_bottleneck(planner, "boundary")
    return planner.evaluate(plan), stats


def search_bottleneck(
    planner: NativePlanner,
    cuts: str,
    floor: float = 0.0,
    earlier: SearchStats | None = None,
    incumbent: list[tuple[int, int, int]] | None = None,
    budget: int | None = None,
) -> tuple[list[tuple[int, int, int]], float, SearchStats]:
    """(the optimal plan, its bottleneck, how the search went) of `planner`'s chain and options with idle
    devices allowed and no memory limit, cut terms on the boundary link (`cuts="boundary"`; `planner`
    must charge cuts there), none (`cuts="none"`: a relaxation of every cut model), the outer-link lower
    bound (`cuts="replicas"`: a relaxation of the replica-aware model) or the replica-aware terms
    (`cuts="exact"`; links that are not a shared medium: ValueError otherwise). `floor`: a proven
    lower bound on the bottleneck (e.g. the relaxation's optimum), where the bisection starts; `earlier`:
    the stats of an earlier search whose infeasible bottlenecks were all below `floor`, with the same
    stage terms (J depends on them alone), whose bounds on J this one starts from (and changes: copy
    them to use them again); `incumbent`: a plan (at most all devices) whose cost in this search's model
    may narrow the bracket from above; `budget`: the most checks, after which the best plan found and the
    bracket's lower end (a proven lower bound on the optimum, in place of the bottleneck) are returned."""
    import time

    if not planner.costs.is_plain:
        raise SpecError(
            "model",
            "chain",
            "expected a plain chain (every cut valid, nondecreasing prefix sums)",
            show_got=False,
        )
    if cuts == "boundary" and planner.options.cut_links != "boundary":
        raise ValueError("a boundary-cut search needs a planner with cut_links='boundary'")
    start = time.perf_counter()
    search = _Search(planner, cuts)
    if earlier is not None:
        search.low, search.high = earlier.reach, earlier.ceiling  # taken over, not copied
        search.ceiling_s = earlier.ceiling_s
    built = time.perf_counter()
    plan, _, proven = search.run(floor, incumbent, budget)
    stats = SearchStats(
        checks=search.checks,
        patterns=planner.topology.patterns,
        coefficient_s=built - start,
        search_s=time.perf_counter() - built,
        reach=search.low,
        ceiling=search.high,
        ceiling_s=search.ceiling_s,
    )
    return plan, proven, stats


_COEFFICIENTS: WeakKeyDictionary[Topology, dict[int, tuple[NDArray[np.float64], NDArray[np.float64]]]]
_COEFFICIENTS = WeakKeyDictionary()


def _coefficients(
    topology: Topology, entry_c: NDArray[np.int64], entry_r: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each algorithm's (alpha, beta) per entry (zeros for one replica), kept per topology and entry count
    for the searches that follow on it (the same chain's later searches)."""
    kept = _COEFFICIENTS.setdefault(topology, {})
    if len(entry_c) not in kept:
        count = len(sync_algorithms())
        alpha, beta = np.zeros((count, len(entry_c))), np.zeros((count, len(entry_c)))
        for e, (c, r) in enumerate(zip(entry_c.tolist(), entry_r.tolist(), strict=True)):
            if r > 1 and c + r <= topology.total:
                alpha[:, e], beta[:, e] = topology.sync_coefficients(r, c)
        kept[len(entry_c)] = alpha, beta
    return kept[len(entry_c)]


class _Search:
    def __init__(self, planner: NativePlanner, cuts: str):
        self.planner = planner
        costs, topology = planner.costs, planner.topology
        self.n = costs.num_states
        if self.n >= np.iinfo(np.int16).max:
            raise SpecError("model", "layers", f"expected fewer than {np.iinfo(np.int16).max} states", self.n)
        self.devices = topology.total
        self.modulus = topology.groups[-2] if len(topology.groups) > 1 else topology.total
        m, big_n = self.modulus, self.devices
        replicas = [1] if planner.options.straight else list(range(1, big_n + 1))
        self.entry_c = np.repeat(np.arange(m, dtype=np.int64), len(replicas))
        self.entry_r = np.tile(np.array(replicas, dtype=np.int64), m)
        self.alpha, self.beta = _coefficients(topology, self.entry_c, self.entry_r)
        cumulative = np.stack([costs.cum_forward_s, costs.cum_backward_s, costs.cum_parameter_bytes])
        overlap, update = planner.options.overlap, planner.options.update_s_per_parameter_byte
        self.stage = (  # the stage terms' figures, as bottleneck_kernel reads them
            *(cumulative, self.alpha, self.beta, self.entry_r.astype(float)),
            *(float(overlap.slowdown), float(overlap.bucket_bytes), bool(overlap.best_case), float(update)),
        )
        # transfer[i, c]: the cut before state i onto a device of residue c (c = 0: a server boundary)
        self.transfer = np.full((self.n + 1, m), INF) if cuts == "boundary" else np.zeros((self.n + 1, m))
        for c in range(m if cuts == "boundary" else 0):
            offset = c if c else (m if big_n > m else 0)
            if offset:
                cuts_at = np.arange(1, self.n)
                self.transfer[1 : self.n, c] = planner.transfer_time(cuts_at, offset - 1, offset, offset + 1)
        self.cut_share, self.cut_cost = np.zeros(len(self.entry_c)), np.zeros(self.n + 1)
        if cuts == "replicas":
            self.cut_share, self.cut_cost = outer_link_bound(planner, self.entry_c, self.entry_r)
        self.exact = ExactCuts(planner, len(self.entry_c)) if cuts == "exact" else None
        # J of each (cut, entry) at the last infeasible and the last feasible bottleneck (-1, n + 1: none)
        self.low = np.full((self.n, len(self.entry_c)), -1, dtype=np.int16)
        self.high = np.full((self.n, len(self.entry_c)), self.n + 1, dtype=np.int16)
        self.ceiling_s = math.inf  # `high` holds up to this bottleneck (feasible checks only go down)
        self.reach = np.empty_like(self.high)  # the checks' scratch: J per tested entry
        self.checks = 0

    def check(self, tau: float) -> tuple[list[tuple[int, int, int]] | None, float]:
        """(a plan within τ or None, the smallest term above τ met on reached states)."""
        self.checks += 1
        if tau > self.ceiling_s:  # above an earlier search's last feasible bottleneck: its J bounds fail
            self.high[:], self.ceiling_s = self.n + 1, math.inf
        plan, event = self._check_exact(tau) if self.exact is not None else self._check(tau)
        if plan is not None:
            self.ceiling_s = tau
        return plan, event

    def _check(self, tau: float) -> tuple[list[tuple[int, int, int]] | None, float]:
        from planner.optimize.bottleneck_kernel import check

        came = np.zeros((self.n + 1, self.modulus, 2), dtype=np.int64)
        used, residue, event = check(
            *(float(tau), self.stage, self.entry_c, self.entry_r),
            *(self.transfer, self.cut_share, self.cut_cost, int(self.devices), self.low, self.high, came),
            self.reach,
        )
        if used > self.devices:
            return None, float(event)
        return self._plan(came, int(residue)), float(event)

    def _check_exact(self, tau: float) -> tuple[list[tuple[int, int, int]] | None, float]:
        from planner.optimize.replica_cut_kernel import check_replicas

        exact = self.exact
        assert exact is not None
        used, residue, last, event = check_replicas(
            *(float(tau), self.stage, self.entry_c, self.entry_r, exact.sizes, exact.links),
            *(int(self.modulus), int(self.devices), self.low, self.high),
            *(exact.value, exact.chosen, exact.queue, self.reach),
        )
        if used > self.devices:
            return None, float(event)
        return self._plan_exact(int(used), int(residue), int(last)), float(event)

    def _plan_exact(self, used: int, c: int, r: int) -> list[tuple[int, int, int]]:
        """The stages back from state n: an interval of entry ((c - r) mod M, r) from some i with the
        devices `used` that reaches j (its J is in `high` after a feasible check)."""
        assert self.exact is not None
        value, chosen, m = self.exact.value, self.exact.chosen, self.modulus
        per_residue = len(self.entry_c) // m
        j, stages = self.n, []
        while j > 0:
            c = (c - r) % m
            e = c * per_residue + (r - 1 if per_residue > 1 else 0)
            i = int(np.flatnonzero((value[:j, e] == used) & (self.high[:j, e] >= j))[0])
            stages.append((i, j, r))
            j, used, r = i, used - r, int(chosen[i, e])
        return stages[::-1]

    def _plan(self, came: NDArray[np.int64], c: int) -> list[tuple[int, int, int]]:
        j, m = self.n, self.modulus
        stages = []
        while j > 0:
            i, r = int(came[j, c, 0]), int(came[j, c, 1])
            stages.append((i, j, r))
            c = (c - r) % m
            j = i
        return stages[::-1]

    def cost(self, plan: list[tuple[int, int, int]]) -> float:
        """The plan's bottleneck in the search's own model (its stage terms and cut terms), computed as the
        checks compute them (the same figures as NativePlanner.evaluate, bit for bit)."""
        from planner.optimize.bottleneck_kernel import stage_terms
        from planner.optimize.replica_cut_kernel import cut_term

        starts, ends, replicas = (np.array(column, dtype=np.int64) for column in zip(*plan, strict=True))
        residues = (np.cumsum(replicas) - replicas) % self.modulus
        entries = residues * (len(self.entry_c) // self.modulus) + replicas - 1  # c-major, r = 1, 2, ...
        terms = [float(value) for value in stage_terms(self.stage, entries, starts, ends)]
        for k in range(1, len(plan)):
            i, c, e = int(starts[k]), int(residues[k]), int(entries[k])
            if self.exact is not None:
                before, after = int(replicas[k - 1]), int(replicas[k])
                terms.append(cut_term(self.exact.sizes[i], c, before, after, self.exact.links))
            else:
                terms.append(max(float(self.transfer[i, c]), self.cut_share[e] * self.cut_cost[i]))
        return max(terms)

    def run(
        self,
        floor: float = 0.0,
        incumbent: list[tuple[int, int, int]] | None = None,
        budget: int | None = None,
    ) -> tuple[list[tuple[int, int, int]], float, float]:
        """(the best plan found, its bottleneck, a proven lower bound on the optimum: the bottleneck
        itself, the optimum, unless `budget` checks ran out first; see the module doc), given a proven
        lower bound `floor` on it and a plan to start from (`incumbent`)."""
        costs, planner = self.planner.costs, self.planner
        n, big_n = self.n, self.devices
        update = planner.options.update_s_per_parameter_byte
        total = float(
            costs.cum_forward_s[-1] + costs.cum_backward_s[-1] + costs.cum_parameter_bytes[-1] * update
        )
        low = max(total / big_n, floor)  # the largest term is at least the compute per device
        best = [(0, n, big_n)] if not planner.options.straight else [(k, k + 1, 1) for k in range(n)]
        if planner.options.straight and n > big_n:
            best = self._straight_start()
        high, probed, probe = self.cost(best), math.inf, False
        if incumbent is not None and self.cost(incumbent) < high:
            best, high = incumbent, self.cost(incumbent)
        start = high
        while high > 0:
            # the incumbent is often the optimum once the bracket is narrow (the bisection would otherwise
            # close in on it from below, one infeasible check per halving): check the largest bottleneck
            # below it, once per incumbent, never twice in a row
            probe = not probe and high < probed and high <= low * (1 + PROBE)
            if probe:
                tau, probed = math.nextafter(high, 0.0), high
            elif floor > 0 and not self.checks:  # a given floor may be the optimum: feasible ends it
                tau = low
            elif high == start and low > 0 and not floor:  # nothing better yet: gallop up from the lower end
                tau = min(math.sqrt(low * high), low * (1 + GALLOP * 2**self.checks))
            else:
                tau = low if high <= low * (1 + BRACKET) else math.sqrt(low * high) if low > 0 else high / 2
            plan, event = self.check(tau)
            if plan is not None:
                cost = self.cost(plan)
                if cost <= high:
                    best, high = plan, cost
                if tau <= low:
                    break
            else:
                low = max(low, event)
                if low >= high:
                    break
            if budget is not None and self.checks >= budget and low < high:
                return best, high, low
        return best, high, high

    def _straight_start(self) -> list[tuple[int, int, int]]:
        """A feasible straight plan when there are more states than devices: equal state counts."""
        n, big_n = self.n, self.devices
        cuts = np.linspace(0, n, big_n + 1).round().astype(int)
        return [(int(a), int(b), 1) for a, b in itertools.pairwise(cuts) if b > a]
