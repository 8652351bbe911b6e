"""`planner fl`: the four commands on the shipped fleet, JSON payloads, the histogram, and bad input
(exit 2, one line naming the option or file:line: field, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FLEET = """\
spec: fleet
name: test-fleet
server:
  link: {bandwidth: 1 Gbps}
  device: v100-pcie-16gb
classes:
  - name: boards
    count: 6
    device: raspberry-pi-4b
    uplink: {bandwidth: 20 Mbps, latency: 10 ms}
    downlink: {bandwidth: 80 Mbps, latency: 10 ms}
    samples: 200
  - name: phones
    count: 4
    device:
      spec: device
      name: phone
      kind: cpu
      peak_compute: {fp32: 100 GFLOPS}
      memory: 4 GiB
      memory_bandwidth: 30 GB/s
    uplink: {bandwidth: 10 Mbps, latency: 30 ms}
    downlink: {bandwidth: 40 Mbps, latency: 30 ms}
    samples: 300
    availability: 0.9
    vary: {bandwidth_sigma: 0.5}
"""
COMMON = ("--fleet", "mixed-edge", "--model", "resnet18")


def run_json(run_cli, *args: str) -> dict:  # type: ignore[no-untyped-def]
    result = run_cli("fl", *args, "--format", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_round_on_the_shipped_fleet(run_cli) -> None:  # type: ignore[no-untyped-def]
    payload = run_json(run_cli, "round", *COMMON, "-m", "50", "--trials", "400", "--rounds", "20")
    r, classes = payload["round"], payload["classes"]
    assert [c["name"] for c in classes] == [
        "phone-flagship",
        "phone-older",
        "pi4-board",
        "pi3-board",
        "laptop-m1",
    ]
    assert sum(c["clients"] for c in classes) == 1000
    assert r["method"] == "monte-carlo"  # availability differs between classes
    assert min(c["total_min_s"] for c in classes) <= r["clients_time_s"] <= r["all_clients_max_s"]
    assert r["updates"] < 50 and r["bytes"] == pytest.approx(r["download_bytes"] + r["upload_bytes"])
    assert payload["training"]["time_s"] == pytest.approx(20 * r["round_s"])
    assert any("rounds is your input" in n for n in payload["notes"])
    by_fraction = run_json(run_cli, "round", *COMMON, "-C", "0.05", "--trials", "100")
    assert by_fraction["settings"]["clients_per_round"] == 50  # max(floor(0.05 x 1000), 1)


def test_round_table_and_histogram(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("fl", "round", *COMMON, "-m", "20", "--trials", "200", "--histogram", "--bins", "8")
    assert result.exit_code == 0, result.stderr
    for text in ("phone-flagship", "expected round", "Client round times", "<- expected round", "your input"):
        assert text in result.stdout
    payload = run_json(run_cli, "round", *COMMON, "-m", "20", "--trials", "200", "--histogram", "--bins", "8")
    assert sum(payload["histogram"]["counts"]) == 1000 and len(payload["histogram"]["edges_s"]) == 9


def test_round_options_deadline_overselect_fedprox_cmfl_dgc(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET.replace("    availability: 0.9\n", ""))  # uniform availability: closed form
    base = ("round", "--fleet", str(path), "--model", "resnet18", "-m", "4")
    plain = run_json(run_cli, *base)
    assert plain["round"]["method"] == "closed-form"
    over = run_json(run_cli, *base, "--over-select", "0.5", "--deadline", "10min")
    assert over["settings"]["clients_selected"] == 6
    assert over["round"]["clients_time_s"] <= plain["round"]["clients_time_s"] + 1e-9
    prox = run_json(run_cli, *base, "--prox-mu", "0.01")
    assert prox["round"]["prox_extra_s_per_step"] > 0
    assert prox["round"]["clients_time_s"] > plain["round"]["clients_time_s"]
    deadline = 0.5 * plain["classes"][0]["total_s"]
    partial = run_json(run_cli, *base, "--deadline", f"{deadline}s", "--partial-work")
    assert 0 < partial["round"]["partial_work_fraction"] < 1
    cmfl = run_json(run_cli, *base, "--relevant-fraction", "0.5", "--trials", "300")
    assert cmfl["round"]["cmfl_saved_upload_bytes"] > 0 and cmfl["round"]["method"] == "monte-carlo"
    dgc = run_json(run_cli, *base, "--upload-density", "0.01")
    assert dgc["model"]["upload_bytes"] < plain["model"]["upload_bytes"] / 10
    assert dgc["round"]["upload_bytes"] < plain["round"]["upload_bytes"]


def test_select_beats_the_baselines(run_cli) -> None:  # type: ignore[no-untyped-def]
    payload = run_json(run_cli, "select", *COMMON, "-m", "30", "--min-clients", "10", "--max-clients", "60")
    by = {s["method"]: s for s in payload["selections"]}
    assert set(by) == {"ilp", "fastest", "random"}
    assert by["ilp"]["objective"] >= by["fastest"]["objective"] >= by["random"]["objective"]
    assert 10 <= len(payload["ilp_clients"]) <= 60
    assert sum(c["ilp_selected"] for c in payload["by_class"]) == len(payload["ilp_clients"])


def test_select_table_on_a_small_fleet(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET)
    table = run_cli("fl", "select", "--fleet", str(path), "--model", "resnet18", "-m", "3", "--show-clients")
    assert table.exit_code == 0, table.stderr
    assert "ILP selects clients" in table.stdout and "random (expected)" in table.stdout


def test_heterofl_assigns_levels(run_cli) -> None:  # type: ignore[no-untyped-def]
    payload = run_json(
        run_cli, "heterofl", *COMMON, "-m", "20", "--deadline", "120s", "--memory-fraction", "0.5", "-B", "64"
    )
    assert [lv["level"] for lv in payload["levels"]] == [1, 2, 3, 4, 5]
    assert payload["levels"][1]["parameter_fraction_formula"] == 0.25
    per_class = {c["name"]: c for c in payload["by_class"]}
    assert per_class["laptop-m1"]["clients_per_level"]["1"] == 100
    assert per_class["pi3-board"]["clients_per_level"]["1"] == 0
    assert payload["heterofl"]["eligible_clients"] > payload["full_width"]["eligible_clients"]
    assert payload["heterofl"]["bytes"] < payload["full_width"]["bytes"]
    table = run_cli("fl", "heterofl", *COMMON)
    assert table.exit_code == 0 and "HeteroFL vs full width" in table.stdout


def test_noniid_emd_and_shared_subset(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    payload = run_json(
        run_cli, "noniid", "--fleet", "mixed-edge", "--classes-per-client", "1", "--sample-bytes", "3KiB"
    )
    assert payload["emd"]["mean"] == pytest.approx(1.8, abs=0.01)
    assert payload["shared_subset"]["bytes_per_client"] == pytest.approx(
        0.05 * payload["partition"]["samples"] * 3072
    )
    with_model = run_json(run_cli, "noniid", *COMMON, "--classes-per-client", "10")
    assert with_model["emd"]["max"] < 0.1  # remainders of n_k / 10 go to the first classes
    extra = with_model["training_with_shared"]
    assert extra["round_s_with"] > extra["round_s_without"]
    path = tmp_path / "partition.yaml"
    path.write_text("spec: partition\ncounts:\n" + "".join("  - [5, 5]\n" for _ in range(10)))
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET)
    given = run_json(
        run_cli, "noniid", "--fleet", str(fleet), "--partition", str(path), "--sample-bytes", "1KiB"
    )
    assert given["emd"]["max"] == 0 and given["partition"]["source"] == "given label partition"


def test_fleets_list(run_cli) -> None:  # type: ignore[no-untyped-def]
    payload = run_json(run_cli, "fleets")
    assert payload["fleets"][0]["name"] == "mixed-edge" and payload["fleets"][0]["clients"] == 1000


BAD_OPTIONS = [
    (("round", "--fleet", "no-such-fleet", "--model", "resnet18"), "planner fl fleets"),
    (("round", *COMMON, "-m", "5000"), "--clients-per-round"),
    (("round", *COMMON, "--deadline", "5 parsecs"), "--deadline"),
    (("round", *COMMON, "--deadline", "-3s"), "--deadline"),
    (("round", *COMMON, "--partial-work"), "--partial-work"),
    (("round", *COMMON, "--deadline", "1min", "--partial-work", "--over-select", "0.2"), "--partial-work"),
    (("round", *COMMON, "--relevant-fraction", "1.5"), "--relevant-fraction"),
    (("round", *COMMON, "--upload-density", "0"), "--upload-density"),
    (("round", *COMMON, "--upload-density", "0.1", "--upload-encoding", "zip"), "--upload-encoding"),
    (("round", *COMMON, "--epochs", "0"), "--epochs"),
    (("round", *COMMON, "--dtype", "int8"), "--dtype"),
    (("round", "--fleet", "mixed-edge", "--model", "gpt2"), "--model"),
    (("round", *COMMON, "--trials", "1"), "--trials"),
    (("round", *COMMON, "-C", "0.1", "-m", "5"), "--fraction"),
    (("round", *COMMON, "-C", "1.5"), "--fraction"),
    (("select", *COMMON, "-m", "10", "--min-clients", "20"), "--min-clients"),
    (("select", *COMMON, "--w-latency", "-1"), "--w-latency"),  # the weight at fault (was: --w-utility)
    (("heterofl", *COMMON, "--ratio", "1.5"), "--ratio"),
    (("heterofl", *COMMON, "--memory-fraction", "0"), "--memory-fraction"),
    (("noniid", "--fleet", "mixed-edge"), "--sample-bytes"),
    (
        ("noniid", "--fleet", "mixed-edge", "--sample-bytes", "1KiB", "--classes-per-client", "11"),
        "--classes-per-client",
    ),
    (
        ("noniid", "--fleet", "mixed-edge", "--sample-bytes", "1KiB", "--shared-fraction", "0"),
        "--shared-fraction",
    ),
]


@pytest.mark.parametrize(("args", "names"), BAD_OPTIONS)
def test_bad_options_exit_2_naming_the_option(run_cli, args: tuple[str, ...], names: str) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("fl", *args)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert names in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# (text replaced in FLEET, its replacement, the field named, a marker of the line named: its last occurrence)
BAD_FLEETS = [
    ("    samples: 200\n", "    sample: 200\n", "classes[0].sample", "sample: 200"),
    ("    count: 6\n", "    count: 0\n", "classes[0].count", "count: 0"),
    ("    device: raspberry-pi-4b\n", "    device: raspberry-pi-9\n", "classes[0].device", "raspberry-pi-9"),
    ("    availability: 0.9\n", "    availability: 1.5\n", "classes[1].availability", "availability"),
    ("    availability: 0.9\n", "    availability: 0\n", "classes[1].availability", "availability"),
    (
        "    vary: {bandwidth_sigma: 0.5}\n",
        "    vary: {bandwidth_sigma: -1}\n",
        "classes[1].vary.bandwidth_sigma",
        "vary",
    ),
    (
        "{bandwidth: 20 Mbps, latency: 10 ms}",
        "{bandwidth: 20 Mb/s, latency: 10 ms}",
        "classes[0].uplink.bandwidth",
        "Mb/s",
    ),
    (
        "{bandwidth: 20 Mbps, latency: 10 ms}",
        "{bandwidth: 20 Mbps, shared: true}",
        "classes[0].uplink.shared",
        "shared",
    ),
    ("  - name: phones\n", "  - name: boards\n", "classes[1].name", "- name: boards"),
    ("  device: v100-pcie-16gb\n", "  device: v100\n", "server.device", "device: v100"),
    ("    downlink: {bandwidth: 80 Mbps, latency: 10 ms}\n", "", "classes[0].downlink", "- name: boards"),
    ("spec: fleet\n", "spec: fleet\nseed: -1\n", "seed", "seed"),
    ("spec: fleet\n", "spec: flee\n", "spec", "spec: flee"),
]


@pytest.mark.parametrize(("old", "new", "field", "marker"), BAD_FLEETS)
def test_malformed_fleet_files_exit_2_with_file_line_field(  # type: ignore[no-untyped-def]
    run_cli, tmp_path: Path, old: str, new: str, field: str, marker: str
) -> None:
    assert old in FLEET
    text = FLEET.replace(old, new, 1)
    path = tmp_path / "fleet.yaml"
    path.write_text(text)
    result = run_cli("fl", "noniid", "--fleet", str(path), "--sample-bytes", "1KiB")
    assert result.exit_code == 2, result.stdout + result.stderr
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1 and "Traceback" not in message
    assert f"field '{field}'" in message
    lines = [i + 1 for i, line in enumerate(text.splitlines()) if marker in line]
    assert f"{path}:{lines[-1]}:" in message, message


def test_malformed_partition_file(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "partition.yaml"
    path.write_text("spec: partition\ncounts:\n  - [5, 5]\n  - [5, -1]\n")
    result = run_cli(
        "fl", "noniid", "--fleet", "mixed-edge", "--partition", str(path), "--sample-bytes", "1KiB"
    )
    assert result.exit_code == 2 and "counts[1][1]" in result.stderr and ":4:" in result.stderr
    path.write_text("spec: partition\ncounts:\n  - [5, 5]\n")
    result = run_cli(
        "fl", "noniid", "--fleet", "mixed-edge", "--partition", str(path), "--sample-bytes", "1KiB"
    )
    assert result.exit_code == 2 and "--partition" in result.stderr
