"""DGC's warm-up schedule and momentum correction over a run (`planner dgc`)."""

from __future__ import annotations

import json

import pytest

from planner.api.dgc_schedule import DGCOptions, dgc_schedule
from planner.cost.dgc_schedule import warmup_densities
from planner.errors import SettingError


def test_warmup_is_the_papers_list() -> None:
    # Lin et al. 2018 Sec. 3.4: 75 %, 93.75 %, 98.4375 %, 99.6 %, then 99.9 % (each density within 1.5 %)
    densities = warmup_densities(6, 4, 0.001)
    paper = (0.25, 0.0625, 0.015625, 0.004, 0.001, 0.001)
    assert densities == pytest.approx(paper, rel=0.015)
    assert warmup_densities(3, 0, 0.01) == (0.01, 0.01, 0.01)


def test_run_totals_add_up_and_warmup_costs_bytes() -> None:
    options = DGCOptions(epochs=10, epoch_samples=64_000, batch=32)
    payload = dgc_schedule("resnet50", "pipedream-cluster-a", options).to_dict()
    rows, run = payload["per_epoch"], payload["run"]
    assert run["sent_bytes_per_worker"] == pytest.approx(sum(r["sent_bytes_per_worker"] for r in rows))
    assert run["sent_bytes_per_worker"] > run["without_warmup_sent_bytes_per_worker"]
    steady = rows[-1]
    assert rows[0]["message_bytes"] > steady["message_bytes"]
    # denser epochs pay only below a lower bandwidth; the run's break-even lies between
    assert rows[1]["break_even_bandwidth_bytes_per_s"] < steady["break_even_bandwidth_bytes_per_s"]
    assert rows[1]["break_even_bandwidth_bytes_per_s"] < run["break_even_bandwidth_bytes_per_s"]
    assert run["break_even_bandwidth_bytes_per_s"] < steady["break_even_bandwidth_bytes_per_s"]
    assert payload["momentum_correction"]["extra_wire_bytes"] == 0.0
    assert payload["momentum_correction"]["extra_state_bytes_per_worker"] == payload["dense_gradient_bytes"]


def test_no_warmup_equals_the_steady_message() -> None:
    options = DGCOptions(epochs=3, warmup_epochs=0, epoch_samples=3200)
    run = dgc_schedule("resnet50", "pipedream-cluster-a", options).to_dict()["run"]
    assert run["sent_bytes_per_worker"] == pytest.approx(run["without_warmup_sent_bytes_per_worker"])
    assert run["warmup_share_of_bytes"] == pytest.approx(0.0)


def test_bad_settings(run_cli) -> None:
    with pytest.raises(SettingError, match="warmup_epochs"):
        dgc_schedule("resnet50", "pipedream-cluster-a", DGCOptions(epochs=2, warmup_epochs=3))
    bad = run_cli("dgc", "resnet50", "--cluster", "pipedream-cluster-a", "--density", "2")
    assert bad.exit_code == 2 and "--density" in bad.stdout + bad.stderr


def test_cli_dgc(run_cli) -> None:
    args = ("dgc", "resnet50", "--cluster", "pipedream-cluster-a", "--epochs", "6")
    data = json.loads(run_cli(*args, "-f", "json").stdout)
    assert len(data["per_epoch"]) == 6 and data["per_epoch"][-1]["density"] == 0.001
    assert "break-even bandwidth over the run" in run_cli(*args).stdout
