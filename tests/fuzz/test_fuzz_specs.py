"""Fuzz every YAML input path: a valid document of each kind with one mutation, fed to a command that
loads it and to commands that plan with it (so values that load but make no sense are caught too)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .documents import dump, mutated_text
from .harness import MODES, check, fuzz_settings, sandbox

F = "{F}"
FLEET3 = {
    "spec": "fleet",
    "name": "three",
    "classes": [
        {
            "name": "pi",
            "count": 3,
            "device": "raspberry-pi-4b",
            "uplink": {"bandwidth": "20 Mbps", "latency": "10 ms"},
            "downlink": {"bandwidth": "50 Mbps", "latency": "10 ms"},
            "samples": 100,
        }
    ],
}

# kind -> (file name, commands that read the file as {F}); JSON output where the command has it, so
# that the NaN/inf check sees the numbers
CONSUMERS: dict[str, tuple[str, tuple[tuple[str, ...], ...]]] = {
    "device": (
        "dev.yaml",
        (
            ("hardware", "show", F, "-f", "json"),
            ("edge", "split", "alexnet", "--device", F, "-f", "json"),
            (
                "specdec",
                "models",
                "--target",
                "gpt2-large",
                "--draft",
                "gpt2",
                "--alpha",
                "0.8",
                "--device",
                F,
            ),
            ("specdec", "tree", "--acceptance", "0.5,0.2", "--size", "8", "--target", "gpt2", "--device", F),
            ("edge", "exits", "alexnet", "--exit", "conv2:0.5", "--device", F, "-f", "json"),
        ),
    ),
    "cluster": (
        "cluster.yaml",
        (
            ("hardware", "show", F, "-f", "json"),
            ("comm", "--cluster", F, "--size", "100MB", "-f", "json"),
            ("dp", "alexnet", "--cluster", F, "-f", "json"),
            ("plan", "alexnet", "--cluster", F, "-f", "json"),
            ("pipeline", "partition", "alexnet", "--cluster", F, "-f", "json"),
            ("llm-parallel", "gpt2", "--cluster", F, "--global-batch", "16", "-f", "json"),
            ("edge", "modnn", "alexnet", "--cluster", F, "-f", "json"),
            ("edge", "adcnn", "alexnet", "--cluster", F, "--solver", "greedy", "-f", "json"),
            ("export", "dp", "alexnet", "--cluster", F, "-f", "json"),
        ),
    ),
    "profile": (
        "profile.yaml",
        (
            ("models", "show", F, "-f", "json"),
            ("pipeline", "partition", F, "--cluster", "pipedream-cluster-a", "-f", "json"),
            ("pipeline", "partition", F, "--cluster", "pipedream-cluster-a", "--cost-model", "pipedream"),
            ("dp", F, "--cluster", "pipedream-cluster-a", "-f", "json"),
            ("plan", F, "--cluster", "pipedream-cluster-a", "-f", "json"),
            ("comm", "--cluster", "pipedream-cluster-a", "--model", F, "-f", "json"),
            ("edge", "split", F, "--measured-on", "v100-sxm2-16gb", "-f", "json"),
            ("fl", "round", "--fleet", "mixed-edge", "--model", F, "--trials", "200", "-f", "json"),
            ("export", "pipeline", F, "--to", "torch", "--cluster", "pipedream-cluster-a", "-f", "json"),
        ),
    ),
    "cnn": (
        "cnn.yaml",
        (
            ("models", "show", F, "--batch-size", "2", "-f", "json"),
            ("dp", F, "--cluster", "pipedream-cluster-a", "-f", "json"),
            ("plan", F, "--cluster", "pipedream-cluster-a", "-f", "json"),
            ("pipeline", "partition", F, "--cluster", "pipedream-cluster-a", "-f", "json"),
            ("edge", "split", F, "-f", "json"),
            ("edge", "adcnn", F, "--solver", "greedy", "--cloud", "none", "-f", "json"),
            ("edge", "modnn", F, "-f", "json"),
            ("fl", "round", "--fleet", "mixed-edge", "--model", F, "--trials", "200", "-f", "json"),
            ("fl", "heterofl", "--fleet", "mixed-edge", "--model", F, "-f", "json"),
        ),
    ),
    "llm": (
        "llm.yaml",
        (
            ("models", "show", F, "-f", "json"),
            ("llm-parallel", F, "--cluster", "dgx-a100", "--global-batch", "16", "-f", "json"),
            (
                "specdec",
                "models",
                "--target",
                F,
                "--draft",
                "gpt2",
                "--alpha",
                "0.8",
                "--device",
                "a100-sxm4-80gb",
            ),
            ("edge", "transformer", F, "--cluster", "pi-cluster", "-f", "json"),
            ("plan", F, "--cluster", "dgx-a100", "--global-batch", "16", "-f", "json"),
            ("export", "llm", F, "--cluster", "dgx-a100", "--global-batch", "16", "--to", "megatron"),
        ),
    ),
    "fleet": (
        "fleet.yaml",
        (
            ("fl", "round", "--fleet", F, "--model", "alexnet", "--trials", "200", "-f", "json"),
            ("fl", "select", "--fleet", F, "--model", "alexnet", "--time-limit", "2", "-f", "json"),
            ("fl", "heterofl", "--fleet", F, "--model", "alexnet", "-f", "json"),
            ("fl", "noniid", "--fleet", F, "--sample-bytes", "3KiB", "-f", "json"),
        ),
    ),
    "partition": (
        "partition.yaml",
        (
            (
                "fl",
                "noniid",
                "--fleet",
                "fleet3.yaml",
                "--partition",
                F,
                "--sample-bytes",
                "3KiB",
                "-f",
                "json",
            ),
        ),
    ),
    "hf": (
        "hf/config.json",
        (
            ("llm-parallel", F, "--cluster", "dgx-a100", "--global-batch", "16", "-f", "json"),
            ("plan", F, "--cluster", "dgx-a100", "--global-batch", "16", "-f", "json"),
            ("export", "llm", F, "--cluster", "dgx-a100", "--global-batch", "16", "--to", "deepspeed"),
        ),
    ),
}
WEIGHTS = {"device": 2, "cluster": 3, "profile": 3, "cnn": 3, "llm": 2, "fleet": 2, "partition": 1, "hf": 1}
TOTAL_WEIGHT = 100  # this module's targets and the other fuzz modules' share the big run by weight


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", sorted(CONSUMERS))
def test_one_mutation_of_a_valid_document(kind: str, mode: str) -> None:
    file_name, commands = CONSUMERS[kind]

    @fuzz_settings(mode, WEIGHTS[kind], TOTAL_WEIGHT)
    @given(document=mutated_text(kind), command=st.sampled_from(commands))
    def run(document: tuple[str, str | bytes, str], command: tuple[str, ...]) -> None:
        _, text, _ = document
        with sandbox() as box:
            box.write(file_name, text)
            box.write("fleet3.yaml", dump(FLEET3))
            check(box, [file_name if arg == F else arg for arg in command])

    run()


SPECIAL_FILES = ("fifo", "socket", "zero", "urandom", "dangling", "folder")


@pytest.mark.parametrize("special", SPECIAL_FILES)
@pytest.mark.parametrize("kind", sorted(CONSUMERS))
def test_a_special_file_where_a_spec_is_expected_is_refused(kind: str, special: str) -> None:
    # issue 13: a FIFO hung every command and /dev/zero was read until memory ran out; every consumer of
    # every kind refuses what is not a regular file, with one line
    file_name, commands = CONSUMERS[kind]
    for command in commands:
        with sandbox() as box:
            box.special(file_name, special)
            box.write("fleet3.yaml", dump(FLEET3))
            outcome = check(box, [file_name if arg == F else arg for arg in command], deadline_s=5.0)
            assert outcome is None or outcome.exit_code == 2, outcome
