"""Bigram (first-order Markov) language models: the stand-ins for a target and a draft model.

A bigram model gives the next token's distribution from the previous token only (Leviathan et al. 2023,
Sec. 3.6 uses a bigram model as a draft). Token ids are 0..V-1; the previous token -1 means "start of the
sequence" and selects the initial distribution. A context-free model (one distribution for every
position) is the bigram model whose rows all equal its initial distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def check_distributions(probs: FloatArray, name: str) -> FloatArray:
    """`probs` with every row (last axis) a probability distribution, else ValueError naming `name`."""
    a = np.asarray(probs, dtype=float)
    if a.ndim == 0 or a.shape[-1] < 1:
        raise ValueError(f"{name} must have a vocabulary axis")
    if np.any(np.isnan(a)) or np.any(a < 0):
        raise ValueError(f"{name} has negative or NaN probabilities")
    sums = a.sum(axis=-1)
    if np.any(np.abs(sums - 1.0) > 1e-6):
        raise ValueError(f"{name} rows must sum to 1, got sums {np.unique(np.round(sums, 6))[:5]}")
    return a


@dataclass(frozen=True)
class BigramLM:
    """initial[x] = Pr(first token x); transition[y, x] = Pr(next token x | previous token y)."""

    initial: FloatArray
    transition: FloatArray

    def __post_init__(self) -> None:
        check_distributions(self.initial, "initial")
        check_distributions(self.transition, "transition")
        v = self.initial.shape[-1]
        if self.initial.shape != (v,) or self.transition.shape != (v, v):
            raise ValueError(
                f"need initial (V,) and transition (V, V), got {self.initial.shape}, {self.transition.shape}"
            )

    @property
    def vocab(self) -> int:
        return int(self.initial.shape[0])

    @staticmethod
    def context_free(probs: npt.ArrayLike) -> BigramLM:
        """The model that draws every token from `probs`, whatever came before."""
        p = check_distributions(np.asarray(probs, float), "probs")
        return BigramLM(p, np.tile(p, (p.shape[0], 1)))

    def next_distribution(self, previous: IntArray) -> FloatArray:
        """Rows of next-token distributions, one per entry of `previous` (-1 = start). Shape (n, V)."""
        prev = np.asarray(previous, dtype=np.int64)
        return np.where((prev < 0)[:, None], self.initial[None, :], self.transition[np.maximum(prev, 0)])

    def sequence_probabilities(self, length: int) -> FloatArray:
        """Pr of every `length`-token sequence, indexed by its base-V code (first token most significant)."""
        probs = self.initial.copy()
        for _ in range(length - 1):
            # joint over (prefix code, last token) -> extend by one token
            last = np.arange(probs.shape[0]) % self.vocab
            probs = (probs[:, None] * self.transition[last]).reshape(-1)
        return probs


def random_bigram(vocab: int, rng: np.random.Generator, concentration: float = 1.0) -> BigramLM:
    """A bigram model with Dirichlet(concentration) rows (for the Monte Carlo checks)."""
    alpha = np.full(vocab, concentration)
    return BigramLM(rng.dirichlet(alpha), rng.dirichlet(alpha, size=vocab))


def sample_rows(probs: FloatArray, rng: np.random.Generator) -> IntArray:
    """One token per row of `probs` (n, V), by inverse transform sampling."""
    cdf = np.cumsum(probs, axis=-1)
    u = rng.random(probs.shape[0]) * cdf[:, -1]
    return np.minimum((cdf <= u[:, None]).sum(axis=-1), probs.shape[-1] - 1).astype(np.int64)
