"""A paper's pipeline shape costed with its stages' transfers as its runtime made them (`pipeline_transport`,
planner.cost.stage_transfers): the cut terms on the staged links, and each stage's GPU paying the copies of
its transfers between servers, both while the layers are split (so the split avoids costly cuts where it
can) and in the returned pipeline time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from itertools import accumulate
from typing import Any

import numpy as np

from planner.cost.cut_links import CutLinks
from planner.cost.stage_transfers import cross_server_share, serial_copy_s, staged_cluster
from planner.optimize.chain_costs import ChainCosts
from planner.optimize.native_types import NativeOptions, NativeResult
from planner.optimize.pipeline_native import NativePlanner
from planner.optimize.pipeline_shape import partition_shape
from planner.spec.hardware import Cluster


class StagedPlanner(NativePlanner):
    """A NativePlanner for one fixed shape whose cuts are staged through host memory and whose stage terms
    include the copies their GPU makes for transfers between servers."""

    def __init__(
        self,
        costs: ChainCosts,
        cluster: Cluster,
        options: NativeOptions,
        shape: Sequence[int],
        transport: str,
    ):
        super().__init__(costs, cluster, options)
        self.cut_links = CutLinks(staged_cluster(cluster, transport))
        self.transport = transport
        self.offsets = (0, *accumulate(shape))  # stage k on devices [offsets[k], offsets[k + 1])
        self.per_server = cluster.devices_per_server

    def copy_s(self, stage: int, start: Any, end: Any) -> Any:
        """Seconds per minibatch the worst replica of stage `stage`, holding states [start, end) (arrays),
        spends on the copies of its transfers between servers, before dividing by its replicas."""
        offsets, n = self.offsets, self.costs.num_states
        moved = self.costs.output_activation_bytes / self.options.activation_compression_ratio
        first, last = offsets[stage], offsets[stage + 1]
        start, end = np.asarray(start), np.asarray(end)
        total = np.zeros(np.broadcast(start, end).shape)
        if stage > 0:  # the cut in: activations received, their gradients sent back
            share = cross_server_share(offsets[stage - 1], first, last, self.per_server)[1]
            total = total + serial_copy_s(
                np.where(start > 0, moved[np.maximum(start - 1, 0)], 0.0), share, self.transport
            )
        if stage + 2 < len(offsets):  # the cut out: activations sent, their gradients received
            share = cross_server_share(first, last, offsets[stage + 2], self.per_server)[0]
            total = total + serial_copy_s(
                np.where(end < n, moved[np.minimum(end - 1, n - 1)], 0.0), share, self.transport
            )
        return total

    def stage_terms(self, rows: Any, replicas: int, offset: int, total: int) -> Any:
        base = super().stage_terms(rows, replicas, offset, total)
        stage = self.offsets.index(offset)
        return base + self.copy_s(stage, self.pairs.i[rows], self.pairs.j[rows]) / replicas


def staged_partition(
    costs: ChainCosts, cluster: Cluster, options: NativeOptions, shape: Sequence[int], transport: str
) -> NativeResult:
    """The best split of `costs` into `shape` (planner.optimize.pipeline_shape) with staged transfers; its
    pipeline time is the largest stage term (copies included) or cut term."""
    planner = StagedPlanner(costs, cluster, options, shape, transport)
    result = partition_shape(planner, shape)
    time = max(
        max(
            stage.time_s + float(planner.copy_s(k, stage.start, stage.end)) / stage.replicas,
            stage.transfer_in_s,
        )
        for k, stage in enumerate(result.stages)
    )
    return replace(result, pipeline_time_s=time)
