"""The catalog and tool commands on the Python API (planner.api.catalog, validate, schema, calibrate):
the API's result equals `--format json` on the same inputs, and a bad setting is named as the setting in
the API and as the option on the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from api_payloads import api_json as _plain
from api_payloads import cli_json as _json

from planner.api.calibrate import CalibrateOptions, calibrate_machine
from planner.api.catalog import (
    HardwareShowOptions,
    ModelShowOptions,
    hardware_list,
    hardware_show,
    model_show,
    models_list,
)
from planner.api.schema import schema
from planner.api.validate import ValidateOptions, validate
from planner.calibrate import Calibration, Loopback, Settings
from planner.errors import SettingError, SpecError
from planner.spec.catalog import find

MISTRAL = {  # mistralai/Mistral-7B-v0.1 config.json (the keys the loader reads)
    "model_type": "mistral",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "max_position_embeddings": 32768,
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "vocab_size": 32000,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}


def _mistral(tmp_path: Path) -> Path:
    folder = tmp_path / "mistral"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(MISTRAL, indent=2), encoding="utf-8")
    return folder


def test_hardware_list_api_equals_cli(run_cli: Any) -> None:
    assert _plain(hardware_list()) == _json(run_cli, "hardware", "list")


@pytest.mark.parametrize(
    ("name", "options", "argv"),
    [
        ("v100-sxm2-16gb", HardwareShowOptions(), ()),
        ("pipedream-cluster-a", HardwareShowOptions(servers=3), ("--servers", "3")),
    ],
)
def test_hardware_show_api_equals_cli(
    run_cli: Any, name: str, options: HardwareShowOptions, argv: tuple[str, ...]
) -> None:
    assert _plain(hardware_show(name, options)) == _json(run_cli, "hardware", "show", name, *argv)


def test_hardware_show_takes_a_spec_object() -> None:
    cluster = find("hardware", "pipedream-cluster-a")
    shown = hardware_show(cluster, HardwareShowOptions(servers=2)).to_dict()["cluster"]
    assert shown["total_devices"] == 2 * cluster.devices_per_server


def test_models_list_api_equals_cli(run_cli: Any) -> None:
    assert _plain(models_list()) == _json(run_cli, "models", "list")


@pytest.mark.parametrize(
    ("name", "options", "argv"),
    [
        ("resnet18", ModelShowOptions(), ()),
        ("resnet18", ModelShowOptions(batch_size=8), ("--batch-size", "8")),
        ("gpt2", ModelShowOptions(), ()),
    ],
)
def test_models_show_api_equals_cli(
    run_cli: Any, name: str, options: ModelShowOptions, argv: tuple[str, ...]
) -> None:
    assert _plain(model_show(name, options)) == _json(run_cli, "models", "show", name, *argv)


def test_models_show_accepts_a_hugging_face_config_json(run_cli: Any, tmp_path: Path) -> None:
    # issue 14: `models show mistral/config.json` refused what plan, llm-parallel and export accept
    folder = _mistral(tmp_path)
    for given in (folder / "config.json", folder):
        shown = _json(run_cli, "models", "show", str(given))
        assert shown == _plain(model_show(str(given), ModelShowOptions()))
        assert shown["model"]["name"] == "mistral" and shown["model"]["num_kv_heads"] == 8
    assert shown["totals"]["parameters"] == 7_241_732_096  # Mistral-7B's published count


def test_an_llm_lookup_takes_a_hugging_face_config_json(tmp_path: Path) -> None:
    # the catalog's find serves every command that takes a model (specdec's --target included)
    config = _mistral(tmp_path) / "config.json"
    assert find("models", str(config), ("llm",)).kv_heads == 8
    with pytest.raises(SpecError, match="spec"):  # not where only hardware is expected
        find("hardware", str(config))


@pytest.mark.parametrize(("only", "in_empty_folder"), [("vgg16-parameters", False), ("*-parameters", True)])
def test_validate_api_equals_cli(run_cli: Any, tmp_path: Path, only: str, in_empty_folder: bool) -> None:
    # an empty data folder: the cases that need PipeDream's profiles skip; the others run the same
    data = tmp_path if in_empty_folder else None
    result = validate(ValidateOptions(only=only, data=data))
    assert result.cases and not result.failed
    argv = ("--only", only, *(("--data", str(data)) if data is not None else ()))
    assert _plain(result) == _json(run_cli, "validate", *argv)


@pytest.mark.parametrize("kind", ["device", "any"])
def test_schema_api_equals_cli_in_json_and_yaml(run_cli: Any, kind: str) -> None:
    expected = schema(kind).to_dict()
    as_json = run_cli("schema", kind, "--format", "json")
    as_yaml = run_cli("schema", kind, "--format", "yaml")
    assert as_json.exit_code == 0 and as_yaml.exit_code == 0
    assert json.loads(as_json.stdout) == expected
    assert yaml.safe_load(as_yaml.stdout) == expected
    assert list(yaml.safe_load(as_yaml.stdout)) == list(expected)  # the generated key order is kept


def _fake(settings: Settings, tick: Any = None) -> Calibration:
    return Calibration(
        matmul={"fp32": 1.25e11, "fp64": 6.1e10},
        copy_bandwidth=2.25e10,
        loopback=Loopback(bandwidth=3.1e9, latency=5.5e-6),
        memory=16 * 2**30,
        cpu="Test CPU",
        cpus=2,
        date="2025-01-02",
        settings=settings,
    )


@pytest.mark.parametrize(
    ("options", "argv"),
    [
        (CalibrateOptions(quick=True, name="box"), ("--quick", "--name", "box")),
        (CalibrateOptions(spec="device", name="dev"), ("--spec", "device", "--name", "dev")),
    ],
)
def test_calibrate_api_equals_cli(
    run_cli: Any, monkeypatch: pytest.MonkeyPatch, options: CalibrateOptions, argv: tuple[str, ...]
) -> None:
    monkeypatch.setattr("planner.calibrate.calibrate", _fake)  # the figures, not this machine's
    result = calibrate_machine(options)
    assert result.to_dict()["output_path"] is None and result.spec == options.spec
    assert _plain(result) == _json(run_cli, "calibrate", *argv)


BAD_SETTINGS = [  # (the API call, the setting it names, the same on the command line)
    (
        lambda: hardware_show("h100", HardwareShowOptions(servers=2)),
        "servers",
        "hardware show h100 --servers 2",
    ),
    (
        lambda: hardware_show("dgx-h100", HardwareShowOptions(servers=0)),
        "servers",
        "hardware show dgx-h100 --servers 0",
    ),
    (
        lambda: model_show("vgg16", ModelShowOptions(batch_size=0)),
        "batch_size",
        "models show vgg16 --batch-size 0",
    ),
    (lambda: validate(ValidateOptions(only="no-such-case")), "only", "validate --only no-such-case"),
    (lambda: validate(ValidateOptions(data=Path("absent"))), "data", "validate --data absent"),
    (lambda: calibrate_machine(CalibrateOptions(name="")), "name", "calibrate --quick --name="),
]


@pytest.mark.parametrize(("call", "setting", "argv"), BAD_SETTINGS)
def test_a_bad_setting_is_named_as_the_setting_in_the_api_and_as_the_option_in_the_cli(
    run_cli: Any, call: Any, setting: str, argv: str
) -> None:
    with pytest.raises(SettingError, match=f"field '{setting}'"):
        call()
    result = run_cli(*argv.split())
    option = "--" + setting.replace("_", "-")
    assert result.exit_code == 2 and result.stderr.startswith(f"error: {option}: "), result.stderr


def test_an_unknown_schema_kind_is_named() -> None:
    with pytest.raises(SettingError, match="field 'kind'"):
        schema("gpu")
