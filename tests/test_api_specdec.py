"""planner.api's speculative decoding (speedup, alpha, models, tree, simulate) gives what `planner specdec
... --format json` prints on the same inputs; a bad setting is named as the setting in the API and as the
option on the command line; a Hugging Face config.json is a model wherever one is taken."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from api_payloads import api_json as _plain
from api_payloads import cli_json

from planner.api.specdec import (
    SpecdecAlphaOptions,
    SpecdecSimulateOptions,
    SpecdecSpeedupOptions,
    specdec_alpha,
    specdec_simulate,
    specdec_speedup,
)
from planner.api.specdec_models import SpecdecModelsOptions, specdec_models
from planner.api.specdec_tree import SpecdecTreeOptions, specdec_tree
from planner.errors import InfeasibleError, SettingError
from planner.spec.catalog import find

LLAMA_2_7B_HF = {  # meta-llama/Llama-2-7b-hf config.json, the keys the loader reads
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "max_position_embeddings": 4096,
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 32,
    "tie_word_embeddings": False,
    "torch_dtype": "float16",
    "vocab_size": 32000,
}


def _json(run_cli: Any, *argv: str) -> dict[str, Any]:
    return cli_json(run_cli, "specdec", *argv)


@pytest.mark.parametrize(
    ("options", "argv"),
    [
        (SpecdecSpeedupOptions(alpha=0.8, c=0.05), "--alpha 0.8 --c 0.05"),
        (
            SpecdecSpeedupOptions(alpha=0.7, c=0.1, max_gamma=24, c_hat=0.02, plot=True),
            "--alpha 0.7 --c 0.1 --max-gamma 24 --c-hat 0.02 --plot",
        ),
        (SpecdecSpeedupOptions(alpha=0.6, c=0.2, gamma=5), "--alpha 0.6 --c 0.2 --gamma 5"),
    ],
)
def test_speedup_api_equals_cli(run_cli: Any, options: SpecdecSpeedupOptions, argv: str) -> None:
    assert _plain(specdec_speedup(options)) == _json(run_cli, "speedup", *argv.split())


@pytest.mark.parametrize(
    ("options", "argv"),
    [
        (SpecdecAlphaOptions(gamma=5, acceptance_rate=0.6), "--gamma 5 --acceptance-rate 0.6"),
        (SpecdecAlphaOptions(gamma=3, mean_tokens=2.5), "--gamma 3 --mean-tokens 2.5"),
    ],
)
def test_alpha_api_equals_cli(run_cli: Any, options: SpecdecAlphaOptions, argv: str) -> None:
    assert _plain(specdec_alpha(options)) == _json(run_cli, "alpha", *argv.split())


@pytest.mark.parametrize(
    ("models", "options", "hardware", "argv"),
    [
        (
            ("gpt2-large", "gpt2"),
            SpecdecModelsOptions(alpha=0.8),
            {"device": "a100-sxm4-80gb"},
            "--target gpt2-large --draft gpt2 --alpha 0.8 --device a100-sxm4-80gb",
        ),
        (
            ("llama-2-70b", "llama-2-7b"),
            SpecdecModelsOptions(
                alpha=0.75,
                tensor_parallel=4,
                batch=8,
                context=1024,
                dtype="bf16",
                allreduce="tree",
                plot=True,
            ),
            {"cluster": "dgx-h100"},
            "--target llama-2-70b --draft llama-2-7b --alpha 0.75 --cluster dgx-h100 --tp 4 --batch 8 "
            "--context 1024 --dtype bf16 --allreduce tree --plot",
        ),
        (
            ("llama-2-13b", "llama-2-7b"),
            SpecdecModelsOptions(alpha=0.8, c=0.1, max_gamma=8),
            {"device": "h100"},
            "--target llama-2-13b --draft llama-2-7b --alpha 0.8 --device h100 --c 0.1 --max-gamma 8",
        ),
    ],
)
def test_models_api_equals_cli(
    run_cli: Any, models: tuple[str, str], options: SpecdecModelsOptions, hardware: dict[str, str], argv: str
) -> None:
    result = specdec_models(*models, options, **hardware)
    assert _plain(result) == _json(run_cli, "models", *argv.split())


def test_models_takes_specs_as_well_as_names() -> None:
    by_name = specdec_models("gpt2-large", "gpt2", SpecdecModelsOptions(alpha=0.8), device="a100-sxm4-80gb")
    specs = [find("models", name, ("llm",)) for name in ("gpt2-large", "gpt2")]
    device = find("hardware", "a100-sxm4-80gb", ("device",))
    by_spec = specdec_models(*specs, SpecdecModelsOptions(alpha=0.8), device=device)
    assert by_spec.to_dict() == by_name.to_dict()


def test_a_hugging_face_config_is_a_model_in_models_and_tree(run_cli: Any, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(LLAMA_2_7B_HF), encoding="utf-8")
    pair = ["--target", "llama-2-13b", "--alpha", "0.8", "--device", "h100"]
    from_hf = _json(run_cli, "models", *pair, "--draft", str(config))
    from_catalog = _json(run_cli, "models", *pair, "--draft", "llama-2-7b")
    assert from_hf["draft"]["parameters"] == from_catalog["draft"]["parameters"]
    assert from_hf["c_roofline"] == from_catalog["c_roofline"]
    tree = ["--acceptance", "0.7,0.15", "--size", "16", "--c", "0.05", "--device", "h100"]
    assert (
        _json(run_cli, "tree", *tree, "--target", str(config))["verify_cost"]["t"]
        == _json(run_cli, "tree", *tree, "--target", "llama-2-7b")["verify_cost"]["t"]
    )


@pytest.mark.parametrize(
    ("options", "hardware", "argv"),
    [
        (
            SpecdecTreeOptions(acceptance=(0.8, 0.1, 0.05), size=16, depth=4),
            {},
            "--acceptance 0.8,0.1,0.05 --size 16 --depth 4",
        ),
        (
            SpecdecTreeOptions(medusa=((0.6, 0.2), (0.5, 0.1)), size=6, c=0.1),
            {},
            "--medusa 0.6,0.2;0.5,0.1 --size 6 --c 0.1",
        ),
        (
            SpecdecTreeOptions(acceptance=(0.7, 0.15, 0.05), size=32, c=0.05, batch=16),
            {"target": "llama-2-7b", "device": "h100"},
            "--acceptance 0.7,0.15,0.05 --size 32 --c 0.05 --batch 16 --target llama-2-7b --device h100",
        ),
    ],
)
def test_tree_api_equals_cli(
    run_cli: Any, options: SpecdecTreeOptions, hardware: dict[str, str], argv: str
) -> None:
    assert _plain(specdec_tree(options, **hardware)) == _json(run_cli, "tree", *argv.split())


@pytest.mark.parametrize(
    ("options", "argv"),
    [
        (
            SpecdecSimulateOptions(trials=2000, length=2, tree_size=0),
            "--trials 2000 --length 2 --tree-size 0",
        ),
        (
            SpecdecSimulateOptions(
                gamma=2, p=(0.5, 0.3, 0.2), q=(0.2, 0.5, 0.3), trials=1000, tree_size=4, seed=7
            ),
            "--gamma 2 --p 0.5,0.3,0.2 --q 0.2,0.5,0.3 --trials 1000 --tree-size 4 --seed 7",
        ),
    ],
)
def test_simulate_api_equals_cli(run_cli: Any, options: SpecdecSimulateOptions, argv: str) -> None:
    result = specdec_simulate(options)
    assert result.passed == all(test["passed"] for test in result.tests)
    assert _plain(result) == _json(run_cli, "simulate", *argv.split())


@pytest.mark.parametrize(
    ("call", "setting", "argv"),
    [
        (
            lambda: specdec_speedup(SpecdecSpeedupOptions(alpha=1.0, c=0.1)),
            "alpha",
            "speedup --alpha 1 --c 0.1",
        ),
        (
            lambda: specdec_speedup(SpecdecSpeedupOptions(alpha=0.8, c=0.1, c_hat=1e308)),
            "c_hat",
            "speedup --alpha 0.8 --c 0.1 --c-hat 1e308",
        ),
        (
            lambda: specdec_alpha(SpecdecAlphaOptions(gamma=4, acceptance_rate=1.5)),
            "acceptance_rate",
            "alpha --gamma 4 --acceptance-rate 1.5",
        ),
        (
            lambda: specdec_models(
                "llama-2-70b", "llama-2-7b", SpecdecModelsOptions(0.8, tensor_parallel=3), device="h100"
            ),
            "tensor_parallel",
            "models --target llama-2-70b --draft llama-2-7b --alpha 0.8 --device h100 --tp 3",
        ),
        (
            lambda: specdec_models(
                "gpt2", "gpt2", SpecdecModelsOptions(0.8, allreduce="magic"), device="h100"
            ),
            "allreduce",
            "models --target gpt2 --draft gpt2 --alpha 0.8 --device h100 --allreduce magic",
        ),
        (
            lambda: specdec_tree(SpecdecTreeOptions(acceptance=(0.8, 0.3))),
            "acceptance",
            "tree --acceptance 0.8,0.3",
        ),
        (
            lambda: specdec_simulate(SpecdecSimulateOptions(significance=1.5)),
            "significance",
            "simulate --significance 1.5",
        ),
        (
            lambda: specdec_simulate(SpecdecSimulateOptions(p=(0.5, 0.5), q=(0.2, 0.3, 0.5))),
            "q",
            "simulate --p 0.5,0.5 --q 0.2,0.3,0.5",
        ),
    ],
)
def test_a_bad_setting_is_named_as_the_setting_in_the_api_and_as_the_option_in_the_cli(
    run_cli: Any, call: Any, setting: str, argv: str
) -> None:
    with pytest.raises(SettingError, match=f"field '{setting}'"):
        call()
    result = run_cli("specdec", *argv.split())
    option = "--" + setting.replace("_", "-")
    assert result.exit_code == 2 and result.stderr.startswith(f"error: {option}: "), result.stderr


def test_a_simulated_vocabulary_from_p_is_bounded_like_vocab(run_cli: Any) -> None:
    # p and q set the vocabulary: 65 tokens passed --vocab's bound of 64 (the law has vocab^length cells)
    uniform = ",".join(["0.015625"] * 64 + ["0"])
    with pytest.raises(SettingError, match="field 'p'"):
        specdec_simulate(SpecdecSimulateOptions(p=(1 / 65,) * 65, q=(1 / 65,) * 65))
    result = run_cli("specdec", "simulate", "--p", uniform, "--q", uniform)
    assert result.exit_code == 2 and "--p" in result.stderr and "64" in result.stderr


def test_a_model_that_does_not_fit_is_infeasible_in_the_api() -> None:
    with pytest.raises(InfeasibleError, match="`tensor_parallel` 2"):  # a setting, not a flag
        specdec_models("llama-2-70b", "llama-2-7b", SpecdecModelsOptions(alpha=0.8), device="h100")
