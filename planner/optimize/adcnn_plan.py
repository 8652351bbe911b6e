"""An ADCNN plan for a CNN on a set of boards: where to cut, which board gets which tiles, the latency,
and how it compares with one device, with a remote cloud and with ADCNN's greedy assignment.

Pipeline (Zhang, Lin, Zhang, ICPP 2020; the seed lecture): the Central node holds the input image; it
scatters FDSP tiles to the Conv nodes, which run layers [0, cut]; their outputs come back (optionally
quantised) and the Central node runs layers (cut, end]. Latency = the tile phase's makespan
(planner.optimize.adcnn) + the Central node's time. Tile costs come from planner.cost.edge_tiles.

Cut choice when none is given: every clean cut after a layer that reduces the map (pooling, strided
conv) or after the last spatial layer is scored with ADCNN's greedy assignment; the three best are
solved exactly and the fastest wins (a heuristic over cuts, exact within each). Ties: equal greedy
scores by the earlier cut; equal exact latencies keep the better-scored cut (the first solved).

Board order: the boards are served fastest first (by their time for the largest tile), a stable sort.
A board's transfers run at the slower of its link and the Central node's, with the larger latency.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from planner.cost import edge_tiles
from planner.cost.edge_baselines import CloudOffload, cloud_offload, fits, single_device_s
from planner.cost.edge_model import EdgeModel, model_time
from planner.limits import MAX_ADCNN_BOARDS
from planner.optimize.adcnn import solve
from planner.optimize.adcnn_problem import AssignmentProblem, Solution, evaluate, greedy
from planner.spec.hardware import Cluster, Device, Link


@dataclass(frozen=True)
class Board:
    """A board that takes part: its name, its device and its link towards the Central node."""

    name: str
    device: Device
    link: Link


def check_boards(count: int) -> None:
    """Refuse more Conv nodes than limits.MAX_ADCNN_BOARDS, before a Board is made for each."""
    if count > MAX_ADCNN_BOARDS:
        raise ValueError(
            f"expected at most {MAX_ADCNN_BOARDS} Conv nodes (the planner's bound for ADCNN's assignment: "
            f"planner/limits.py), got {count:,}"
        )


def cluster_boards(cluster: Cluster, conv_nodes: int | None = None) -> tuple[Board, list[Board]]:
    """The Central node and the Conv nodes of a cluster: all its devices, joined by the outermost
    level's link (the one boards talk over); the first device is the Central node."""
    device = cluster.device
    if not isinstance(device, Device):
        raise ValueError(f"cluster '{cluster.name}' device is not resolved")
    total = cluster.total_devices
    nodes = total - 1 if conv_nodes is None else conv_nodes
    if not 1 <= nodes <= total - 1:
        raise ValueError(
            f"{cluster.name} has {total} devices: 1 Central node and 1 to {total - 1} Conv nodes, not {nodes}"
        )
    check_boards(nodes)
    link = cluster.levels[-1].link
    central = Board("central", device, link)
    return central, [Board(f"conv{i + 1}", device, link) for i in range(nodes)]


@dataclass(frozen=True)
class TileClass:
    """Identical tiles (same area): their shapes on the cut's map (e.g. "2x1, 1x2"), how many, share of
    the map, and bytes each way per tile."""

    shapes: str
    cells: int
    count: int
    share: float
    input_bytes: float
    output_bytes: float


@dataclass(frozen=True)
class ADCNNPlan:
    model: str
    cut: str
    cut_index: int
    grid: tuple[int, int]
    classes: tuple[TileClass, ...]
    boards: tuple[Board, ...]
    central: Board
    problem: AssignmentProblem
    solution: Solution
    greedy: Solution
    central_s: float
    single_device_s: float
    single_device_fits: bool
    cloud: CloudOffload | None
    cloud_name: str | None
    compression: float
    schemes: tuple[edge_tiles.SchemeCost, ...]
    cut_scan: tuple[tuple[str, float], ...]

    @property
    def latency_s(self) -> float:
        return self.solution.makespan + self.central_s

    @property
    def greedy_latency_s(self) -> float:
        return self.greedy.makespan + self.central_s

    def to_dict(self) -> dict[str, object]:
        timeline = self.solution.timeline
        boards = []
        for j, board in enumerate(self.boards):
            counts = self.solution.counts[j]
            compute = float((self.problem.compute[j] * counts).sum())
            boards.append(
                {
                    "board": board.name,
                    "device": board.device.name,
                    "tiles": int(counts.sum()),
                    "tiles_by_class": [int(c) for c in counts],
                    "compute_s": compute,
                    "scatter_end_s": float(timeline.scatter_end[j]),
                    "compute_end_s": float(timeline.compute_end[j]),
                    "return_end_s": float(timeline.return_end[j]),
                }
            )
        cloud = None
        if self.cloud is not None:
            speedup = self.cloud.total_s / self.latency_s
            cloud = {"cluster": self.cloud_name, **self.cloud.to_dict(), "speedup": speedup}
        return {
            "model": self.model,
            "cut": {"layer": self.cut, "index": self.cut_index},
            "grid": {"rows": self.grid[0], "cols": self.grid[1]},
            "compression": self.compression,
            "tile_classes": [
                {
                    "shapes": c.shapes,
                    "cells": c.cells,
                    "count": c.count,
                    "share": c.share,
                    "input_bytes": c.input_bytes,
                    "output_bytes": c.output_bytes,
                }
                for c in self.classes
            ],
            "central": {"device": self.central.device.name, "time_s": self.central_s},
            "boards": boards,
            "solver": {
                "name": self.solution.solver,
                "status": self.solution.status,
                "bound_s": self.solution.bound,
                "gap": self.solution.gap,
                "solve_s": self.solution.solve_s,
            },
            "latency_s": self.latency_s,
            "tile_phase_s": self.solution.makespan,
            "greedy": {
                "latency_s": self.greedy_latency_s,
                "tile_phase_s": self.greedy.makespan,
                "excess_over_solution_pct": 100.0 * (self.greedy_latency_s / self.latency_s - 1.0),
            },
            "single_device": {
                "device": self.central.device.name,
                "time_s": self.single_device_s,
                "fits_in_memory": self.single_device_fits,
                "speedup": self.single_device_s / self.latency_s,
            },
            "cloud": cloud,
            "schemes": [
                {
                    "scheme": s.scheme,
                    "compute_s": s.compute_s,
                    "bytes_on_medium": s.bytes_on_medium,
                    "messages": s.messages,
                    "comm_s": s.comm_s,
                    "total_s": s.total_s,
                }
                for s in self.schemes
            ],
            "cut_scan": [{"layer": name, "greedy_latency_s": value} for name, value in self.cut_scan],
        }


def tile_classes(model: EdgeModel, cut: int, rows: int, cols: int, compression: float) -> list[TileClass]:
    """The grid's tiles grouped by area (same share, same costs), largest first."""
    grid = edge_tiles.grid_at(model, cut, rows, cols)
    groups: dict[int, list[tuple[tuple[int, int], int]]] = {}
    for (h, w), count in grid.classes().items():
        groups.setdefault(h * w, []).append(((h, w), count))
    out = []
    for cells in sorted(groups, reverse=True):
        share = grid.share((cells, 1))
        out.append(
            TileClass(
                ", ".join(f"{h}x{w}" for (h, w), _ in groups[cells]),
                cells,
                sum(count for _, count in groups[cells]),
                share,
                edge_tiles.tile_input_bytes(model, share),
                edge_tiles.tile_output_bytes(model, cut, share, compression),
            )
        )
    return out


def build_problem(
    model: EdgeModel, cut: int, classes: list[TileClass], central: Board, boards: list[Board]
) -> AssignmentProblem:
    """The assignment problem of `boards` (in the given order) for the tile classes."""
    compute = np.array(
        [[edge_tiles.tile_compute_time(model, cut, c.share, b.device) for c in classes] for b in boards]
    )
    rate = np.array([min(b.link.effective_bandwidth, central.link.effective_bandwidth) for b in boards])
    latency = np.array([max(b.link.latency, central.link.latency) for b in boards])
    scatter = np.array([[c.input_bytes for c in classes]]) / rate[:, None]
    gather = np.array([[c.output_bytes for c in classes]]) / rate[:, None]
    shared = central.link.shared or any(b.link.shared for b in boards)
    counts = np.array([c.count for c in classes], dtype=np.int64)
    return AssignmentProblem(compute, scatter, gather, latency, counts, shared)


def order_boards(model: EdgeModel, cut: int, boards: list[Board]) -> list[Board]:
    """Fastest first (time for the whole conv part), a stable sort."""
    times = [edge_tiles.tile_compute_time(model, cut, 1.0, b.device) for b in boards]
    return [boards[i] for i in np.argsort(times, kind="stable")]


def auto_cuts(model: EdgeModel, rows: int, cols: int) -> list[int]:
    """Cut candidates (edge_tiles.cut_candidates) that reduce the map or end the spatial part, and on
    whose output map the grid fits."""
    assert model.shapes_in is not None and model.shapes_out is not None
    candidates = edge_tiles.cut_candidates(model)
    last = candidates[-1]
    out = []
    for i in candidates:
        shrinks = model.shapes_out[i][1:] < model.shapes_in[i][1:] if len(model.shapes_in[i]) == 3 else False
        _, h, w = model.shapes_out[i]
        if (shrinks or i == last) and rows <= h and cols <= w:
            out.append(i)
    if not out:
        raise ValueError(f"a {rows}x{cols} grid fits no cut of {model.name}: use fewer tiles")
    return out


def cut_index(model: EdgeModel, cut: str) -> int:
    """The index of layer `cut`; ValueError unless it is a clean spatial cut (edge_tiles.cut_candidates)."""
    index = model.index(cut)
    if index not in edge_tiles.cut_candidates(model):
        raise ValueError(
            f"cannot cut after '{cut}': the Conv part must end on a spatial layer whose output is "
            "the only tensor later layers read"
        )
    return index


def plan_adcnn(
    model: EdgeModel,
    central: Board,
    boards: list[Board],
    *,
    rows: int,
    cols: int,
    cut: str | None = None,
    compression: float = 1.0,
    solver: str = "cbc",
    time_limit: float = 10.0,
    gap: float = 0.0,
    cloud: Cluster | None = None,
) -> ADCNNPlan:
    """Plan ADCNN for `model` on `boards` with a `rows` × `cols` tile grid (module docstring). The ILP
    solves of the candidate cuts share `time_limit` (s), best-seeded first.

    Raises ValueError for an unknown or unusable cut, a grid that does not fit, or bad limits.
    """
    if not boards:
        raise ValueError("ADCNN needs at least one Conv node")
    candidates = [cut_index(model, cut)] if cut is not None else auto_cuts(model, rows, cols)
    scored = []
    for index in candidates:
        classes = tile_classes(model, index, rows, cols, compression)
        ordered = order_boards(model, index, boards)
        problem = build_problem(model, index, classes, central, ordered)
        seed = evaluate(problem, greedy(problem)).makespan
        scored.append((seed + model_time(model, central.device, index + 1), index))
    scored.sort()
    best: tuple[float, int, list[TileClass], list[Board], AssignmentProblem, Solution, Solution] | None = None
    deadline = time.perf_counter() + time_limit  # the candidates' solves share the time limit
    for _, index in scored[:3]:
        left = deadline - time.perf_counter()
        if best is not None and left <= 0:
            break  # the best-seeded candidates were solved first
        classes = tile_classes(model, index, rows, cols, compression)
        ordered = order_boards(model, index, boards)
        problem = build_problem(model, index, classes, central, ordered)
        exact = solve(problem, solver, max(left, 1e-3), gap)  # 1 ms: solve takes a limit > 0
        quick = solve(problem, "greedy")
        total = exact.makespan + model_time(model, central.device, index + 1)
        if best is None or total < best[0]:
            best = (total, index, classes, ordered, problem, exact, quick)
    assert best is not None
    _, index, classes, ordered, problem, exact, quick = best
    link = ordered[0].link
    schemes = edge_tiles.compare_schemes(
        model,
        index,
        ordered[0].device,
        len(ordered),
        min(link.effective_bandwidth, central.link.effective_bandwidth),
        max(link.latency, central.link.latency),
        central.link.shared or link.shared,
        compression,
    )
    return ADCNNPlan(
        model=model.name,
        cut=model.names[index],
        cut_index=index,
        grid=(rows, cols),
        classes=tuple(classes),
        boards=tuple(ordered),
        central=central,
        problem=problem,
        solution=exact,
        greedy=quick,
        central_s=model_time(model, central.device, index + 1),
        single_device_s=single_device_s(model, central.device),
        single_device_fits=fits(model, central.device),
        cloud=None if cloud is None else cloud_offload(model, cloud),
        cloud_name=None if cloud is None else cloud.name,
        compression=compression,
        schemes=tuple(schemes),
        cut_scan=tuple((model.names[i], value) for value, i in sorted(scored, key=lambda item: item[1])),
    )
