"""planner.api.inputs: one loader per kind (model, LLM, device, cluster), each taking a spec object, a
catalog name or a file path; a value of the wrong kind is refused naming the model or the setting."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from planner.api.inputs import (
    cluster_device,
    load_cluster,
    load_device,
    load_hardware,
    load_llm,
    load_model,
    load_training_model,
)
from planner.errors import SettingError, SpecError
from planner.spec.catalog import find


def test_a_spec_passes_through_and_a_name_or_path_is_found() -> None:
    gpt2 = find("models", "gpt2")
    assert load_model(gpt2) is gpt2
    assert load_llm("gpt2") == gpt2
    assert load_model(Path("resnet50")).name == "resnet50"  # a path-like is read as the name it spells
    assert load_training_model("resnet50").spec == "cnn"


def test_a_model_of_the_wrong_kind_is_named_as_the_model() -> None:
    with pytest.raises(SpecError, match="resnet50: field 'spec': expected an LLM"):
        load_llm("resnet50")
    with pytest.raises(SpecError, match="gpt2: expected a CNN architecture or a layer profile"):
        load_training_model("gpt2")


def test_hardware_of_the_wrong_kind_is_named_as_the_setting() -> None:
    h100 = load_device("h100")
    with pytest.raises(SettingError, match="field 'cloud': expected a cluster"):
        load_cluster(h100, setting="cloud")  # type: ignore[arg-type]  # the wrong kind on purpose
    with pytest.raises(SpecError, match="no cluster named 'h100'"):
        load_cluster("h100")
    assert load_hardware(h100) is h100 and load_hardware("dgx-1").spec == "cluster"


def test_servers_replace_the_outermost_count_and_are_checked() -> None:
    assert load_cluster("pipedream-cluster-a", servers=2).total_devices == 8
    with pytest.raises(SettingError, match="field 'servers'"):
        load_cluster("pipedream-cluster-a", servers=0)


def test_cluster_device_wraps_resolved_device() -> None:
    cluster = load_cluster("dgx-1")
    assert cluster_device(cluster) == cluster.resolved_device
    unresolved = dataclasses.replace(cluster, device="v100")
    with pytest.raises(SettingError, match="field 'cluster': expected a cluster whose device is a Device"):
        cluster_device(unresolved)
