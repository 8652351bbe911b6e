"""Deep Gradient Compression over a run (`planner dgc`): per epoch the density of the warm-up schedule, the
bytes each worker sends, DGC's synchronisation time beside the dense ring all-reduce and the bandwidth
below which DGC pays; over the run the totals and the schedule's own break-even bandwidth; momentum
correction's local state (planner.cost.dgc_schedule, planner.cost.compression).

Each epoch is epoch_samples / (N x batch) iterations (the last one partial, counted whole), each one
sparse message per worker at that epoch's density."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from planner.cost.dgc_schedule import WARMUP_EPOCHS
from planner.cost.lr_schedule import IMAGENET_TRAIN_SAMPLES
from planner.errors import SettingError


@dataclass(frozen=True)
class DGCOptions:
    density: float = 0.001  # the final fraction of each sparsified tensor sent (99.9 % sparsity)
    warmup_epochs: int = WARMUP_EPOCHS
    epochs: int = 90  # Lin et al. 2018 Sec. 5: ResNet-50 on ImageNet, 90 epochs
    batch: int = 32  # samples per worker per iteration
    epoch_samples: int = IMAGENET_TRAIN_SAMPLES
    devices: int | None = None  # workers (default: the whole cluster)
    servers: int | None = None
    encoding: str = "delta16"
    dtype: str = "fp32"

    def check(self) -> None:
        from planner.cost.compression import ENCODINGS
        from planner.spec.profile import DTYPE_BYTES

        if not 0 < self.density <= 1:
            raise SettingError("density", "a fraction in (0, 1]", self.density)
        for setting, low in (("warmup_epochs", 0), ("epochs", 1), ("batch", 1), ("epoch_samples", 1)):
            if getattr(self, setting) < low:
                raise SettingError(setting, f"a whole number >= {low}", getattr(self, setting))
        if self.warmup_epochs > self.epochs:
            raise SettingError("warmup_epochs", f"at most `epochs` ({self.epochs})", self.warmup_epochs)
        if self.encoding not in ENCODINGS:
            raise SettingError("encoding", f"one of {', '.join(ENCODINGS)}", self.encoding)
        if self.dtype not in DTYPE_BYTES:
            raise SettingError("dtype", f"one of {', '.join(DTYPE_BYTES)}", self.dtype)


@dataclass(frozen=True)
class DGCScheduleResult:
    payload: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.payload


def dgc_schedule(model: Any, cluster: Any, options: DGCOptions) -> DGCScheduleResult:
    """DGC's warm-up schedule for `model` on `cluster` (see the module doc)."""
    from planner.api.inputs import load_cluster, load_model
    from planner.cost.compression import (
        break_even_bandwidth,
        compare_on_cluster,
        compress,
        gradient_tensors,
    )
    from planner.cost.dgc_schedule import momentum_correction_bytes, warmup_densities
    from planner.spec.profile import DTYPE_BYTES

    options.check()
    machine = load_cluster(cluster, options.servers)
    n = machine.total_devices if options.devices is None else options.devices
    if not 2 <= n <= machine.total_devices:
        raise SettingError("devices", f"2 to the cluster's {machine.total_devices}", n)
    tensors = gradient_tensors(load_model(model))
    width = DTYPE_BYTES[options.dtype]
    iterations = math.ceil(options.epoch_samples / (n * options.batch))
    rows: list[dict[str, Any]] = []
    sparse_sum = 0.0
    densities = warmup_densities(options.epochs, options.warmup_epochs, options.density)
    for epoch, density in enumerate(densities):
        message = compress(tensors, density, width, options.encoding)
        cmp = compare_on_cluster(machine, message, n)
        sparse_sum += message.sparse_bytes
        rows.append(
            {
                "epoch": epoch,
                "density": density,
                "message_bytes": message.message_bytes,
                "sent_bytes_per_worker": iterations * message.message_bytes,
                "dgc_time_s": iterations * cmp.dgc_time_s,
                "dense_time_s": iterations * cmp.dense_ring_time_s,
                "break_even_bandwidth_bytes_per_s": cmp.break_even_bandwidth_bytes_per_s,
            }
        )
    dense_bytes = tensors.elements * width
    final = compare_on_cluster(machine, compress(tensors, options.density, width, options.encoding), n)
    # both times are affine in the sparse bytes, so the run's crossing is at the mean message
    run_star, below = break_even_bandwidth(
        dense_bytes, sparse_sum / options.epochs, tensors.dense * width, n, final.latency_s
    )
    sent = sum(row["sent_bytes_per_worker"] for row in rows)
    steady = iterations * options.epochs * final.message.message_bytes
    payload = {
        "model": getattr(load_model(model), "name", str(model)),
        "cluster": machine.name,
        "devices": n,
        "batch": options.batch,
        "iterations_per_epoch": iterations,
        "epochs": options.epochs,
        "warmup_epochs": options.warmup_epochs,
        "density": options.density,
        "encoding": options.encoding,
        "dense_gradient_bytes": dense_bytes,
        "per_epoch": rows,
        "run": {
            "sent_bytes_per_worker": sent,
            "dense_bytes_per_worker": iterations * options.epochs * dense_bytes,
            "compression_ratio": iterations * options.epochs * dense_bytes / sent,
            "without_warmup_sent_bytes_per_worker": steady,
            "warmup_share_of_bytes": 1.0 - steady / sent if sent else 0.0,
            "dgc_time_s": sum(row["dgc_time_s"] for row in rows),
            "dense_time_s": sum(row["dense_time_s"] for row in rows),
            "break_even_bandwidth_bytes_per_s": None if math.isnan(float(run_star)) else float(run_star),
            "pays_below_break_even_bandwidth": bool(below),
            "ring_step_bandwidth_bytes_per_s": final.bandwidth_bytes_per_s,
        },
        "momentum_correction": {
            "extra_state_bytes_per_worker": momentum_correction_bytes(tensors.elements, width),
            "extra_wire_bytes": 0.0,
            "note": (
                "sends the top s of the accumulated velocity instead of the gradient: the same count of "
                "values, one more gradient-sized buffer per worker (Lin et al. 2018 Sec. 3.2)"
            ),
        },
        "notes": final.notes,
    }
    return DGCScheduleResult(payload)
