"""Issue 22: BranchyNet thresholds, DDNN across devices, the lecture's transformer partitions, paper notes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from planner.api.edge_ddnn import EdgeDDNNOptions, edge_ddnn
from planner.api.edge_exits import EdgeExitsOptions, edge_exits
from planner.api.edge_transformer import EdgeTransformerOptions, edge_transformer
from planner.cost.edge_ddnn import DDNNConfig, ddnn_cost
from planner.cost.edge_entropy import EntropyShape, measured_fractions, parametric_fractions
from planner.errors import SettingError
from planner.spec.catalog import find

SHAPES = [EntropyShape(1.0, 3.0), EntropyShape(1.0, 2.0)]


def test_parametric_fractions_by_hand() -> None:
    # Beta(1, b) has CDF 1 - (1 - u)^b; threshold log(10)/2 nats with 10 classes is u = 0.5
    fractions = parametric_fractions(SHAPES, [math.log(10) / 2], 10)
    first = 1 - 0.5**3
    second = (1 - first) * (1 - 0.5**2)
    assert fractions.tolist() == pytest.approx([first, second, 1 - first - second])
    low, high = parametric_fractions(SHAPES, [0.1], 10), parametric_fractions(SHAPES, [2.0], 10)
    assert high[-1] < low[-1]  # a higher threshold lets more samples leave early
    with pytest.raises(ValueError, match="thresholds"):
        parametric_fractions(SHAPES, [0.1, 0.2, 0.3], 10)
    with pytest.raises(ValueError, match="Beta"):
        EntropyShape(0.0, 1.0)


def test_measured_fractions_count_samples() -> None:
    h = np.array([[0.1, 0.5], [0.9, 0.2], [0.9, 0.9], [0.0, 0.0]])
    assert measured_fractions(h, [0.3]).tolist() == pytest.approx([0.5, 0.25, 0.25])
    with pytest.raises(ValueError, match="nats"):
        measured_fractions([[-1.0, 0.2]], [0.3])


def test_thresholds_give_the_same_plan_as_their_fractions() -> None:
    exits = (("pool2", None), ("pool4", None))
    shapes = ((1.0, 3.0), (1.0, 2.0))
    by_threshold = edge_exits(
        "vgg16", EdgeExitsOptions(exit=exits, thresholds=(0.5,), entropy_shapes=shapes, sweep=(0.1, 2.0))
    ).to_dict()
    fractions = [e["fraction"] for e in by_threshold["exits"][:-1]]
    given = edge_exits(
        "vgg16", EdgeExitsOptions(exit=(("pool2", fractions[0]), ("pool4", fractions[1])))
    ).to_dict()
    assert by_threshold["expected_latency_s"] == pytest.approx(given["expected_latency_s"])
    assert by_threshold["fractions_from"] == "beta model"
    low, high = by_threshold["sweep"]
    assert high["early_share"] > low["early_share"]
    assert high["expected_latency_s"] < low["expected_latency_s"]
    with pytest.raises(SettingError, match="thresholds"):
        edge_exits("vgg16", EdgeExitsOptions(exit=exits))
    with pytest.raises(SettingError, match="entropy_shapes"):
        edge_exits("vgg16", EdgeExitsOptions(exit=exits, thresholds=(0.5,)))


def test_entropies_file_and_cli(run_cli, tmp_path: Path) -> None:
    data = tmp_path / "h.csv"
    data.write_text("0.1,0.5\n0.9,0.2\n0.9,0.9\n0.0,0.0\n")
    result = run_cli(
        "edge", "exits", "vgg16", "--exit", "pool2", "--exit", "pool4", "--thresholds", "0.3",
        "--entropies", str(data), "--sweep", "0.05,0.3,1", "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [e["fraction"] for e in payload["exits"]] == pytest.approx([0.5, 0.25, 0.25])
    assert [r["early_share"] for r in payload["sweep"]] == pytest.approx([0.25, 0.75, 1.0])
    table = run_cli(
        "edge", "exits", "vgg16", "--exit", "pool2", "--thresholds", "1", "--entropies", str(data)
    )
    assert table.exit_code == 2 and str(data) in table.stderr  # 2 columns for 1 exit
    mixed = run_cli("edge", "exits", "vgg16", "--exit", "pool2:0.3", "--thresholds", "1")
    assert mixed.exit_code == 2 and "--exit" in mixed.stderr


def test_ddnn_bytes_aggregation_and_tiers() -> None:
    wifi = find("hardware", "pi-cluster", ("cluster",)).levels[-1].link
    wan = find("hardware", "cloud-v100", ("cluster",)).levels[-1].link
    config = DDNNConfig(devices=6, classes=3, filters=8, filter_bits=64, local_exit=0.7)
    plain = ddnn_cost(config, 3072, wifi, wan)
    assert plain.device_bytes == pytest.approx(12 + 0.3 * 64)  # Eq. 1
    assert plain.reduction == pytest.approx(3072 / 31.2)
    assert plain.aggregated_bytes == 64
    concat = ddnn_cost(DDNNConfig(6, 3, 8, 64, 0.7, aggregation="concat"), 3072, wifi, wan)
    assert concat.aggregated_bytes == 6 * 64 and concat.device_bytes == plain.device_bytes
    edge = ddnn_cost(DDNNConfig(6, 3, 8, 64, 0.7, 0.2, 16, 16), 3072, wifi, wan)
    assert edge.cost.names == ("local", "edge", "cloud")
    assert edge.cost.fractions.tolist() == pytest.approx([0.7, 0.2, 0.1])
    assert edge.cost.bytes_sent.tolist() == pytest.approx([12, 12 + 64, 12 + 64 + 32])
    assert edge.cost.latency_s[0] < edge.cost.latency_s[1] < edge.cost.latency_s[2]
    with pytest.raises(ValueError, match="aggregation"):
        ddnn_cost(DDNNConfig(6, 3, 8, 64, 0.7, aggregation="sum"), 3072, wifi, wan)


def test_ddnn_api_and_cli(run_cli) -> None:
    payload = edge_ddnn().to_dict()
    assert payload["communication_reduction"] > 20  # DDNN's abstract: over 20x
    result = run_cli("edge", "ddnn", "--edge-exit", "0.2", "--edge-filters", "16", "--edge-filter-bits", "16")
    assert result.exit_code == 0 and "edge" in result.stdout and "Eq. 1" in result.stdout
    bad = run_cli("edge", "ddnn", "--local-exit", "0.9", "--edge-exit", "0.2", "--edge-filters", "1",
                  "--edge-filter-bits", "1")  # fmt: skip
    assert bad.exit_code == 2 and "--edge-exit" in bad.stderr
    with pytest.raises(SettingError, match="aggregation"):
        edge_ddnn(EdgeDDNNOptions(aggregation="sum"))


def test_lecture_transformer_partitions() -> None:
    result = edge_transformer("gpt2", EdgeTransformerOptions(cluster="pi-cluster"))
    assert result.devices == 4  # the most of 9 boards dividing 12 heads and 1024 tokens
    head, along_l, megatron = result.schemes[0], result.schemes[1], result.schemes[2]
    assert "head-wise" in head.scheme and "along L" in along_l.scheme and "Megatron" in megatron.scheme
    assert head.comm_bytes_per_device == pytest.approx(megatron.comm_bytes_per_device / 2)
    assert along_l.comm_bytes_per_device > head.comm_bytes_per_device  # 1024 tokens > head size 64
    assert any("head-wise sends fewer bytes" in note for note in result.notes)
    short = edge_transformer("gpt2", EdgeTransformerOptions(cluster="pi-cluster", tokens=16))
    assert short.schemes[1].comm_bytes_per_device < short.schemes[0].comm_bytes_per_device
    assert len({s.scheme for s in result.schemes}) == 4


def test_paper_notes_for_vgg16_only(run_cli) -> None:
    result = run_cli("edge", "modnn", "vgg16", "--workers", "2", "--format", "json")
    notes = json.loads(result.stdout)["paper_notes"]
    assert len(notes) == 1 and "2.17x" in notes[0]
    other = run_cli("edge", "modnn", "alexnet", "--workers", "2", "--format", "json")
    assert other.exit_code == 0, other.stderr
    assert json.loads(other.stdout)["paper_notes"] == []
