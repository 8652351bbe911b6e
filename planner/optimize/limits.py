"""Size limits of the exact stage-partitioning searches: a huge input is refused at once, with the reason
and what to do instead, rather than running for hours or exhausting memory.

Before a search starts its cost is estimated from its complexity, in its own work unit, and compared
with a limit set at about a minute of work and about a gigabyte on one core of the reference machine
(a 2-core x86-64 VM, numpy 2; rates measured with bench/bench_resource_bounds.py and the probes noted):

======================================  ========================================  =========  ==========
search                                  estimate (n states or layers, N devices)  rate       limit
======================================  ========================================  =========  ==========
chain view and stage ranges             n layers: O(n^2) ranges and bit matrix    --         4,000
  (planner.optimize.chain_view)         (10,000 layers: 50 M ranges, 2.8 GB)                 layers
chain view's antichain states           S states, estimated per block before      16 µs      max(2,000,
  (planner.optimize.antichain_blocks)   searching (chain decomposition), counted  per state  n) states
                                        as found; S^2/2 int64 predecessor indices
native DP (pipeline_native)             steps S = sum over totals of (d, r)       20-30 ns   2e9
                                        pairs; work S · (Q + 1,250) + about       per unit
                                        N^3/6 prefixes · (n + 1,250), Q ranges
native DP table                         (n + 1)(N + 1)^2 entries (the last        --         5e7
                                        stage's replicas are part of the state)
PipeDream DP, levels below the top      n^3 · sum of m^2 (m: the level's count)   1.5 ns     2.5e11
PipeDream DP, outermost level           n^2 · m(m-1)/2                            15 ns      1e10
PipeDream DP, memory                    16 B · sum of m·n·rows + 25 B · n^2       --         2 GiB
======================================  ========================================  =========  ==========

The PipeDream rates are the worst case's wall time per unit (bench/bench_pipedream_limits.py: zero-cost
chains, where every candidate ties with every bound and none is skipped); at its work limits the worst
case takes about 6 and 2.5 minutes, while a chain with distinct costs takes a small fraction (1,000
layers on 8 x 128 devices: 3-6 s CPU, bench/bench_pipedream_scale.py). A PipeDream refusal states the
estimated worst-case time and memory.

Each (d, r) step of the native DP also costs a fixed ~25 µs of Python and all-reduce set-up, counted as
1,250 candidates. Parallel branches multiply the antichain states (a block of w branches of l layers
has about (l+1)^w), so a small graph can have millions: 4 blocks of 8 branches of 3 layers (101 layers)
took 13 GB before the states were counted as they are found. The state budget keeps the stage ranges
at most those of a 4,000-layer chain (8 M ranges: 64 MB of predecessor indices, 128 MB of range indices,
allocated before the native check; the DP's ~100 bytes per range only after it). Past the budget the
native partitioner linearises wide blocks (no refusal) and PipeDream's search is refused with the
estimated states, search time (16 µs per state) and range memory (8 bytes per range).
The worst accepted input of each other search takes about a minute; a refused one takes no
time. Refusals are InfeasibleError (exit 1: no answer within the planner's limits), whose message names
the limit, the size given and what to do: use fewer devices, merge consecutive layers into blocks, or plan
data parallelism with `planner dp` (and collectives with `planner comm`), which take any number of layers
and devices (their cost is linear in the layers and in the levels). `planner plan` reports a refused
pipeline beside the strategies that remain.
"""

from __future__ import annotations

from planner.errors import InfeasibleError
from planner.limits import (  # the values, beside every other bound of the planner
    BOTTLENECK_CHECKS,
    BOTTLENECK_ENTRY_BYTES,
    BOTTLENECK_ENTRY_S,
    MAX_BOTTLENECK_DEVICES,
    MAX_BOTTLENECK_ENTRIES,
    MAX_CHAIN_LAYERS,
    MAX_NATIVE_TABLE,
    MAX_NATIVE_WORK,
    MAX_PIPEDREAM_INNER_WORK,
    MAX_PIPEDREAM_MEMORY,
    MAX_PIPEDREAM_OUTER_WORK,
    NATIVE_STEP_WORK,
    PIPEDREAM_INNER_UNIT_S,
    PIPEDREAM_OUTER_UNIT_S,
)

# Per-unit costs (bench/bench_branchy.py, reference machine): the antichain search explores a state in
# about 16 µs; a stage range costs 8 bytes of predecessor indices in the view and about 120 bytes through
# the native DP (pair indices, five per-pair figures, the stage terms' temporaries).
SEARCH_S_PER_STATE = 16e-6
RANGE_BYTES = 8

_LARGE = "`planner dp` plans data parallelism for any number of layers and devices"


def check_chain_layers(layers: int) -> None:
    """Refuse a profile too long for the chain view (its stage ranges take O(layers^2) memory)."""
    if layers > MAX_CHAIN_LAYERS:
        raise InfeasibleError(
            f"a profile of {layers:,} layers is too long to partition into pipeline stages (limit "
            f"{MAX_CHAIN_LAYERS:,} layers: the stage ranges take O(layers²) memory); merge consecutive "
            f"layers into at most {MAX_CHAIN_LAYERS:,} blocks, or use {_LARGE}"
        )


def refuse_chain_states(name: str, estimate: int, budget: int) -> None:
    """Refuse PipeDream's chain view of a graph whose antichain states exceed the budget (max(MAX_CHAIN_
    STATES, its layers)), stating the estimated states, the search's time and the stage ranges' memory."""
    seconds = estimate * SEARCH_S_PER_STATE
    memory = estimate * (estimate + 1) / 2 * RANGE_BYTES
    raise InfeasibleError(
        f"PipeDream's chain view of {name} has about {estimate:.3g} antichain states (an upper bound; "
        f"limit {budget:,}: parallel branches multiply them, w branches of l layers give about (l+1)^w): "
        f"finding them would take about {_duration(seconds)} and their stage ranges about "
        f"{_size(memory)}; the native cost model partitions such graphs along the layer order, or merge "
        f"each block of parallel branches into one layer, or use {_LARGE}"
    )


def _duration(seconds: float) -> str:
    return f"{seconds:.2g} s" if seconds < 86_400 else f"{seconds / 86_400 / 365:.2g} years"


def _size(size: float) -> str:
    return f"{size / 2**20:.2g} MiB" if size < 2**30 else f"{size / 2**30:.2g} GiB"


def native_steps(devices: int, straight: bool, per_total: bool) -> int:
    """(d, r) steps of the native DP on `devices`: sum over d of the replica counts (1 for a straight
    pipeline, d otherwise), summed again over every total when `per_total` (a memory limit with
    use_fewer_machines solves the program once per total)."""
    n = devices
    if not per_total:
        return n if straight else n * (n + 1) // 2
    return n * (n + 1) // 2 if straight else n * (n + 1) * (n + 2) // 6


def check_native(states: int, ranges: int, devices: int, straight: bool, per_total: bool) -> None:
    """Refuse a native DP whose estimated work or table exceeds the limits (see the module doc)."""
    steps = native_steps(devices, straight, per_total)
    # each step's best prefix is a minimum over the replicas of the stage before the cut (o of them)
    prefixes = (devices if straight else devices**3 // 6) * (devices if per_total else 1)
    work = steps * (ranges + NATIVE_STEP_WORK) + prefixes * (states + NATIVE_STEP_WORK)
    table = (states + 1) * (devices + 1) ** 2
    if work > MAX_NATIVE_WORK or table > MAX_NATIVE_TABLE:
        what = (
            f"would evaluate about {work:.2g} candidate stages (limit {MAX_NATIVE_WORK:.0e}, about a minute)"
            if work > MAX_NATIVE_WORK
            else f"needs a table of {table:.2g} entries (limit {MAX_NATIVE_TABLE:.0e})"
        )
        extra = " with a memory limit and fewer machines allowed" if per_total else ""
        raise InfeasibleError(
            f"the exact native partition of {states:,} states on {devices:,} devices{extra} {what}; "
            f"use fewer devices (`servers`) or merge consecutive layers into fewer blocks, or {_LARGE}"
        )


def check_bottleneck(states: int, devices: int, groups: tuple[int, ...], straight: bool) -> None:
    """Refuse a bottleneck search (planner.optimize.pipeline_scale) past MAX_BOTTLENECK_DEVICES devices or
    MAX_BOTTLENECK_ENTRIES entries (cut, residue, replicas), stating the time and memory it would take."""
    residues = groups[-2] if len(groups) > 1 else devices
    entries = states * residues * (1 if straight else devices)
    if devices > MAX_BOTTLENECK_DEVICES or entries > MAX_BOTTLENECK_ENTRIES:
        seconds = entries * BOTTLENECK_ENTRY_S * BOTTLENECK_CHECKS + 0.5 * (devices / 1_024) ** 2
        raise InfeasibleError(
            f"its bottleneck search would keep {entries:.2g} entries on {devices:,} devices (limits "
            f"{MAX_BOTTLENECK_ENTRIES:.1e} entries, {MAX_BOTTLENECK_DEVICES:,} devices): about "
            f"{seconds:.0f} s and {entries * BOTTLENECK_ENTRY_BYTES / 1e9:.1f} GB"
        )


def check_pipedream(states: int, levels: list[tuple[int, float]], straight: bool) -> None:
    """Refuse a PipeDream DP whose estimated work or memory exceeds the limits; the refusal states the
    estimated worst-case time and memory."""
    *inner, (top, _) = levels
    pairs = top - 1 if straight else top * (top - 1) // 2
    inner_work = states**3 * sum(count if straight else count * count for count, _ in inner)
    outer_work = states**2 * pairs
    seconds = inner_work * PIPEDREAM_INNER_UNIT_S + outer_work * PIPEDREAM_OUTER_UNIT_S
    memory = pipedream_memory(states, levels)
    problems = []
    if inner_work > MAX_PIPEDREAM_INNER_WORK:
        problems.append(
            f"about {inner_work:.2g} steps below the top level (limit {MAX_PIPEDREAM_INNER_WORK:.2g})"
        )
    if outer_work > MAX_PIPEDREAM_OUTER_WORK:
        problems.append(f"about {outer_work:.2g} at the top level (limit {MAX_PIPEDREAM_OUTER_WORK:.0e})")
    if memory > MAX_PIPEDREAM_MEMORY:
        problems.append(f"about {memory / 2**30:.1f} GiB (limit {MAX_PIPEDREAM_MEMORY / 2**30:.0f} GiB)")
    if problems:
        counts = " x ".join(f"{count:,}" for count, _ in levels)
        raise InfeasibleError(
            f"PipeDream's search for {states:,} states on levels {counts} (top: {top:,}) needs "
            f"{'; '.join(problems)}: estimated up to {seconds:,.0f} s and {memory / 2**30:.1f} GiB; use "
            f"fewer devices or merge consecutive layers into fewer blocks, or {_LARGE}"
        )


def pipedream_memory(states: int, levels: list[tuple[int, float]]) -> int:
    """Bytes of PipeDream's DP (planner.optimize.pipedream_dp): each level's values and choices (16 B an
    entry; one row at the top level, a row per state below), the range figures of every pair of states
    (three float matrices and one of booleans: 25 B), the split pairs (m, m') of each level with a
    column's bounds and queries (about 150 B a pair a row), and its candidate batches (about 150 MB)."""
    entries = sum(
        count * states * (1 if index == len(levels) - 1 else states)
        for index, (count, _) in enumerate(levels)
    )
    pairs = sum(
        count * (count - 1) // 2 * (1 if index == len(levels) - 1 else states)
        for index, (count, _) in enumerate(levels)
    )
    return 16 * entries + 25 * states**2 + 150 * pairs + 150 * 2**20
