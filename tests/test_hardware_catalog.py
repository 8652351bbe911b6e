"""The shipped hardware catalog (hardware/): every file loads and the figures the models use are right."""

from __future__ import annotations

import datetime
import re

import pytest

from planner.spec.catalog import entries, find
from planner.spec.hardware import (
    DEFAULT_COMPUTE_EFFICIENCY,
    DEFAULT_MEMORY_EFFICIENCY,
    Cluster,
    Device,
)

GIB = 2**30

DEVICE_NAMES = {
    "v100-sxm2-16gb",
    "v100-pcie-16gb",
    "p100-sxm2-16gb",
    "titan-x-pascal",
    "a100-sxm4-80gb",
    "h100-sxm5-80gb",
    "tpu-v3",
    "raspberry-pi-3b",
    "raspberry-pi-3b-plus",
    "raspberry-pi-4b",
    # issue 20: the hardware people plan for today
    "h200-sxm-141gb",
    "b200-sxm-180gb",
    "mi300x-oam-192gb",
    "l40s-48gb",
    "l4-24gb",
    "a10g-24gb",
    "geforce-rtx-4090",
    "a100-sxm4-40gb",
    "tpu-v4",
    "tpu-v5e",
}
CLUSTER_NAMES = {
    "pipedream-cluster-a",
    "pipedream-cluster-b",
    "pipedream-cluster-c",
    "aws-p3.2xlarge",
    "dgx-1",
    "big-basin",
    "pi-cluster",
    "dgx-h100",
    "dgx-h200",
    "mi300x-platform",
    "aws-p4d.24xlarge",
    "aws-p5.48xlarge",
    "aws-g5.12xlarge",
    "tpu-v5e-16",
}


def approx(x: float) -> object:
    return pytest.approx(x, rel=1e-9)


def hardware() -> tuple:
    return entries("hardware")


def devices() -> list[Device]:
    return [find("hardware", name) for name in sorted(DEVICE_NAMES)]


def clusters() -> list[Cluster]:
    return [find("hardware", name) for name in sorted(CLUSTER_NAMES)]


# --- the catalog as a whole -------------------------------------------------------------------


def test_catalog_lists_the_required_specs() -> None:
    names = {(e.spec, e.name) for e in hardware()}
    assert {("device", n) for n in DEVICE_NAMES} <= names
    assert {("cluster", n) for n in CLUSTER_NAMES} <= names


@pytest.mark.parametrize("entry", hardware(), ids=lambda e: e.name)
def test_name_equals_file_stem(entry) -> None:
    assert entry.path.stem == entry.name
    assert entry.path.parent.name == {"device": "devices", "cluster": "systems"}[entry.spec]


@pytest.mark.parametrize("entry", hardware(), ids=lambda e: e.name)
def test_file_starts_with_spec_marker(entry) -> None:
    lines = entry.path.read_text(encoding="utf-8").splitlines()
    first = next(line for line in lines if line.strip() and not line.startswith("#"))
    assert first == f"spec: {entry.spec}"


@pytest.mark.parametrize("entry", hardware(), ids=lambda e: e.name)
def test_every_figure_carries_a_source_comment(entry) -> None:
    # Any `key: <number...>` line (quantities, counts, prices, efficiencies) must say where it comes from;
    # free-text keys (a link's name such as "10 GbE") are not figures.
    figure = re.compile(r"^\s*-?\s*(?P<key>[A-Za-z_0-9]+):\s+[0-9.]")
    for number, line in enumerate(entry.path.read_text(encoding="utf-8").splitlines(), 1):
        match = figure.match(line)
        if match and match["key"] not in ("name", "description", "source"):
            assert "#" in line, f"{entry.path.name}:{number} has no source comment: {line.strip()}"


def test_names_and_aliases_are_unique() -> None:
    keys = [k for e in hardware() for k in (e.name, *e.aliases)]
    assert len(keys) == len(set(keys))


# --- devices ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["v100-sxm2-16gb", "v100-pcie-16gb"])
def test_v100_memory_is_16_gib(name: str) -> None:
    assert find("hardware", name).memory == 16 * GIB


def test_v100_sxm2_peaks() -> None:
    v100 = find("hardware", "v100-sxm2-16gb")
    assert v100.peak("fp16") == approx(125e12)  # tensor cores, dense
    assert v100.peak("fp32") == approx(15.7e12)
    assert v100.memory_bandwidth == approx(900e9)
    assert v100.power == approx(300.0)


def test_v100_pcie_peaks() -> None:
    v100 = find("hardware", "v100-pcie-16gb")
    assert v100.peak("fp16") == approx(112e12)
    assert v100.peak("fp32") == approx(14e12)


def test_aliases_resolve() -> None:
    assert find("hardware", "a100").name == "a100-sxm4-80gb"
    assert find("hardware", "h100").name == "h100-sxm5-80gb"


def test_a100_and_h100_peaks_are_dense() -> None:
    a100 = find("hardware", "a100")
    h100 = find("hardware", "h100")
    assert a100.peak("bf16") == approx(312e12)  # datasheet 624 is sparse
    assert a100.peak("tf32") == approx(156e12)
    assert a100.memory == 80 * GIB
    assert a100.memory_bandwidth == approx(2.039e12)
    assert h100.peak("bf16") == approx(989.4e12)  # datasheet 1979 is sparse
    assert h100.peak("fp8") == approx(1978.9e12)
    assert h100.memory == 80 * GIB
    assert h100.memory_bandwidth == approx(3.35e12)


def test_tpu_v3_is_one_chip() -> None:
    tpu = find("hardware", "tpu-v3")
    assert tpu.kind == "tpu"
    assert "chip" in tpu.description.lower()
    assert tpu.peak("bf16") == approx(123e12)
    assert tpu.memory == 32 * GIB


@pytest.mark.parametrize(
    ("name", "cores", "ghz"),
    [("raspberry-pi-3b", 4, 1.2), ("raspberry-pi-3b-plus", 4, 1.4), ("raspberry-pi-4b", 4, 1.5)],
)
def test_pi_peak_is_cores_times_clock_times_8(name: str, cores: int, ghz: float) -> None:
    pi = find("hardware", name)
    assert pi.kind == "cpu-board"
    assert pi.peak("fp32") == approx(cores * ghz * 1e9 * 8)


@pytest.mark.parametrize("device", devices(), ids=lambda d: d.name)
def test_device_efficiencies_are_fractions(device: Device) -> None:
    assert 0 < device.compute_efficiency <= 1
    assert 0 < device.memory_efficiency <= 1


@pytest.mark.parametrize("device", devices(), ids=lambda d: d.name)
def test_device_figures_are_sane(device: Device) -> None:
    assert device.description and device.source
    assert all(v > 0 for v in device.peak_compute.values())
    # memory in whole MiB: a GB-vs-GiB slip would still parse, but 16e9 bytes is not a whole number of MiB
    assert device.memory % 2**20 == 0


# --- clusters ---------------------------------------------------------------------------------


def test_pipedream_cluster_a() -> None:
    a = find("hardware", "pipedream-cluster-a")
    assert a.device.name == "v100-pcie-16gb"
    assert a.total_devices == 16
    assert a.devices_per_server == 4
    assert a.levels[0].link.bandwidth == approx(15.75e9)
    assert a.levels[-1].link.bandwidth == approx(1.25e9)  # 10 Gbps = 1.25e9 B/s, bits not bytes
    assert a.price is not None and a.price.usd_per_hour > 0


def test_pipedream_cluster_b() -> None:
    b = find("hardware", "pipedream-cluster-b")
    assert b.device.name == "v100-sxm2-16gb"
    assert b.devices_per_server == 8
    assert b.total_devices == 16
    assert b.levels[-1].link.bandwidth == approx(25e9 / 8)


def test_pipedream_cluster_c() -> None:
    c = find("hardware", "pipedream-cluster-c")
    assert c.device.name == "titan-x-pascal"
    assert c.devices_per_server == 1
    assert c.total_devices == 4
    assert c.levels[-1].link.bandwidth == approx(40e9 / 8)


def test_other_clusters() -> None:
    assert find("hardware", "aws-p3.2xlarge").devices_per_server == 1
    dgx1 = find("hardware", "dgx-1")
    assert dgx1.devices_per_server == 8 and dgx1.device.name == "v100-sxm2-16gb"
    big_basin = find("hardware", "big-basin")
    assert big_basin.total_devices == 256 and big_basin.device.name == "p100-sxm2-16gb"
    assert big_basin.levels[-1].link.bandwidth == approx(50e9 / 8)
    h100 = find("hardware", "dgx-h100")
    assert h100.devices_per_server == 8 and h100.total_devices == 32
    assert h100.levels[0].link.bandwidth == approx(450e9)
    assert h100.levels[-1].link.bandwidth == approx(8 * 400e9 / 8)  # per server: 8 x 400 Gbps


def test_pi_cluster_is_nine_boards_on_shared_wifi() -> None:
    pi = find("hardware", "pi-cluster")
    assert pi.device.kind == "cpu-board"
    assert len(pi.levels) == 1
    assert pi.total_devices == 9
    assert pi.levels[0].link.shared is True
    assert pi.levels[0].link.latency >= 1e-3  # Wi-Fi: milliseconds, not microseconds


@pytest.mark.parametrize(
    ("name", "expected"),
    [("pipedream-cluster-a", 8), ("pipedream-cluster-b", 16), ("dgx-h100", 16), ("pi-cluster", 2)],
)
def test_with_top_count(name: str, expected: int) -> None:
    cluster = find("hardware", name)
    assert cluster.with_top_count(2).total_devices == expected
    assert cluster.with_top_count(2).devices_per_server == cluster.devices_per_server


@pytest.mark.parametrize("cluster", clusters(), ids=lambda c: c.name)
def test_cluster_links_are_valid(cluster: Cluster) -> None:
    assert isinstance(cluster.device, Device)
    assert cluster.device.name in DEVICE_NAMES
    for level in cluster.levels:
        assert level.count >= 1
        assert level.link.name
        assert level.link.bandwidth > 0
        assert 0 <= level.link.latency < 0.1
        assert 0 < level.link.efficiency <= 1


@pytest.mark.parametrize("cluster", [c for c in clusters() if c.price is not None], ids=lambda c: c.name)
def test_prices_are_dated_and_sourced(cluster: Cluster) -> None:
    price = cluster.price
    assert price.usd_per_hour > 0
    datetime.date.fromisoformat(price.date)
    assert price.source


# --- issue 20: the current catalog and the efficiency defaults ------------------------------------


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("h200", "h200-sxm-141gb"),
        ("b200", "b200-sxm-180gb"),
        ("mi300x", "mi300x-oam-192gb"),
        ("l40s", "l40s-48gb"),
        ("l4", "l4-24gb"),
        ("a10g", "a10g-24gb"),
        ("rtx-4090", "geforce-rtx-4090"),
        ("a100-40gb", "a100-sxm4-40gb"),
        ("aws-p5", "aws-p5.48xlarge"),
        ("aws-p4d", "aws-p4d.24xlarge"),
        ("aws-g5", "aws-g5.12xlarge"),
    ],
)
def test_new_aliases_resolve(alias: str, name: str) -> None:
    assert find("hardware", alias).name == name


def test_new_peaks_are_dense() -> None:
    b200, h200, mi300x = (find("hardware", n) for n in ("b200", "h200", "mi300x"))
    assert b200.peak("bf16") == approx(2250e12)  # HGX B200 36 PFLOPS sparse for 8 GPUs
    assert b200.peak("fp8") == approx(4500e12)
    assert b200.peak("fp4") == approx(9000e12)
    assert h200.peak("bf16") == find("hardware", "h100").peak("bf16")  # the same GH100
    assert h200.memory_bandwidth == approx(4.8e12)
    assert mi300x.peak("bf16") == approx(1307.4e12)
    assert find("hardware", "l4").peak("fp8") == approx(242.5e12)  # datasheet 485 is sparse
    assert find("hardware", "rtx-4090").peak("bf16") == approx(165.2e12)  # FP32 accumulate: half rate


def test_every_catalog_device_states_both_efficiencies() -> None:
    for entry in hardware():
        if entry.spec == "device":
            assert entry.value.assumed_figures == (), entry.name


def test_default_compute_efficiency_is_the_catalog_gpus_median() -> None:
    """The documented claim in planner.spec.hardware: the default sits at the catalog GPUs' median."""
    import statistics

    gpus = [e.value.compute_efficiency for e in hardware() if e.spec == "device" and e.value.kind == "gpu"]
    assert abs(DEFAULT_COMPUTE_EFFICIENCY - statistics.median(gpus)) <= 0.05
    assert DEFAULT_COMPUTE_EFFICIENCY < 1.0


def _card(**figures: float) -> Device:
    return Device(
        spec="device",
        name="my-card",
        kind="gpu",
        peak_compute={"bf16": 165e12},
        memory=24 * GIB,
        memory_bandwidth=1e12,
        **figures,
    )


def test_a_device_without_efficiencies_takes_the_defaults_and_says_so() -> None:
    device = _card()
    assert device.compute_efficiency == DEFAULT_COMPUTE_EFFICIENCY
    assert device.memory_efficiency == DEFAULT_MEMORY_EFFICIENCY
    assert device.assumed_figures == ("compute_efficiency", "memory_efficiency")
    # a figure written out is not assumed, even when it equals the default
    assert _card(compute_efficiency=0.7).assumed_figures == ("memory_efficiency",)


DEVICE_FILE = """spec: device
name: my-4090
kind: gpu
peak_compute: {bf16: 165 TFLOPS}
memory: 24 GiB
memory_bandwidth: 1008 GB/s
"""


def test_cli_warns_once_on_stderr_for_an_assumed_efficiency(tmp_path, run_cli) -> None:
    path = tmp_path / "my-4090.yaml"
    path.write_text(DEVICE_FILE + "memory_efficiency: 0.8\n")
    result = run_cli("hardware", "show", str(path))
    assert result.exit_code == 0
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and result.stderr.count("\n") == 1
    assert "my-4090" in warnings[0] and "compute_efficiency" in warnings[0] and "0.7" in warnings[0]
    assert "memory_efficiency" not in warnings[0]
    assert "0.7 (assumed)" in result.stdout


def test_cli_is_silent_for_a_catalog_device(run_cli) -> None:
    result = run_cli("hardware", "show", "h100")
    assert result.exit_code == 0 and result.stderr == ""


def test_inline_cluster_device_warns_too(tmp_path, run_cli) -> None:
    device = "\n".join("    " + line for line in DEVICE_FILE.splitlines())
    path = tmp_path / "box.yaml"
    path.write_text(
        "spec: cluster\nname: box\ndevice:\n" + device + "\nlevels:\n  - name: gpu\n    count: 2\n"
        "    link: {bandwidth: 32 GB/s}\n"
    )
    result = run_cli("hardware", "show", str(path), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert "warning:" in result.stderr and "compute_efficiency or memory_efficiency" in result.stderr


def test_a_reserve_of_all_the_memory_is_refused() -> None:
    from planner.errors import SpecError
    from planner.spec.catalog import build_spec
    from planner.spec.yamlio import parse_yaml

    text = (
        "spec: device\nname: g\nkind: gpu\npeak_compute: {fp16: 1 TFLOPS}\nmemory: 16 GiB\n"
        "memory_reserved: 16 GiB\nmemory_bandwidth: 1 GB/s\ncompute_efficiency: 0.5\nmemory_efficiency: 0.8\n"
    )
    with pytest.raises(SpecError, match=r"memory_reserved.*expected less than memory \(16 GiB\), got 16 GiB"):
        build_spec(parse_yaml(text, "g.yaml"), ("device",))


def test_a_dtype_efficiency_needs_that_dtype_s_peak() -> None:
    from planner.errors import SpecError
    from planner.spec.catalog import build_spec
    from planner.spec.yamlio import parse_yaml

    text = (
        "spec: device\nname: g\nkind: gpu\npeak_compute: {fp16: 1 TFLOPS}\nmemory: 16 GiB\n"
        "memory_bandwidth: 1 GB/s\ncompute_efficiency: 0.5\nmemory_efficiency: 0.8\n"
        "dtype_compute_efficiency: {fp8: 0.5}\n"
    )
    with pytest.raises(
        SpecError, match=r"dtype_compute_efficiency\.fp8.*expected a dtype of peak_compute \(fp16\)"
    ):
        build_spec(parse_yaml(text, "g.yaml"), ("device",))
