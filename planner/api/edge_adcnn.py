"""ADCNN (Zhang, Lin, Zhang, ICPP 2020): a CNN's spatial tiles assigned to edge boards, against one device
and a remote cloud: options, result, and the question (planner.optimize.adcnn_plan does the planning)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from planner.api.edge_inputs import cnn_edge_model, model_error, setting_error
from planner.api.inputs import ModelRef, load_cluster, load_device
from planner.errors import SettingError
from planner.limits import FRACTION, MAX_SOLVER_SECONDS, range_problem
from planner.validate.bands import EDGE, band_fields

if TYPE_CHECKING:
    from planner.cost.edge_model import EdgeModel
    from planner.optimize.adcnn_plan import ADCNNPlan, Board
    from planner.spec.hardware import Cluster, Device


class ADCNNSolver(str, Enum):
    """How tiles are assigned: an exact ILP (CBC or HiGHS), or ADCNN's speed-proportional greedy rule."""

    cbc = "cbc"
    highs = "highs"
    greedy = "greedy"


@dataclass(frozen=True)
class EdgeADCNNOptions:
    """ADCNN's settings; the defaults are the seed lecture's: a Raspberry Pi cluster, 4x4 tiles."""

    cluster: str | Cluster = "pi-cluster"  # its first device is the Central node, its top link the medium
    tiles: tuple[int, int] = (4, 4)  # the FDSP grid (rows, cols) on the cut's feature map
    solver: ADCNNSolver = ADCNNSolver.cbc
    cut: str | None = None  # the last layer on the Conv nodes; None: chosen (adcnn_plan's docstring)
    conv_nodes: int | None = None  # None: every device of the cluster but the Central node (not with boards)
    boards: tuple[tuple[str | Device, int], ...] | None = None  # heterogeneous Conv nodes: (device, count)
    compression: float = 1.0  # tile output bytes after / before quantisation
    cloud: str | Cluster | None = "cloud-v100"  # the remote baseline (its top link is the WAN); None: none
    time_limit: float = 10.0  # seconds the ILP solves may take, all together
    gap: float = 0.0  # relative optimality gap at which the ILP may stop
    input_dtype: str | None = None  # the model input's dtype on the wire; None: the model's

    def check(self) -> None:
        """Raise SettingError naming the first setting out of range."""
        from planner.optimize.adcnn_plan import check_boards

        if len(self.tiles) != 2 or any(
            isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in self.tiles
        ):
            raise SettingError("tiles", "expected (rows, cols), whole numbers >= 1", self.tiles)
        if self.solver not in tuple(ADCNNSolver):
            raise SettingError(
                "solver", f"expected one of {', '.join(s.value for s in ADCNNSolver)}", self.solver
            )
        problem = range_problem(self.compression, FRACTION, "a ratio")
        if problem:
            raise SettingError("compression", problem, self.compression)
        if not 0 < self.time_limit <= MAX_SOLVER_SECONDS:  # also refuses NaN
            raise SettingError(
                "time_limit", f"expected seconds > 0, at most {MAX_SOLVER_SECONDS:g}", self.time_limit
            )
        if not (math.isfinite(self.gap) and 0 <= self.gap < 1):
            raise SettingError("gap", "expected a fraction in [0, 1)", self.gap)
        if self.boards is not None and self.conv_nodes is not None:
            raise SettingError(
                "conv_nodes", "not with `boards`: the boards given are the Conv nodes", show_got=False
            )
        if self.boards is not None:
            if not self.boards or any(count < 1 for _, count in self.boards):
                raise SettingError("boards", "expected (device, count) pairs with counts >= 1", self.boards)
            with setting_error("boards"):
                check_boards(sum(count for _, count in self.boards))  # before a Board is made for each


@dataclass(frozen=True)
class EdgeADCNNResult:
    """The plan: the cut, the tile classes, each board's tiles and timeline, and the baselines."""

    cluster: str
    plan: ADCNNPlan

    def to_dict(self) -> dict[str, Any]:
        from planner.api.edge_headlines import adcnn_notes

        plan = self.plan.to_dict()
        return {"cluster": self.cluster, **plan, "paper_notes": adcnn_notes(plan), **band_fields(EDGE)}


def edge_adcnn(model: ModelRef, options: EdgeADCNNOptions | None = None) -> EdgeADCNNResult:
    """ADCNN's tile assignment for a CNN on edge boards (exact or greedy), with its baselines."""
    from planner.optimize.adcnn_plan import plan_adcnn

    options = options or EdgeADCNNOptions()
    options.check()
    edge = cnn_edge_model(model, options.input_dtype)
    cluster = load_cluster(options.cluster)
    central, conv = _boards(cluster, options)
    cloud = None if options.cloud is None else load_cluster(options.cloud, setting="cloud")
    rows, cols = options.tiles
    _check_cut_and_grid(edge, options.cut, rows, cols)
    with model_error(edge.name):
        plan = plan_adcnn(
            edge,
            central,
            conv,
            rows=rows,
            cols=cols,
            cut=options.cut,
            compression=options.compression,
            solver=ADCNNSolver(options.solver).value,
            time_limit=options.time_limit,
            gap=options.gap,
            cloud=cloud,
        )
    return EdgeADCNNResult(cluster.name, plan)


def _boards(cluster: Cluster, options: EdgeADCNNOptions) -> tuple[Board, list[Board]]:
    """The Central node (the cluster's first device) and the Conv nodes: the cluster's other devices, or
    `boards` on the cluster's link."""
    from planner.optimize.adcnn_plan import Board, cluster_boards

    with setting_error("conv_nodes"):
        central, conv = cluster_boards(cluster, options.conv_nodes if options.boards is None else 1)
    if options.boards is None:
        return central, conv
    conv = []
    for ref, count in options.boards:
        device: Device = load_device(ref, setting="boards")
        conv += [Board(f"{device.name}#{i + 1}", device, central.link) for i in range(count)]
    return central, conv


def _check_cut_and_grid(edge: EdgeModel, cut: str | None, rows: int, cols: int) -> None:
    """SettingError naming `cut` or `tiles` when the cut is not a clean spatial cut or the grid fits none."""
    from planner.cost.edge_tiles import grid_at
    from planner.optimize.adcnn_plan import auto_cuts, cut_index

    if cut is None:
        with setting_error("tiles"):
            auto_cuts(edge, rows, cols)
        return
    with setting_error("cut"):
        index = cut_index(edge, cut)
    with setting_error("tiles"):
        grid_at(edge, index, rows, cols)
