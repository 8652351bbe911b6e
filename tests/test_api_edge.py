"""planner.api's edge questions give what `planner edge ... --format json` prints, on the same inputs; a
bad setting is named as the setting in the API and as the option on the command line."""

from __future__ import annotations

from typing import Any

import pytest
from api_payloads import api_json, cli_json

from planner.api.edge_adcnn import ADCNNSolver, EdgeADCNNOptions, edge_adcnn
from planner.api.edge_exits import EdgeExitsOptions, edge_exits
from planner.api.edge_modnn import EdgeMoDNNOptions, MoDNNPartition, edge_modnn
from planner.api.edge_split import EdgeSplitOptions, SplitObjective, edge_split
from planner.api.edge_transformer import EdgeTransformerOptions, edge_transformer
from planner.errors import SettingError, SpecError


def _json(run_cli: Any, *argv: str) -> dict[str, Any]:
    return cli_json(run_cli, "edge", *argv)


@pytest.mark.parametrize(
    ("model", "options", "argv"),
    [
        (
            "vgg16",
            EdgeADCNNOptions(cut="pool5", tiles=(2, 2), conv_nodes=3),
            "--cut pool5 --tiles 2x2 --conv-nodes 3",
        ),
        (
            "alexnet",
            EdgeADCNNOptions(
                tiles=(2, 3),
                solver=ADCNNSolver.greedy,
                boards=(("raspberry-pi-4b", 2), ("raspberry-pi-3b-plus", 1)),
                compression=0.5,
                cloud=None,
                input_dtype="int8",
            ),
            "--tiles 2x3 --solver greedy --boards raspberry-pi-4b:2,raspberry-pi-3b-plus:1 "
            "--compression 0.5 --cloud none --input-dtype int8",
        ),
    ],
)
def test_adcnn_api_equals_cli(run_cli: Any, model: str, options: EdgeADCNNOptions, argv: str) -> None:
    assert api_json(edge_adcnn(model, options)) == _json(run_cli, "adcnn", model, *argv.split())


@pytest.mark.parametrize(
    ("model", "options", "argv"),
    [
        ("alexnet", EdgeSplitOptions(), ""),
        (
            "resnet18",
            EdgeSplitOptions(
                device="raspberry-pi-4b",
                uplink=(12.5e3, 125e6),
                objective=SplitObjective.energy,
                compute_power=3.0,
                transmit_power=1.5,
                idle_power=0.25,
            ),
            "--device raspberry-pi-4b --uplink 100kbps --uplink 1Gbps --objective energy "
            "--compute-power 3W --transmit-power 1.5W --idle-power 250mW",
        ),
    ],
)
def test_split_api_equals_cli(run_cli: Any, model: str, options: EdgeSplitOptions, argv: str) -> None:
    assert api_json(edge_split(model, options)) == _json(run_cli, "split", model, *argv.split())


def test_split_chooses_the_split_of_least_latency_per_uplink() -> None:
    result = edge_split("alexnet", EdgeSplitOptions(uplink=(12.5e3, 125e6)))
    slow, fast = result.choices
    assert slow.best_split == "(mobile-only)" and slow.latency_s == slow.mobile_only_latency_s
    assert fast.latency_s <= min(fast.cloud_only_latency_s, fast.mobile_only_latency_s)


@pytest.mark.parametrize(
    ("options", "argv"),
    [
        (EdgeExitsOptions(exit=(("pool2", 0.3), ("pool4", 0.4))), "--exit pool2:0.3 --exit pool4:0.4"),
        (
            EdgeExitsOptions(
                exit=(("pool2", 0.3),), device="raspberry-pi-4b", classes=10, offload_after="pool3"
            ),
            "--exit pool2:0.3 --device raspberry-pi-4b --classes 10 --offload-after pool3",
        ),
    ],
)
def test_exits_api_equals_cli(run_cli: Any, options: EdgeExitsOptions, argv: str) -> None:
    assert api_json(edge_exits("vgg16", options)) == _json(run_cli, "exits", "vgg16", *argv.split())


@pytest.mark.parametrize(
    ("options", "argv"),
    [
        (EdgeMoDNNOptions(), ""),
        (
            EdgeMoDNNOptions(workers=(2, 8), partition=MoDNNPartition.two_d),
            "--workers 2 --workers 8 --partition 2d",
        ),
    ],
)
def test_modnn_api_equals_cli(run_cli: Any, options: EdgeMoDNNOptions, argv: str) -> None:
    assert api_json(edge_modnn("vgg16", options)) == _json(run_cli, "modnn", "vgg16", *argv.split())


@pytest.mark.parametrize(
    ("model", "options", "argv"),
    [
        ("llama-2-7b", EdgeTransformerOptions(), ""),
        (
            "gpt2",
            EdgeTransformerOptions(cluster="dgx-a100", devices=4, tokens=512, dtype="fp16"),
            "--cluster dgx-a100 --devices 4 --tokens 512 --dtype fp16",
        ),
    ],
)
def test_transformer_api_equals_cli(
    run_cli: Any, model: str, options: EdgeTransformerOptions, argv: str
) -> None:
    assert api_json(edge_transformer(model, options)) == _json(run_cli, "transformer", model, *argv.split())


def test_the_api_takes_loaded_specs_as_well_as_names() -> None:
    from planner.spec.catalog import find

    by_name = edge_modnn("alexnet", EdgeMoDNNOptions(workers=(2,)))
    by_spec = edge_modnn(
        find("models", "alexnet"), EdgeMoDNNOptions(cluster=find("hardware", "pi-cluster"), workers=(2,))
    )
    assert by_spec.to_dict() == by_name.to_dict()


@pytest.mark.parametrize(
    ("call", "setting", "argv"),
    [
        (
            lambda: edge_adcnn("vgg16", EdgeADCNNOptions(compression=0.0)),
            "compression",
            "adcnn vgg16 --compression 0",
        ),
        (lambda: edge_adcnn("vgg16", EdgeADCNNOptions(cut="fc6")), "cut", "adcnn vgg16 --cut fc6"),
        (
            lambda: edge_adcnn("vgg16", EdgeADCNNOptions(tiles=(300, 300))),
            "tiles",
            "adcnn vgg16 --tiles 300x300",
        ),
        (
            lambda: edge_adcnn("vgg16", EdgeADCNNOptions(conv_nodes=9)),
            "conv_nodes",
            "adcnn vgg16 --conv-nodes 9",
        ),
        (
            lambda: edge_adcnn("vgg16", EdgeADCNNOptions(time_limit=0)),
            "time_limit",
            "adcnn vgg16 --time-limit 0",
        ),
        (
            lambda: edge_split("vgg16", EdgeSplitOptions(uplink=(1e-300,))),
            "uplink",
            "split vgg16 --uplink 1e-300B/s",
        ),
        (
            lambda: edge_split("vgg16", EdgeSplitOptions(objective=SplitObjective.energy)),
            "compute_power",
            "split vgg16 --objective energy",
        ),
        (
            lambda: edge_split("vgg16", EdgeSplitOptions(idle_power=2e6)),
            "idle_power",
            "split vgg16 --idle-power 2MW",
        ),
        (
            lambda: edge_exits("vgg16", EdgeExitsOptions(exit=(("pool2", 0.3),), offload_after="nope")),
            "offload_after",
            "exits vgg16 --exit pool2:0.3 --offload-after nope",
        ),
        (
            lambda: edge_exits("vgg16", EdgeExitsOptions(exit=(("pool2", 1.5),))),
            "exit",
            "exits vgg16 --exit pool2:1.5",
        ),
        (lambda: edge_modnn("vgg16", EdgeMoDNNOptions(workers=(12,))), "workers", "modnn vgg16 --workers 12"),
        (
            lambda: edge_transformer("gpt2", EdgeTransformerOptions(devices=5)),
            "devices",
            "transformer gpt2 --devices 5",
        ),
        (
            lambda: edge_transformer("gpt2", EdgeTransformerOptions(tokens=0)),
            "tokens",
            "transformer gpt2 --tokens 0",
        ),
    ],
)
def test_a_bad_setting_is_named_as_the_setting_in_the_api_and_as_the_option_in_the_cli(
    run_cli: Any, call: Any, setting: str, argv: str
) -> None:
    with pytest.raises(SettingError, match=f"field '{setting}'"):
        call()
    result = run_cli("edge", *argv.split())
    assert result.exit_code == 2 and result.stderr.startswith(f"error: --{setting.replace('_', '-')}: ")


def test_a_model_of_the_wrong_kind_is_named_as_the_model() -> None:
    with pytest.raises(SpecError, match="gpt2: field 'spec': expected a CNN architecture"):
        edge_adcnn("gpt2")
    with pytest.raises(SpecError, match="expected a CNN architecture or a layer profile"):
        edge_split("gpt2")


@pytest.mark.parametrize(
    ("argv", "kept"),
    [
        ("adcnn vgg16 --boards raspberry-pi-4b:2,raspberry-pi-3b-plus:2 --solver greedy", "output back"),
        ("split alexnet --uplink 1Mbps --compute-power 3W --transmit-power 1W --objective energy", "energy"),
        ("exits vgg16 --exit pool2:0.3 --offload-after pool3", "bytes sent"),
        ("modnn vgg16", "speedup"),
        ("transformer gpt2 --devices 4", "12 layers"),
    ],
)
def test_edge_tables_fit_80_columns_keeping_the_answer(
    argv: str, kept: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from planner.cli import main

    monkeypatch.setattr("sys.argv", ["planner", "edge", *argv.split()])
    monkeypatch.setenv("COLUMNS", "80")
    main()
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert kept in out and "left out to fit 80 columns" in out


def test_boards_and_conv_nodes_together_are_refused_and_the_time_limit_is_bounded(run_cli: Any) -> None:
    both = EdgeADCNNOptions(conv_nodes=2, boards=(("raspberry-pi-4b", 2),))
    with pytest.raises(SettingError, match="field 'conv_nodes': not with `boards`"):
        edge_adcnn("vgg16", both)
    result = run_cli("edge", "adcnn", "vgg16", "--conv-nodes", "2", "--boards", "raspberry-pi-4b:2")
    assert result.exit_code == 2 and "not with --boards" in result.stderr
    with pytest.raises(SettingError, match=r"field 'time_limit'.*at most 3600"):
        edge_adcnn("vgg16", EdgeADCNNOptions(time_limit=1e9))
