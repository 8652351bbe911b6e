"""MoDNN (Mao et al., DATE 2017): a CNN partitioned layer by layer over mobile workers in proportion to
their speed, with the time to deliver the data: options, result, and the question (planner.cost.modnn
does the costing, planner.cost.modnn_mscc the split of sparse fully-connected layers)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from planner.api.edge_inputs import cnn_edge_model, model_error, setting_error
from planner.api.inputs import ModelRef, cluster_device, load_cluster
from planner.errors import SettingError, SpecError
from planner.validate.bands import EDGE, band_fields

if TYPE_CHECKING:
    import scipy.sparse as sp

    from planner.cost.edge_model import EdgeModel
    from planner.cost.modnn import MoDNNResult
    from planner.cost.modnn_mscc import FCLayer, FCPartition
    from planner.spec.hardware import Cluster


class MoDNNPartition(str, Enum):
    """How a layer's output is split: MoDNN's biased one-dimensional bands (BODP), or a grid."""

    one_d = "1d"
    two_d = "2d"


class FCPartitionScheme(str, Enum):
    """How a sparse fully-connected layer is split: bands of outputs and inputs, or MoDNN's MSCC."""

    one_d = "1d"
    mscc = "mscc"


@dataclass(frozen=True)
class EdgeMoDNNOptions:
    """The workers: devices of a cluster on its top link, in each count compared."""

    cluster: str | Cluster = "pi-cluster"
    workers: tuple[int, ...] = (2, 3, 4)  # worker counts to compare
    partition: MoDNNPartition = MoDNNPartition.one_d
    fc_partition: FCPartitionScheme = FCPartitionScheme.one_d  # whose traffic feeds the fc delivery
    # fraction of fc weights kept after pruning, each kept at random (an assumption: the random sparsity
    # model of planner.cost.modnn_mscc); None: dense fc layers, the whole input sent to every worker
    fc_density: float | None = None
    fc_weights: str | None = None  # pruned fc weights: .npy (one matrix) or .npz (by layer name)

    def check(self) -> None:
        """Raise SettingError naming the first setting out of range (the counts are checked against the
        cluster by the question)."""
        if not self.workers:
            raise SettingError("workers", "expected at least one worker count", self.workers)
        if self.partition not in tuple(MoDNNPartition):
            raise SettingError("partition", "expected 1d or 2d", self.partition)
        if self.fc_partition not in tuple(FCPartitionScheme):
            raise SettingError("fc_partition", "expected 1d or mscc", self.fc_partition)
        if self.fc_density is not None and not 0.0 < self.fc_density <= 1.0:
            raise SettingError("fc_density", "expected a fraction in (0, 1]", self.fc_density)
        if self.fc_partition == FCPartitionScheme.mscc and self.fc_density is None and not self.fc_weights:
            raise SettingError(
                "fc_partition", "mscc splits sparse weights: give `fc_density` or `fc_weights`", "mscc"
            )


@dataclass(frozen=True)
class FCLayerSplit:
    """One sparse fc layer over one worker count: the 1-D split next to MSCC."""

    layer: FCLayer
    weights: str  # where the pattern comes from: the file, or the random model's density
    one_d: FCPartition
    mscc: FCPartition

    def to_dict(self) -> dict[str, Any]:
        one_d = self.one_d.to_dict(self.layer.element_bytes)
        mscc = self.mscc.to_dict(self.layer.element_bytes)
        saved = one_d["received_bytes"] - mscc["received_bytes"]
        return {
            "layer": self.layer.name,
            "weights": self.weights,
            "nonzeros": sum(self.one_d.work),
            "1d": one_d,
            "mscc": mscc,
            "traffic_cut": saved / one_d["received_bytes"] if one_d["received_bytes"] else 0.0,
        }


@dataclass(frozen=True)
class EdgeMoDNNResult:
    """MoDNN's latency for each worker count."""

    model: str
    cluster: str
    partition: MoDNNPartition
    results: tuple[MoDNNResult, ...]
    fc_partition: FCPartitionScheme = FCPartitionScheme.one_d
    fc_splits: tuple[tuple[FCLayerSplit, ...], ...] = ()  # per worker count; empty: dense fc layers

    def to_dict(self) -> dict[str, Any]:
        from planner.api.edge_headlines import modnn_notes

        results = [result.to_dict() for result in self.results]
        for result, splits in zip(results, self.fc_splits, strict=True):
            result["fc_layers"] = [split.to_dict() for split in splits]
        return {
            "model": self.model,
            "cluster": self.cluster,
            "partition": MoDNNPartition(self.partition).value,
            "fc_partition": FCPartitionScheme(self.fc_partition).value,
            "results": results,
            "paper_notes": modnn_notes(self.model, results),
            **band_fields(EDGE),
        }


def edge_modnn(model: ModelRef, options: EdgeMoDNNOptions | None = None) -> EdgeMoDNNResult:
    """MoDNN's compute and data-delivery time of a CNN over each count of workers."""
    from planner.cost.edge_model import compute_dtype
    from planner.cost.modnn import modnn, speed_shares
    from planner.cost.modnn_mscc import mscc, one_d

    options = options or EdgeMoDNNOptions()
    options.check()
    edge = cnn_edge_model(model)
    cluster = load_cluster(options.cluster)
    for n in options.workers:
        if not 1 <= n <= cluster.total_devices:
            raise SettingError("workers", f"expected 1 to {cluster.total_devices} on {cluster.name}", n)
    partition, fc_scheme = MoDNNPartition(options.partition), FCPartitionScheme(options.fc_partition)
    device, link = cluster_device(cluster), cluster.levels[-1].link
    patterns = _fc_patterns(edge, options)
    results, fc_splits = [], []
    for n in options.workers:
        devices = [device] * n
        shares = speed_shares(devices, compute_dtype(edge, device))
        splits = tuple(
            FCLayerSplit(layer, source, one_d(pattern, shares), mscc(pattern, shares))
            for layer, (pattern, source) in patterns.items()
        )
        fc_bytes = {
            s.layer.name: sum((s.mscc if fc_scheme == FCPartitionScheme.mscc else s.one_d).received)
            * s.layer.element_bytes
            for s in splits
        }
        with model_error(edge.name):
            results.append(modnn(edge, devices, link, partition.value, fc_bytes))
        fc_splits.append(splits)
    return EdgeMoDNNResult(edge.name, cluster.name, partition, tuple(results), fc_scheme, tuple(fc_splits))


def _fc_patterns(edge: EdgeModel, options: EdgeMoDNNOptions) -> dict[FCLayer, tuple[sp.csr_matrix, str]]:
    """The non-zero pattern of each sparse fc layer and where it comes from: the file's matrix, else the
    random model at `fc_density`; layers with neither stay dense (left out)."""
    from planner.cost.modnn_mscc import as_pattern, fc_layers, random_pattern

    layers = fc_layers(edge)
    given = _load_fc_weights(options.fc_weights, layers) if options.fc_weights else {}
    patterns = {}
    for seed, layer in enumerate(layers):
        if layer.name in given:
            patterns[layer] = (as_pattern(given[layer.name]), "file")
        elif options.fc_density is not None:
            with setting_error("fc_density"):
                pattern = random_pattern(layer.outputs, layer.inputs, options.fc_density, seed)
            patterns[layer] = (pattern, f"random, density {options.fc_density:g} (assumption)")
    return patterns


def _load_fc_weights(path: str, layers: tuple[FCLayer, ...]) -> dict[str, Any]:
    """Pruned fc weight matrices (outputs x inputs, as torch.nn.Linear.weight) by layer name: an .npz of
    arrays named after the layers, a scipy.sparse .npz (one matrix), or an .npy (one matrix); a single
    matrix goes to the first fc layer of its shape."""
    import numpy as np
    import scipy.sparse as sp

    shapes = ", ".join(f"{layer.name} {layer.outputs}x{layer.inputs}" for layer in layers)
    try:
        if path.endswith(".npy"):
            matrices = {"": np.load(path, allow_pickle=False)}
        elif path.endswith(".npz"):
            with np.load(path, allow_pickle=False) as archive:
                keys = set(archive.files)
                matrices = {"": sp.load_npz(path)} if "format" in keys else {k: archive[k] for k in keys}
        else:
            raise SpecError(path, "", "expected a .npy or .npz file of fc weights", show_got=False)
    except (OSError, ValueError) as exc:
        raise SpecError(path, "", f"cannot read fc weights: {exc}", show_got=False) from None
    by_shape = {(layer.outputs, layer.inputs): layer.name for layer in reversed(layers)}
    by_name = {layer.name: (layer.outputs, layer.inputs) for layer in layers}
    out = {}
    for key, matrix in matrices.items():
        name = key or by_shape.get(tuple(matrix.shape), "")
        if name not in by_name or tuple(matrix.shape) != by_name[name] or matrix.ndim != 2:
            what = f"array '{key}'" if key else "the matrix"
            raise SpecError(
                path,
                key,
                f"{what} {matrix.shape} matches no fc layer (outputs x inputs: {shapes})",
                show_got=False,
            )
        out[name] = matrix
    return out
