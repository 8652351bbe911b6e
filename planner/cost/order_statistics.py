"""Order statistics of random selection without replacement: the expected k-th smallest of m values drawn
from K, in closed form (hypergeometric probabilities in log space). With m of K clients selected, the
synchronous FedAvg round (McMahan et al., AISTATS 2017, Algorithm 1) ends with the slowest: E[max].
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from planner.cost.federated_clients import FloatArray


def _log_comb(n: npt.ArrayLike, k: npt.ArrayLike) -> FloatArray:
    """ln C(n, k), −inf where k < 0 or k > n."""
    from scipy.special import gammaln

    n_arr, k_arr = np.broadcast_arrays(np.asarray(n, dtype=float), np.asarray(k, dtype=float))
    valid = (k_arr >= 0) & (k_arr <= n_arr)
    out = np.full(n_arr.shape, -np.inf)
    nv, kv = n_arr[valid], k_arr[valid]
    out[valid] = gammaln(nv + 1) - gammaln(kv + 1) - gammaln(nv - kv + 1)
    return out


def order_statistic_pmf(population: int, sample: int, rank: int) -> FloatArray:
    """P(the rank-th smallest of a uniformly random `sample`-subset of `population` ranked values is the
    i-th smallest of all), i = 1..population: C(i−1, rank−1)·C(K−i, s−rank) / C(K, s) (David & Nagaraja,
    "Order Statistics", 3rd ed., 2003, Sec. 2.4: sampling without replacement from a finite population)."""
    if not 1 <= rank <= sample <= population:
        raise ValueError(f"need 1 <= rank <= sample <= population, got {rank}, {sample}, {population}")
    i = np.arange(1, population + 1)
    log = (
        _log_comb(i - 1, rank - 1) + _log_comb(population - i, sample - rank) - _log_comb(population, sample)
    )
    return np.exp(log)


def expected_order_statistic(times: npt.ArrayLike, sample: int, rank: int) -> float:
    """E[rank-th smallest of `sample` clients drawn at random without replacement] (seconds)."""
    ordered = np.sort(np.asarray(times, dtype=float))
    return float(order_statistic_pmf(len(ordered), sample, rank) @ ordered)


def expected_max(times: npt.ArrayLike, m: int) -> float:
    """E[max of m clients drawn at random without replacement]: the synchronous round of FedAvg."""
    return expected_order_statistic(times, m, m)
