"""PipeDream's staleness and weight versions (`planner pipeline staleness`), checked against an op-by-op
replay of asynchronous 1F1B on a straight pipeline."""

from __future__ import annotations

import json

import pytest

from planner.api.pipedream_sync import StalenessOptions, pipedream_staleness
from planner.cost.weight_staleness import stage_staleness, weight_versions


def _replay(stages: int, stage: int, vertical_sync: bool, minibatches: int = 40) -> tuple[int, int]:
    """Steady-state staleness and peak versions of `stage`, replaying its ops: K - k forwards, then
    backward i before forward i + K - k (PipeDream SOSP'19 Fig. 8). Backward i makes version i + 1."""
    warm = stages - stage
    ops = [("F", j) for j in range(warm)]
    for i in range(minibatches):
        ops += [("B", i), ("F", i + warm)]
    latest, used, lags, peak = 0, {}, [], 0
    for op, j in ops:
        if op == "F":
            # stage 0 forwards j after backward j - K: its latest is j - K + 1; vertical sync carries that
            used[j] = max(j - stages + 1, 0) if vertical_sync else latest
        else:
            lags.append(j - used.pop(j))
            latest = j + 1
        future = latest - stage if vertical_sync else latest  # what the next arrival will use
        needed = min([*used.values(), max(future, 0)])
        if j >= 2 * stages:  # steady state
            peak = max(peak, latest - needed + 1)
    return lags[-1], peak


@pytest.mark.parametrize("vertical_sync", [False, True])
@pytest.mark.parametrize("stages", [1, 2, 4, 7])
def test_closed_forms_match_the_replay(stages: int, vertical_sync: bool) -> None:
    rule = "vertical-sync" if vertical_sync else "weight-stashing"
    replayed = [_replay(stages, k, vertical_sync) for k in range(stages)]
    assert list(stage_staleness(stages, rule)) == [lag for lag, _ in replayed]
    assert list(weight_versions(stages, rule)) == [peak for _, peak in replayed]


def test_paper_update_rules() -> None:
    # SOSP'19 Sec. 3.3: stashing lags stage 1 by n - 1 and stage n by 0; vertical sync all by n - 1
    assert stage_staleness(4, "weight-stashing") == (3, 2, 1, 0)
    assert stage_staleness(4, "vertical-sync") == (3, 3, 3, 3)
    assert weight_versions(4, "weight-stashing") == (4, 3, 2, 1)


def test_stashed_bytes_split_evenly() -> None:
    payload = pipedream_staleness(StalenessOptions(4, weights=400.0)).to_dict()
    assert [row["stashed_weight_bytes"] for row in payload["per_stage"]] == [300.0, 200.0, 100.0, 0.0]
    assert payload["other"]["total_stashed_weight_bytes"] == 4 * 300.0
    assert not payload["consistent_across_stages"]


def test_cli_staleness(run_cli) -> None:
    assert "staleness" in run_cli("pipeline", "--help").stdout
    data = json.loads(run_cli("pipeline", "staleness", "-k", "3", "--vertical-sync", "-f", "json").stdout)
    assert [row["staleness_updates"] for row in data["per_stage"]] == [2, 2, 2]
    assert data["consistent_across_stages"] and data["other"]["rule"] == "weight-stashing"
    bad = run_cli("pipeline", "staleness", "-k", "0")
    assert bad.exit_code == 2 and "--stages" in bad.stdout + bad.stderr
    bad = run_cli("pipeline", "staleness", "-k", "2", "--weights", "lots")
    assert bad.exit_code == 2 and "--weights" in bad.stdout + bad.stderr
