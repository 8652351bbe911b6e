"""Memory one data-parallel worker needs to train: model states plus the activations kept for backward.

Model states per parameter (Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion
Parameter Models", SC 2020, Sec. 3.1): with mixed-precision Adam a parameter costs 2 bytes of fp16
weights, 2 bytes of fp16 gradients and K = 12 bytes of optimizer state (an fp32 master copy of the
weight, fp32 momentum and fp32 variance), 16 bytes in all. The same accounting, generalised:

=============  ============  ===============  ===============  =================
dtype          weights       gradients        master weights   optimizer state
=============  ============  ===============  ===============  =================
fp32           4             4                0                4 × copies
fp16 / bf16    2             2                4                4 × copies
=============  ============  ===============  ===============  =================

copies: SGD with momentum keeps 1 fp32 copy (the momentum buffer), Adam 2 (first and second moments).
Mixed precision keeps an fp32 master copy of the weights (Micikevicius et al., "Mixed Precision Training",
ICLR 2018, Sec. 3.1). ZeRO's K = master + state = 4 + 8 = 12 for Adam.

Activations: every layer's output for the per-device batch, in the training dtype, is kept until the
backward pass uses it (no re-computation). This is an upper bound of what a framework keeps: in-place
ReLUs share their input's storage and dead tensors are freed early. Not counted: the framework's
workspace (cuDNN), the allocator's fragmentation, the CUDA context, communication buffers.

Units: bytes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from planner.cost.compute import MASTER_DTYPE, is_mixed_precision
from planner.spec.profile import DTYPE_BYTES

OPTIMIZER_STATE_COPIES = {"sgd": 1, "adam": 2}  # fp32 copies per parameter (momentum; Adam's m and v)
OPTIMIZERS = tuple(OPTIMIZER_STATE_COPIES)


@dataclass(frozen=True)
class StateBytes:
    """Bytes per parameter of each model state (see the module's table)."""

    weights: float
    gradients: float
    master_weights: float
    optimizer_state: float

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.master_weights + self.optimizer_state


def state_bytes_per_parameter(dtype: str, optimizer: str, gradient_dtype: str | None = None) -> StateBytes:
    """Bytes per parameter of weights, gradients (in `gradient_dtype`, default the training dtype), fp32
    master weights and optimizer state.

    Mixed-precision Adam gives 2 + 2 + 4 + 8 = 16 (ZeRO Sec. 3.1: 2Ψ + 2Ψ + KΨ with K = 12); with fp32
    gradients (Megatron-LM's main_grad) 2 + 4 + 4 + 8 = 18.
    """
    if optimizer not in OPTIMIZER_STATE_COPIES:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got '{optimizer}'")
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPE_BYTES)}, got '{dtype}'")
    if gradient_dtype is not None and gradient_dtype not in DTYPE_BYTES:
        raise ValueError(f"gradient dtype must be one of {', '.join(DTYPE_BYTES)}, got '{gradient_dtype}'")
    master = DTYPE_BYTES[MASTER_DTYPE] if is_mixed_precision(dtype) else 0.0
    return StateBytes(
        weights=float(DTYPE_BYTES[dtype]),
        gradients=float(DTYPE_BYTES[gradient_dtype or dtype]),
        master_weights=float(master),
        optimizer_state=float(OPTIMIZER_STATE_COPIES[optimizer] * DTYPE_BYTES[MASTER_DTYPE]),
    )


@dataclass(frozen=True)
class TrainingMemory:
    """Per-device training memory in bytes, by what it holds."""

    parameters: int
    weights_bytes: float
    gradients_bytes: float
    master_weights_bytes: float
    optimizer_state_bytes: float
    activations_bytes: float

    @property
    def model_states_bytes(self) -> float:
        """Weights, gradients, master weights and optimizer state (ZeRO's "model states")."""
        return (
            self.weights_bytes + self.gradients_bytes + self.master_weights_bytes + self.optimizer_state_bytes
        )

    @property
    def total_bytes(self) -> float:
        return self.model_states_bytes + self.activations_bytes

    def to_dict(self) -> dict[str, float | int]:
        return {
            **asdict(self),
            "model_states_bytes": self.model_states_bytes,
            "total_bytes": self.total_bytes,
        }


def training_memory(parameters: int, activations_bytes: float, dtype: str, optimizer: str) -> TrainingMemory:
    """Memory of one data-parallel replica: `parameters` × the per-parameter states plus the activations
    (bytes, already for the per-device batch and in the training dtype)."""
    per = state_bytes_per_parameter(dtype, optimizer)
    return TrainingMemory(
        parameters=parameters,
        weights_bytes=parameters * per.weights,
        gradients_bytes=parameters * per.gradients,
        master_weights_bytes=parameters * per.master_weights,
        optimizer_state_bytes=parameters * per.optimizer_state,
        activations_bytes=float(activations_bytes),
    )


def update_bytes_per_parameter(
    dtype: str, optimizer: str, gradient_dtype: str | None = None, gradient_clipping: bool = False
) -> float:
    """Bytes the optimizer step moves per parameter, every pass a separate memory-bound kernel.

    The update reads the (master) weights, the gradient and the optimizer state and writes the weights and
    the state back (SGD-momentum fp32: 4 + 4 + 4 read, 4 + 4 written = 20 bytes). Mixed precision
    (Micikevicius et al., ICLR 2018, Sec. 3: fp32 master weights, loss scaling) adds the passes of
    Megatron-LM's Float16OptimizerWithFloat16Params.step (megatron/optimizer/optimizer.py): 16-bit
    gradients copied into fp32 main gradients (read 2, write 4; none when the gradients are fp32 already);
    with fp16, dynamic loss scaling's unscale-and-check-for-inf/NaN over them (read 4, write 4; bf16 has no
    loss scale); the update on the fp32 gradient; the master weights copied to the 16-bit model weights
    (read 4, write 2). `gradient_clipping`: the global gradient norm reads the (fp32) gradients once more
    (read 4; the scaling itself runs only when the norm exceeds the threshold). Megatron-LM fp16 Adam: 6 + 8
    + 28 + 6 (+ 4 clipping) = 48 (52) bytes.
    """
    per = state_bytes_per_parameter(dtype, optimizer, gradient_dtype)
    if not per.master_weights:
        update = 2.0 * (per.weights + per.optimizer_state) + per.gradients
        return update + (per.gradients if gradient_clipping else 0.0)
    master = per.master_weights
    to_master_gradients = per.gradients + master if per.gradients != master else 0.0
    unscale = 2.0 * master if dtype == "fp16" else 0.0
    update = 2.0 * (master + per.optimizer_state) + master
    to_model_weights = master + per.weights
    clipping = master if gradient_clipping else 0.0
    return to_master_gradients + unscale + update + to_model_weights + clipping
