"""Requests arriving at a served replica (planner.optimize.serving_queue): Erlang C, Little's law, waits."""

from __future__ import annotations

import json

import pytest

from planner.api.serve import serving_setup
from planner.api.serve_inputs import ServeOptions
from planner.errors import InfeasibleError
from planner.optimize.serving_costs import Request, Workload, serving_point
from planner.optimize.serving_queue import erlang_c, load_point


def test_erlang_c_known_values() -> None:
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = rho
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)  # M/M/2 at a = 1 (rho 1/2): C = 2 rho^2 / (1 + rho) = 1/3
    assert 0.0 < erlang_c(2000, 1990.0) < 1.0  # thousands of servers stay finite
    assert erlang_c(100, 10.0) < 1e-20
    with pytest.raises(ValueError):
        erlang_c(4, 4.0)


def setup():
    return serving_setup("llama-2-7b", "dgx-h100", ServeOptions(servers=1))


def test_load_point_follows_littles_law_and_grows_with_the_rate() -> None:
    s = setup()
    demand_rates = (5.0, 20.0, 33.0)
    points = [load_point(s, 190, rate) for rate in demand_rates]
    for rate, lp in zip(demand_rates, points, strict=True):
        n = lp.point.batch
        assert n / lp.point.tpot_s >= rate * 128  # the in-flight sequences meet the demand
        if n > 1:
            fewer = serving_point(s, n - 1)
            assert (n - 1) / fewer.tpot_s < rate * 128  # and no fewer would
        assert lp.offered_load == pytest.approx(rate * 128 * lp.point.tpot_s)
        assert lp.ttft_s >= lp.point.ttft_s
    assert [lp.point.batch for lp in points] == sorted(lp.point.batch for lp in points)
    assert points[-1].ttft_s > points[0].ttft_s and points[-1].utilisation > points[0].utilisation
    with pytest.raises(InfeasibleError, match="exceed what 190 running sequences sustain"):
        load_point(s, 190, 1.01 * points[0].capacity)


def test_allen_cunneen_halves_the_wait_for_fixed_outputs() -> None:
    s = setup()
    few = load_point(s, 8, 0.98 * load_point(s, 8, 1.0).capacity)  # 8 slots near capacity: real waits
    hold = 128 * few.point.tpot_s
    mm_c = few.wait_probability * hold / (8 - few.offered_load)
    assert s.workload.output_variation == 0.0 and few.mean_wait_s == pytest.approx(mm_c / 2)
    mixed = Workload((Request(512, 64), Request(512, 192)))
    assert mixed.output_variation == pytest.approx(0.25)


def test_cli_arrival_rate(run_cli) -> None:
    base = ("serve", "llama-2-7b", "--cluster", "dgx-h100", "--servers", "1")
    load = json.loads(run_cli(*base, "--arrival-rate", "100", "-f", "json").stdout)["load"]
    assert load["arrival_rate_per_replica"] == pytest.approx(100 / 8) and load["in_flight"] >= 1
    assert run_cli(*base, "--arrival-rate", "0").exit_code == 2
    assert run_cli(*base, "--arrival-rate", "10", "--tpot", "50ms").exit_code == 2
    over = run_cli(*base, "--arrival-rate", "100000")
    assert over.exit_code == 1 and "exceed" in over.stderr
