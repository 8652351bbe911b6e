"""The API of data parallelism and collectives (planner.api.dp, planner.api.comm, planner.api.training):
the same answer as `planner dp` / `planner comm --format json`, settings named in the API and options on
the command line, and one training resolver whose defaults every command shares."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from api_payloads import cli_json as _json

from planner.api.comm import CommOptions, allreduce_comparison
from planner.api.dp import DPOptions, data_parallel
from planner.api.training import DEFAULT_CNN_BATCH, TrainingOptions, resolve_training
from planner.errors import InfeasibleError, SettingError
from planner.spec.catalog import find


def _plain(result: Any) -> Any:
    """The result as JSON reads it back (tuples as lists, keys as text, numpy scalars as numbers)."""
    from planner.render import OutputFormat, dumps

    payload = json.loads(dumps(result.to_dict(), OutputFormat.json))
    payload.pop("schema_version")
    return payload


@pytest.mark.parametrize(
    ("model", "cluster", "options", "argv"),
    [
        ("resnet18", "pipedream-cluster-b", DPOptions(), ""),
        (
            "resnet50",
            "pipedream-cluster-b",
            DPOptions(
                batch=1000,
                global_batch=True,
                optimizer="adam",
                algorithm="ring",
                overlap=False,
                bucket=10 * 2**20,
                epochs=90,
                epoch_samples=100_000,
            ),
            "--batch 1000 --global-batch --optimizer adam --algorithm ring --no-overlap --bucket 10MiB "
            "--epochs 90 --epoch-samples 100000",
        ),
        (
            "alexnet",
            "dgx-h100",
            DPOptions(servers=1, devices=4, batch=64, dtype="bf16"),
            "--servers 1 --devices 4 --batch 64 --dtype bf16",
        ),
    ],
)
def test_dp_api_equals_cli(run_cli: Any, model: str, cluster: str, options: DPOptions, argv: str) -> None:
    expected = _json(run_cli, "dp", model, "--cluster", cluster, *argv.split())
    assert _plain(data_parallel(model, cluster, options)) == expected


def test_dp_api_takes_specs_as_well_as_names() -> None:
    by_name = data_parallel("resnet18", "pipedream-cluster-a", DPOptions(servers=1))
    by_spec = data_parallel(
        find("models", "resnet18"), find("hardware", "pipedream-cluster-a"), DPOptions(servers=1)
    )
    assert by_spec.to_dict() == by_name.to_dict()


def test_dp_on_a_measured_profile_equals_cli(run_cli: Any, shared_dir: Path) -> None:
    graph = str(shared_dir / "profiles" / "pipedream" / "vgg16.graph.txt")
    options = DPOptions(servers=1, profile_batch=128, batch=64)
    expected = _json(
        run_cli,
        "dp",
        graph,
        "--cluster",
        "pipedream-cluster-b",
        "--servers",
        "1",
        "--profile-batch",
        "128",
        "--batch",
        "64",
    )
    assert _plain(data_parallel(graph, "pipedream-cluster-b", options)) == expected


@pytest.mark.parametrize(
    ("cluster", "options", "argv"),
    [
        ("pipedream-cluster-a", CommOptions(size=1e8, servers=4), "--size 100MB --servers 4"),
        (
            "pipedream-cluster-b",
            CommOptions(
                model="resnet50",
                dtype="fp16",
                devices=12,
                ps_shards=2,
                ps_backups=1,
                compress_density=0.001,
                compress_encoding="coo32",
            ),
            "--model resnet50 --dtype fp16 --devices 12 --ps-shards 2 --ps-backups 1 "
            "--compress-density 0.001 --compress-encoding coo32",
        ),
        (
            "dgx-1",
            CommOptions(size=97.5 * 2**20, algorithm="ps", ps_dedicated=True, ps_shards=4),
            "--size 97.5MiB --algorithm ps --ps-dedicated --ps-shards 4",
        ),
    ],
)
def test_comm_api_equals_cli(run_cli: Any, cluster: str, options: CommOptions, argv: str) -> None:
    expected = _json(run_cli, "comm", "--cluster", cluster, *argv.split())
    assert _plain(allreduce_comparison(cluster, options)) == expected


def _dp(cluster: str, **settings: Any) -> Any:
    return lambda: data_parallel("vgg16", cluster, DPOptions(**settings))


def _comm(**settings: Any) -> Any:
    return lambda: allreduce_comparison("pipedream-cluster-a", CommOptions(**settings))


B, A = ("dp", "vgg16", "--cluster", "pipedream-cluster-b"), ("comm", "--cluster", "pipedream-cluster-a")


@pytest.mark.parametrize(
    ("call", "setting", "argv"),
    [
        (_dp("pipedream-cluster-b", bucket=0.0), "bucket", (*B, "--bucket", "0MiB")),
        (_dp("pipedream-cluster-b", devices=99), "devices", (*B, "--devices", "99")),
        (_dp("pipedream-cluster-b", epoch_samples=0), "epoch_samples", (*B, "--epoch-samples", "0")),
        (_dp("pipedream-cluster-b", profile_batch=8), "profile_batch", (*B, "--profile-batch", "8")),
        (
            _dp("big-basin", dtype="bf16"),
            "dtype",
            ("dp", "vgg16", "--cluster", "big-basin", "--dtype", "bf16"),
        ),
        (_comm(), "size", A),
        (_comm(size=1e8, ps_shards=99), "ps_shards", (*A, "--size", "100MB", "--ps-shards", "99")),
        (
            _comm(size=1e8, compress_density=2.0),
            "compress_density",
            (*A, "--size", "1MB", "--compress-density", "2"),
        ),
        (_comm(size=1e8, servers=0), "servers", (*A, "--size", "100MB", "--servers", "0")),
        (_comm(size=2.0**61), "size", (*A, "--size", "2048PiB")),
    ],
)
def test_a_bad_setting_is_named_as_the_setting_in_the_api_and_as_the_option_in_the_cli(
    run_cli: Any, call: Any, setting: str, argv: tuple[str, ...]
) -> None:
    with pytest.raises(SettingError, match=f"field '{setting}'"):
        call()
    result = run_cli(*argv)
    option = "--" + setting.replace("_", "-")
    assert result.exit_code == 2 and result.stderr.startswith(f"error: {option}: "), result.stderr


def test_a_model_that_does_not_fit_names_settings_not_options() -> None:
    with pytest.raises(InfeasibleError, match="smaller batch") as caught:
        data_parallel("vgg16", "pipedream-cluster-b", DPOptions(batch=256))
    assert "--" not in str(caught.value)


def test_one_training_default_for_a_cnn_and_a_profiles_own_minibatch(shared_dir: Path) -> None:
    cnn = resolve_training("vgg16", "pipedream-cluster-a", TrainingOptions())
    assert cnn.batch == DEFAULT_CNN_BATCH == 32 and cnn.profile.batch_size == 32
    graph = str(shared_dir / "profiles" / "pipedream" / "vgg16.graph.txt")
    measured = resolve_training(graph, "pipedream-cluster-a", TrainingOptions(profile_batch=64))
    assert measured.batch == 64 and measured.profile_batch == 64
    with pytest.raises(SettingError, match="field 'profile_batch'"):
        resolve_training(graph, "pipedream-cluster-a", TrainingOptions())


def test_vgg16_plan_partition_and_export_agree_on_cluster_a(run_cli: Any) -> None:
    # issue 14: `pipeline partition` took 128 samples for a CNN (plan and dp: 32) and answered "16"
    vgg = ("vgg16", "--cluster", "pipedream-cluster-a")
    winner = _json(run_cli, "plan", *vgg)["strategies"][0]
    partition = _json(run_cli, "pipeline", "partition", *vgg)
    export = _json(run_cli, "export", "pipeline", *vgg, "--to", "torch")
    assert winner["config"] == partition["config"] == export["pipeline_config"] == "9-6-1"
    assert partition["batch"] == winner["samples_per_iteration"] == DEFAULT_CNN_BATCH
    assert winner["iteration_s"] == partition["pipeline_time_s"] == export["pipeline_time_s"]
    assert len(export["split_spec"]) == 2
