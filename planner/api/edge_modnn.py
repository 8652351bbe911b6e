"""MoDNN (Mao et al., DATE 2017): a CNN partitioned layer by layer over mobile workers in proportion to
their speed, with the time to deliver the data: options, result, and the question (planner.cost.modnn
does the costing)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from planner.api.edge_inputs import cnn_edge_model, model_error
from planner.api.inputs import ModelRef, cluster_device, load_cluster
from planner.errors import SettingError
from planner.validate.bands import EDGE, band_fields

if TYPE_CHECKING:
    from planner.cost.modnn import MoDNNResult
    from planner.spec.hardware import Cluster


class MoDNNPartition(str, Enum):
    """How a layer's output is split: MoDNN's biased one-dimensional bands (BODP), or a grid."""

    one_d = "1d"
    two_d = "2d"


@dataclass(frozen=True)
class EdgeMoDNNOptions:
    """The workers: devices of a cluster on its top link, in each count compared."""

    cluster: str | Cluster = "pi-cluster"
    workers: tuple[int, ...] = (2, 3, 4)  # worker counts to compare
    partition: MoDNNPartition = MoDNNPartition.one_d

    def check(self) -> None:
        """Raise SettingError naming the first setting out of range (the counts are checked against the
        cluster by the question)."""
        if not self.workers:
            raise SettingError("workers", "expected at least one worker count", self.workers)
        if self.partition not in tuple(MoDNNPartition):
            raise SettingError("partition", "expected 1d or 2d", self.partition)


@dataclass(frozen=True)
class EdgeMoDNNResult:
    """MoDNN's latency for each worker count."""

    model: str
    cluster: str
    partition: MoDNNPartition
    results: tuple[MoDNNResult, ...]

    def to_dict(self) -> dict[str, Any]:
        from planner.api.edge_headlines import modnn_notes

        results = [result.to_dict() for result in self.results]
        return {
            "model": self.model,
            "cluster": self.cluster,
            "partition": MoDNNPartition(self.partition).value,
            "results": results,
            "paper_notes": modnn_notes(self.model, results),
            **band_fields(EDGE),
        }


def edge_modnn(model: ModelRef, options: EdgeMoDNNOptions | None = None) -> EdgeMoDNNResult:
    """MoDNN's compute and data-delivery time of a CNN over each count of workers."""
    from planner.cost.modnn import modnn

    options = options or EdgeMoDNNOptions()
    options.check()
    edge = cnn_edge_model(model)
    cluster = load_cluster(options.cluster)
    for n in options.workers:
        if not 1 <= n <= cluster.total_devices:
            raise SettingError("workers", f"expected 1 to {cluster.total_devices} on {cluster.name}", n)
    partition = MoDNNPartition(options.partition)
    device, link = cluster_device(cluster), cluster.levels[-1].link
    with model_error(edge.name):
        results = tuple(modnn(edge, [device] * n, link, partition.value) for n in options.workers)
    return EdgeMoDNNResult(edge.name, cluster.name, partition, results)
