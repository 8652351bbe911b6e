"""Native stage partitioning past the dynamic program's limits: the bottleneck search, and what it proves.

planner.optimize.pipeline_native solves the native model exactly by a dynamic program whose table is
(n + 1)(N + 1)^2 and whose work is O(N^2 · n^2) (n states, N devices); planner.optimize.limits refuses it
past about a minute. A plain chain past that comes here (the same call, `partition_native`, so `plan`,
`pipeline partition` and `export` keep agreeing). What this answers, and what it proves:

1. The relaxations. The bottleneck search (planner.optimize.pipeline_bottleneck, exact in its model)
   finds the optimum of the native model with no memory limit, idle devices allowed and each cut term
   replaced by a lower bound: 0 (`cuts="none"`), or under `replicas` (the default) a bound that depends
   on the cut, the offset's residue and the replicas after the cut alone (planner.optimize.
   bottleneck_cuts.outer_link_bound: the outermost links the stage after the cut loads whatever the
   stage before it), which keeps the search's state (cut, residue). Each only removes constraints or
   lowers terms, so its optimum τ0 is a proven lower bound on the native optimum, with or without a
   memory limit, with idle devices allowed or every device used.
2. The incumbent. Its plan is evaluated in the full model (cuts on the links the replicas use, the memory
   limit, the in-flight counts of the devices it uses: NativePlanner.evaluate). When every device must be
   used and it leaves some idle, they join its last stage (straight: its longest stages are split).
   If that meets τ0, it is the optimum, proven.
3. Cut links, exactly. The replica-aware term also depends on the replicas before the cut, so when the
   incumbent misses τ0 the search runs again with the terms themselves and the state (cut, residue,
   replicas before the cut) (planner.optimize.replica_cut_kernel: fewest devices per state, a monotone
   queue per entry); it starts at τ0 (its first check there often proves τ0 the optimum: 1,000 layers on
   128 x 8, the gap of 10.2 % closed) and from the first search's bounds on J per entry (the same stage
   terms), and its optimum τ* is the native optimum with idle devices allowed and no memory limit: the
   lower bound answered, met whenever its plan (filled as in point 2) stays within the memory limit and
   meets it. It makes at most EXACT_CHECKS checks (each dearer than the first search's): past them the
   bracket's lower end is the bound answered, with the gap. It needs links that are not a shared medium
   and at most MAX_EXACT_ENTRIES (cut, residue, replicas) entries. Otherwise, or under `boundary`, the
   search after the relaxation charges the boundary cut terms (exact in that model,
   `cut_links="boundary"`; a cut's term then depends on the cut and the residue alone), whose plan
   avoids slow boundaries, then (under `replicas`) the outer-link bound as a tighter lower bound; both
   start from τ0 and the first search's bounds on J.
   Data parallelism on all N devices is the last candidate. The best is answered with the best proven
   bound: `lower_bound_s`, gap = (time - bound) / bound, printed. Gap 0: proven optimal.

No candidate within the memory limit: InfeasibleError naming the relaxation's optimum. Ties: the plan is
the search's (fewest devices per state), a function of the inputs.
"""

from __future__ import annotations

import math
from dataclasses import replace

from planner.errors import InfeasibleError
from planner.optimize.native_types import NativeResult
from planner.optimize.pipeline_native import NativePlanner

Plan = list[tuple[int, int, int]]
Evaluated = dict[tuple[tuple[int, int, int], ...], NativeResult]  # each plan's figures, once
# the exact cut search keeps 8 bytes per (cut, residue, replicas) entry besides the search's own 6:
# 3·10^7 entries is 240 MB more (1,000 layers on 128 x 8: 8.2·10^6)
MAX_EXACT_ENTRIES = 30_000_000
# the exact cut search's checks (0.05-0.6 s each at 1,000 layers on 1,024 GPUs); past them the bracket's
# lower end is the bound answered (1,000 layers with 3x the bench's activations on 128 x 8: 8 checks,
# 4.2 s, gap 0.95 %; 16 to the optimum, 9.8 s before the one-sided tests)
EXACT_CHECKS = 8


def optimum_at_scale(planner: NativePlanner) -> NativeResult:
    """The best plan found and its proven lower bound (module doc); `planner` holds the full model (the
    caller checks the search's limits: planner.optimize.limits.check_bottleneck)."""
    from planner.optimize.pipeline_bottleneck import search_bottleneck

    costs, devices, options = planner.costs, planner.topology.total, planner.options
    exact_cuts, evaluated = _exact_cuts(planner), Evaluated()
    # the first search: the outer-link bound when the cuts are then searched exactly, else the relaxation
    first, bound, stats = search_bottleneck(planner, "replicas" if exact_cuts else "none")
    candidates = _candidates(planner, first)
    best, time = _best(planner, candidates, evaluated)
    if time > bound and exact_cuts:  # the cuts (or the memory limit) bind: the exact cut search
        exact, bound, _ = search_bottleneck(planner, "exact", bound, stats, best or None, EXACT_CHECKS)
        candidates = [*candidates, *_candidates(planner, exact)]
    elif time > bound:  # the cuts (or the memory limit) bind: try the plan that avoids slow boundaries
        boundary = NativePlanner(costs, planner.topology.cluster, replace(options, cut_links="boundary"))
        boundary.topology = planner.topology  # its block patterns are costed already
        # τ0 <= the optimum of every model below; the same stage terms, so the relaxation's J bounds hold
        relaxed = replace(stats, reach=stats.reach.copy(), ceiling=stats.ceiling.copy())  # used twice
        avoiding, _, _ = search_bottleneck(boundary, "boundary", bound, relaxed, first)
        candidates = [*candidates, *_candidates(planner, avoiding)]
        if options.cut_links == "replicas":  # the cut terms' outer-link lower bound: a tighter bound
            tighter, bound, _ = search_bottleneck(planner, "replicas", bound, stats, avoiding)
            candidates = [*candidates, *_candidates(planner, tighter)]
    best, time = _best(planner, candidates, evaluated)
    if time > bound and not options.straight:  # data parallelism, the last candidate
        best, time = _best(planner, [*candidates, [(0, costs.num_states, devices)]], evaluated)
    if not math.isfinite(time):
        raise InfeasibleError(
            f"no native partition of {costs.num_states:,} states on {devices:,} devices found within the "
            "memory limit (or, straight, on every device): the bottleneck search's plans (lower bound "
            f"{bound * 1e3:.6g} ms per minibatch without memory or cut terms) exceed it; use devices with "
            "more memory"
        )
    return replace(evaluated[tuple(best)], lower_bound_s=bound, method="bottleneck search")


def _exact_cuts(planner: NativePlanner) -> bool:
    """Whether the replica-aware cuts are searched exactly (point 3): the model charges them, no link is a
    shared medium, and the search's scratch stays within MAX_EXACT_ENTRIES."""
    topology = planner.topology
    residues = topology.groups[-2] if len(topology.groups) > 1 else topology.total
    entries = planner.costs.num_states * residues * (1 if planner.options.straight else topology.total)
    return (
        planner.options.cut_links == "replicas"
        and not any(level.link.shared for level in topology.cluster.levels)
        and entries <= MAX_EXACT_ENTRIES
    )


def _candidates(planner: NativePlanner, plan: Plan) -> list[Plan]:
    """The plan as found, and, when every device must be used, the plan using them all."""
    if planner.options.use_fewer_machines:
        return [plan]
    filled = _fill(plan, planner.topology.total, planner.options.straight)
    return [filled] if filled is not None else []


def _fill(plan: Plan, devices: int, straight: bool) -> Plan | None:
    """The plan on exactly `devices` devices: the idle ones join the last stage, or (straight) the stages
    with the most states are split in two until there are as many stages as devices (None: too few)."""
    idle = devices - sum(r for _, _, r in plan)
    if idle == 0:
        return plan
    if not straight:
        *head, (i, j, r) = plan
        return [*head, (i, j, r + idle)]
    stages = list(plan)
    for _ in range(idle):
        k = max(range(len(stages)), key=lambda s: stages[s][1] - stages[s][0])
        i, j, _ = stages[k]
        if j - i < 2:
            return None
        middle = (i + j) // 2
        stages[k : k + 1] = [(i, middle, 1), (middle, j, 1)]
    return stages


def _best(planner: NativePlanner, plans: list[Plan], evaluated: Evaluated) -> tuple[Plan, float]:
    """The fastest plan in the full model (+inf over the memory limit), the first among equals; each
    plan's figures kept in `evaluated`."""
    best, time = plans[0] if plans else [], math.inf
    for plan in plans:
        if tuple(plan) not in evaluated:
            evaluated[tuple(plan)] = planner.evaluate(plan)
        if evaluated[tuple(plan)].pipeline_time_s < time:
            best, time = plan, evaluated[tuple(plan)].pipeline_time_s
    return best, time
