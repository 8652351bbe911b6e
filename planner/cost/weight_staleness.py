"""PipeDream's weight versions: how stale the weights each stage uses are, and how many versions it keeps.

Narayanan et al., "PipeDream: Generalized pipeline parallelism for DNN training", SOSP 2019, Sec. 3.3,
for a straight pipeline of K stages (no replication), asynchronous 1F1B in steady state. Stage k is
0-based (stage 0 holds the model's input); staleness counts optimizer updates (minibatches), versions
count copies of the stage's weights.

* Weight stashing: a minibatch's forward and backward on a stage use the same weights, the stage's
  latest when the forward ran. The update is w(t+1) = w(t) - nu grad f(w_1(t-K+1), w_2(t-K+2), ...,
  w_K(t)) (Sec. 3.3, "Staleness"): stage k (1-based k + 1) uses weights K - 1 - k updates old, and
  the stages of one minibatch use different versions. A stage keeps one version per in-flight
  minibatch, K - k (Sec. 3.3: "a version of <weights, activations> is needed for each in-flight
  minibatch"; planner.cost.pipeline.in_flight_microbatches).
* Vertical sync: a minibatch carries the version the input stage used, and every stage uses that one:
  w(t+1) = w(t) - nu grad f(w_1(t-K+1), ..., w_K(t-K+1)) (Sec. 3.3, "Vertical Sync"): all stages K - 1
  updates old, one consistent version across stages, like BSP data parallelism on K workers.
  Versions per stage (derived here from that update rule; the paper states none): when stage k holds
  w(t) (it has applied the updates of the minibatches before t), the minibatches in flight on it need
  w(t-K+1) .. w(t-k) (minibatch j needs w(j-K+1), in-flight j = t .. t+K-1-k), and the minibatches not yet
  arrived need w(t-k+1) .. w(t), so it keeps all K versions w(t-K+1) .. w(t); stage 0 keeps K under
  either rule, later stages k more under vertical sync.
"""

from __future__ import annotations

RULES: tuple[str, ...] = ("weight-stashing", "vertical-sync")


def _check(stages: int, rule: str) -> None:
    if stages < 1:
        raise ValueError(f"stages must be a whole number >= 1, got {stages}")
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)}, got {rule!r}")


def stage_staleness(stages: int, rule: str) -> tuple[int, ...]:
    """Updates by which each stage's weights lag the latest when a minibatch uses them (SOSP'19 Sec. 3.3):
    K - 1 - k with weight stashing, K - 1 on every stage with vertical sync."""
    _check(stages, rule)
    if rule == "vertical-sync":
        return (stages - 1,) * stages
    return tuple(stages - 1 - k for k in range(stages))


def weight_versions(stages: int, rule: str) -> tuple[int, ...]:
    """Copies of its weights each stage keeps at its peak (the latest one included): K - k with weight
    stashing (one per in-flight minibatch), K with vertical sync (see the module doc)."""
    _check(stages, rule)
    if rule == "vertical-sync":
        return (stages,) * stages
    return tuple(stages - k for k in range(stages))
