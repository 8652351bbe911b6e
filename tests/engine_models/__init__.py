"""Small PyTorch models for the engine tests (`package.module:factory` references)."""

from __future__ import annotations

from typing import Any


def mlp() -> Any:
    """A 3-layer perceptron on 32 features: five modules in an nn.Sequential, 6,792 parameters."""
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(32, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 8),
    )
