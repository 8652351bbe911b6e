"""PipeDream's stage-partitioning optimizer (`cost_model="pipedream"`): same cost terms, same search.

Source: Narayanan et al., "PipeDream: Generalized Pipeline Parallelism for DNN Training", SOSP 2019,
§3.1 (the dynamic program over layers and workers of a hierarchical topology), as implemented in its
public optimizer (msr-fiddle/pipedream, `optimizer/optimizer_graph_hierarchical.py`). This is our own,
vectorised code for that recurrence; on the same profile and settings it finds the same optimal time
("Time per stage in pipeline"), and the same data-parallel and single-machine times.

Model (units: seconds, bytes, bytes/s). The profile is linearised into PipeDream's chain of antichain
states (planner.optimize.chain_view); a range of states r..j (inclusive) has compute T, parameter bytes
P and activation bytes A, differences of down-set sums. Levels are given innermost first as
(n, B): n units of the level below joined by links of B bytes/s (PipeDream's -n and -b). For each level,
A[r][j][m] is the best time per minibatch of the states r..j on m+1 units of this level:

* one stage replicated on m+1 units: (T + 4·m·P / (B·(m+1)) / n_in) / (m+1), where n_in is the
  number of units inside one unit of this level (the count of the level below; 1 at the innermost
  level) — this division appears only here, not in the split below;
* or a split after state k (k a predecessor of j in the antichain DAG; for a row r > 0, k not a
  predecessor of state r-1 and not before r in the chain) with m' units for the last stage k+1..j:
  max(A[r][k][m-m'], (T' + 4·(m'-1)·P' / (B·m')) / m', transfers), T' and P' the figures of k+1..j;
  `transfers` are 2·a_k / (B·m') / c for the input and, unless j is the last state, 2·a_j / (B·m') / c
  for the output (a_s the output activation of state s), counted only when an activation compression
  ratio c is given (PipeDream ignores transfers otherwise);
* with `use_fewer_machines`, also A[r][j][m-1] (for j > r).

A candidate whose stashed data, ceil((n - (m+1)) / m') · (A' + P') (m' = m+1 for one stage), exceeds the
memory limit is skipped (only with a memory limit). `straight` allows one unit per stage. At the
innermost level T is the profile's compute; at every higher level T[r][j] is the lower level's best time
A[r][j][n-1] of that range. Only row r = 0 is needed at the outermost level; the answer is
A[0][N-1][n-1] there. Data parallelism on all devices: t = C, then per level, innermost first,
t = (t + 4·(n-1)·P_total / (B·n) / n_in) / n; the single-machine time is C, the total compute.

Search and speed. PipeDream evaluates every candidate in Python loops: O(N^2 · p · n^2) scalar steps
per level below the outermost (N states, p the mean number of predecessors of a state, n the level's
count) and O(N · p · n^2) at the outermost (one row), 38 s for ResNet-50 and over 40 minutes for GNMT-16
at 4 × 4 on one core. Here the table is filled column by column (j ascending; a split reads only
earlier columns) and each column for all rows at once. At the outermost level every (k, m, m') of a
column is one array operation. Below it, for each m and each chunk of ROW_CHUNK rows the candidates form
a block over (k, r): max(A[r][k][m-m'], last stage of k+1..j on m'), then min over k. Candidates before
the chunk's first row are skipped (those entries are +inf); with more than SAMPLE_MIN candidates every
SAMPLE_STEP-th goes first to tighten the bound; then a candidate is evaluated only if its last-stage
time is below the chunk's worst current value (a candidate is never below its last stage, so dropping
the others is exact). The worst case is the same count, O(N · p · N · n^2) per level, now in array
operations; on PipeDream's profiles at 4 × 4 the whole run (load, chain view, solve, stages) takes about
0.05 s for ResNet-50 and 1.2-2 s for GNMT-16 (bench/bench_pipedream.py). The chosen split of each
entry is recovered afterwards by re-evaluating the candidates of only the entries on the optimal path,
with the same arithmetic.

Checks: planner.optimize.pipedream_reference transcribes the recurrence in plain loops (the tests compare
whole tables bit for bit) and re-derives sampled entries of tables too large for it; the tests also
enumerate PipeDream's search space by brute force on small random profiles. The chain order of a
branchy graph is one depth-first order of the antichain DAG; on PipeDream's ResNet-50, GNMT-8 and GNMT-16
profiles random re-orderings of the edges gave the same optima in every multi-level setting tried.

API: `partition_pipedream(profile, levels, ...)` -> PartitionResult (stages, config, times, speedups);
`levels_from_cluster(cluster)` and `parse_levels("4:10GB/s,4:1.25GB/s")` build levels;
`solve_tables` exposes the raw tables; `data_parallel_time` PipeDream's data-parallel time.

Ties: zero-cost layers make several splits equally good; the optimal time is unique. Among equal
candidates the reconstruction prefers a single stage, then fewer machines, then a split after a
successor of the range's previous state (a "genuine" split), then a last stage with some compute, then
fewer replicas for the last stage, then a later split point.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from planner.errors import InfeasibleError, SpecError
from planner.limits import BANDWIDTH, MAX_DEVICES
from planner.optimize.chain_view import ChainView, build_chain_view
from planner.optimize.limits import check_pipedream
from planner.units import UnitError, parse_quantity

if TYPE_CHECKING:
    from planner.spec.hardware import Cluster
    from planner.spec.profile import ModelProfile

INF = math.inf


@dataclass(frozen=True)
class PipeDreamOptions:
    """PipeDream's optimizer switches: --use_memory_constraint with -s, --straight_pipeline,
    --use_fewer_machines, --activation_compression_ratio."""

    memory_limit_bytes: float | None = None
    straight: bool = False
    use_fewer_machines: bool = False
    activation_compression_ratio: float | None = None


@dataclass(frozen=True)
class PartitionStage:
    """One pipeline stage: the chain states [start, end), replicated on `replicas` devices.

    `time_s` is the stage's term in the pipeline time after dividing by the replicas (compute, the
    data-parallel synchronisation of each level it is replicated over, and the activation transfers when
    they are counted); the pipeline time is the largest of them. `compute_s` and `parameter_bytes` are
    the figures of the stage's states (the whole stage, not per replica). `replicas_per_level` gives the
    units it is replicated over at each level, innermost first (their product is `replicas`); `devices`
    are flat device indices, innermost level fastest (server s, GPU g of 4: 4·s + g).
    """

    start: int
    end: int
    layer_names: tuple[str, ...]
    replicas: int
    replicas_per_level: tuple[int, ...]
    devices: tuple[int, ...]
    time_s: float
    compute_s: float
    parameter_bytes: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "layers": [self.start, self.end],
            "layer_names": list(self.layer_names),
            "replicas": self.replicas,
            "replicas_per_level": list(self.replicas_per_level),
            "devices": list(self.devices),
            "time_s": self.time_s,
            "compute_s": self.compute_s,
            "parameter_bytes": self.parameter_bytes,
        }


@dataclass(frozen=True)
class PartitionResult:
    """The optimal partition and PipeDream's summary figures (seconds per minibatch of the profile).

    `pipeline_time_s` is PipeDream's "Time per stage in pipeline"; `single_stage_time_s` its "Time taken
    by single-stage pipeline" (all compute on one device); `data_parallel_time_s` the time of pure data
    parallelism on all devices; `dp_speedup_vs_single` = single / data parallel ("Throughput increase of
    (n)-machine DP compared to single machine"); `speedup_over_dp` = data parallel / pipeline.
    """

    pipeline_time_s: float
    single_stage_time_s: float
    data_parallel_time_s: float
    stages: tuple[PartitionStage, ...]
    levels: tuple[tuple[int, float], ...]
    num_states: int
    cost_model: str = "pipedream"
    options: PipeDreamOptions = field(default_factory=PipeDreamOptions)

    @property
    def dp_speedup_vs_single(self) -> float:
        return self.single_stage_time_s / self.data_parallel_time_s

    @property
    def speedup_over_dp(self) -> float:
        return self.data_parallel_time_s / self.pipeline_time_s

    @property
    def speedup_over_single(self) -> float:
        return self.single_stage_time_s / self.pipeline_time_s

    @property
    def num_devices(self) -> int:
        return math.prod(count for count, _ in self.levels)

    @property
    def devices_used(self) -> int:
        return sum(stage.replicas for stage in self.stages)

    @property
    def config(self) -> str:
        """ "straight" (unreplicated pipeline of >= 2 stages), "16" (data parallelism on 16 devices), or the
        replicas joined by "-" ("15-1")."""
        replicas = [stage.replicas for stage in self.stages]
        if len(replicas) >= 2 and all(r == 1 for r in replicas):
            return "straight"
        return "-".join(str(r) for r in replicas)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cost_model": self.cost_model,
            "config": self.config,
            "pipeline_time_s": self.pipeline_time_s,
            "single_stage_time_s": self.single_stage_time_s,
            "single_device_time_s": self.single_stage_time_s,
            "data_parallel_time_s": self.data_parallel_time_s,
            "dp_speedup_vs_single": self.dp_speedup_vs_single,
            "speedup_over_dp": self.speedup_over_dp,
            "speedup_over_single": self.speedup_over_single,
            "num_devices": self.num_devices,
            "devices_used": self.devices_used,
            "num_states": self.num_states,
            "levels": [{"count": count, "bandwidth_bytes_per_s": bw} for count, bw in self.levels],
            "options": {
                "memory_limit_bytes": self.options.memory_limit_bytes,
                "straight": self.options.straight,
                "use_fewer_machines": self.options.use_fewer_machines,
                "activation_compression_ratio": self.options.activation_compression_ratio,
            },
            "stages": [stage.to_dict() for stage in self.stages],
        }


# --------------------------------------------------------------------------------------------- levels


def levels_from_cluster(cluster: Cluster) -> list[tuple[int, float]]:
    """(count, link bandwidth in bytes/s) per level, innermost first: PipeDream's -n and -b."""
    return [(level.count, level.link.bandwidth) for level in cluster.levels]


_LEVEL_ITEM = re.compile(r"\s*([0-9]+)\s*:\s*(.+?)\s*")  # ASCII digits: see planner.units


def parse_levels(text: str, option: str = "--levels") -> list[tuple[int, float]]:
    """Parse "4:10GB/s,4:1.25GB/s" (count:bandwidth per level, innermost first) into levels."""
    expected = "count:bandwidth per level, innermost first, e.g. '4:10GB/s,4:1.25GB/s'"
    if not isinstance(text, str) or not text.strip():
        raise SpecError(option, option.lstrip("-"), f"expected {expected}", text)
    levels = []
    for item in text.split(","):
        match = _LEVEL_ITEM.fullmatch(item)
        if match is None:
            raise SpecError(option, option.lstrip("-"), f"expected {expected}", item.strip())
        try:
            bandwidth = parse_quantity(match.group(2), "bandwidth")
        except UnitError as exc:
            raise SpecError(
                option, option.lstrip("-"), f"expected {expected} ({exc})", item.strip()
            ) from None
        levels.append((int(match.group(1)), bandwidth))
    return check_levels(levels, option)


def check_levels(levels: Sequence[tuple[int, float]], source: str = "levels") -> list[tuple[int, float]]:
    """Levels as a list of (count >= 1, bandwidth in limits.BANDWIDTH) pairs, MAX_DEVICES devices at most
    in all (what a cluster file may hold); anything else is a SpecError."""
    checked = []
    if len(levels) == 0:
        raise SpecError(source, "levels", "expected at least one level (count, bandwidth)", list(levels))
    for index, item in enumerate(levels):
        try:
            count, bandwidth = item
        except (TypeError, ValueError):
            raise SpecError(source, f"levels[{index}]", "expected a (count, bandwidth) pair", item) from None
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
            raise SpecError(source, f"levels[{index}].count", "expected an integer >= 1", count)
        if (
            isinstance(bandwidth, bool)
            or not isinstance(bandwidth, (int, float, np.floating))
            or not math.isfinite(bandwidth)
            or bandwidth <= 0
        ):
            raise SpecError(
                source, f"levels[{index}].bandwidth", "expected a finite bandwidth > 0 (bytes/s)", bandwidth
            )
        if bandwidth not in BANDWIDTH:  # 1e-300 B/s gave a 300-digit time
            raise SpecError(
                source, f"levels[{index}].bandwidth", f"expected a bandwidth {BANDWIDTH.text()}", bandwidth
            )
        checked.append((int(count), float(bandwidth)))
    devices = math.prod(count for count, _ in checked)
    if devices > MAX_DEVICES:  # the native model builds a cluster of them
        raise SpecError(
            source,
            "levels",
            f"expected at most {MAX_DEVICES:,} devices in all (the counts' product)",
            devices,
        )
    return checked


# ------------------------------------------------------------------------------------------- solving


def partition_pipedream(
    profile: ModelProfile | ChainView,
    levels: Sequence[tuple[int, float]],
    *,
    memory_limit_bytes: float | None = None,
    straight: bool = False,
    use_fewer_machines: bool = False,
    activation_compression_ratio: float | None = None,
) -> PartitionResult:
    """PipeDream's optimal partition of `profile` on `levels` ((count, bytes/s) innermost first).

    Raises SpecError for bad levels or options and InfeasibleError when no partition fits (memory limit,
    or a straight pipeline with more devices than states and no `use_fewer_machines`).
    """
    checked = check_levels(levels)
    options = _options(memory_limit_bytes, straight, use_fewer_machines, activation_compression_ratio)
    view = profile if isinstance(profile, ChainView) else build_chain_view(profile)
    check_pipedream(view.num_states, checked, options.straight)
    tables = solve_tables(view, checked, options)
    count = view.num_states
    best = float(tables[-1][checked[-1][0] - 1, count - 1, 0])
    if not math.isfinite(best):
        raise InfeasibleError(
            "no PipeDream partition fits: every candidate exceeds the memory limit or a straight pipeline "
            f"needs at least as many states ({count}) as devices"
        )
    stages = _Reconstruction(view, checked, options, tables).stages()
    return PartitionResult(
        pipeline_time_s=best,
        single_stage_time_s=float(view.cum_compute_s[-1]),
        data_parallel_time_s=data_parallel_time(view, checked),
        stages=tuple(stages),
        levels=tuple(checked),
        num_states=count,
        options=options,
    )


def data_parallel_time(view: ChainView, levels: Sequence[tuple[int, float]]) -> float:
    """PipeDream's data-parallel time: per level, t = (t + 4(n-1)·P / (B·n) / n_in) / n, from t = C."""
    time = float(view.cum_compute_s[-1])
    parameters = float(view.cum_parameter_bytes[-1])
    inner = 1
    for machines, bandwidth in levels:
        sync = (4 * (machines - 1) * parameters) / (bandwidth * machines) / inner
        time = (time + sync) / machines
        inner = machines
    return time


def _options(
    memory_limit_bytes: float | None, straight: bool, use_fewer_machines: bool, ratio: float | None
) -> PipeDreamOptions:
    if memory_limit_bytes is not None and not (math.isfinite(memory_limit_bytes) and memory_limit_bytes >= 0):
        raise SpecError(
            "options", "memory_limit_bytes", "expected a finite memory limit >= 0", memory_limit_bytes
        )
    if ratio is not None and not (math.isfinite(ratio) and ratio > 0):
        raise SpecError("options", "activation_compression_ratio", "expected a finite ratio > 0", ratio)
    return PipeDreamOptions(
        memory_limit_bytes=None if memory_limit_bytes is None else float(memory_limit_bytes),
        straight=bool(straight),
        use_fewer_machines=bool(use_fewer_machines),
        activation_compression_ratio=None if ratio is None else float(ratio),
    )


class _Level:
    """One level's cost terms, shared by the table fill and the reconstruction (identical arithmetic)."""

    def __init__(
        self,
        view: ChainView,
        machines: int,
        bandwidth: float,
        inner: int,
        options: PipeDreamOptions,
    ):
        self.view = view
        self.machines = machines
        self.bandwidth = bandwidth
        self.inner = inner
        self.options = options
        self.last_state = view.num_states - 1
        self.max_m = 1 if options.straight else machines

    def base(
        self,
        compute: np.ndarray,
        parameters: np.ndarray,
        activations: np.ndarray,
        m: int,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """One stage of states r..j on m+1 units: (T + 4·m·P / (B·(m+1)) / n_in) / (m+1)."""
        time = np.multiply(parameters, 4 * m, out=out)
        time /= self.bandwidth * (m + 1)
        time /= self.inner
        time += compute
        time /= m + 1
        limit = self.options.memory_limit_bytes
        if limit is not None:
            stashed = math.ceil((self.machines - (m + 1)) / (m + 1)) * (activations + parameters)
            time[stashed > limit] = INF
        return time

    def last_stage(
        self, compute: np.ndarray, parameters: np.ndarray, split: np.ndarray, j: int, replicas: Any
    ) -> np.ndarray:
        """Time of the last stage k+1..j on m' units (per split point k; `replicas` an int or a column of
        them), with its activation transfers when they are counted."""
        time = (compute + (4 * (replicas - 1) * parameters) / (self.bandwidth * replicas)) / replicas
        ratio = self.options.activation_compression_ratio
        if ratio is not None:
            out = self.view.output_activation_bytes
            time = np.maximum(time, (2.0 * out[split]) / (self.bandwidth * replicas) / ratio)
            if j < self.last_state:
                time = np.maximum(time, (2.0 * out[j]) / (self.bandwidth * replicas) / ratio)
        return time

    def stash_fits(
        self, activations: np.ndarray, parameters: np.ndarray, m: int, replicas: int
    ) -> np.ndarray:
        """Whether a last stage on m' units of a prefix on m+1 units passes the memory check:
        ceil((n - (m+1)) / m') · (A' + P') <= limit (always, without a limit)."""
        limit = self.options.memory_limit_bytes
        if limit is None:
            return np.ones(np.shape(parameters), dtype=bool)
        return (activations + parameters) * math.ceil((self.machines - (m + 1)) / replicas) <= limit

    def pairs(self) -> list[tuple[int, int]]:
        """The (m, m') pairs a split considers, m ascending: m' in 1..m (1 for a straight pipeline)."""
        return [
            (m, replicas)
            for m in range(1, self.machines)
            for replicas in ([1] if self.options.straight else range(1, m + 1))
        ]


def solve_tables(
    view: ChainView, levels: Sequence[tuple[int, float]], options: PipeDreamOptions
) -> list[np.ndarray]:
    """Every level's table, shaped (n, N, rows): table[m, j, r] = A[r][j][m]; +inf where PipeDream has
    None. The outermost level has one row (r = 0)."""
    count = view.num_states
    cum_c, cum_p, cum_a = view.cum_compute_s, view.cum_parameter_bytes, view.cum_activation_bytes
    upper = np.tril(np.ones((count, count), dtype=bool))  # [j, r]: r <= j
    compute = np.where(upper, cum_c[1:, None] - cum_c[None, :-1], INF)  # compute[j, r] = T of r..j
    parameters = cum_p[1:, None] - cum_p[None, :-1]
    activations = cum_a[1:, None] - cum_a[None, :-1]
    tables = []
    inner = 1
    for index, (machines, bandwidth) in enumerate(levels):
        last = index == len(levels) - 1
        level = _Level(view, machines, bandwidth, inner, options)
        rows = 1 if last else count
        tables.append(_fill(level, compute, parameters, activations, rows))
        compute = tables[-1][machines - 1]
        inner = machines
    return tables


ROW_CHUNK = 128  # rows filled together: candidates k < the chunk's first row are skipped (they are +inf)
SAMPLE_MIN = 256  # with more candidates than this, every SAMPLE_STEP-th is tried first (a tighter bound)
SAMPLE_STEP = 16


def _fill(
    level: _Level, compute: np.ndarray, parameters: np.ndarray, activations: np.ndarray, rows: int
) -> np.ndarray:
    """One level's table [m, j, r], column by column (j ascending: a split only reads earlier columns).

    For each column j the last-stage times of every split point k and every (m, m') are one array. With
    one row (the outermost level) all (m, m') are then evaluated in one block. With many rows, for each m
    and each chunk of rows, the candidates k (predecessors of j, k >= the chunk's first row: earlier ones
    are +inf there) are evaluated as a block: max(A[r][k][m-m'], last stage of k+1..j on m'), then the
    minimum over k. A sample of the candidates goes first; then only the candidates whose last stage is
    below the chunk's worst current value are evaluated (the others cannot improve any row: a candidate
    is never below its last stage), so the result is exact.
    """
    view, machines = level.view, level.machines
    count = view.num_states
    options = level.options
    table = np.empty((machines, count, rows))
    table[level.max_m :] = INF
    for m in range(level.max_m):
        level.base(compute[:, :rows], parameters[:, :rows], activations[:, :rows], m, out=table[m])
    pairs = level.pairs()
    pair_m = np.array([m for m, _ in pairs])
    pair_prev = np.array([m - replicas for m, replicas in pairs])
    replica_column = np.array(sorted({replicas for _, replicas in pairs}))[:, None]
    pair_row = np.searchsorted(replica_column[:, 0], [replicas for _, replicas in pairs])
    group_start = np.flatnonzero(np.r_[True, pair_m[1:] != pair_m[:-1]]) if pairs else pair_m
    for j in range(1, count):
        split = view.predecessors[j]
        top = min(j, rows)  # rows r < j take splits (and fewer machines)
        width = min(top, int(split[-1]) + 1) if len(split) and pairs else 0  # rows r <= max k
        if width:
            stage = level.last_stage(
                compute[j, split + 1], parameters[j, split + 1], split, j, replica_column
            )
            stage = stage[pair_row]  # (pairs, k)
            if options.memory_limit_bytes is not None:
                for index, (m, replicas) in enumerate(pairs):
                    fits = level.stash_fits(activations[j, split + 1], parameters[j, split + 1], m, replicas)
                    stage[index] = np.where(fits, stage[index], INF)
            if rows == 1:
                block = np.maximum(table[pair_prev][:, split, 0], stage)
                best = np.minimum.reduceat(block.min(axis=1), group_start)
                np.minimum(table[1:, j, 0], best, out=table[1:, j, 0])
            else:
                for m in range(1, machines):
                    chosen = np.flatnonzero(pair_m == m)
                    candidates = [(table[pair_prev[i]], stage[i]) for i in chosen]
                    if options.use_fewer_machines:  # tighter bounds before the splits (same result)
                        np.minimum(table[m, j, :top], table[m - 1, j, :top], out=table[m, j, :top])
                    current = table[m, j, :width]
                    for low in range(0, width, ROW_CHUNK):
                        head = current[low : min(width, low + ROW_CHUNK)]
                        first = int(np.searchsorted(split, low))
                        _relax(
                            head,
                            split[first:],
                            [(prefix, times[first:]) for prefix, times in candidates],
                            low,
                        )
        if options.use_fewer_machines:  # A[r][j][m] also takes A[r][j][m-1] (PipeDream: after the splits)
            for m in range(1, machines):
                np.minimum(table[m, j, :top], table[m - 1, j, :top], out=table[m, j, :top])
    return table


def _relax(
    head: np.ndarray, ks: np.ndarray, candidates: list[tuple[np.ndarray, np.ndarray]], low: int
) -> None:
    """head[r] = min(head[r], min over k, (prefix, stage) of max(prefix[k, low + r], stage[k]))."""
    high = low + len(head)
    if len(ks) > SAMPLE_MIN:
        sample = slice(None, None, SAMPLE_STEP)
        for prefix, stage in candidates:
            block = prefix[ks[sample], low:high]
            np.maximum(block, stage[sample][:, None], out=block)
            np.minimum(head, block.min(axis=0), out=head)
    for prefix, stage in candidates:
        keep = stage < head.max()
        if not keep.any():
            continue
        block = prefix[ks[keep], low:high]
        np.maximum(block, stage[keep][:, None], out=block)
        np.minimum(head, block.min(axis=0), out=head)


# ------------------------------------------------------------------------------------ reconstruction


@dataclass
class _Flat:
    start: int
    end: int
    devices: list[int]
    time: float | None  # None: the innermost level's stage, whose time is its compute
    replicas: tuple[int, ...] = ()  # per level, innermost first


class _Reconstruction:
    """Recovers the optimal stages from the tables by re-evaluating the candidates of the entries on the
    optimal path (the same arithmetic as the fill, so the chosen candidate equals the table value)."""

    def __init__(
        self,
        view: ChainView,
        levels: list[tuple[int, float]],
        options: PipeDreamOptions,
        tables: list[np.ndarray],
    ):
        self.view = view
        self.levels = levels
        self.options = options
        self.tables = tables
        self.level_terms = []
        inner = 1
        for machines, bandwidth in levels:
            self.level_terms.append(_Level(view, machines, bandwidth, inner, options))
            inner = machines
        self.count = view.num_states

    def _compute(self, index: int, r: int, j: int) -> float:
        if index == 0:
            return float(self.view.cum_compute_s[j + 1] - self.view.cum_compute_s[r]) if j >= r else INF
        below = self.tables[index - 1]
        return float(below[self.levels[index - 1][0] - 1, j, r])

    def _raw(self, cum: np.ndarray, r: int, j: int) -> float:
        return float(cum[j + 1] - cum[r])

    def stages(self) -> list[PartitionStage]:
        top = len(self.levels) - 1
        flat = self._expand(top, 0, self.count - 1, self.levels[top][0] - 1)
        return self._finish(flat)

    def _expand(self, index: int, r: int, j: int, m: int) -> list[_Flat]:
        """Flattened stages of entry A[r][j][m] at level `index`, devices relative to one unit of the
        level above."""
        unit = math.prod(count for count, _ in self.levels[:index])
        flat: list[_Flat] = []
        offset = 0
        for start, end, replicas, combine in self._level_stages(index, r, j, m):
            if index == 0:
                inner = [_Flat(start, end + 1, [0], None)]
            else:
                inner = self._expand(index - 1, start, end, self.levels[index - 1][0] - 1)
            for stage in inner:
                devices = [(offset + u) * unit + d for u in range(replicas) for d in stage.devices]
                path = (*stage.replicas, replicas)
                flat.append(_Flat(stage.start, stage.end, devices, combine(stage.time), path))
            offset += replicas
        return flat

    def _level_stages(self, index: int, r: int, j: int, m: int) -> list[tuple[int, int, int, Any]]:
        """The stages (start, end inclusive, replicas, time combiner) of entry A[r][j][m] at a level."""
        level = self.level_terms[index]
        table = self.tables[index]
        view = self.view
        value = float(table[m, j, r])
        compute = self._compute(index, r, j)
        parameters = np.array([self._raw(view.cum_parameter_bytes, r, j)])
        activations = np.array([self._raw(view.cum_activation_bytes, r, j)])
        if m < level.max_m:
            base = float(level.base(np.array([compute]), parameters, activations, m)[0])
            if base == value:
                return [(r, j, m + 1, self._base_combiner(level, float(parameters[0]), m, compute))]
        if self.options.use_fewer_machines and m > 0 and j > r and float(table[m - 1, j, r]) == value:
            return self._level_stages(index, r, j, m - 1)
        for k, replicas in self._split_candidates(index, r, j, m):
            split = np.array([k])
            stage_compute = np.array([self._compute(index, k + 1, j)])
            stage_parameters = np.array([self._raw(view.cum_parameter_bytes, k + 1, j)])
            stage_activations = np.array([self._raw(view.cum_activation_bytes, k + 1, j)])
            time = float(level.last_stage(stage_compute, stage_parameters, split, j, replicas)[0])
            if not level.stash_fits(stage_activations, stage_parameters, m, replicas)[0]:
                continue
            if max(float(table[m - replicas, k, r]), time) == value:
                head = self._level_stages(index, r, k, m - replicas)
                return [
                    *head,
                    (
                        k + 1,
                        j,
                        replicas,
                        self._split_combiner(level, float(stage_parameters[0]), k, j, replicas),
                    ),
                ]
        raise AssertionError(f"no candidate reproduces table entry A[{r}][{j}][{m}] at level {index}")

    def _split_candidates(self, index: int, r: int, j: int, m: int) -> list[tuple[int, int]]:
        """Split candidates (k, m') of entry A[r][j][m] in tie-break order: a split after a successor of
        state r-1 first, then a last stage with some compute, then fewer replicas for it, then larger k."""
        if j <= r:
            return []
        cum = self.view.cum_compute_s
        candidates = []
        for k in (int(k) for k in self.view.predecessors[j] if k >= r):
            genuine = r == 0 or _precedes(self.view, r - 1, k)
            idle = cum[j + 1] - cum[k + 1] <= 0
            for replicas in [1] if self.options.straight else range(1, m + 1):
                candidates.append(((not genuine, idle, replicas, -k), (k, replicas)))
        return [candidate for _, candidate in sorted(candidates)]

    @staticmethod
    def _base_combiner(level: _Level, parameters: float, m: int, compute: float) -> Any:
        def combine(time: float | None) -> float:
            inner_time = compute if time is None else time
            sync = (4 * m * parameters) / (level.bandwidth * (m + 1)) / level.inner
            return (inner_time + sync) / (m + 1)

        return combine

    def _split_combiner(self, level: _Level, parameters: float, k: int, j: int, replicas: int) -> Any:
        view = self.view

        def combine(time: float | None) -> float:
            inner_time = self._compute(0, k + 1, j) if time is None else time
            result = (
                inner_time + (4 * (replicas - 1) * parameters) / (level.bandwidth * replicas)
            ) / replicas
            ratio = level.options.activation_compression_ratio
            if ratio is not None:
                out = view.output_activation_bytes
                result = max(result, (2.0 * out[k]) / (level.bandwidth * replicas) / ratio)
                if j < level.last_state:
                    result = max(result, (2.0 * out[j]) / (level.bandwidth * replicas) / ratio)
            return float(result)

        return combine

    def _finish(self, flat: list[_Flat]) -> list[PartitionStage]:
        view = self.view
        assigned = 0
        members: list[list[int]] = []
        for stage in flat:
            layers = view.layers_in(stage.end, assigned)
            for layer in layers:
                assigned |= 1 << layer
            members.append(layers)
        owner = {layer: index for index, layers in enumerate(members) for layer in layers}
        members[0] = sorted([*view.dropped_inputs, *members[0]])
        for sink in view.dropped_sinks:
            producers = [owner[p] for p in view.layer_inputs[sink] if p in owner]
            members[min(producers) if producers else 0].append(sink)
        stages = []
        for stage, layers in zip(flat, members, strict=True):
            assert stage.time is not None  # _expand combines every time; only its innermost seeds are None
            stages.append(
                PartitionStage(
                    start=stage.start,
                    end=stage.end,
                    layer_names=tuple(view.layer_names[i] for i in sorted(layers)),
                    replicas=len(stage.devices),
                    replicas_per_level=stage.replicas,
                    devices=tuple(sorted(stage.devices)),
                    time_s=stage.time,
                    compute_s=view.compute_s(stage.start, stage.end),
                    parameter_bytes=view.parameter_bytes(stage.start, stage.end),
                )
            )
        return stages


def _precedes(view: ChainView, before: int, after: int) -> bool:
    """Whether state `before` is a predecessor of state `after` in the antichain DAG."""
    predecessors = view.predecessors[after]
    index = int(np.searchsorted(predecessors, before))
    return index < len(predecessors) and int(predecessors[index]) == before
