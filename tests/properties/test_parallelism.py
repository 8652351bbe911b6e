"""The LLM parallelism search (t x p x d x b x v x recompute x ZeRO) against a brute force that builds
every configuration with plain loops and costs each with evaluate_configuration, on small random models
and clusters; and the best plan is never slower with faster links or faster devices. (tests/test_
parallelism.py checks the vectorised costs candidate by candidate and the memory order; not the search's
choice against an independent enumeration.)"""

from __future__ import annotations

import itertools
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from planner.cost.llm_memory import ZERO_STAGES
from planner.optimize.llm_evaluate import evaluate_configuration
from planner.optimize.llm_setup import RECOMPUTE, TrainingSetup
from planner.optimize.parallelism import search
from planner.spec.llm import LLMConfig

from .strategies import DEVICE, GB, PROPERTY, clusters

MAX_B, MAX_V = 2, 2


@st.composite
def setups(draw: st.DrawFn) -> TrainingSetup:
    heads = draw(st.sampled_from([4, 8]))
    cfg = LLMConfig(
        spec="llm",
        name="small-gpt",
        architecture="decoder",
        hidden_size=heads * draw(st.sampled_from([32, 64])),
        num_layers=draw(st.sampled_from([2, 4, 6])),
        num_heads=heads,
        ffn_size=draw(st.sampled_from([512, 1024])),
        vocab_size=draw(st.sampled_from([1000, 5000])),
        max_sequence_length=512,
    )
    device = replace(DEVICE, memory=draw(st.sampled_from([0.02, 0.05, 1.0])) * GB)
    cluster = draw(clusters(max_per_server=4, max_servers=2, device=device))
    return TrainingSetup(
        cfg,
        cluster,
        global_batch=draw(st.sampled_from([4, 8, 12])),
        seq_len=draw(st.sampled_from([128, 512])),
    )


def brute_force(setup: TrainingSetup) -> list[tuple]:  # type: ignore[type-arg]
    """Every feasible configuration as (time, memory, t·p, t, p, b, v, recompute index, zero): the
    search's documented order (time, then memory, then smaller model parallelism...)."""
    n = setup.device_count
    found = []
    for t, p in itertools.product(range(1, n + 1), repeat=2):
        if n % (t * p):
            continue
        for b, v, r, z in itertools.product(range(1, MAX_B + 1), range(1, MAX_V + 1), RECOMPUTE, ZERO_STAGES):
            if setup.attention == "flash" and r == "selective":
                continue  # the same plan as none with fused attention: the search lists it once
            e = evaluate_configuration(
                setup,
                tensor=t,
                pipeline=p,
                data=n // (t * p),
                microbatch=b,
                interleave=v,
                recompute=r,
                zero=z,
            )
            if e.feasible:
                found.append(
                    (
                        e.time_per_iteration_s,
                        e.memory_per_device_bytes,
                        t * p,
                        t,
                        p,
                        b,
                        v,
                        RECOMPUTE.index(r),
                        z,
                    )
                )
    return sorted(found)


@PROPERTY
@given(setup=setups())
def test_search_finds_the_brute_force_optimum(setup: TrainingSetup) -> None:
    expected = brute_force(setup)
    result = search(setup, top=3, max_microbatch=MAX_B, max_interleave=MAX_V)
    assert result.feasible == len(expected)
    if not expected:
        return
    best = result.plans[0]
    c = best.config
    assert abs(best.time_per_iteration_s - expected[0][0]) <= 1e-12 * expected[0][0]
    key = (
        c.tensor * c.pipeline,
        c.tensor,
        c.pipeline,
        c.microbatch,
        c.interleave,
        RECOMPUTE.index(c.recompute),
        c.zero,
    )
    ties = [e for e in expected if abs(e[0] - expected[0][0]) <= 1e-12 * expected[0][0]]
    assert key in [e[2:] for e in ties]


def _fastest(setup: TrainingSetup) -> float | None:
    result = search(setup, top=1, max_microbatch=MAX_B, max_interleave=MAX_V)
    return result.plans[0].time_per_iteration_s if result.plans else None


@PROPERTY
@given(setup=setups(), links=st.floats(1.0, 8.0), compute=st.floats(1.0, 8.0))
def test_faster_links_or_devices_never_slow_the_best_plan(
    setup: TrainingSetup, links: float, compute: float
) -> None:
    base = _fastest(setup)
    cluster = setup.cluster
    quick_links = replace(
        cluster,
        levels=tuple(
            replace(lv, link=replace(lv.link, bandwidth=lv.link.bandwidth * links)) for lv in cluster.levels
        ),
    )
    device = cluster.device
    quick_device = replace(device, peak_compute={k: v * compute for k, v in device.peak_compute.items()})
    for faster in (
        replace(setup, cluster=quick_links),
        replace(setup, cluster=replace(cluster, device=quick_device)),
    ):
        time = _fastest(faster)
        assert (base is None) or (time is not None and time <= base * (1 + 1e-12))
