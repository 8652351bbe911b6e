"""Parameter servers without a barrier, with backup workers, after a failure (`planner ps`)."""

from __future__ import annotations

import json

import pytest

from planner.api.ps_async import PSOptions, parameter_server_modes
from planner.cost.ps_async import asynchronous_rates, staleness_updates, synchronous_iteration_s
from planner.errors import SettingError

G, B = 100e6, 1.25e9  # 100 MB gradient, 10 Gb/s links: push + pull 160 ms


def test_synchronous_waits_for_the_slowest_and_backups_drop_it() -> None:
    times = (0.1, 0.1, 0.1, 0.3)
    assert synchronous_iteration_s(times, G, B, servers=4) == pytest.approx(0.3 + 0.16)
    # 4 pushes through 2 ports, one at a time: twice the one-link time
    assert synchronous_iteration_s(times, G, B, servers=2) == pytest.approx(0.3 + 0.32)
    assert synchronous_iteration_s(times, G, B, servers=4, backups=1) == pytest.approx(0.1 + 0.16)


@pytest.mark.parametrize("times", [(0.1, 0.1, 0.1), (0.05, 0.1, 0.4, 0.2, 0.9)])
def test_async_mean_staleness_is_n_minus_1(times: tuple[float, ...]) -> None:
    rates, total = asynchronous_rates(times, G, B, servers=len(times))
    stale = staleness_updates(rates, total)
    assert float((rates * stale).sum() / total) == pytest.approx(len(times) - 1)
    assert stale.argmax() == int(max(range(len(times)), key=lambda i: times[i]))  # slowest: most stale


def test_async_is_capped_by_the_server_ports() -> None:
    _, total = asynchronous_rates((0.0001,) * 8, G, B, servers=1)
    assert total == pytest.approx(B / G)  # one port takes B / G gradients per second


def test_lost_worker_and_server() -> None:
    options = PSOptions((0.1, 0.1, 0.1, 0.3), G, B, servers=2, backup_workers=1, replicas=1)
    payload = parameter_server_modes(options).to_dict()
    before = {row["mode"]: row["samples_per_s"] for row in payload["modes"]}
    assert before["asynchronous"] > before["backup workers"] > before["synchronous"]
    after = {row["mode"]: row for row in payload["worker_lost"]["after"]}
    assert payload["worker_lost"]["index"] == 3  # the slowest by default
    assert after["synchronous"]["samples_per_s"] == 0.0  # the barrier never completes
    assert after["backup workers"]["fraction_of_before"] == pytest.approx(1.0)  # it was dropped anyway
    assert 0 < after["asynchronous"]["fraction_of_before"] < 1
    assert payload["server_lost"]["resync_bytes"] == G / 2
    assert payload["server_lost"]["resync_s"] == pytest.approx(G / 2 / B)
    no_replica = parameter_server_modes(PSOptions((0.1, 0.2), G, B, backup_workers=0, replicas=0))
    assert no_replica.to_dict()["server_lost"]["resync_s"] is None


def test_bad_settings() -> None:
    with pytest.raises(SettingError, match="backup_workers"):
        parameter_server_modes(PSOptions((0.1, 0.2), G, B, backup_workers=1))
    with pytest.raises(SettingError, match="lose_worker"):
        parameter_server_modes(PSOptions((0.1, 0.2), G, B, backup_workers=0, lose_worker=5))


def test_cli_ps(run_cli) -> None:
    args = ("ps", "--worker-times", "100ms,100ms,300ms", "--gradient", "100MB", "--bandwidth", "10Gbps")
    data = json.loads(run_cli(*args, "-f", "json").stdout)
    assert [row["mode"] for row in data["modes"]] == ["synchronous", "backup workers", "asynchronous"]
    assert "worker 2 lost" in run_cli(*args).stdout
    bad = run_cli("ps", "--worker-times", "1s,x", "--gradient", "1MB", "--bandwidth", "1GB/s")
    assert bad.exit_code == 2 and "--worker-times" in bad.stdout + bad.stderr
    bad = run_cli(*args, "--backup-workers", "5")
    assert bad.exit_code == 2 and "--backup-workers" in bad.stdout + bad.stderr
