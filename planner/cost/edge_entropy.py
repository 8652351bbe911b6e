"""BranchyNet's entropy thresholds turned into exit fractions, from per-exit confidence distributions.

Source: Teerapittayanon, McDanel, Kung, "BranchyNet: Fast Inference via Early Exiting from Deep Neural
Networks", ICPR 2016, Sec. III-B (Algorithm 1): at each early exit i the branch computes the softmax y
and its entropy -Σ_c y_c log y_c (nats); the sample leaves at the first exit whose entropy is below that
exit's threshold T_i, else at the final exit. Raising T lets more samples leave early (the paper sweeps
T to trade accuracy for latency, Fig. 3-4).

Two ways to know how confident the branches are:

* data: every sample's entropy at every early exit (samples × exits, nats), e.g. measured on a
  validation set; the fractions are counted (planner.cost.early_exit.exit_fractions);
* a parametric model: at exit i the normalised entropy u = entropy / log C (C classes, so u in [0, 1])
  follows a Beta(a_i, b_i) distribution; a < b puts most samples near u = 0 (confident). The exits are
  taken as independent (an assumption: real branches are positively correlated, a sample that is hard
  early tends to be hard later, so the model overstates how many leave at the later early exits):
  P(leave at i) = F_i(T_i / log C) · Π_{j<i} (1 - F_j(T_j / log C)), the final exit takes the rest.

Units: entropies and thresholds in nats; fractions of all samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import beta as beta_distribution

from planner.cost.early_exit import FloatArray, exit_fractions


@dataclass(frozen=True)
class EntropyShape:
    """Beta(a, b) distribution of the normalised entropy at one early exit (module docstring)."""

    a: float
    b: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.a) and math.isfinite(self.b) and self.a > 0 and self.b > 0):
            raise ValueError(f"a Beta shape needs a > 0 and b > 0, got ({self.a}, {self.b})")


def _thresholds(thresholds: npt.ArrayLike, exits: int) -> FloatArray:
    """One threshold per early exit (a single one applies to all); each must be >= 0 nats."""
    t = np.atleast_1d(np.asarray(thresholds, dtype=float))
    if t.shape[0] == 1:
        t = np.repeat(t, exits)
    if t.shape[0] != exits:
        raise ValueError(f"{exits} early exits but {t.shape[0]} thresholds (give one, or one per exit)")
    if np.any(~np.isfinite(t)) or np.any(t < 0):
        raise ValueError("entropy thresholds must be >= 0 nats")
    return t


def parametric_fractions(shapes: list[EntropyShape], thresholds: npt.ArrayLike, classes: int) -> FloatArray:
    """Exit fractions (early exits, then the final one; summing to 1) under the Beta model."""
    if classes < 2:
        raise ValueError(f"entropy needs at least 2 classes, got {classes}")
    t = _thresholds(thresholds, len(shapes)) / math.log(classes)
    leave = np.array([beta_distribution.cdf(min(u, 1.0), s.a, s.b) for s, u in zip(shapes, t, strict=True)])
    reach = np.concatenate([[1.0], np.cumprod(1.0 - leave)])  # share reaching exit i
    return np.concatenate([reach[:-1] * leave, reach[-1:]])


def measured_fractions(entropies: npt.ArrayLike, thresholds: npt.ArrayLike) -> FloatArray:
    """Exit fractions counted from per-sample entropies (samples × early exits, nats)."""
    h = np.atleast_2d(np.asarray(entropies, dtype=float))
    if h.size == 0 or np.any(~np.isfinite(h)) or np.any(h < 0):
        raise ValueError("entropies must be finite numbers >= 0 (nats), one row per sample")
    return exit_fractions(h, _thresholds(thresholds, h.shape[1]))
