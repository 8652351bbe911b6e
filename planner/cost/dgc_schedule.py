"""Deep Gradient Compression over a training run: the warm-up schedule of densities and momentum
correction's local state (Lin, Han, Mao, Wang & Dally, ICLR 2018). Units: bytes, epochs.

* Warm-up training (Sec. 3.4): DGC starts nearly dense and raises the sparsity exponentially over the
  first W epochs, 75 %, 93.75 %, 98.4375 %, 99.6 % and then 99.9 % with W = 4 (Sec. 5: "the warm-up
  period for DGC is 4 epochs"). The reference code (synxlin/deep-gradient-compression,
  dgc/compression.py, `warmup_coeff`) keeps density s^((e+1)/(W+1)) in epoch e < W and s after it, which
  is the paper's list for s = 0.001 to 1.5 % (0.251, 0.0631, 0.0158, 0.00398).
* Momentum correction (Sec. 3.2, eq. 4-5; momentum factor masking, Sec. 3.3): each worker accumulates
  the velocity u_t = m u_{t-1} + grad and sends the top s of v_t = v_{t-1} + u_t, then clears u and v at
  the positions sent. The message is the same count of values as without it, so it costs no bytes on
  the wire; it keeps one more gradient-sized buffer per worker (v beside the momentum u) than momentum
  SGD does.
"""

from __future__ import annotations

WARMUP_EPOCHS = 4  # Lin et al. 2018, Sec. 5 (ImageNet and CIFAR-10)


def warmup_densities(epochs: int, warmup_epochs: int, density: float) -> tuple[float, ...]:
    """Density of each of `epochs` epochs: s^((e+1)/(W+1)) for e < W, then s (see the module doc)."""
    if epochs < 1 or warmup_epochs < 0:
        raise ValueError("need epochs >= 1 and warmup_epochs >= 0")
    if not 0 < density <= 1:
        raise ValueError(f"density must be in (0, 1], got {density}")
    w = warmup_epochs
    return tuple(density ** ((e + 1) / (w + 1)) if e < w else density for e in range(epochs))


def momentum_correction_bytes(elements: int, value_bytes: float) -> float:
    """Extra local state per worker of momentum correction: the accumulated velocity v, one value per
    gradient element (Lin et al. 2018 Sec. 3.2, eq. 5)."""
    return float(elements * value_bytes)
