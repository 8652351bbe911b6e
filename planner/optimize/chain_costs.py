"""A model's chain of stages as prefix sums: forward and backward time, parameter and activation bytes.

The states are PipeDream's antichain states of a profile's graph (planner.optimize.chain_view: a plain
chain for a sequential model; a block of parallel branches past the state budget is linearised, its
states the prefixes of its layers in layer order). The chain view sums one compute time per state;
partitioning with gradient synchronisation overlapped with the backward pass needs forward and backward
apart, so the view sums the forward time and the backward sums come from the same states.
A stage is a range of states [i, j) with i = 0 or state i-1 preceding state j-1 in the antichain DAG;
its figures are differences of the prefix sums, O(1) each. Units: seconds per minibatch, bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from planner.errors import SpecError
from planner.optimize.chain_view import ChainView, LayerTimes, build_chain_view
from planner.spec.profile import ModelProfile

Array = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class ChainCosts:
    """Prefix sums over the chain's states (index s + 1 covers states 0..s; index 0 is 0) and the valid
    stage ranges [i, j) as pairs sorted by j then i.

    Units: seconds per minibatch (forward, backward on one device), bytes (parameters, activations).
    `output_activation_bytes[s]` is what crosses a cut after state s. `view` is the chain view the
    states come from (None for a plain chain built from arrays, whose state s is layer s).
    """

    cum_forward_s: Array
    cum_backward_s: Array
    cum_parameter_bytes: Array
    cum_activation_bytes: Array
    output_activation_bytes: Array
    pair_start: NDArray[np.int64]
    pair_end: NDArray[np.int64]
    layer_names: tuple[str, ...]
    view: ChainView | None = None
    dtype: str = "fp32"

    @property
    def num_states(self) -> int:
        return len(self.cum_forward_s) - 1

    def forward_s(self, i: int, j: int) -> float:
        return float(self.cum_forward_s[j] - self.cum_forward_s[i])

    def backward_s(self, i: int, j: int) -> float:
        return float(self.cum_backward_s[j] - self.cum_backward_s[i])

    def parameter_bytes(self, i: int, j: int) -> float:
        return float(self.cum_parameter_bytes[j] - self.cum_parameter_bytes[i])

    def activation_bytes(self, i: int, j: int) -> float:
        return float(self.cum_activation_bytes[j] - self.cum_activation_bytes[i])

    def is_valid(self, i: int, j: int) -> bool:
        """Whether [i, j) is a stage range: i < j, and state i-1 precedes state j-1 (a plain chain: any)."""
        if not 0 <= i < j <= self.num_states:
            return False
        if i == 0 or self.view is None:
            return True
        before = self.view.predecessors[j - 1]
        k = int(np.searchsorted(before, i - 1))
        return k < len(before) and int(before[k]) == i - 1


def chain_costs(
    profile: ModelProfile, forward_s: LayerTimes | None = None, backward_s: LayerTimes | None = None
) -> ChainCosts:
    """The chain view of `profile` with separate forward and backward prefix sums.

    `forward_s` / `backward_s` give each layer's time per minibatch by profile index (e.g. from
    planner.cost.compute.layer_times); by default the profile's measured times (PipeDream's graph.txt:
    per minibatch; Input sources and __getitem__ sinks are left out as in the chain view).
    """
    if (forward_s is None) != (backward_s is None):
        raise ValueError("give both forward_s and backward_s, or neither")
    if forward_s is None:
        missing = [
            i for i, layer in enumerate(profile.layers) if layer.forward_time is None and not layer.is_input
        ]
        if missing:
            raise SpecError(
                f"profile {profile.name}",
                f"layers[{missing[0]}].forward_time",
                "expected measured layer times, or times derived from FLOP (a CNN architecture)",
                show_got=False,
            )
        forward_s = [layer.forward_time or 0.0 for layer in profile.layers]
        backward_s = [layer.backward_time or 0.0 for layer in profile.layers]
    assert backward_s is not None
    if len(backward_s) != len(profile.layers):
        raise SpecError(
            f"profile {profile.name}", "backward_s", f"expected one time per layer ({len(profile.layers)})"
        )
    forward_view = build_chain_view(profile, layer_time_s=forward_s, exact=False)
    start, end = _valid_pairs(forward_view)
    return ChainCosts(
        cum_forward_s=forward_view.cum_compute_s,
        cum_backward_s=forward_view.cumulative(backward_s),
        cum_parameter_bytes=forward_view.cum_parameter_bytes,
        cum_activation_bytes=forward_view.cum_activation_bytes,
        output_activation_bytes=forward_view.output_activation_bytes,
        pair_start=start,
        pair_end=end,
        layer_names=forward_view.layer_names,
        view=forward_view,
        dtype=profile.dtype,
    )


def plain_chain(
    forward_s: Sequence[float],
    backward_s: Sequence[float],
    parameter_bytes: Sequence[float],
    activation_bytes: Sequence[float],
    names: Sequence[str] | None = None,
    dtype: str = "fp32",
) -> ChainCosts:
    """A sequential chain given as per-layer arrays (layer s is state s; every cut is valid)."""
    arrays = [np.asarray(v, dtype=float) for v in (forward_s, backward_s, parameter_bytes, activation_bytes)]
    count = len(arrays[0])
    if count == 0 or any(a.shape != (count,) for a in arrays):
        raise ValueError("need one forward time, backward time, parameter and activation size per layer")
    if any(np.any(a < 0) or not np.all(np.isfinite(a)) for a in arrays):
        raise ValueError("layer figures must be finite and >= 0")
    ends, starts = np.tril_indices(count + 1, -1)  # (j, i) with i < j, sorted by j then i
    cum = [np.concatenate(([0.0], np.cumsum(a))) for a in arrays]
    return ChainCosts(
        cum_forward_s=cum[0],
        cum_backward_s=cum[1],
        cum_parameter_bytes=cum[2],
        cum_activation_bytes=cum[3],
        output_activation_bytes=arrays[3],
        pair_start=starts.astype(np.int64),
        pair_end=ends.astype(np.int64),
        layer_names=tuple(names) if names is not None else tuple(f"layer{s}" for s in range(count)),
        dtype=dtype,
    )


def _valid_pairs(view: ChainView) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Stage ranges [i, j): i = 0, or state i-1 precedes state j-1 in the antichain DAG."""
    starts, ends = [], []
    for j in range(1, view.num_states + 1):
        before = view.predecessors[j - 1] + 1
        starts.append(np.concatenate(([0], before)).astype(np.int64))
        ends.append(np.full(len(before) + 1, j, dtype=np.int64))
    return np.concatenate(starts), np.concatenate(ends)


@dataclass(frozen=True, eq=False)
class PairArrays:
    """Per valid pair (i, j) (sorted by j, then i): its figures; `group_start` the first pair of each j,
    `first_pairs` the pairs with i = 0 (one per j). Units as ChainCosts."""

    i: NDArray[np.int64]
    j: NDArray[np.int64]
    forward: Array
    backward: Array
    parameters: Array
    activations: Array
    compute: Array
    group_start: NDArray[np.int64]
    first_pairs: NDArray[np.int64]


def pair_arrays(costs: ChainCosts) -> PairArrays:
    """The figures of every valid stage range of `costs`, vectorised (the native DP's inputs)."""
    i, j = costs.pair_start, costs.pair_end
    forward = costs.cum_forward_s[j] - costs.cum_forward_s[i]
    backward = costs.cum_backward_s[j] - costs.cum_backward_s[i]
    return PairArrays(
        i=i,
        j=j,
        forward=forward,
        backward=backward,
        parameters=costs.cum_parameter_bytes[j] - costs.cum_parameter_bytes[i],
        activations=costs.cum_activation_bytes[j] - costs.cum_activation_bytes[i],
        compute=forward + backward,
        group_start=np.flatnonzero(np.r_[True, j[1:] != j[:-1]]),
        first_pairs=np.flatnonzero(i == 0),
    )
