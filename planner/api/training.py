"""One resolver for every training question (`dp`, `plan`, `pipeline partition`, `export`): the model,
the cluster, the devices, the per-device batch and the dtype rules, with one set of defaults.

The per-device batch when none is given: DEFAULT_CNN_BATCH samples for a CNN architecture (Goyal et al.
2017 train with n = 32 images per GPU); a measured profile's own minibatch (a PipeDream graph.txt, which
does not state it, takes `profile_batch`, or the per-device `batch` as its minibatch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from planner.api.inputs import cluster_device, load_cluster, load_device, load_training_model
from planner.cost.lr_schedule import IMAGENET_TRAIN_SAMPLES
from planner.errors import SettingError
from planner.limits import MAX_BATCH, MAX_EPOCH_SAMPLES, SIZE, count_problem

if TYPE_CHECKING:
    from planner.spec.hardware import Cluster

DEFAULT_CNN_BATCH = 32  # samples per device for a CNN architecture, as Goyal et al. 2017 (n = 32 per GPU)


@dataclass(frozen=True)
class TrainingOptions:
    """How to train: the devices, the batch, the precision and the optimizer, and DDP's gradient sync."""

    servers: int | None = None  # the outermost level's count (None: the cluster's own)
    devices: int | None = None  # devices to use, innermost first (None: the whole cluster)
    batch: int | None = None  # samples per device (None: the module's default); with global_batch, global
    global_batch: bool = False  # batch is the global batch (strong scaling)
    profile_batch: int | None = None  # samples a measured profile's minibatch covers, if it does not say
    dtype: str = "fp32"  # fp32, or fp16 / bf16 mixed precision
    optimizer: str = "sgd"  # sgd (with momentum) or adam
    overlap: bool = True  # overlap the gradient all-reduce with the backward pass (DDP)
    bucket: float | None = None  # DDP gradient bucket, bytes (None: DDP's bucket_cap_mb, 25 MiB)
    epoch_samples: int = IMAGENET_TRAIN_SAMPLES  # samples per epoch

    def check(self) -> None:
        """Raise SettingError naming the first setting out of range."""
        from planner.cost.compute import TRAINING_DTYPES
        from planner.cost.memory import OPTIMIZERS

        if self.dtype not in TRAINING_DTYPES:
            raise SettingError("dtype", f"one of {', '.join(TRAINING_DTYPES)}", self.dtype)
        if self.optimizer not in OPTIMIZERS:
            raise SettingError("optimizer", f"one of {', '.join(OPTIMIZERS)}", self.optimizer)
        for setting in ("servers", "devices"):
            value = getattr(self, setting)
            if value is not None and value < 1:
                raise SettingError(setting, "a whole number >= 1", value)
        for setting, high in (
            ("batch", MAX_BATCH),
            ("profile_batch", MAX_BATCH),
            ("epoch_samples", MAX_EPOCH_SAMPLES),
        ):
            value = getattr(self, setting)
            problem = None if value is None else count_problem(value, high, "samples")
            if problem:
                raise SettingError(setting, problem, value)
        if self.bucket is not None and not (self.bucket > 0 and self.bucket in SIZE):
            raise SettingError("bucket", f"a size > 0 and <= {SIZE.show(SIZE.high)}, e.g. 25MiB", self.bucket)


@dataclass(frozen=True)
class ResolvedTraining:
    """A training question resolved: the model as a profile at the per-device batch, the data-parallel
    setup (per-layer arrays, cluster, dtype, optimizer), the devices and the batch."""

    profile: Any
    setup: Any  # planner.cost.data_parallel.Setup
    devices: int
    batch: int
    profile_batch: int | None  # the samples a measured profile's minibatch covers, as resolved


def resolve_training(model: Any, cluster: str | Cluster, options: TrainingOptions) -> ResolvedTraining:
    """Resolve a CNN architecture or layer profile, a cluster and the options into a data-parallel setup;
    a bad combination is a SettingError naming the setting."""
    from planner.cost import data_parallel as dp
    from planner.cost.compute import layer_arrays, sustained_compute
    from planner.cost.dp_buckets import DDP_BUCKET_BYTES
    from planner.cost.layers import derive_profile

    options.check()
    spec = load_training_model(model)
    machine = load_cluster(cluster, options.servers)
    n = machine.total_devices if options.devices is None else options.devices
    if n > machine.total_devices:
        raise SettingError("devices", f"at most the cluster's {machine.total_devices} devices", n)

    profile_batch = options.profile_batch
    if spec.spec == "cnn":
        if profile_batch is not None:
            raise SettingError(
                "profile_batch",
                "only for a measured profile; a CNN architecture is per sample",
                show_got=False,
            )
        profile, default_batch = derive_profile(spec, 1), DEFAULT_CNN_BATCH
    else:
        profile = spec
        profile_batch, default_batch = _profile_batch(spec, options)
    arrays = layer_arrays(profile, None if spec.spec == "cnn" else profile_batch)
    measured_on = None
    if arrays.measured and profile.measured_on:
        measured_on = load_device(profile.measured_on, setting="measured_on")
    if arrays.measured and options.dtype != profile.dtype:
        raise SettingError(
            "dtype",
            f"{profile.dtype}, the dtype the profile's times were measured in "
            "(mixed precision needs a FLOP-derived profile, e.g. a CNN architecture)",
            options.dtype,
        )
    try:
        sustained_compute(cluster_device(machine), options.dtype)
    except ValueError as exc:
        raise SettingError("dtype", str(exc), show_got=False) from None

    per = options.batch if options.batch is not None else default_batch
    setup = dp.Setup(
        arrays=arrays,
        cluster=machine,
        dtype=options.dtype,
        optimizer=options.optimizer,
        overlap=options.overlap,
        bucket_bytes=float(DDP_BUCKET_BYTES if options.bucket is None else options.bucket),
        measured_on=measured_on,
        epoch_samples=options.epoch_samples,
    )
    profile_at_batch = derive_profile(spec, per) if spec.spec == "cnn" else profile
    return ResolvedTraining(profile_at_batch, setup, n, per, profile_batch)


def _profile_batch(profile: Any, options: TrainingOptions) -> tuple[int | None, int]:
    """(profile_batch: the samples the minibatch of a profile that does not state it covers, None when it
    does; the default per-device batch: the profile's own minibatch). A graph.txt that does not state its
    minibatch takes profile_batch, or else the per-device batch."""
    stated = profile.batch_size if profile.per == "minibatch" else 1
    given = options.profile_batch
    if stated is None and given is None:
        if options.batch is None or options.global_batch:
            raise SettingError(
                "profile_batch",
                f"the samples per minibatch of '{profile.name}', which the profile does not state "
                "(or give the per-device `batch`, taken to be the profile's minibatch)",
                show_got=False,
            )
        return options.batch, options.batch
    if stated is not None and given is not None and stated != given:
        raise SettingError("profile_batch", f"the profile's own minibatch, {stated}", given)
    own = stated if stated is not None else given
    assert own is not None
    return given, own
