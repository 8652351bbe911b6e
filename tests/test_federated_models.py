"""HeteroFL widths and levels, non-IID partitions and EMD, the shared-data cost, and the fleet spec."""

from __future__ import annotations

import numpy as np
import pytest

from planner.cost import heterofl as hf
from planner.cost import noniid as ni
from planner.cost.layers import parameter_count
from planner.spec.catalog import entries, find
from planner.spec.fleet import members


def test_level_widths_and_parameter_formula() -> None:
    assert list(hf.level_width(0.5, [1, 2, 5])) == [1.0, 0.5, 0.0625]
    assert hf.parameter_fraction(0.5, 5) == pytest.approx(1 / 256)
    with pytest.raises(ValueError):
        hf.level_width(1.0, 2)


def test_scaled_architecture_halves_hidden_channels_and_keeps_the_classifier() -> None:
    arch = find("models", "vgg16")
    half = hf.scale_architecture(arch, 0.5)
    convs = [e.layer.out for e in half.layers if e.kind == "conv"]
    assert convs[0] == 32 and convs[-1] == 256
    fcs = [e.layer.out for e in half.layers if e.kind in ("fc", "linear")]
    assert fcs == [2048, 2048, 1000]
    assert hf.scale_architecture(arch, 1.0) is arch


def test_model_levels_scale_close_to_the_formula_for_hidden_layers() -> None:
    arch = find("models", "resnet18")
    levels = hf.model_levels(arch, 0.5, 3)
    assert levels[0].parameters == parameter_count(arch)
    for lv in levels[1:]:
        actual = lv.parameters / levels[0].parameters
        assert lv.formula_fraction < actual < 2 * lv.formula_fraction  # classifier does not shrink as fast
    memory = [lv.memory_bytes(32, "fp32", "sgd") for lv in levels]
    assert memory[0] > memory[1] > memory[2]


def test_profile_levels_follow_the_formula() -> None:
    from planner.cost.compute import layer_arrays
    from planner.spec.profile import Layer, ModelProfile

    profile = ModelProfile(
        spec="profile",
        name="p",
        per="sample",
        layers=(Layer(name="a", forward_time=1.0, backward_time=2.0, parameters=1000, output_bytes=64.0),),
    )
    levels = hf.model_levels(profile, 0.5, 2)
    assert levels[1].parameters == 250
    assert float(levels[1].arrays.forward_time.sum()) == pytest.approx(0.25)
    assert float(levels[1].arrays.output_bytes.sum()) == pytest.approx(32.0)
    assert layer_arrays(profile).parameters.sum() == 1000


def test_assign_levels_takes_the_widest_that_fits() -> None:
    times = np.array([[100.0, 10.0, 100.0], [30.0, 5.0, 100.0], [8.0, 2.0, 100.0]])
    memory = np.array([[4.0, 4.0, 4.0], [2.0, 2.0, 2.0], [1.0, 1.0, 1.0]])
    budget = np.array([3.0, 8.0, 3.0])
    assert list(hf.assign_levels(times, memory, budget, None)) == [2, 1, 2]
    assert list(hf.assign_levels(times, memory, budget, 50.0)) == [2, 1, 0]


def test_emd_of_iid_and_one_class_partitions() -> None:
    iid = ni.k_class_partition([100] * 10, 10, 10)
    assert np.allclose(ni.earth_movers_distance(iid), 0)
    one = ni.k_class_partition([100] * 10, 10, 1)
    assert np.allclose(ni.earth_movers_distance(one), 1.8)
    assert np.allclose(ni.population_distribution(one), 0.1)
    skewed = np.array([[10, 0], [0, 30]])
    assert list(ni.earth_movers_distance(skewed)) == pytest.approx([1.5, 0.5])


def test_k_class_partition_keeps_samples_and_class_counts() -> None:
    samples = np.array([7, 12, 5, 30])
    for seed in (None, 4):
        table = ni.k_class_partition(samples, 6, 3, seed)
        assert list(table.sum(axis=1)) == list(samples)
        assert all((row > 0).sum() == 3 for row in table)
    with pytest.raises(ValueError):
        ni.k_class_partition([5], 3, 4)


def test_shared_subset_cost() -> None:
    shared = ni.shared_subset(50_000, 10, 0.05, 3072, portion=0.5)
    assert shared.shared_samples == 2500 and shared.samples_per_client == 1250
    assert shared.bytes_per_client == 1250 * 3072 and shared.total_bytes == 10 * 1250 * 3072
    with pytest.raises(ValueError):
        ni.shared_subset(100, 1, 0, 1)


def test_shipped_fleet_loads_and_draws_the_same_clients_each_time() -> None:
    (entry,) = [e for e in entries("fleets") if e.name == "mixed-edge"]
    fleet = entry.value
    assert fleet.total_clients == 1000
    assert {c.device.name for c in fleet.classes} >= {"raspberry-pi-4b", "raspberry-pi-3b-plus"}
    a, b = members(fleet), members(find("fleets", "phones-pis-laptops"))
    assert np.array_equal(a.samples, b.samples) and np.array_equal(a.bandwidth, b.bandwidth)
    assert len(a) == 1000 and a.samples.min() >= 1
    phones = a.class_index == 0
    assert np.median(a.samples[phones]) == pytest.approx(211, rel=0.1)
    assert np.all(a.speed == 1.0)  # no class varies its speed
