"""Every bound the planner puts on what it is given, in one place, each with its value and its reason.

Three kinds of reason. *Machine*: a count bounds how much work or memory one answer takes; the worst
accepted input answers within a few seconds and about 500 MB on the reference machine (a 2-core x86-64
VM, numpy 2), and a larger one is refused before anything is allocated. *int64*: numpy computes counts
in 64-bit integers (at most 9.2e18); a count that could pass that in arithmetic is refused first, since
numpy wraps around silently. *Physics*: a quantity outside what any real device, link or run could have
is a typo (a unit slip, a missing exponent sign); bounding it also keeps every derived figure (a
time = bytes / bandwidth, a speed-up = time / time) finite, so no answer holds inf or nan.

Counts (a larger one is refused, the message naming the bound):

==========================  ===========  ==================================================================
bound                       value        reason
==========================  ===========  ==================================================================
MAX_DEVICES                 1,000,000    devices in a cluster: 10x the largest training clusters built;
                                         collectives and the data-parallel sweep cost O(devices) (1 M:
                                         `planner dp` about 5 s, 90 MB; 4e9 from a --servers typo: 24 GB)
MAX_FLEET_CLIENTS           1,000,000    clients in a fleet: each is a row of per-client arrays (1 M:
                                         `fl round` 0.7 s, 165 MB; 10 M: 2.7 s, 1.1 GB)
MAX_CLIENT_SAMPLES          1e9          samples one client holds: more than most whole data sets; with a
                                         lognormal spread (sigma <= 3) the drawn counts stay far within
                                         int64 (and are clipped there)
MAX_TRIALS                  1,000,000    Monte Carlo trials of `fl round` (1 M: 20 s on 1,000 clients)
MAX_MONTE_CARLO_DRAWS       5e7          trials x fleet clients: each trial draws a key per client (5e7
                                         draws: 1.5 s, 180 MB on 1,000 clients; 4e9 on 1 M clients: 92 s)
MAX_HISTOGRAM_BINS          1,000        bins of the terminal histogram, one line each (1e8 bins took 3.8
                                         GB in 15 s)
MAX_ROUNDS                  1e9          federated rounds R (a multiplier of times and bytes: finite)
MAX_BATCH                   1e7          samples in one minibatch, per device or global (`plan`, `dp`,
                                         `lr`): 150x the largest published one (LAMB's 65,536, You et
                                         al. 2020) and 8x ImageNet-1k's epoch; 1e20 was a typo
MAX_EPOCH_SAMPLES           1e12         samples per epoch: 170x LAION-5B's 5.85e9 pairs (Schuhmann et
                                         al. 2022), the largest public training set
MAX_SOLVER_SECONDS          3,600        the time limit of an ILP (`edge adcnn`, `fl select`): an answer
                                         within an hour of a session; the solves of one question share it
MAX_ADCNN_BOARDS            64           ADCNN Conv nodes: the ILP has boards x tile classes integers; 64
                                         boards end within the ILP's time limit in 120 MB, 1,024 took 2 GB
                                         (and 1,000,000 never ended; the greedy rule is O(boards) Python)
MAX_LABEL_CELLS             5e7          clients x label classes of a generated non-IID partition: int64
                                         counts, 400 MB (--classes 1e9 on 1,000 clients asked for 7 TiB)
MAX_ILP_CLIENTS             5,000        clients of the selection ILP: about 10 s (1 M: 6 GB before CBC)
MAX_LLM_CANDIDATES          2,000,000    (t, p, d, micro-batch, interleave) plans `llm-parallel` costs
                                         (4.8 M took 14 s and 1.7 GB)
MAX_COUNT_OPTION            2^31 - 1     any whole-number option of the LLM search: products of two stay
                                         exact in int64
MAX_MICROBATCHES            1,024        micro-batches the synchronous pipelines try in `planner plan`
MAX_SIMULATED_OPS           200,000      ops (2 K M v) of a pipeline schedule drawn: the chart is a
                                         picture; wider is unreadable and slow
MAX_GAMMA                   256          draft length of the speculative-decoding tables (Thm 3.8's optimum
                                         is below 30 for any alpha < 0.99)
MIN_CHART_WIDTH             10           columns of a terminal schedule chart: a picture, narrower is
MAX_CHART_WIDTH             10,000       no chart and wider no terminal
MAX_TREE_SIZE               1,024        nodes of a token tree (Sequoia's DP is O(size^2 depth))
MAX_SIMULATE_GAMMA          32           `specdec simulate`: the real samplers on small random models,
MAX_SIMULATE_VOCAB          64           vectorised over the trials (trials x length x (gamma + 1)
MAX_SIMULATE_TREE           64           tokens, or tree nodes, per array): a test, not a workload
MAX_SIMULATE_TRIALS         2,000,000
MAX_LAYER_SIZE              1e15         parameters, MACs or output values of one CNN layer per sample:
                                         their products with a batch stay within int64
MAX_GRAPH_VALUE             1e15         a time (ms) or size (bytes) one graph.txt node gives (enforced by
                                         planner.spec.pipedream_graph)
MAX_INT                     2^63 - 1     any whole number in a YAML spec (int64, before any arithmetic)
MAX_YAML_BYTES              64 MiB       an input file (the largest catalog file is under 100 KB)
MAX_YAML_DEPTH              64           nesting of YAML (PyYAML composes recursively)
MAX_YAML_NODES              1,000,000    values in one YAML file (about 1 s)
MAX_YAML_ALIAS_NODES        100,000      values repeated through aliases (an alias bomb: well under 1 s)
MAX_CHAIN_LAYERS            4,000        layers of an exact stage partition (O(layers^2) stage ranges)
MAX_CHAIN_STATES            2,000        antichain states of a branchy graph beyond one per layer (the
                                         largest shipped profile, gnmt_large, has 1,495); past it the
                                         native view linearises wide blocks, PipeDream's is refused
MAX_NATIVE_WORK             2e9          the native DP's estimated candidate stages (about a minute)
NATIVE_STEP_WORK            1,250        the fixed cost of one native DP step, in candidate stages
MAX_NATIVE_TABLE            5e7          entries of the native DP's table
MAX_PIPEDREAM_INNER_WORK    2.5e11       PipeDream's DP below the top level, in n^3 · sum of m^2 units:
                                         the least round bound that takes PipeDream's own settings
                                         (GNMT-16, 1,495 states, on 2 x 8: 2.1e11); worst case (every
                                         candidate ties) 1.5 ns a unit wall, 1.0 CPU: about 6 minutes
                                         at the bound, a chain with distinct costs a small fraction
MAX_PIPEDREAM_OUTER_WORK    1e10         PipeDream's DP at the top level, in n^2 · m(m-1)/2 units;
                                         worst case 15 ns a unit wall, 9-10 CPU: about 2.5 minutes
MAX_PIPEDREAM_MEMORY        2 GiB        PipeDream's tables and range figures (16 B per entry, 25 B per
                                         pair of states) and its candidate batches
MAX_BOTTLENECK_ENTRIES      5e7          (cut, residue, replicas) entries n·M·N of the bottleneck search
                                         (past the native DP's limits): 6 bytes each kept (300 MB), ~25
                                         checks of 45 ns each: about a minute (4,000 x 8 x 1,024: 3.3e7)
BOTTLENECK_ENTRY_S          45e-9        wall seconds per entry per check, measured by bench/
                                         bench_pipeline_native.py --scale on the 2-core VM under load
                                         (1,000 layers: 45.2 ns; 4,000: 43.9 ns)
BOTTLENECK_ENTRY_BYTES      6            bytes per entry: two int16 bounds kept, one int16 per check
BOTTLENECK_CHECKS           25           feasibility checks per search (that bench: 25-29)
MAX_BOTTLENECK_DEVICES      2,048        devices of that search: about 2 N block patterns to cost, each
                                         O(N log N) (1,024 GPUs: 1,912 patterns, 0.5 s CPU; 2,048: ~2 s)
==========================  ===========  ==================================================================

planner.optimize.limits explains how each search's work is estimated, and holds those checks.

Physical quantities and ratios (the range accepted, both ends included unless marked "(0"):

==========================  ==================  ===========================================================
range                       accepted            reason
==========================  ==================  ===========================================================
BANDWIDTH                   1 B/s .. 1 PB/s     a link or memory: below 1 B/s no model moves in a human
                                                time; 1 PB/s is 100x the fastest HBM (8 TB/s)
COMPUTE                     1 FLOP/s .. 1e19    a device's peak: 1e19 FLOP/s (10 EFLOP/s) is 5,000x an
                                                H100's fp8 peak
MEMORY                      1 B .. 2^60 B       memory a device holds, rounded to whole bytes; 1 EiB at
                                                most (a million 1 TiB devices)
SIZE                        0 .. 2^60 B         any byte count (activations, parameters, messages,
                                                buckets): what memory can hold
FLOP_COUNT                  0 .. 1e27 FLOP      work of a layer or step: 10x the largest training run
DURATION                    0 .. 1e7 s          a measured time or a deadline: 1e7 s is four months
LATENCY                     0 .. 1 h            a link's per-message latency (a satellite hop is 0.6 s)
POWER                       1 mW .. 1 MW        one device's power draw
PRICE                       (0 .. 1e6 USD/h     one instance's hourly price
FRACTION                    1e-6 .. 1           efficiencies, availability, sparsified densities and
                                                compression ratios: below a millionth is a typo, and it
                                                keeps 1 / fraction <= 1e6
RATIO                       1e-6 .. 1e6         a ratio that divides or multiplies a size or time
                                                (activation compression R)
COST_RATIO                  0, 1e-6 .. 1e6      draft / target cost ratios c and c_hat of speculative
                                                decoding: 0 (a free draft) or a real ratio (c > 1 already
                                                means no gain; PEARL's window 1/c of c = 1e-300 was a
                                                300-digit number)
EPOCHS                      1e-6 .. 1e6         local or total epochs (a multiplier of training time)
OVER_SELECT                 0 .. 1e6            extra fraction of clients selected (the count is at most
                                                the fleet anyway; (1 + x) m stays finite)
WEIGHT                      0 .. 1e6            a weight or coefficient (FedProx mu, the selection
                                                objective's weights): 1e308 left the ILP no feasible point
==========================  ==================  ===========================================================

A YAML quantity field takes its kind's range unless the field narrows it (planner.spec.schema reads
CEILINGS for a field with no maximum of its own); command-line options are checked against the same
ranges. Refusals are bad input (exit 2), except the search limits (exit 1, no answer within the planner's
limits).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.units import format_quantity


def show(value: float, kind: str) -> str:
    """A bound of planner.units kind `kind` in its unit, for a message."""
    if kind == "bandwidth" and value >= 1e15:
        return f"{value / 1e15:g} PB/s"  # format_quantity's largest bandwidth unit is TB/s
    return format_quantity(value, kind)


# --- counts ------------------------------------------------------------------------------------------------
MAX_DEVICES = 1_000_000
MAX_FLEET_CLIENTS = 1_000_000
MAX_CLIENT_SAMPLES = 10**9
MAX_TRIALS = 1_000_000
MAX_MONTE_CARLO_DRAWS = 5e7
MAX_HISTOGRAM_BINS = 1_000
MAX_ROUNDS = 10**9
MAX_BATCH = 10**7
MAX_EPOCH_SAMPLES = 10**12
MAX_SOLVER_SECONDS = 3600.0
MAX_ADCNN_BOARDS = 64
MAX_LABEL_CELLS = 50_000_000
MAX_ILP_CLIENTS = 5_000
MAX_LLM_CANDIDATES = 2_000_000
MAX_COUNT_OPTION = 2**31 - 1
MAX_MICROBATCHES = 1024
MAX_SIMULATED_OPS = 200_000
MAX_GAMMA = 256
MIN_CHART_WIDTH = 10
MAX_CHART_WIDTH = 10_000
MAX_TREE_SIZE = 1024
MAX_SIMULATE_GAMMA = 32
MAX_SIMULATE_VOCAB = 64
MAX_SIMULATE_TREE = 64
MAX_SIMULATE_TRIALS = 2_000_000
MAX_LAYER_SIZE = 10**15
MAX_GRAPH_VALUE = 1e15
MAX_INT = 2**63 - 1
MAX_YAML_BYTES = 64 * 2**20
MAX_YAML_DEPTH = 64
MAX_YAML_NODES = 1_000_000
MAX_YAML_ALIAS_NODES = 100_000

# --- the exact partitioning searches (planner.optimize.limits: the estimates and the checks) ------------
MAX_CHAIN_LAYERS = 4_000
MAX_CHAIN_STATES = 2_000
MAX_NATIVE_WORK = 2e9
NATIVE_STEP_WORK = 1_250
MAX_NATIVE_TABLE = 5e7
MAX_PIPEDREAM_INNER_WORK = 2.5e11
MAX_PIPEDREAM_OUTER_WORK = 1e10
MAX_PIPEDREAM_MEMORY = 2**31
# the worst case's wall seconds per work unit (bench/bench_pipedream_limits.py: zero-cost chains of 200-250
# states, median of 5, on the 2-core reference machine shared with other jobs; CPU 1.0 and 9-10 ns)
PIPEDREAM_INNER_UNIT_S = 1.5e-9
PIPEDREAM_OUTER_UNIT_S = 15e-9
MAX_BOTTLENECK_ENTRIES = 5e7
BOTTLENECK_ENTRY_S = 45e-9
BOTTLENECK_ENTRY_BYTES = 6
BOTTLENECK_CHECKS = 25
MAX_BOTTLENECK_DEVICES = 2_048


@dataclass(frozen=True)
class Range:
    """An accepted range [low, high] (low excluded when `low_open`; 0 accepted too when `or_zero`) of a
    quantity of planner.units kind `kind` (None: a plain number); `whole`: stored as a whole number
    (memory: rounded to bytes)."""

    low: float
    high: float
    kind: str | None = None
    low_open: bool = False
    whole: bool = False
    or_zero: bool = False

    def __contains__(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if not math.isfinite(value) or value > self.high:
            return False
        return (self.or_zero and value == 0) or (value > self.low if self.low_open else value >= self.low)

    def show(self, value: float) -> str:
        """`value` with this range's unit ("1 PB/s"), or as a plain number."""
        return f"{value:g}" if self.kind is None else show(value, self.kind)

    def text(self) -> str:
        """'from 1 B/s to 1 PB/s', '> 0 and <= 1e+06', for an error message."""
        low = f"> {self.show(self.low)}" if self.low_open else f"from {self.show(self.low)}"
        to = " and <= " if self.low_open else " to "
        zero = f"{self.show(0.0)}, or " if self.or_zero else ""
        return f"{zero}{low}{to}{self.show(self.high)}"


BANDWIDTH = Range(1.0, 1e15, "bandwidth")
COMPUTE = Range(1.0, 1e19, "compute")
MEMORY = Range(1.0, float(2**60), "memory", whole=True)
SIZE = Range(0.0, float(2**60), "memory")
FLOP_COUNT = Range(0.0, 1e27, "flops")
DURATION = Range(0.0, 1e7, "time")
LATENCY = Range(0.0, 3600.0, "time")
POWER = Range(1e-3, 1e6, "power")
PRICE = Range(0.0, 1e6, low_open=True)
FRACTION = Range(1e-6, 1.0)
RATIO = Range(1e-6, 1e6)
COST_RATIO = Range(1e-6, 1e6, or_zero=True)
EPOCHS = Range(1e-6, 1e6)
OVER_SELECT = Range(0.0, 1e6)
WEIGHT = Range(0.0, 1e6)

# The widest range of each planner.units kind: a YAML quantity field without a maximum of its own gets it.
CEILINGS: dict[str, Range] = {
    "bandwidth": BANDWIDTH,
    "compute": COMPUTE,
    "memory": SIZE,
    "flops": FLOP_COUNT,
    "time": DURATION,
    "power": POWER,
}


def count_problem(value: int, high: float, what: str) -> str | None:
    """None when 1 <= `value` <= `high`, else what was expected, naming the bound (for an error)."""
    if value < 1:
        return f"expected {what} >= 1"
    if value > high:
        return f"expected at most {high:,.0f} {what} (the planner's bound: planner/limits.py)"
    return None


def range_problem(value: float, bound: Range, what: str) -> str | None:
    """None when `value` is in `bound`, else 'expected <what> from .. to ..' (for an error)."""
    return None if value in bound else f"expected {what} {bound.text()}"
