"""planner calibrate: measurements (quick sizes), the YAML it writes, and where it may write it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from planner.api.calibrate import spec_yaml
from planner.calibrate import (
    Calibration,
    Loopback,
    Settings,
    measure_copy,
    measure_loopback,
    measure_matmul,
    steps,
)
from planner.host import physical_memory
from planner.spec.catalog import load_file
from planner.units import parse_quantity


def _fake(name_cpu: str = "Test CPU") -> Calibration:
    return Calibration(
        matmul={"fp32": 1.2345678e11, "fp64": 6.1e10},
        copy_bandwidth=2.25e10,
        loopback=Loopback(bandwidth=3.1e9, latency=5.5e-6),
        memory=16 * 2**30,
        cpu=name_cpu,
        cpus=2,
        date="2025-01-02",
        settings=Settings.quick(),
    )


class _Clock:
    """A stand-in for time.perf_counter that advances `step` seconds per call: the measured rates are
    then exact functions of the FLOP and byte counts, whatever the machine is doing."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_matmul_counts_two_n_cubed_flop_per_repetition(monkeypatch: pytest.MonkeyPatch) -> None:
    # no timing threshold (issue 13): the rate is checked against a controlled clock; the machine's real
    # rates are a benchmark (bench/bench_calibrate.py)
    monkeypatch.setattr("planner.calibrate.time.perf_counter", _Clock(0.5))
    ticks: list[int] = []
    for dtype in ("fp32", "fp64"):
        assert measure_matmul(64, dtype, 2, tick=lambda: ticks.append(1)) == pytest.approx(2 * 64**3 / 0.5)
    assert len(ticks) == 4
    with pytest.raises(ValueError, match="dtype"):
        measure_matmul(16, "fp16", 1)


def test_matmul_stops_after_its_time_budget_but_ticks_every_planned_repetition(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("planner.calibrate.time.perf_counter", _Clock(10.0))
    ticks: list[int] = []
    assert measure_matmul(16, "fp32", 5, max_seconds=1.0, tick=lambda: ticks.append(1)) > 0
    assert len(ticks) == 5


def test_copy_counts_bytes_read_and_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("planner.calibrate.time.perf_counter", _Clock(0.25))
    ticks: list[int] = []
    rate = measure_copy(4 * 2**20, 3, threads=2, tick=lambda: ticks.append(1))
    assert rate == pytest.approx(2 * 4 * 2**20 / 0.25)
    assert len(ticks) == 3


def test_real_rates_are_positive_and_finite() -> None:
    for rate in (measure_matmul(32, "fp32", 1), measure_copy(2**16, 1)):
        assert 0 < rate < float("inf")


def test_loopback_terminates_and_closes_its_sockets() -> None:
    fds = len(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").is_dir() else None
    ticks: list[int] = []
    result = measure_loopback(50, 2**20, 2, timeout=10.0, tick=lambda: ticks.append(1))
    assert 0 < result.bandwidth < float("inf")
    assert 0 < result.latency < float("inf")
    assert len(ticks) == 1 + 2 == steps(Settings(1, 1, 1, 8, 1, 1, 1, 1, 2))["loopback"]
    if fds is not None:
        assert len(os.listdir("/proc/self/fd")) == fds


def test_physical_memory_is_positive() -> None:
    assert physical_memory() > 2**26


@pytest.mark.parametrize("kind", ["cluster", "device"])
def test_spec_yaml_round_trips_the_figures(tmp_path: Path, kind: str) -> None:
    cal = _fake(name_cpu='odd: "cpu" # name')
    text = spec_yaml(cal, kind, "my box")
    assert "# measured by planner calibrate on 2025-01-02: numpy matmul n=256 x2, best" in text
    path = tmp_path / "hw.yaml"
    path.write_text(text)
    spec = load_file(path, (kind,))
    device = spec if kind == "device" else spec.device
    assert device.kind == "cpu" and device.compute_efficiency == 1.0
    assert device.peak_compute["fp32"] == pytest.approx(1.2345678e11, rel=1e-3)
    assert device.peak_compute["fp64"] == pytest.approx(6.1e10, rel=1e-3)
    assert device.memory_bandwidth == pytest.approx(2.25e10, rel=1e-3)
    assert device.memory == 16 * 2**30
    assert 'odd: "cpu" # name' in device.description
    if kind == "cluster":
        assert spec.name == "my box" and spec.total_devices == 1
        link = spec.levels[0].link
        assert link.bandwidth == pytest.approx(3.1e9, rel=1e-3)
        assert link.latency == pytest.approx(5.5e-6, rel=1e-3)
        assert spec.with_top_count(4).total_devices == 4
    else:
        assert spec.name == "my box"


def test_cli_writes_a_cluster_that_hardware_show_accepts(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "mine.yaml"
    res = run_cli("calibrate", "--quick", "--output", str(out), "--name", "mine")
    assert res.exit_code == 0, res.stderr
    assert "wrote cluster spec" in res.stdout and "matmul fp32" in res.stdout
    spec = load_file(out, ("cluster",))
    assert spec.device.peak_compute["fp32"] > 1e8 and spec.device.peak_compute["fp64"] > 1e8
    assert spec.device.memory_bandwidth > 1e8 and spec.levels[0].link.bandwidth > 1e6
    shown = run_cli("hardware", "show", str(out), "--servers", "2", "--format", "json")
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["cluster"]["total_devices"] == 2


def test_cli_without_output_prints_yaml_on_stdout(run_cli, tmp_path: Path) -> None:
    res = run_cli("calibrate", "--quick", "--spec", "device", "--name", "dev")
    assert res.exit_code == 0, res.stderr
    assert res.stdout.startswith("# loopback:") and "spec: device" in res.stdout
    assert "matmul fp64" in res.stderr  # the summary goes to stderr, keeping stdout a valid file
    path = tmp_path / "dev.yaml"
    path.write_text(res.stdout)
    assert load_file(path, ("device",)).name == "dev"


def test_cli_json_has_si_figures_and_no_progress_bar(run_cli) -> None:
    res = run_cli("calibrate", "--quick", "--format", "json")
    assert res.exit_code == 0
    assert res.stderr == ""
    data = json.loads(res.stdout)
    cal = data["calibration"]
    assert cal["matmul_flop_per_s"]["fp32"] > 1e8 and cal["matmul_flop_per_s"]["fp64"] > 1e8
    assert cal["copy_bandwidth_bytes_per_s"] > 1e8
    assert cal["loopback_bandwidth_bytes_per_s"] > 1e6 and 0 < cal["loopback_latency_s"] < 0.1
    assert data["output_path"] is None and data["spec"] == "cluster"
    rate = parse_quantity(data["yaml"].split("fp32: ")[1].split("#")[0].strip(), "compute")
    assert rate == pytest.approx(cal["matmul_flop_per_s"]["fp32"], rel=1e-3)


def test_cli_refuses_to_overwrite_without_force(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "taken.yaml"
    out.write_text("precious\n")
    res = run_cli("calibrate", "--quick", "--output", str(out))
    assert res.exit_code == 2
    assert "--output" in res.stderr and "--force" in res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    assert out.read_text() == "precious\n"
    forced = run_cli("calibrate", "--quick", "--output", str(out), "--force", "--format", "json")
    assert forced.exit_code == 0
    assert json.loads(forced.stdout)["output_path"] == str(out)
    assert load_file(out, ("cluster",)).device.kind == "cpu"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--output", "{tmp}/missing/x.yaml"), "existing directory"),
        (("--output", "{tmp}"), "not a directory"),
        (("--name", " "), "--name"),
    ],
)
def test_cli_bad_input_exits_2(run_cli, tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    res = run_cli("calibrate", "--quick", *(a.format(tmp=tmp_path) for a in args))
    assert res.exit_code == 2
    assert needle in res.stderr and "Traceback" not in res.stderr
