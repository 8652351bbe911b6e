"""The real engines (planner.engine, `planner profile` and `planner verify`): a model profiled layer by
layer, plans run on local gloo processes, and the export's split points applied by torch's own pipeline().

Needs the extra `planner[torch]` (the README's test command installs it); skipped without it. The
multi-process runs use a small MLP and 2 iterations, so they stay short; no figure is asserted on time.
"""

from __future__ import annotations

import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest

from planner.errors import SettingError, SpecError

torch = pytest.importorskip("torch", reason="needs the extra planner[torch] (pip install '.[torch]')")
pytest.importorskip("torchvision", reason="needs the extra planner[torch] (pip install '.[torch]')")

TESTS = Path(__file__).resolve().parent
MLP = "engine_models:mlp"


@pytest.fixture
def on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/ importable (spawned processes inherit sys.path), so `engine_models:mlp` resolves."""
    monkeypatch.syspath_prepend(str(TESTS))


@pytest.fixture
def mlp_profile(on_path: None, tmp_path: Path) -> Path:
    from planner.api.profile import ProfileOptions, profile_model

    result = profile_model(MLP, ProfileOptions(batch=4, input_shape=(32,), warmup=1, repeats=3))
    path = tmp_path / "mlp.yaml"
    path.write_text(result.yaml, encoding="utf-8")
    return path


def test_profile_keeps_module_names_and_sizes(mlp_profile: Path) -> None:
    from planner.api.inputs import load_training_model

    profile = load_training_model(str(mlp_profile))
    assert [layer.name for layer in profile.layers] == ["0", "1", "2", "3", "4"]
    assert [layer.parameters for layer in profile.layers] == [32 * 64 + 64, 0, 64 * 64 + 64, 0, 64 * 8 + 8]
    assert [layer.output_bytes for layer in profile.layers] == [4 * 64 * 4] * 4 + [4 * 8 * 4]
    assert profile.per == "minibatch" and profile.batch_size == 4 and profile.threads == 1
    assert profile.torch_model == MLP and profile.input_shape == (32,)
    assert all(layer.forward_time > 0 and layer.backward_time > 0 for layer in profile.layers)


def test_plan_and_partition_accept_the_profile(mlp_profile: Path) -> None:
    from planner.api.partition import PartitionOptions, pipeline_partition
    from planner.api.plan import PlanOptions, plan_strategies

    assert plan_strategies(str(mlp_profile), "pipedream-cluster-a", PlanOptions()).winner is not None
    found = pipeline_partition(str(mlp_profile), None, PartitionOptions(levels=((2, 1e9),), straight=True))
    assert found.layer_names == ["0", "1", "2", "3", "4"]


def test_resnet18_layers_are_its_blocks_in_order() -> None:
    import torchvision

    from planner.engine.profiler import select_layers

    names = [name for name, _ in select_layers(torchvision.models.resnet18())]
    blocks = [f"layer{i}.{j}" for i in range(1, 5) for j in range(2)]
    assert names == ["conv1", "bn1", "relu", "maxpool", *blocks, "avgpool", "fc"]


def test_a_module_run_twice_is_refused(on_path: None) -> None:
    from planner.engine import models, profiler

    class Twice(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.fc(x))

    ref = models.ModelRef("test:twice", (4,))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(models, "build", lambda ref: Twice())
        with pytest.raises(SettingError, match="'fc' runs 2 times"):
            profiler.measure(ref, profiler.Settings(batch=2, warmup=0, repeats=1))


@pytest.mark.parametrize(
    ("model", "kwargs", "setting"),
    [
        ("engine_models:mlp", {}, "input_shape"),
        ("no_such_model", {}, "model"),
        ("no_such_package.module:factory", {"input_shape": (3,)}, "model"),
        ("resnet18", {"seq_len": 8}, "seq_len"),
    ],
)
def test_bad_models_name_the_setting(on_path: None, model: str, kwargs: dict, setting: str) -> None:
    from planner.api.profile import ProfileOptions, profile_model

    with pytest.raises(SettingError) as caught:
        profile_model(model, ProfileOptions(batch=2, repeats=1, warmup=0, **kwargs))
    assert caught.value.setting == setting


def test_a_missing_extra_is_one_line_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from planner.engine import ExtraMissing, require_torch

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name))
    with pytest.raises(ExtraMissing, match=r"needs torch, not installed: .*pip install 'planner\[torch\]'"):
        require_torch("profiling a model")
    assert ExtraMissing.exit_code == 2


def test_the_top_level_help_imports_no_torch() -> None:
    probe = (
        "import sys\nfrom planner.cli import main\nsys.argv = ['planner', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\nprint('TORCH', 'torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "profile" in done.stdout and "verify" in done.stdout
    assert done.stdout.rstrip().endswith("TORCH False")


def test_verify_refuses_a_profile_not_from_planner_profile(tmp_path: Path) -> None:
    from planner.api.verify import VerifyOptions, verify

    path = tmp_path / "p.yaml"
    path.write_text(
        "spec: profile\nname: p\nper: minibatch\nbatch_size: 4\nlayers:\n"
        "  - {name: a, forward_time: 1 ms, backward_time: 2 ms}\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecError, match="torch_model"):
        verify(str(path), VerifyOptions(machine="pipedream-cluster-a"))


def test_verify_refuses_other_threads_and_too_many_processes(mlp_profile: Path) -> None:
    from planner.api.verify import VerifyOptions, verify

    with pytest.raises(SettingError) as caught:
        verify(str(mlp_profile), VerifyOptions(machine="pipedream-cluster-a", threads=2))
    assert caught.value.setting == "threads"
    with pytest.raises(SettingError) as caught:
        verify(str(mlp_profile), VerifyOptions(machine="pipedream-cluster-a", processes=64))
    assert caught.value.setting == "processes"


@pytest.mark.multiprocess
@pytest.mark.parametrize(
    ("strategy", "extra"),
    [
        ("dp", []),
        ("pipeline", ["--schedule", "1f1b", "--microbatches", "2"]),
        ("pipeline", ["--schedule", "gpipe", "--microbatches", "2"]),
    ],
)
def test_verify_runs_the_plan_on_two_processes(
    mlp_profile: Path, run_cli, strategy: str, extra: list[str]
) -> None:
    import json

    args = ["--strategy", strategy, "--processes", "2", "--iterations", "2", "--warmup", "1", *extra]
    result = run_cli(
        "verify", str(mlp_profile), "--machine", "pipedream-cluster-a", *args, "--format", "json"
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["measured_iteration_s"] > 0 and payload["predicted_iteration_s"] > 0
    assert len(payload["measured_iterations_s"]) == 2
    expected = 100 * (payload["predicted_iteration_s"] / payload["measured_iteration_s"] - 1)
    assert payload["error_pct"] == pytest.approx(expected)
    assert payload["inputs"]["split"] == ([] if strategy == "dp" else [payload["inputs"]["split"][0]])


def test_the_exported_split_spec_builds_the_planned_resnet18_pipeline(tmp_path: Path) -> None:
    """planner export pipeline --to torch on a resnet18 profile, applied by torch's pipeline() to the
    torchvision model: the stages it builds hold the planned layers' parameters."""
    import json

    import torchvision
    from torch.distributed.pipelining import SplitPoint, pipeline

    from planner.api.export import PipelineExportOptions, export_pipeline
    from planner.engine.profiler import select_layers

    model = torchvision.models.resnet18()
    layers = select_layers(model)
    rows = [
        {
            "name": name,
            "forward_time": "1 ms",
            "backward_time": "2 ms",
            "parameters": sum(p.numel() for p in module.parameters()),
            "output_bytes": "1 MiB",
        }
        for name, module in layers
    ]
    path = tmp_path / "r18.yaml"
    path.write_text(
        "spec: profile\nname: resnet18\nper: minibatch\nbatch_size: 2\nlayers:\n"
        + "".join(f"  - {json.dumps(row)}\n" for row in rows),
        encoding="utf-8",
    )
    options = PipelineExportOptions(levels=((3, 1e9),), straight=True)
    exported = export_pipeline(str(path), None, "torch", options).to_dict()
    assert exported["num_stages"] == 3
    spec = {name: SplitPoint[point] for name, point in exported["split_spec"].items()}
    pipe = pipeline(model, mb_args=(torch.randn(2, 3, 224, 224),), split_spec=spec)
    assert pipe.num_stages == 3
    counts = [r["parameters"] for r in rows]
    names = [r["name"] for r in rows]
    starts = [0, *(names.index(first) for first in exported["split_points"]), len(names)]
    planned = [sum(counts[a:b]) for a, b in pairwise(starts)]
    built = [sum(p.numel() for p in pipe.get_stage_module(i).parameters()) for i in range(3)]
    assert built == planned


def test_a_config_json_builds_a_transformer_with_random_weights(tmp_path: Path) -> None:
    """A Hugging Face config.json: the model built from it (nothing downloaded), its blocks as layers, and
    the tied output projection's weights counted once (in the embedding)."""
    pytest.importorskip("transformers", reason="transformers is not installed")
    from planner.api.profile import ProfileOptions, profile_model

    config = tmp_path / "config.json"
    config.write_text(
        '{"model_type": "gpt2", "n_layer": 2, "n_embd": 32, "n_head": 2, "vocab_size": 100, '
        '"n_positions": 64}',
        encoding="utf-8",
    )
    result = profile_model(str(config), ProfileOptions(batch=2, seq_len=16, warmup=0, repeats=1))
    layers = {layer.name: layer for layer in result.measurement.layers}
    assert {"transformer.h.0", "transformer.h.1", "lm_head"} <= set(layers)
    assert layers["transformer.wte"].parameters == 100 * 32 and layers["lm_head"].parameters == 0
    assert layers["lm_head"].output_bytes == 2 * 16 * 100 * 4
    assert result.input_shape == (16,)
