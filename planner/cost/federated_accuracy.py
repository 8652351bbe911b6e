"""An accuracy model for federated selection and Zhao et al.'s shared data: test-accuracy loss linear in
the earth mover's distance (EMD) of the clients' label distributions from the population's.

Zhao, Li, Lai, Suda, Civin, Chandra, "Federated Learning with Non-IID Data", arXiv:1806.00582, 2018:
* Sec. 3 (Prop. 3.1): the weight divergence of FedAvg from centralised SGD is bounded by a term linear in
  Σ_k (n_k/n) EMD_k; to first order the accuracy lost to skew is taken proportional to it:
      loss(S) = κ · Σ_{k∈S} EMD_k / |S|  (percentage points; equal client weights, FedAvg's n_k/n when
      the selected clients hold equal samples).
* κ, the loss per unit EMD: the abstract's "up to 55%" lower accuracy for 1-class non-IID data, whose
  EMD over 10 balanced classes is 1.8: κ = 55 / 1.8 ≈ 30.6 points (the paper's worst data set, so κ is
  an upper estimate for the others). Its +30% with 5% shared CIFAR-10 data is held out (validation).
* Sec. 4, shared data: a client that trains on its n_k samples and s samples of a shared set G drawn from
  the population (EMD 0) has the label distribution (n_k p_k + s p)/(n_k + s), whose EMD is exactly
      EMD'_k = n_k / (n_k + s) · EMD_k.

Not modelled (no published curves held here to fit them): how accuracy depends on the samples a round
uses, on local epochs, and on the number of rounds; the model gives the loss at convergence.
Units: percentage points of test accuracy; EMD in [0, 2].
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

ZHAO_DROP_POINTS = 55.0  # Zhao et al. 2018, abstract: accuracy "reduces ... by up to 55%" at 1-class non-IID
ZHAO_ONE_CLASS_EMD = 1.8  # EMD of a 1-class client of 10 balanced classes: 0.9 + 9 × 0.1
LOSS_PER_EMD = ZHAO_DROP_POINTS / ZHAO_ONE_CLASS_EMD  # κ, percentage points per unit EMD


def accuracy_loss(emd: npt.ArrayLike, per_emd: float = LOSS_PER_EMD) -> npt.NDArray[np.float64]:
    """Points of test accuracy lost to label skew: κ · EMD (module docstring)."""
    d = np.asarray(emd, dtype=float)
    if np.any(d < 0) or np.any(d > 2 + 1e-9):
        raise ValueError("an EMD between label distributions is in [0, 2]")
    if per_emd < 0:
        raise ValueError(f"the loss per unit EMD must be >= 0, got {per_emd}")
    return np.asarray(per_emd * d, dtype=float)


def mixed_emd(
    emd: npt.ArrayLike, own_samples: npt.ArrayLike, shared_samples: float
) -> npt.NDArray[np.float64]:
    """EMD of a client's data mixed with `shared_samples` population-distributed samples:
    n_k / (n_k + s) · EMD_k (Zhao et al. 2018, Sec. 4; module docstring)."""
    n = np.asarray(own_samples, dtype=float)
    if np.any(n <= 0) or shared_samples < 0:
        raise ValueError("own samples must be > 0 and shared samples >= 0")
    return np.asarray(np.asarray(emd, dtype=float) * n / (n + shared_samples), dtype=float)


def shared_data_gain(
    emd: npt.ArrayLike, own_samples: npt.ArrayLike, shared_samples: float, per_emd: float = LOSS_PER_EMD
) -> float:
    """Points of accuracy the shared data buys: κ · (mean EMD − mean mixed EMD) over the clients."""
    before = float(np.mean(accuracy_loss(emd, per_emd)))
    after = float(np.mean(accuracy_loss(mixed_emd(emd, own_samples, shared_samples), per_emd)))
    return before - after


def selection_utility(
    emd: npt.ArrayLike, clients: int, iid_accuracy: float = 100.0, per_emd: float = LOSS_PER_EMD
) -> npt.NDArray[np.float64]:
    """Per-client term of a selection's accuracy, (A_iid − κ · EMD_k) / m, whose sum over m selected
    clients is Acc(S) = A_iid − loss(S) (A_iid: the accuracy on IID data, in percent). Linear in the
    selection only for exactly m selected: the caller fixes the count."""
    if clients < 1:
        raise ValueError(f"clients must be >= 1, got {clients}")
    if not 0 < iid_accuracy <= 100:
        raise ValueError(f"the IID accuracy must be in (0, 100] percent, got {iid_accuracy}")
    return np.asarray(np.maximum(iid_accuracy - accuracy_loss(emd, per_emd), 0.0) / clients, dtype=float)
