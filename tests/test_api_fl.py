"""The federated-learning API (planner.api.fl_*) gives what `planner fl ... --format json` prints, on the
same inputs (defaults and non-default settings); a bad setting is named as the setting in the API and as
the option on the command line; the options keep numpy out of `planner --help`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from api_payloads import api_json, cli_json

from planner.api.fl_fleets import fl_fleets
from planner.api.fl_heterofl import FLHeteroFLOptions, fl_heterofl
from planner.api.fl_noniid import FLNoniidOptions, fl_noniid
from planner.api.fl_round import FLRoundOptions, fl_round
from planner.api.fl_select import FLSelectOptions, fl_select
from planner.errors import SettingError
from planner.spec.catalog import find

FLEET = "mixed-edge"


def _json(run_cli: Any, *argv: str) -> dict[str, Any]:
    return cli_json(run_cli, "fl", *argv)


def test_fleets_api_equals_cli(run_cli: Any) -> None:
    assert api_json(fl_fleets()) == _json(run_cli, "fleets")


@pytest.mark.parametrize(
    ("options", "argv"),
    [
        (FLRoundOptions(trials=200), "--trials 200"),
        (
            FLRoundOptions(
                fraction=0.02,
                epochs=2,
                batch_size=16,
                optimizer="adam",
                deadline=300.0,
                over_select=0.3,
                prox_mu=0.01,
                relevant_fraction=0.5,
                upload_density=0.01,
                upload_encoding="coo32",
                rounds=50,
                trials=300,
                seed=4,
                histogram=True,
                bins=8,
            ),
            "-C 0.02 -E 2 -B 16 --optimizer adam --deadline 5min --over-select 0.3 --prox-mu 0.01 "
            "--relevant-fraction 0.5 --upload-density 0.01 --upload-encoding coo32 --rounds 50 --trials 300 "
            "--seed 4 --histogram --bins 8",
        ),
    ],
)
def test_round_api_equals_cli(run_cli: Any, options: FLRoundOptions, argv: str) -> None:
    api = fl_round(FLEET, "resnet18", options)
    cli = _json(run_cli, "round", "--fleet", FLEET, "--model", "resnet18", *argv.split())
    assert api_json(api) == cli
    assert api.round.round_s == pytest.approx(cli["round"]["round_s"])  # typed fields, not a dict


def test_round_takes_specs_as_well_as_names() -> None:
    fleet, model = find("fleets", FLEET), find("models", "alexnet")
    options = FLRoundOptions(clients_per_round=5, trials=100)
    assert fl_round(fleet, model, options).to_dict() == fl_round(FLEET, "alexnet", options).to_dict()


@pytest.mark.parametrize(
    ("options", "argv"),
    [
        (FLSelectOptions(clients_per_round=5), "-m 5"),
        (
            FLSelectOptions(
                clients_per_round=20,
                min_clients=10,
                max_clients=40,
                w_utility=500.0,
                w_latency=0.5,
                w_bytes=2.0,
                epochs=2,
                batch_size=64,
                dtype="fp32",
                optimizer="adam",
                time_limit=30.0,
            ),
            "-m 20 --min-clients 10 --max-clients 40 --w-utility 500 --w-latency 0.5 --w-bytes 2 -E 2 -B 64 "
            "--dtype fp32 --optimizer adam --time-limit 30",
        ),
    ],
)
def test_select_api_equals_cli(run_cli: Any, options: FLSelectOptions, argv: str) -> None:
    api = fl_select(FLEET, "alexnet", options)
    assert api_json(api) == _json(run_cli, "select", "--fleet", FLEET, "--model", "alexnet", *argv.split())
    assert len(api.ilp_clients) == sum(row.ilp_selected for row in api.by_class)


@pytest.mark.parametrize(
    ("options", "argv"),
    [
        (FLHeteroFLOptions(), ""),
        (
            FLHeteroFLOptions(
                clients_per_round=20, ratio=0.6, levels=3, deadline=120.0, memory_fraction=0.5, batch_size=64
            ),
            "-m 20 --ratio 0.6 --levels 3 --deadline 2min --memory-fraction 0.5 -B 64",
        ),
    ],
)
def test_heterofl_api_equals_cli(run_cli: Any, options: FLHeteroFLOptions, argv: str) -> None:
    api = fl_heterofl(FLEET, "resnet18", options)
    assert api_json(api) == _json(run_cli, "heterofl", "--fleet", FLEET, "--model", "resnet18", *argv.split())
    assert [level.level for level in api.levels] == list(range(1, options.levels + 1))


def test_noniid_api_equals_cli(run_cli: Any) -> None:
    options = FLNoniidOptions(sample_bytes=3072.0)
    assert api_json(fl_noniid(FLEET, options)) == _json(
        run_cli, "noniid", "--fleet", FLEET, "--sample-bytes", "3KiB"
    )
    options = FLNoniidOptions(
        clients_per_round=20,
        classes=100,
        classes_per_client=5,
        seed=3,
        shared_fraction=0.1,
        shared_portion=0.5,
        epochs=2,
        batch_size=16,
    )
    argv = "-m 20 --classes 100 --classes-per-client 5 --seed 3 --shared-fraction 0.1 --shared-portion 0.5"
    argv += " -E 2 -B 16"
    api = fl_noniid(FLEET, options, model="resnet18")
    assert api_json(api) == _json(run_cli, "noniid", "--fleet", FLEET, "--model", "resnet18", *argv.split())
    assert api.training_with_shared is not None and api.shared_subset.sample_bytes == 3 * 224 * 224


def test_noniid_partition_as_counts_or_as_a_file(run_cli: Any, tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        "spec: fleet\nname: two\nclasses:\n  - name: pi\n    count: 2\n    device: raspberry-pi-4b\n"
        "    uplink: {bandwidth: 20 Mbps}\n    downlink: {bandwidth: 80 Mbps}\n    samples: 10\n"
    )
    path = tmp_path / "partition.yaml"
    path.write_text("spec: partition\ncounts:\n  - [10, 0]\n  - [5, 5]\n")
    counts = FLNoniidOptions(partition=((10, 0), (5, 5)), sample_bytes=1024.0)
    api = fl_noniid(str(fleet), counts)
    cli = _json(run_cli, "noniid", "--fleet", str(fleet), "--partition", str(path), "--sample-bytes", "1KiB")
    assert api_json(api) == cli and api.emd.max > 0


# (the API call, the setting it names, the same question on the command line)
BAD_SETTINGS = [
    (
        lambda: fl_round(FLEET, "resnet18", FLRoundOptions(clients_per_round=5000)),
        "clients_per_round",
        "round -m 5000",
    ),
    (
        lambda: fl_round(FLEET, "resnet18", FLRoundOptions(partial_work=True)),
        "partial_work",
        "round --partial-work",
    ),
    (lambda: fl_round(FLEET, "resnet18", FLRoundOptions(deadline=-3.0)), "deadline", "round --deadline -3s"),
    (lambda: fl_round(FLEET, "gpt2", FLRoundOptions()), "model", "round --model gpt2"),
    (
        lambda: fl_select(FLEET, "resnet18", FLSelectOptions(w_latency=-1)),
        "w_latency",
        "select --w-latency -1",
    ),
    (
        lambda: fl_select(FLEET, "resnet18", FLSelectOptions(clients_per_round=10, min_clients=20)),
        "min_clients",
        "select -m 10 --min-clients 20",
    ),
    (lambda: fl_heterofl(FLEET, "resnet18", FLHeteroFLOptions(ratio=1.5)), "ratio", "heterofl --ratio 1.5"),
    (lambda: fl_noniid(FLEET, FLNoniidOptions()), "sample_bytes", "noniid"),
    (
        lambda: fl_noniid(FLEET, FLNoniidOptions(sample_bytes=1.0, shared_portion=0)),
        "shared_portion",  # was reported as --shared-fraction
        "noniid --sample-bytes 1B --shared-portion 0",
    ),
    (
        lambda: fl_noniid(FLEET, FLNoniidOptions(sample_bytes=1.0, classes=10**9)),
        "classes",  # a 1,000 x 1e9 label table: numpy asked for 7 TiB
        "noniid --sample-bytes 1B --classes 1000000000",
    ),
]


@pytest.mark.parametrize(("call", "setting", "argv"), BAD_SETTINGS)
def test_a_bad_setting_is_named_in_the_api_and_as_its_option_in_the_cli(
    run_cli: Any, call: Any, setting: str, argv: str
) -> None:
    with pytest.raises(SettingError, match=f"field '{setting}'"):
        call()
    command, *rest = argv.split()
    model = [] if command == "noniid" or "--model" in rest else ["--model", "resnet18"]
    result = run_cli("fl", command, "--fleet", FLEET, *model, *rest)
    assert result.exit_code == 2 and result.stderr.startswith(f"error: --{setting.replace('_', '-')}: ")


def test_the_options_are_light_to_import() -> None:
    import subprocess
    import sys

    code = "import sys, planner.cli.fl; print(sorted({'numpy', 'yaml', 'scipy', 'pulp'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
