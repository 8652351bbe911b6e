"""BranchyNet / DDNN early exits: expected latency and bytes, entropy exits, DDNN's communication."""

from __future__ import annotations

import numpy as np
import pytest

from planner.cost.early_exit import (
    Exit,
    Tier,
    ddnn_device_bytes,
    ddnn_reduction,
    entropy,
    exit_fractions,
    expected_cost,
    hierarchy_cost,
    model_exits,
)
from planner.cost.edge_model import from_architecture, model_time
from planner.spec.catalog import find


def test_expected_cost_by_hand() -> None:
    exits = [
        Exit("b1", stage_s=1.0, branch_s=0.1, fraction=0.5),
        Exit("b2", stage_s=2.0, branch_s=0.1, fraction=0.3, transfer_s=0.5, transfer_bytes=100),
        Exit("final", stage_s=1.0, branch_s=0.0, fraction=0.2, result_s=0.2, result_bytes=12),
    ]
    cost = expected_cost(exits)
    assert cost.latency_s.tolist() == pytest.approx([1.1, 3.7, 4.9])
    assert cost.expected_latency_s == pytest.approx(0.5 * 1.1 + 0.3 * 3.7 + 0.2 * 4.9)
    assert cost.expected_bytes == pytest.approx(0.3 * 100 + 0.2 * 112)
    with pytest.raises(ValueError, match="sum to 1"):
        expected_cost([Exit("a", 1.0, 0.0, 0.5)])


def test_entropy_and_exit_fractions() -> None:
    assert entropy([[0.5, 0.5], [1.0, 0.0]]).tolist() == pytest.approx([np.log(2), 0.0])
    h = np.array([[0.1, 0.5], [0.9, 0.2], [0.9, 0.9], [0.0, 0.0]])
    fractions = exit_fractions(h, [0.3, 0.3])
    assert fractions.tolist() == pytest.approx([0.5, 0.25, 0.25])
    assert fractions.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="thresholds"):
        exit_fractions(h, [0.3])


def test_ddnn_formula() -> None:
    # Eq. 1: 4|C| + (1 - l) f o / 8
    assert ddnn_device_bytes(3, 0.7, 8, 64) == pytest.approx(12 + 0.3 * 64)
    assert ddnn_device_bytes(3, 1.0, 8, 64) == 12
    assert ddnn_reduction(3072, 3, 0.0, 4, 1024) == pytest.approx(3072 / (12 + 512))
    with pytest.raises(ValueError, match="local exit"):
        ddnn_device_bytes(3, 1.5, 8, 64)


def test_hierarchy_device_edge_cloud() -> None:
    tiers = [
        Tier("device", 0.01, 0.6),
        Tier("edge", 0.005, 0.3, uplink_s=0.02, uplink_bytes=32),
        Tier("cloud", 0.001, 0.1, uplink_s=0.1, uplink_bytes=64),
    ]
    cost = hierarchy_cost(tiers)
    assert cost.expected_bytes == pytest.approx(0.3 * 32 + 0.1 * 96)
    assert cost.latency_s[-1] == pytest.approx(0.01 + 0.005 + 0.02 + 0.001 + 0.1)


def test_model_exits_on_vgg() -> None:
    vgg = from_architecture(find("models", "vgg16"))
    pi = find("hardware", "raspberry-pi-3b-plus")
    plain = expected_cost(model_exits(vgg, pi, [], 1000))
    assert plain.expected_latency_s == pytest.approx(model_time(vgg, pi))
    early = expected_cost(model_exits(vgg, pi, [("pool2", 0.5)], 1000))
    assert early.expected_latency_s < plain.expected_latency_s
    # every sample leaving at the first exit pays the layers up to pool2 and the branch
    assert early.latency_s[0] > model_time(vgg, pi, 0, vgg.index("pool2") + 1)
    with pytest.raises(ValueError, match="order"):
        model_exits(vgg, pi, [("pool4", 0.1), ("pool2", 0.1)], 1000)
    with pytest.raises(ValueError, match="at most 1"):
        model_exits(vgg, pi, [("pool2", 0.7), ("pool4", 0.6)], 1000)


def test_model_exits_with_offload_sends_features_once() -> None:
    vgg = from_architecture(find("models", "vgg16"))
    pi = find("hardware", "raspberry-pi-3b-plus")
    cloud = find("hardware", "cloud-v100")
    exits = model_exits(vgg, pi, [("pool2", 0.4)], 1000, cloud.device, cloud.levels[-1].link, "pool3")
    cost = expected_cost(exits)
    crossing = vgg.output_bytes[vgg.index("pool3")]
    assert cost.bytes_sent[0] == 0.0
    assert cost.bytes_sent[1] == pytest.approx(crossing + 4000)  # features up, 1000 scores back
    assert cost.expected_bytes == pytest.approx(0.6 * (crossing + 4000))
