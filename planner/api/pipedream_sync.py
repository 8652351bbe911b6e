"""PipeDream's weight versions per stage (`planner pipeline staleness`): the staleness of the weights each
stage uses and the versions it keeps, under weight stashing or vertical sync (planner.cost.weight_staleness,
PipeDream SOSP'19 Sec. 3.3), for a straight pipeline of K stages in asynchronous 1F1B.

With `weights` (the whole model's weight bytes, split evenly over the stages: a straight pipeline's own
split is `planner pipeline partition`'s) each stage's stashed bytes are (versions - 1) x its weights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planner.errors import SettingError


@dataclass(frozen=True)
class StalenessOptions:
    stages: int  # pipeline stages K, one device each
    vertical_sync: bool = False  # every stage uses the version the input stage used (else weight stashing)
    weights: float | None = None  # the model's weight bytes, split evenly over the stages

    def check(self) -> None:
        if self.stages < 1:
            raise SettingError("stages", "a whole number >= 1", self.stages)
        if self.weights is not None and not self.weights >= 0:
            raise SettingError("weights", "bytes >= 0", self.weights)

    @property
    def rule(self) -> str:
        return "vertical-sync" if self.vertical_sync else "weight-stashing"


@dataclass(frozen=True)
class StalenessResult:
    options: StalenessOptions
    staleness: tuple[int, ...]
    versions: tuple[int, ...]
    other_rule: str
    other_staleness: tuple[int, ...]
    other_versions: tuple[int, ...]

    def _stashed(self, versions: tuple[int, ...]) -> list[float] | None:
        w = self.options.weights
        return None if w is None else [(v - 1) * w / self.options.stages for v in versions]

    def to_dict(self) -> dict[str, Any]:
        o = self.options
        stashed, other = self._stashed(self.versions), self._stashed(self.other_versions)
        rows = [
            {
                "stage": k,
                "in_flight_minibatches": o.stages - k,
                "staleness_updates": self.staleness[k],
                "weight_versions": self.versions[k],
                "stashed_weight_bytes": None if stashed is None else stashed[k],
            }
            for k in range(o.stages)
        ]
        return {
            "stages": o.stages,
            "rule": o.rule,
            "weights_bytes": o.weights,
            "stage_weights_bytes": None if o.weights is None else o.weights / o.stages,
            "per_stage": rows,
            "consistent_across_stages": len(set(self.staleness)) == 1,
            "total_weight_versions": sum(self.versions),
            "total_stashed_weight_bytes": None if stashed is None else sum(stashed),
            "other": {
                "rule": self.other_rule,
                "staleness_updates": list(self.other_staleness),
                "weight_versions": list(self.other_versions),
                "total_weight_versions": sum(self.other_versions),
                "total_stashed_weight_bytes": None if other is None else sum(other),
            },
            "source": "PipeDream, Narayanan et al., SOSP 2019, Sec. 3.3 (weight stashing, vertical sync)",
        }


def pipedream_staleness(options: StalenessOptions) -> StalenessResult:
    """Staleness and weight versions per stage under the chosen rule, beside the other rule."""
    from planner.cost.weight_staleness import RULES, stage_staleness, weight_versions

    options.check()
    k, rule = options.stages, options.rule
    other = next(r for r in RULES if r != rule)
    return StalenessResult(
        options,
        stage_staleness(k, rule),
        weight_versions(k, rule),
        other,
        stage_staleness(k, other),
        weight_versions(k, other),
    )
