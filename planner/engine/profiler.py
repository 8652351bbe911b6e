"""Per-layer forward and backward times, activation and parameter bytes of a real PyTorch model.

Layers: the model's module tree is cut where PipeDream's profiler and torch.distributed.pipelining cut it,
at the blocks a forward runs one after another: containers (nn.Sequential, nn.ModuleList, nn.ModuleDict)
and any module holding a ModuleList below it (a transformer's stack of blocks) are opened, every other
module is one layer, named by its fully-qualified module name (`layer3.0`, `features.28`, `transformer.h.5`)
so that split points map back to the model. A trial forward orders them by the time they run; a layer that
runs twice per forward (a shared module) cannot be timed this way and is refused.

Timing (PipeDream, Harlap et al. SOSP'19 Sec. 3.1, profiles each layer's forward and backward time with
hooks; here time.perf_counter, the device synchronised at each hook on CUDA):
* forward of layer i: from the end of layer i - 1 (the forward's start for the first) to the end of
  layer i, so functional code between modules (a flatten, a residual add of the parent) is counted in the
  next layer and the layers sum to the whole forward; the loss is counted in the last layer;
* backward of layer i: between consecutive full-backward-hook events (a hook fires once the gradient of
  the layer's input is computed), the loss's backward counted in the last layer. A layer whose input needs
  no gradient (the first, an embedding) has its hook fire before its own weight gradients: the time from
  the last other event to the end of the backward is counted in the first such layer.
* `warmup` untimed steps, then `repeats` timed steps; each figure is the median over the repeats, its
  spread half the interquartile range. In-place activations are switched off while profiling: a full
  backward hook cannot wrap an output that the next module overwrites in place (same arithmetic).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from statistics import median, quantiles
from typing import Any

from planner.engine import models
from planner.errors import SettingError

Tick = Callable[[], None] | None


@dataclass(frozen=True)
class Settings:
    """How to profile: batch, dtype, device, threads, warm-up and timed repetitions."""

    batch: int
    dtype: str = "fp32"
    device: str = "cpu"
    threads: int = 1
    warmup: int = 3
    repeats: int = 10


@dataclass(frozen=True)
class LayerMeasure:
    """One layer's figures for one minibatch: seconds (median, half-IQR spread) and bytes."""

    name: str
    op: str
    forward_s: float
    forward_spread_s: float
    backward_s: float
    backward_spread_s: float
    parameters: int
    parameter_bytes: int
    output_bytes: int


@dataclass(frozen=True)
class Measurement:
    """A whole profile: the layers in execution order and how they were measured."""

    layers: tuple[LayerMeasure, ...]
    step_s: float  # median forward + backward of the whole model (the layers sum to it)
    settings: Settings
    torch_version: str
    unowned_parameters: int  # parameters held by an opened container itself, counted in the first layer


TORCH_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16", "fp64": "float64"}


def select_layers(model: Any) -> list[tuple[str, Any]]:
    """(name, module) of every layer, in the module tree's order (see the module docstring)."""
    import torch

    containers = (torch.nn.Sequential, torch.nn.ModuleList, torch.nn.ModuleDict)

    def holds_list(module: Any) -> bool:
        return any(isinstance(m, torch.nn.ModuleList) for m in module.modules())

    def walk(prefix: str, module: Any) -> Iterator[tuple[str, Any]]:
        for name, child in module.named_children():
            fqn = f"{prefix}{name}"
            if isinstance(child, containers) or holds_list(child):
                yield from walk(f"{fqn}.", child)
            else:
                yield fqn, child

    found = list(walk("", model))
    return found or [("model", model)]


def measure(ref: models.ModelRef, settings: Settings, tick: Tick = None) -> Measurement:
    """Profile the model `ref` names as the module docstring says."""
    import torch

    torch.set_num_threads(settings.threads)
    torch.manual_seed(0)
    device = torch.device(settings.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SettingError("device", "a device this machine has (no CUDA device found)", settings.device)
    model = models.build(ref).to(device=device, dtype=getattr(torch, TORCH_DTYPES[settings.dtype]))
    for module in model.modules():
        if hasattr(module, "inplace"):
            module.inplace = False
    x = models.sample_input(ref, settings.batch).to(device)
    if x.is_floating_point():
        x = x.to(getattr(torch, TORCH_DTYPES[settings.dtype]))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    layers = select_layers(model)
    timer = _Timer(layers, sync)
    with timer.hooked():
        order, outputs = timer.trial(model, x)
        for _ in range(settings.warmup):
            timer.step(model, x)
        steps = []
        for _ in range(settings.repeats):
            steps.append(timer.step(model, x))
            if tick is not None:
                tick()
    named = dict(layers)
    seen: set[int] = set()
    rows = []
    for position, name in enumerate(order):
        params = [p for p in named[name].parameters() if id(p) not in seen]
        seen |= {id(p) for p in params}
        fwd = [s.forward[position] for s in steps]
        bwd = [s.backward[position] for s in steps]
        rows.append(
            LayerMeasure(
                name=name,
                op=_op(named[name]),
                forward_s=median(fwd),
                forward_spread_s=_half_iqr(fwd),
                backward_s=median(bwd),
                backward_spread_s=_half_iqr(bwd),
                parameters=sum(p.numel() for p in params),
                parameter_bytes=sum(p.numel() * p.element_size() for p in params),
                output_bytes=outputs[name],
            )
        )
    unowned = [p for p in model.parameters() if id(p) not in seen]
    if unowned:  # e.g. a position embedding held by the model itself: counted in the first layer
        first = rows[0]
        rows[0] = LayerMeasure(
            **{
                **first.__dict__,
                "parameters": first.parameters + sum(p.numel() for p in unowned),
                "parameter_bytes": first.parameter_bytes + sum(p.numel() * p.element_size() for p in unowned),
            }
        )
    return Measurement(
        layers=tuple(rows),
        step_s=median(s.total for s in steps),
        settings=settings,
        torch_version=str(torch.__version__),
        unowned_parameters=sum(p.numel() for p in unowned),
    )


@dataclass(frozen=True)
class _Step:
    forward: list[float]  # per layer, execution order
    backward: list[float]
    total: float


class _Timer:
    """Hooks on the layers that stamp the end of each forward and each backward."""

    def __init__(self, layers: list[tuple[str, Any]], sync: Callable[[], None]) -> None:
        self.layers = layers
        self.sync = sync
        self.forward_end: dict[str, list[float]] = {}
        self.backward_end: dict[str, float] = {}
        self.no_input_grad: set[str] = set()
        self.order: list[str] = []

    def hooked(self) -> Any:
        import contextlib

        @contextlib.contextmanager
        def scope() -> Iterator[None]:
            handles = []
            for name, module in self.layers:
                handles.append(module.register_forward_hook(self._forward_hook(name)))
                handles.append(module.register_full_backward_hook(self._backward_hook(name)))
            try:
                yield
            finally:
                for handle in handles:
                    handle.remove()

        return scope()

    def _forward_hook(self, name: str) -> Callable[..., None]:
        def hook(module: Any, inputs: Any, output: Any) -> None:
            self.sync()
            self.forward_end.setdefault(name, []).append(time.perf_counter())

        return hook

    def _backward_hook(self, name: str) -> Callable[..., None]:
        def hook(module: Any, grad_input: Any, grad_output: Any) -> None:
            self.sync()
            self.backward_end[name] = time.perf_counter()
            if all(g is None for g in grad_input):
                self.no_input_grad.add(name)

        return hook

    def trial(self, model: Any, x: Any) -> tuple[list[str], dict[str, int]]:
        """One forward and backward: the layers' execution order and each one's output bytes."""
        import warnings

        sizes: dict[str, int] = {}
        handles = [
            module.register_forward_hook(lambda m, i, o, name=name: sizes.__setitem__(name, _nbytes(o)))
            for name, module in self.layers
        ]
        try:
            self.forward_end.clear()
            output = model(x)
            counts = {name: len(times) for name, times in self.forward_end.items()}
            twice = [name for name, count in counts.items() if count > 1]
            if twice:
                raise SettingError(
                    "model",
                    f"a model whose layers each run once per forward ('{twice[0]}' runs {counts[twice[0]]} "
                    "times: a shared module cannot be timed per layer)",
                    show_got=False,
                )
            with warnings.catch_warnings():  # "full backward hook is firing ... no inputs require gradients"
                warnings.simplefilter("ignore", UserWarning)
                _loss(output).backward()
        finally:
            for handle in handles:
                handle.remove()
        self.order = sorted(self.forward_end, key=lambda name: self.forward_end[name][0])
        model.zero_grad(set_to_none=True)
        return self.order, sizes

    def step(self, model: Any, x: Any) -> _Step:
        """One timed training step (forward, loss, backward); the optimizer is not part of the profile."""
        import warnings

        self.forward_end.clear()
        self.backward_end.clear()
        model.zero_grad(set_to_none=True)
        self.sync()
        start = time.perf_counter()
        loss = _loss(model(x))
        self.sync()
        forward_done = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            loss.backward()
        self.sync()
        end = time.perf_counter()
        ends = [self.forward_end[name][0] for name in self.order]
        ends[-1] = forward_done
        forward = [b - a for a, b in zip([start, *ends[:-1]], ends, strict=True)]
        return _Step(forward, self._backward(forward_done, end), end - start)

    def _backward(self, start: float, end: float) -> list[float]:
        """Each layer's backward seconds from the hook stamps (module docstring)."""
        first_no_grad = next((n for n in self.order if n in self.no_input_grad), None)
        done = {
            name: end if name == first_no_grad else self.backward_end.get(name, start) for name in self.order
        }
        stamps = sorted({start, *done.values()})
        previous = {t: stamps[i - 1] if i else start for i, t in enumerate(stamps)}
        shared: dict[float, int] = {}
        for t in done.values():
            shared[t] = shared.get(t, 0) + 1
        return [(done[n] - previous[done[n]]) / shared[done[n]] for n in self.order]


def _loss(output: Any) -> Any:
    import torch

    out = models.output_tensor(output)
    return models.loss_fn(out, torch.zeros_like(out, dtype=torch.float32))


def _nbytes(output: Any) -> int:
    """Bytes of every tensor in a module's output (a tensor, a tuple, a dict or a ModelOutput)."""
    import torch

    if isinstance(output, torch.Tensor):
        return output.numel() * output.element_size()
    if isinstance(output, dict):
        return sum(_nbytes(v) for v in output.values())
    if isinstance(output, (tuple, list)):
        return sum(_nbytes(v) for v in output)
    return 0


def _half_iqr(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    q1, _, q3 = quantiles(values, n=4)
    return (q3 - q1) / 2


def _op(module: Any) -> str:
    text = f"{type(module).__name__}({module.extra_repr()})"
    return text if len(text) <= 80 else text[:77] + "..."
