"""The optimal stages of PipeDream's optimizer (planner.optimize.pipedream) followed from the back-pointers
its dynamic program stores (planner.optimize.pipedream_dp, whose docstring gives the tie-break order), with
each stage's time recomputed by the same arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.optimize.chain_view import ChainView
from planner.optimize.pipedream_dp import BASE, FEWER, LevelTable, LevelTerms
from planner.optimize.pipedream_types import PartitionStage, PipeDreamOptions

INF = math.inf


@dataclass
class _Flat:
    start: int
    end: int
    devices: list[int]
    time: float | None  # None: the innermost level's stage, whose time is its compute
    replicas: tuple[int, ...] = ()  # per level, innermost first


class Reconstruction:
    """Follows the stored choices from the answer A[0][N-1][n-1] down to the stages of every level."""

    def __init__(
        self,
        view: ChainView,
        levels: list[tuple[int, float]],
        options: PipeDreamOptions,
        tables: list[LevelTable],
    ):
        self.view = view
        self.levels = levels
        self.tables = tables
        self.level_terms = []
        inner = 1
        for machines, bandwidth in levels:
            self.level_terms.append(LevelTerms(view, machines, bandwidth, inner, options))
            inner = machines
        self.count = view.num_states

    def _compute(self, index: int, r: int, j: int) -> float:
        if index == 0:
            return float(self.view.cum_compute_s[j + 1] - self.view.cum_compute_s[r]) if j >= r else INF
        below = self.tables[index - 1].values
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
        choice = int(self.tables[index].choices[m, j, r])
        if choice == BASE:
            parameters = self._raw(self.view.cum_parameter_bytes, r, j)
            return [(r, j, m + 1, self._base_combiner(level, parameters, m, self._compute(index, r, j)))]
        if choice == FEWER:
            return self._level_stages(index, r, j, m - 1)
        k, replicas = level.split_of(choice)
        parameters = self._raw(self.view.cum_parameter_bytes, k + 1, j)
        head = self._level_stages(index, r, k, m - replicas)
        return [*head, (k + 1, j, replicas, self._split_combiner(level, parameters, k, j, replicas))]

    @staticmethod
    def _base_combiner(level: LevelTerms, parameters: float, m: int, compute: float) -> Any:
        def combine(time: float | None) -> float:
            inner_time = compute if time is None else time
            sync = (4 * m * parameters) / (level.bandwidth * (m + 1)) / level.inner
            return (inner_time + sync) / (m + 1)

        return combine

    def _split_combiner(self, level: LevelTerms, parameters: float, k: int, j: int, replicas: int) -> Any:
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
