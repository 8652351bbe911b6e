"""Build a PyTorch model and its synthetic inputs from a model reference, the same way in every process.

A reference is one of:
* a torchvision model name (`resnet18`): `torchvision.models.get_model(name, weights=None)`, random
  weights, one sample 3 x 224 x 224 unless an input shape is given;
* `package.module:factory`: the factory called with no arguments must return an `nn.Module`; the shape of
  one sample must be given;
* a Hugging Face `config.json` (a path ending in .json): the model built by transformers from the config
  with random weights (`AutoModelForCausalLM.from_config`, else `AutoModel.from_config`; nothing is
  downloaded), fed random token ids of the given sequence length.

Every run trains on synthetic data with one loss, the mean squared output (MSE against zeros), so a model
of any output shape trains the same way; the loss is a negligible part of the step.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.engine import require
from planner.errors import SettingError, SpecError

DEFAULT_IMAGE_SHAPE = (3, 224, 224)  # torchvision's ImageNet classifiers take 224 x 224 RGB images


@dataclass(frozen=True)
class ModelRef:
    """A model to build: its reference and the shape of one sample (a transformer: (sequence length,))."""

    reference: str
    input_shape: tuple[int, ...]

    @property
    def kind(self) -> str:
        if self.reference.endswith(".json"):
            return "hf-config"
        return "factory" if ":" in self.reference else "torchvision"


def resolve(reference: str, input_shape: tuple[int, ...] | None, seq_len: int | None) -> ModelRef:
    """The reference with its sample shape, checked; SpecError naming `model`, `input_shape` or `seq_len`."""
    ref = ModelRef(reference, ())
    if ref.kind == "hf-config":
        if not Path(reference).is_file():
            raise SettingError(
                "model", "a torchvision name, package.module:factory or a config.json file", reference
            )
        if seq_len is None or seq_len < 1:
            raise SettingError("seq_len", "a sequence length >= 1 for a transformer", seq_len)
        return ModelRef(reference, (seq_len,))
    if seq_len is not None:
        raise SettingError("seq_len", "only for a config.json transformer", seq_len)
    if input_shape is not None and (not input_shape or min(input_shape) < 1):
        raise SettingError("input_shape", "dimensions >= 1, e.g. 3,224,224", input_shape)
    if ref.kind == "factory":
        if input_shape is None:
            raise SettingError("input_shape", "the shape of one sample for a factory model", None)
        return ModelRef(reference, input_shape)
    return ModelRef(reference, input_shape or DEFAULT_IMAGE_SHAPE)


def build(ref: ModelRef) -> Any:
    """The nn.Module, random weights, in training mode; SpecError naming `model` when it cannot be built."""
    import torch

    if ref.kind == "hf-config":
        model = _hf_model(ref.reference)
    elif ref.kind == "factory":
        model = _factory(ref.reference)()
    else:
        import torchvision

        if ref.reference not in torchvision.models.list_models():
            raise SettingError("model", "a torchvision model name (e.g. resnet18)", ref.reference)
        model = torchvision.models.get_model(ref.reference, weights=None)
    if not isinstance(model, torch.nn.Module):
        raise SettingError("model", "a factory returning a torch.nn.Module", type(model).__name__)
    return model.train()


def sample_input(ref: ModelRef, batch: int, generator_seed: int = 0) -> Any:
    """A synthetic input batch: random images / features, or random token ids below the vocabulary."""
    import torch

    gen = torch.Generator().manual_seed(generator_seed)
    if ref.kind == "hf-config":
        vocab = int(getattr(_hf_config(ref.reference), "vocab_size", 2))
        return torch.randint(0, vocab, (batch, *ref.input_shape), generator=gen)
    return torch.randn((batch, *ref.input_shape), generator=gen)


def output_tensor(output: Any) -> Any:
    """The tensor a model's output carries (a Hugging Face ModelOutput: its first field, e.g. logits)."""
    import torch

    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, dict):
        return next(iter(output.values()))
    if isinstance(output, (tuple, list)):
        return output[0]
    raise SettingError("model", "a model whose forward returns a tensor", type(output).__name__)


def loss_fn(output: Any, target: Any) -> Any:
    """The training loss of every run: mean squared error of the output against `target` (zeros)."""
    import torch

    return torch.nn.functional.mse_loss(output_tensor(output).float(), target)


def _factory(reference: str) -> Any:
    module_name, _, attr = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
        factory = getattr(module, attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise SettingError("model", f"an importable package.module:factory ({exc})", reference) from None
    if not callable(factory):
        raise SettingError("model", "a callable factory", reference)
    return factory


def _hf_config(path: str) -> Any:
    require("a Hugging Face config.json model", "transformers")
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(path)
    except (OSError, ValueError, KeyError) as exc:
        raise SpecError(path, "", f"a Hugging Face model config.json ({exc})", show_got=False) from None


def _hf_model(path: str) -> Any:
    from transformers import AutoModel, AutoModelForCausalLM

    config = _hf_config(path)
    try:
        return AutoModelForCausalLM.from_config(config)
    except ValueError:  # not a causal LM (e.g. an encoder): the bare model
        return AutoModel.from_config(config)
