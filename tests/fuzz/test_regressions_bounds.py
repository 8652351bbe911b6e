"""Issue 13's reproductions of hangs, overflows, inf / nan answers and tracebacks, each a fixed input that
now exits 2 (bad input) or 1 (no answer within the planner's limits) with one line naming the option or
field and the bound (planner/limits.py). Each test names what happened before."""

from __future__ import annotations

import re

import pytest

from .test_regressions import DEVICE, run

GRAPH = "\n".join(
    [
        "node1 -- Input0 -- forward_compute_time=0, backward_compute_time=0, activation_size=4000, "
        "parameter_size=0",
        *(
            f"node{i} -- Linear -- forward_compute_time=5, backward_compute_time=10, activation_size=4000, "
            "parameter_size=4000"
            for i in (2, 3, 4)
        ),
        "\tnode1 -- node2",
        "\tnode2 -- node3",
        "\tnode3 -- node4",
        "",
    ]
)
CLUSTER = """\
spec: cluster
name: c
device: v100-sxm2-16gb
levels:
  - {name: gpu, count: 4, link: {bandwidth: 10 GB/s}}
"""
ROUND = ["fl", "round", "--fleet", "mixed-edge", "--model", "resnet18"]


def _fleet(**class_fields: object) -> str:
    fields = {"samples": 211, "count": 10, **class_fields}
    extra = ", ".join(f"{k}: {v}" for k, v in fields.items())
    link = "{bandwidth: 10 Mbps, latency: 28 ms}"
    return (
        "spec: fleet\nname: f\nclasses:\n"
        f"  - {{name: a, device: raspberry-pi-4b, uplink: {link}, downlink: {link}, {extra}}}\n"
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # a billion Monte Carlo trials ran past any time-out
        ([*ROUND, "--trials", "1000000000"], "--trials: field 'trials': expected at most 1,000,000 trials"),
        # the trials' keys, one per client per trial: 100,000 trials on 1,000 clients took 8 s
        ([*ROUND, "--trials", "100000"], "expected at most 50,000 Monte Carlo trials on a fleet of 1,000"),
        # 1e8 histogram bins: 3.8 GB in 15 s
        ([*ROUND, "--histogram", "--bins", "100000000"], "expected at most 1,000 histogram bins"),
        ([*ROUND, "--rounds", "10000000000"], "expected at most 1,000,000,000 rounds"),
        ([*ROUND, "-B", "10000000000"], "--batch-size: field 'batch-size': expected at most 2,147,483,647"),
    ],
)
def test_fl_round_counts_are_bounded_before_allocation(argv: list[str], expected: str) -> None:
    out = run(argv)
    assert out.exit_code == 2 and expected in out.stderr and "planner/limits.py" in out.stderr


@pytest.mark.parametrize(
    ("boards", "extra"),
    [("raspberry-pi-4b:1000000", []), ("raspberry-pi-4b:100000", ["--solver", "greedy"])],
)
def test_adcnn_boards_are_bounded_before_each_is_made(boards: str, extra: list[str]) -> None:
    # a million (or with the greedy rule 100,000) boards never ended
    out = run(["edge", "adcnn", "vgg16", "--boards", boards, *extra])
    assert out.exit_code == 2 and "--boards: field 'boards': expected at most 64 Conv nodes" in out.stderr


def test_adcnn_on_a_cluster_of_800000_boards_is_refused() -> None:
    # every device of the cluster became a Conv node: 8 x 100,000 boards never ended
    cluster = CLUSTER.replace("device: v100-sxm2-16gb", "device: raspberry-pi-4b").replace(
        "count: 4, link: {bandwidth: 10 GB/s}}",
        "count: 100000, link: {bandwidth: 1 Gbps}}\n  - {name: rack, count: 8, link: {bandwidth: 1 Gbps}}",
    )
    out = run(["edge", "adcnn", "vgg16", "--cluster", "c.yaml"], {"c.yaml": cluster})
    assert out.exit_code == 2 and "expected at most 64 Conv nodes" in out.stderr and "799,999" in out.stderr


def test_fleet_samples_beyond_int64_are_refused_at_load() -> None:
    # spec/fleet: samples 1e21 wrapped around in the int64 cast: samples_mean -9.2e18, a negative round
    out = run([*ROUND[:3], "f.yaml", *ROUND[4:]], {"f.yaml": _fleet(samples=10**21)})
    assert (
        out.exit_code == 2 and "f.yaml:4: field 'classes[0].samples': expected a value <= 1e+09" in out.stderr
    )


def test_a_whole_number_beyond_int64_is_refused_at_load() -> None:
    cnn = "spec: cnn\nname: big\ninput_shape: [1180591620717411303424, 32, 32]\nlayers:\n  - flatten: {}\n"
    out = run(["models", "show", "cnn.yaml"], {"cnn.yaml": cnn})
    assert (
        out.exit_code == 2 and "cnn.yaml:3: field 'input_shape[0]'" in out.stderr and "(int64)" in out.stderr
    )


def test_a_fleet_of_more_than_a_million_clients_is_refused() -> None:
    fleet = _fleet(count=1_000_000).replace(
        "  - {name: a,",
        "  - {name: b, count: 1, samples: 1, device: "
        "raspberry-pi-4b, uplink: {bandwidth: 1 Mbps}, downlink: {bandwidth: 1 Mbps}}\n  - {name: a,",
    )
    out = run([*ROUND[:3], "f.yaml", *ROUND[4:]], {"f.yaml": fleet})
    assert out.exit_code == 2 and "at most 1,000,000 clients in all, got 1,000,001" in out.stderr


@pytest.mark.parametrize(
    ("argv", "files", "expected"),
    [
        # a 1e-300 B/s link: the loader accepted it, then `plan` divided by zero (ZeroDivisionError)
        (
            ["plan", "resnet18", "--cluster", "c.yaml"],
            {"c.yaml": CLUSTER.replace("10 GB/s", "1e-300 B/s")},
            "c.yaml:5: field 'levels[0].link.bandwidth': expected a value >= 1 B/s, got '1e-300 B/s'",
        ),
        # memory 0.5 B and 1e30 TFLOPS were accepted
        (
            ["hardware", "show", "d.yaml"],
            {"d.yaml": DEVICE.replace("memory: 16 GiB", "memory: 0.5 B")},
            "d.yaml:5: field 'memory': expected a value >= 1 B, got '0.5 B'",
        ),
        (
            ["hardware", "show", "d.yaml"],
            {"d.yaml": DEVICE.replace("10 TFLOPS", "1e30 TFLOPS")},
            "d.yaml:4: field 'peak_compute.fp32': expected a value <= 10 EFLOP/s, got '1e30 TFLOPS'",
        ),
        # an efficiency of 1e-300 was accepted (> 0): bandwidth x efficiency underflowed towards 0
        (
            ["hardware", "show", "c.yaml"],
            {"c.yaml": CLUSTER.replace("10 GB/s}", "10 GB/s, efficiency: 1e-300}")},
            "field 'levels[0].link.efficiency': expected a value >= 1e-06",
        ),
        # `latency: -50 us` was reported as -4.9999999999999996e-05
        (
            ["hardware", "show", "c.yaml"],
            {"c.yaml": CLUSTER.replace("10 GB/s}", "10 GB/s, latency: -50 us}")},
            "c.yaml:5: field 'levels[0].link.latency': expected a value >= 0 s, got '-50 us'",
        ),
        (
            ["hardware", "show", "c.yaml"],
            {"c.yaml": CLUSTER.replace("10 GB/s}", "10 GB/s, latency: 2 h}")},
            "field 'levels[0].link.latency': expected a value <= 3600 s, got '2 h'",
        ),
        # price.date 2026-13-45 was accepted
        (
            ["hardware", "show", "d.yaml"],
            {"d.yaml": DEVICE + "price: {usd_per_hour: 1, date: 2026-13-45, source: x}\n"},
            "field 'price.date': expected a calendar date YYYY-MM-DD, got '2026-13-45'",
        ),
    ],
)
def test_physical_quantities_out_of_range_are_refused_at_load(
    argv: list[str], files: dict[str, str], expected: str
) -> None:
    out = run(argv, files)
    assert out.exit_code == 2 and expected in out.stderr


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # FieldValueError traceback with the native model (the pipedream model refused it cleanly)
        (
            ["pipeline", "partition", "m.graph.txt", "--levels", "100000000000000000000:10GB/s"],
            "--levels: field 'levels': expected at most 1,000,000 devices in all",
        ),
        (
            [
                "pipeline",
                "partition",
                "m.graph.txt",
                "--levels",
                "100000000000000000000:10GB/s",
                "--cost-model",
                "pipedream",
            ],
            "--levels: field 'levels': expected at most 1,000,000 devices in all",
        ),
        # a 300-digit time and an "inf×" speed-up
        (
            ["pipeline", "partition", "m.graph.txt", "--levels", "4:1e-300 B/s"],
            "--levels: field 'levels[0].bandwidth': expected a bandwidth from 1 B/s to 1 PB/s",
        ),
        # activation bytes / 1e-300 overflowed to inf
        (
            ["pipeline", "partition", "vgg16", "--cluster", "dgx-1", "--activation-compression", "1e-300"],
            "--activation-compression: field 'activation-compression': a ratio from 1e-06 to 1e+06",
        ),
        (
            ["pipeline", "partition", "vgg16", "--cluster", "dgx-1", "--memory", "1e30 PB"],
            "--memory: field 'memory': a memory size from 0 B to 1024 PiB",
        ),
        # Thm 3.11's cost overflowed: an inf in the table
        (
            ["specdec", "speedup", "--alpha", "0.8", "--c", "0.1", "--c-hat", "1e308"],
            "--c-hat: field 'c-hat': expected a number 0, or from 1e-06 to 1e+06",
        ),
        # PEARL's window 1/c printed as a 300-digit number
        (
            ["specdec", "speedup", "--alpha", "0.999999", "--c", "1e-300"],
            "--c: field 'c': expected a number 0, or from 1e-06 to 1e+06",
        ),
        # local epochs 1e300: times of 1e301 s and an overflow in the variance
        ([*ROUND, "-E", "1e300"], "--epochs: field 'epochs': expected a number from 1e-06 to 1e+06"),
        # "infx smaller": q / (1 - q) divided by zero
        (
            [*ROUND, "--upload-density", "1e-300"],
            "--upload-density: field 'upload-density': expected a fraction",
        ),
        (
            ["comm", "--cluster", "dgx-1", "--model", "resnet18", "--compress-density", "1e-300"],
            "--compress-density: field 'compress-density': expected a fraction from 1e-06 to 1",
        ),
        # printed as given, with a time to train of 2e302 s
        (
            ["dp", "resnet18", "--cluster", "dgx-1", "--epochs", "1e300"],
            "--epochs: field 'epochs': a number from 1e-06 to 1e+06",
        ),
        (
            [*ROUND, "--deadline", "1e300s"],
            "--deadline: field 'deadline': expected a time > 0 s and <= 10000000 s",
        ),
        ([*ROUND, "--prox-mu", "1e308"], "--prox-mu: field 'prox-mu': expected a number from 0 to 1e+06"),
        # the selection ILP found no feasible point (exit 1) with a weight of 1e308
        (
            ["fl", "select", "--fleet", "mixed-edge", "--model", "resnet18", "--w-latency", "1e308"],
            "--w-latency: field 'w-latency': expected a weight from 0 to 1e+06",
        ),
        # accepted, and unused, unless --upload-density was given
        ([*ROUND, "--upload-encoding", "foo"], "--upload-encoding: field 'upload-encoding': expected one of"),
        ([*ROUND, "--over-select", "1e308"], "--over-select: field 'over-select': expected a number from 0"),
        (
            ["edge", "adcnn", "vgg16", "--compression", "1e-300", "--solver", "greedy"],
            "--compression: field 'compression': expected a ratio from 1e-06 to 1",
        ),
        (
            ["edge", "split", "resnet18", "--device", "raspberry-pi-4b", "--uplink", "1e-300 B/s"],
            "--uplink: field 'uplink': expected a bandwidth from 1 B/s to 1 PB/s",
        ),
        (
            [
                "comm",
                "--cluster",
                "dgx-1",
                "--algorithm",
                "ps",
                "--ps-dedicated",
                "--ps-backups",
                "100000000000000000000",
                "--size",
                "1MB",
            ],
            "--ps-backups: field 'ps-backups': expected an integer from 0 to 999,999",
        ),
    ],
)
def test_options_out_of_range_are_one_line_errors(argv: list[str], expected: str) -> None:
    out = run(argv, {"m.graph.txt": GRAPH})
    assert out.exit_code == 2 and expected in out.stderr, out.stderr


def test_dp_reasons_hold_no_inf_or_nan_at_the_slowest_link() -> None:
    # dp's "why" read "inf ms ... nan ms" on a link the loader accepted; 1 B/s with efficiency 1e-6 is
    # now the slowest link there is, and its times stay finite
    cluster = CLUSTER.replace("10 GB/s}", "1 B/s, efficiency: 1e-6, latency: 1 h}")
    out = run(["dp", "resnet18", "--cluster", "c.yaml"], {"c.yaml": cluster})
    assert out.exit_code == 0
    why = next(line for line in out.stdout.splitlines() if line.startswith("why:"))
    assert not re.search(r"\b(inf|nan)\b", why), why
