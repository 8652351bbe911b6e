"""Monte Carlo checks of the speculative samplers: losslessness and mean tokens per step.

* Losslessness: Pearson's chi-square goodness-of-fit test of the generated sequences' first L tokens
  against the target model's exact distribution of L-token sequences (V^L cells; cells whose expected
  count is below 5 are pooled, Cochran's rule). The sampler passes when the p-value is at least the
  significance level: a correct sampler fails with probability `significance`.
* Mean tokens per step: z = (mean - expected) / (std / sqrt(N)); passes when |z| is below the two-sided
  normal quantile of the significance level (the central limit theorem over N i.i.d. steps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class TestOutcome:
    """statistic: chi-square or z; p_value: two-sided for z; passed: p_value >= significance."""

    name: str
    statistic: float
    p_value: float
    significance: float
    samples: int
    detail: str

    @property
    def passed(self) -> bool:
        return self.p_value >= self.significance

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "significance": self.significance,
            "samples": self.samples,
            "passed": self.passed,
            "detail": self.detail,
        }


def sequence_codes(sequences: IntArray, length: int, vocab: int) -> IntArray:
    """Each sequence's first `length` tokens as one base-`vocab` integer (first token most significant)."""
    codes = np.zeros(sequences.shape[0], dtype=np.int64)
    for i in range(length):
        codes = codes * vocab + sequences[:, i]
    return codes


def chi_square_test(
    codes: IntArray, expected_probs: FloatArray, significance: float, name: str = "distribution"
) -> TestOutcome:
    """Pearson's chi-square test of observed codes against the exact probabilities (pooling small cells)."""
    from scipy.stats import chisquare

    n = codes.shape[0]
    observed = np.bincount(codes, minlength=expected_probs.shape[0]).astype(float)
    expected = expected_probs * n
    small = expected < 5.0
    if small.any():
        observed = np.append(observed[~small], observed[small].sum())
        expected = np.append(expected[~small], expected[small].sum())
        if expected[-1] == 0:  # cells of zero probability: any draw there is an outright failure
            if observed[-1] > 0:
                return TestOutcome(
                    name, float("inf"), 0.0, significance, n, "tokens of zero probability drawn"
                )
            observed, expected = observed[:-1], expected[:-1]
    expected *= observed.sum() / expected.sum()
    result = chisquare(observed, expected)
    detail = f"{expected.shape[0]} cells, {expected.shape[0] - 1} degrees of freedom"
    return TestOutcome(name, float(result.statistic), float(result.pvalue), significance, n, detail)


def mean_test(values: IntArray, expected: float, significance: float, name: str = "mean") -> TestOutcome:
    """Two-sided z-test of the sample mean against `expected`."""
    from scipy.stats import norm

    n = values.shape[0]
    mean = float(values.mean())
    error = float(values.std(ddof=1)) / np.sqrt(n) if n > 1 else float("inf")
    z = (mean - expected) / error if error > 0 else (0.0 if mean == expected else float("inf"))
    p_value = float(2.0 * norm.sf(abs(z)))
    detail = f"mean {mean:.4f} vs {expected:.4f} (standard error {error:.2g})"
    return TestOutcome(name, float(z), p_value, significance, n, detail)
