"""The lossless speculative samplers, vectorised over n independent trials.

* verify_chain: Leviathan, Kalman, Matias, ICML 2023, Algorithm 1 (also Chen et al. 2023, Alg. 2):
  drafts x_i ~ q_i; accept x_i if r_i <= p_i(x_i) / q_i(x_i), r_i ~ U(0, 1); at the first rejection
  sample from norm(max(0, p_i - q_i)); if all gamma are accepted sample one more token from p_{gamma+1}.
* verify_tree: SpecInfer's multi-step speculative sampling (Miao et al., ASPLOS 2024, Sec. 4.3) on a
  token tree: at an accepted node, try its children in rank order; child x (drawn from the draft's q
  at that node) is accepted with probability min(1, p(x)/q(x)), else p <- norm(max(0, p - q)) and the
  next child is tried; if all fail, sample from the residual p; at a leaf, sample from the target.
  Children are drawn i.i.d. from q (with replacement): that is what makes each try a standard
  speculative step, and the whole procedure lossless (SpecInfer Thm 4.2). A deterministic top-k
  expansion would need another rule.

Both emit tokens distributed exactly as the target's p (the Monte Carlo checks in planner.sampling.checks
test this). Tokens are ids 0..V-1; outputs are padded with -1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from planner.cost.speculative import residual
from planner.optimize.token_tree import TokenTree
from planner.sampling.bigram import BigramLM, check_distributions, sample_rows

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class StepResult:
    """tokens[t, :counts[t]] are the tokens trial t emitted in this step (the rest is -1)."""

    tokens: IntArray
    counts: IntArray


def accept(p: FloatArray, q: FloatArray, x: IntArray, rng: np.random.Generator) -> npt.NDArray[np.bool_]:
    """Accept draft x ~ q against target p with probability min(1, p(x) / q(x)) (one row per trial)."""
    rows = np.arange(x.shape[0])
    px, qx = p[rows, x], q[rows, x]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(qx > 0, px / np.where(qx > 0, qx, 1.0), 0.0)
    return rng.random(x.shape[0]) < ratio  # r < ratio: ratio >= 1 always accepts, 0 never does


def verify_chain(p: FloatArray, q: FloatArray, drafts: IntArray, rng: np.random.Generator) -> StepResult:
    """Algorithm 1 of Leviathan et al. 2023 for n trials.

    p: (n, gamma+1, V) target distributions at the gamma+1 positions (computed on each trial's drafts);
    q: (n, gamma, V) draft distributions; drafts: (n, gamma) tokens drawn from q. A q with no mass where p
    has some is allowed (the residual covers it); p and q must be distributions.
    """
    p = check_distributions(p, "p")
    q = check_distributions(q, "q")
    n, gamma = drafts.shape
    if p.shape[:2] != (n, gamma + 1) or q.shape[:2] != (n, gamma) or p.shape[-1] != q.shape[-1]:
        raise ValueError(f"shapes: p {p.shape}, q {q.shape}, drafts {drafts.shape} do not line up")
    accepted = np.ones((n, gamma), dtype=bool)
    for i in range(gamma):
        accepted[:, i] = accept(p[:, i], q[:, i], drafts[:, i], rng)
    if gamma == 0:
        first_reject = np.zeros(n, dtype=np.int64)
    else:
        first_reject = np.where(accepted.all(axis=1), gamma, np.argmin(accepted, axis=1))
    rows = np.arange(n)
    last_p = p[rows, first_reject]
    rejected = (first_reject < gamma)[:, None]
    if gamma > 0:
        last_q = q[rows, np.minimum(first_reject, gamma - 1)]
        last_p = np.where(rejected, residual(last_p, last_q), last_p)
    final = sample_rows(last_p, rng)
    tokens = np.full((n, gamma + 1), -1, dtype=np.int64)
    keep = np.arange(gamma)[None, :] < first_reject[:, None]
    tokens[:, :gamma] = np.where(keep, drafts, -1)
    tokens[rows, first_reject] = final
    return StepResult(tokens, first_reject + 1)


def draft_chain(
    draft: BigramLM, last: IntArray, gamma: int, rng: np.random.Generator
) -> tuple[IntArray, FloatArray]:
    """gamma tokens drawn autoregressively from the draft after `last`, and the q rows they came from."""
    n = last.shape[0]
    drafts = np.zeros((n, gamma), dtype=np.int64)
    q = np.zeros((n, gamma, draft.vocab))
    previous = last
    for i in range(gamma):
        q[:, i] = draft.next_distribution(previous)
        drafts[:, i] = sample_rows(q[:, i], rng)
        previous = drafts[:, i]
    return drafts, q


def chain_step(
    target: BigramLM, draft: BigramLM, last: IntArray, gamma: int, rng: np.random.Generator
) -> StepResult:
    """One speculative decoding step with bigram models: draft gamma tokens, verify with Algorithm 1."""
    drafts, q = draft_chain(draft, last, gamma, rng)
    contexts = np.concatenate([last[:, None], drafts], axis=1)  # context of position i is token i-1
    p = np.stack([target.next_distribution(contexts[:, i]) for i in range(gamma + 1)], axis=1)
    return verify_chain(p, q, drafts, rng)


def tree_step(
    target: BigramLM, draft: BigramLM, last: IntArray, tree: TokenTree, rng: np.random.Generator
) -> StepResult:
    """One SpecInfer step on `tree` (node 0 = the last verified token): draft every node i.i.d. from the
    draft's q at its parent, then verify by multi-step speculative sampling (module docstring)."""
    n = last.shape[0]
    node_tokens = np.zeros((n, tree.size), dtype=np.int64)
    node_tokens[:, 0] = last
    for v in range(1, tree.size):
        node_tokens[:, v] = sample_rows(draft.next_distribution(node_tokens[:, tree.parents[v]]), rng)
    depth = tree.depth
    tokens = np.full((n, depth + 1), -1, dtype=np.int64)
    counts = np.zeros(n, dtype=np.int64)
    at = np.zeros(n, dtype=np.int64)  # the node each trial stands on (all start at the root)
    done = np.zeros(n, dtype=bool)
    for u in range(tree.size):  # topological order: a trial reaches u before u's children are visited
        here = np.flatnonzero((at == u) & ~done)
        if here.size == 0:
            continue
        p = target.next_distribution(node_tokens[here, u])
        q = draft.next_distribution(node_tokens[here, u])
        pending = np.ones(here.size, dtype=bool)
        for child in tree.children(u):
            idx = np.flatnonzero(pending)
            if idx.size == 0:
                break
            ok = accept(p[idx], q[idx], node_tokens[here[idx], child], rng)
            moved = here[idx[ok]]
            tokens[moved, counts[moved]] = node_tokens[moved, child]
            counts[moved] += 1
            at[moved] = child
            pending[idx[ok]] = False
            rejected = idx[~ok]
            p[rejected] = residual(p[rejected], q[rejected])
        stop = here[pending]  # no child accepted (or a leaf): sample the residual / the target itself
        tokens[stop, counts[stop]] = sample_rows(p[pending], rng)
        counts[stop] += 1
        done[stop] = True
    return StepResult(tokens, counts)
