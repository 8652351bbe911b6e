"""The CLI end to end: catalog listing, model tables, JSON content, help and completion."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from planner.spec.catalog import entries


def test_help_lists_the_areas(run_cli) -> None:
    result = run_cli("--help")
    assert result.exit_code == 0
    for name in ("hardware", "models", "validate"):
        assert name in result.stdout


def test_help_imports_no_numpy() -> None:
    import subprocess
    import sys

    heavy = "('numpy', 'scipy', 'pulp', 'yaml', 'rich.table')"
    code = f"import sys, planner.cli; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_hardware_list_shows_every_catalog_entry(run_cli) -> None:
    result = run_cli("hardware", "list", "--format", "json")
    assert result.exit_code == 0, result.stderr
    names = {item["name"] for item in json.loads(result.stdout)["hardware"]}
    assert names == {e.name for e in entries("hardware")}
    table = run_cli("hardware", "list")
    assert table.exit_code == 0 and "pipedream-cluster-a" in table.stdout


def test_hardware_show_servers_override(run_cli) -> None:
    result = run_cli("hardware", "show", "pipedream-cluster-a", "--servers", "2", "--format", "json")
    assert result.exit_code == 0, result.stderr
    cluster = json.loads(result.stdout)["cluster"]
    assert cluster["total_devices"] == 8
    assert cluster["levels"][-1]["count"] == 2
    device = run_cli("hardware", "show", "h100", "--servers", "2")
    assert device.exit_code == 2 and "cluster" in device.stderr


def test_models_show_vgg16_json(run_cli) -> None:
    result = run_cli("models", "show", "vgg16", "--format", "json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["totals"]["parameters"] == 138_357_544
    assert 2 * 15.3e9 < payload["totals"]["forward_flops"] < 2 * 15.7e9
    assert len(payload["layers"]) > 16


def test_models_show_batch_scales_work_not_parameters(run_cli) -> None:
    one = json.loads(run_cli("models", "show", "resnet50", "-f", "json").stdout)
    many = json.loads(run_cli("models", "show", "resnet50", "-f", "json", "--batch-size", "32").stdout)
    assert many["totals"]["parameters"] == one["totals"]["parameters"]
    assert many["totals"]["forward_flops"] == one["totals"]["forward_flops"]  # per sample either way
    assert many["totals"]["output_bytes"] == 32 * one["totals"]["output_bytes"]


def test_models_show_pipedream_graph(run_cli, shared_dir: Path) -> None:
    path = shared_dir / "profiles" / "pipedream" / "resnet50.graph.txt"
    text = path.read_text()
    result = run_cli("models", "show", str(path), "--format", "json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert len(payload["layers"]) == 177
    assert sum(layer["is_input"] for layer in payload["layers"]) == 1

    def file_sum(key: str) -> float:
        return sum(float(v) for v in re.findall(rf"{key}=([0-9.]+)", text))

    totals = payload["totals"]
    assert totals["forward_time_s"] * 1e3 == pytest.approx(file_sum("forward_compute_time"))
    assert totals["backward_time_s"] * 1e3 == pytest.approx(file_sum("backward_compute_time"))
    assert totals["parameter_bytes"] == pytest.approx(file_sum("parameter_size"))
    assert totals["output_bytes"] == pytest.approx(file_sum("activation_size"))
    table = run_cli("models", "show", str(path))
    assert table.exit_code == 0 and "node1" in table.stdout


def test_models_list_and_llm_show(run_cli) -> None:
    listing = json.loads(run_cli("models", "list", "--format", "json").stdout)
    names = {m["name"] for m in listing["models"]}
    assert {"vgg16", "alexnet", "resnet50", "gpt2", "llama-2-70b", "t5-xxl", "chinchilla-70b"} <= names
    llm = json.loads(run_cli("models", "show", "llama-2-7b", "--format", "json").stdout)
    assert llm["totals"]["parameters"] == 6_738_415_616
    assert sum(llm["parameter_breakdown"].values()) == 6_738_415_616


def test_yaml_output_has_the_same_content(run_cli) -> None:
    import yaml

    as_json = json.loads(run_cli("hardware", "show", "v100-sxm2-16gb", "-f", "json").stdout)
    as_yaml = yaml.safe_load(run_cli("hardware", "show", "v100-sxm2-16gb", "-f", "yaml").stdout)
    assert as_json == as_yaml


def test_json_is_deterministic(run_cli) -> None:
    first = run_cli("models", "show", "alexnet", "-f", "json").stdout
    assert first == run_cli("models", "show", "alexnet", "-f", "json").stdout


def test_completion_script_is_available(run_cli) -> None:
    result = run_cli("--show-completion", "bash")
    assert result.exit_code == 0
    assert "complete" in result.stdout
