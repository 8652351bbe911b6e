"""CMFL (Wang, Wang, Li, "CMFL: Mitigating Communication Overhead for Federated Learning", ICDCS 2019):
a client uploads its update only when its relevance e(u, ū) = (1/N) Σ_j 1[sgn(u_j) = sgn(ū_j)], the share
of its N parameters whose update has the sign of the previous global update ū, reaches a threshold.

Who uploads, derived two ways:

* from given updates: each client's relevance against the global update (relevance_of_updates);
* from a model of sign agreement: a client's update entries and the global update's are taken as
  jointly normal with correlation ρ (the client's agreement with the global tendency; 1: the same
  direction, 0: unrelated). Then one parameter's signs agree with probability
      q = 1/2 + arcsin(ρ) / π      (Sheppard, Phil. Trans. R. Soc. A 192, 1899: the quadrant probability
                                    of a bivariate normal),
  and with the N parameters' agreements independent, e is Binomial(N, q) / N ≈ Normal(q, q(1 − q)/N):
      Pr(upload) = Pr(e ≥ threshold) = Φ((q − threshold) / √(q(1 − q)/N)).
  For a model of millions of parameters this is a step: a client uploads when q ≥ threshold.
Dimensionless.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt


def sign_agreement(correlation: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """q = 1/2 + arcsin(ρ)/π: the probability that a parameter's local and global updates share a sign
    (Sheppard 1899) for jointly normal entries of correlation ρ in [−1, 1]."""
    rho = np.asarray(correlation, dtype=float)
    if np.any(~np.isfinite(rho)) or np.any(np.abs(rho) > 1):
        raise ValueError("the update correlation must be in [-1, 1]")
    return np.asarray(0.5 + np.arcsin(rho) / math.pi, dtype=float)


def upload_probability(
    agreement: npt.ArrayLike, parameters: int, threshold: float
) -> npt.NDArray[np.float64]:
    """Pr(e ≥ threshold) for e = Binomial(N, q)/N by its normal approximation (module docstring)."""
    from scipy.stats import norm

    if not 0 <= threshold <= 1:
        raise ValueError(f"the relevance threshold must be in [0, 1], got {threshold}")
    if parameters < 1:
        raise ValueError(f"parameters must be >= 1, got {parameters}")
    q = np.asarray(agreement, dtype=float)
    spread = np.sqrt(q * (1.0 - q) / parameters)
    safe = np.where(spread > 0, spread, 1.0)
    step = np.where(q >= threshold, 1.0, 0.0)  # q of 0 or 1: e is q exactly
    return np.asarray(np.where(spread > 0, norm.cdf((q - threshold) / safe), step), dtype=float)


def relevance_of_updates(updates: npt.ArrayLike, global_update: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Each client's relevance e(u_k, ū): rows of `updates` (clients × parameters) against ū."""
    u, g = np.atleast_2d(np.asarray(updates, dtype=float)), np.asarray(global_update, dtype=float)
    if g.ndim != 1 or g.size == 0 or u.shape[1] != g.size:
        raise ValueError("the updates must be a clients x parameters table and the global update one row")
    return np.asarray(np.mean(np.sign(u) == np.sign(g)[None, :], axis=1), dtype=float)
