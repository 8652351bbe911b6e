"""Fuzz the options of every command: start from a valid command line and change it once or a few times,
with values chosen by what each option is (read from the typer app itself, so a new option is fuzzed
without being listed here): numbers out of range, NaN, inf, huge, negative, non-numeric; choices that do
not exist; catalog names of the wrong kind; file paths that are missing, a folder, empty, binary or a
spec of another kind; quantities with wrong, missing or unknown units; malformed lists; unicode.
Options dropped, repeated, unknown, and positional arguments added."""

from __future__ import annotations

import functools
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from .documents import NUMBERS, UNITS, dump, seeds
from .harness import MODES, check, fuzz_settings, sandbox

# One valid, fast command line per command (the ILP time limits and Monte Carlo sizes are kept small).
BASE: dict[str, tuple[str, ...]] = {
    "hardware list": (),
    "hardware show": ("pipedream-cluster-a",),
    "models list": (),
    "models show": ("alexnet",),
    "validate": ("--only", "*-parameters"),
    "plan": ("alexnet", "--cluster", "pipedream-cluster-a"),
    "comm": ("--cluster", "pipedream-cluster-a", "--size", "100MB"),
    "dgc": ("resnet50", "--cluster", "pipedream-cluster-a", "--epochs", "6"),
    "ps": ("--worker-times", "100ms,100ms,300ms", "--gradient", "100MB", "--bandwidth", "10Gbps"),
    "dp": ("alexnet", "--cluster", "pipedream-cluster-a"),
    "lr": ("--batch", "8192"),
    "llm-parallel": ("gpt2", "--cluster", "dgx-a100", "--global-batch", "16"),
    "serve": ("gpt2", "--cluster", "dgx-a100", "--servers", "1"),
    "calibrate": ("--quick", "--help"),
    "pipeline bubble": ("--stages", "4", "--microbatches", "8"),
    "pipeline schedule": ("--stages", "4", "--microbatches", "4", "--width", "80"),
    "pipeline balance": ("resnet18", "--stages", "4", "--microbatches", "4"),
    "pipeline staleness": ("--stages", "4", "--weights", "100MB"),
    "pipeline partition": ("alexnet", "--cluster", "pipedream-cluster-a"),
    "specdec speedup": ("--alpha", "0.8", "--c", "0.05"),
    "specdec alpha": ("--gamma", "4", "--acceptance-rate", "0.7"),
    "specdec models": (
        "--target",
        "gpt2-large",
        "--draft",
        "gpt2",
        "--alpha",
        "0.8",
        "--device",
        "a100-sxm4-80gb",
    ),
    "specdec batch": (
        "--target",
        "gpt2-large",
        "--draft",
        "gpt2",
        "--alpha",
        "0.8",
        "--device",
        "a100-sxm4-80gb",
        "--batches",
        "1,8",
    ),
    "specdec tree": ("--acceptance", "0.5,0.2,0.1", "--size", "16"),
    "specdec simulate": ("--trials", "200", "--tree-size", "4", "--gamma", "2"),
    "edge adcnn": ("alexnet", "--cluster", "pi-cluster", "--time-limit", "2", "--tiles", "2x2"),
    "edge split": ("alexnet",),
    "edge exits": ("alexnet", "--exit", "conv2:0.4"),
    "edge ddnn": (),
    "edge modnn": ("alexnet",),
    "edge transformer": ("gpt2", "--cluster", "pi-cluster"),
    "fl fleets": (),
    "fl round": ("--fleet", "mixed-edge", "--model", "alexnet", "--trials", "200"),
    "fl select": ("--fleet", "mixed-edge", "--model", "alexnet", "--time-limit", "2"),
    "fl heterofl": ("--fleet", "mixed-edge", "--model", "alexnet"),
    "fl noniid": ("--fleet", "mixed-edge", "--sample-bytes", "3KiB"),
    "export pipeline": ("alexnet", "--to", "torch", "--cluster", "pipedream-cluster-a"),
    "export dp": ("alexnet", "--cluster", "pipedream-cluster-a"),
    "export llm": ("gpt2", "--cluster", "dgx-a100", "--global-batch", "16", "--to", "megatron"),
    "schema": ("device",),
    # profile and verify run PyTorch: their base lines ask for help on a model or profile that does not
    # exist, so a mutation that drops --help is refused at once instead of profiling or spawning a run
    "profile": ("nonexistent", "--help"),
    "verify": ("nonexistent.yaml", "--machine", "pipedream-cluster-a", "--help"),
}
# options whose value asks for work the user bounds: invalid values, and huge ones the bounds refuse
WORK_BOUNDS = {"--time-limit", "--trials", "--epochs", "--rounds", "--per-epoch"}
HUGE_WORK = ("1e9", "1000000000", "1e300", "9223372036854775807", "99999999999999999999")
# options that name a file to write: fuzzed with paths inside the sandbox only
OUTPUTS = {"--output", "-o", "--svg", "--plot-file"}
OUTPUT_PATHS = ("out.txt", "out.svg", "exists.txt", "sub/out.json", "missing/dir/out.yaml", ".", "", "work")

CATALOG_NAMES = (
    *("pipedream-cluster-a", "dgx-a100", "pi-cluster", "cloud-v100", "v100-sxm2-16gb", "raspberry-pi-4b"),
    *("alexnet", "resnet18", "gpt2", "llama-2-7b", "t5-small", "mixed-edge", "vgg19", "nonexistent"),
)
FILES = (
    "cluster.yaml", "device.yaml", "cnn.yaml", "llm.yaml", "fleet.yaml", "empty.yaml", "binary.yaml",
    "folder", "folder/", "missing.yaml", "m.graph.txt", "hf/config.json", "hf", "exists.txt", "/dev/null",
    "partition.yaml", "/dev/zero", "/dev/urandom", "fifo", "zero.yaml", "dangling.yaml",
)  # fmt: skip
INTS = st.one_of(
    st.integers(-3, 70),
    st.sampled_from(
        (0, -1, 2**31, 2**63, 2**63 - 1, -(2**63), 2**64, 10**5, 10**6, 10**9, 10**12, 10**30)
    ).map(str),
    st.sampled_from(("1e3", "0x10", "", " 4", "4.0", "1.5", "abc", "٣", "+3", "-0", "nan", "1_000")),
).map(str)
FLOATS = st.one_of(
    st.floats(-2, 3, allow_nan=False).map(repr),
    st.sampled_from(
        (
            *("nan", "inf", "-inf", "-0", "0", "1", "1e-320", "5e-324", "1e308", "1e400", "-1e400"),
            *("0.999999", "1.0000001", "1e-9", "abc", "", "1,5", "½", "10%"),
            *("1e-300", "1e300", "-1e-300", "2.2250738585072014e-308", "1.7976931348623157e308", "1e30"),
        )
    ),
)
TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ("", " ", "-", "--", "-x", "漢字", "🙂", "a\nb", "\x00", "x" * 3000, "%s", "{}", "*", "?")
    ),
)
QUANTITIES = st.builds(
    lambda n, sep, u: f"{n}{sep}{u}",
    st.sampled_from(NUMBERS),
    st.sampled_from(("", " ")),
    st.sampled_from(UNITS),
)
# option-specific structured values (lists and small grammars the commands parse themselves)
NUMBER_LIST = st.lists(st.one_of(FLOATS, INTS), min_size=0, max_size=5).map(",".join)
STRUCTURED: dict[str, Any] = {
    "--milestones": st.one_of(NUMBER_LIST, st.sampled_from(("30,60,80", "80,30", "", ",", "1,1", "1;2"))),
    "--acceptance": NUMBER_LIST,
    "--medusa": st.lists(NUMBER_LIST, max_size=3).map(";".join),
    "--p": NUMBER_LIST,
    "--q": NUMBER_LIST,
    "--tiles": st.one_of(
        st.builds(lambda a, b: f"{a}x{b}", INTS, INTS), st.sampled_from(("4x", "x4", "4", "4x4x4", "2X2"))
    ),
    "--boards": st.one_of(
        st.builds(lambda d, n: f"{d}:{n}", st.sampled_from(CATALOG_NAMES), INTS),
        st.sampled_from(("raspberry-pi-4b:2,raspberry-pi-3b:2", ":", "raspberry-pi-4b", ",")),
    ),
    "--levels": st.one_of(
        st.builds(lambda n, q: f"{n}:{q}", INTS, QUANTITIES),
        st.lists(st.builds(lambda n, q: f"{n}:{q}", INTS, QUANTITIES), max_size=3).map(",".join),
        INTS,
    ),
    "--exit": st.one_of(
        st.builds(
            lambda layer, f: f"{layer}:{f}",
            st.sampled_from(("conv1", "conv2", "fc3", "relu1", "x", "")),
            FLOATS,
        ),
        st.sampled_from(("conv2", ":", "conv2:0.5:1")),
    ),
    "--stage-times": st.one_of(
        st.lists(st.builds(lambda a, b: f"{a}/{b}", QUANTITIES, QUANTITIES), max_size=5).map(",".join),
        st.sampled_from(("1ms/2ms,1ms/2ms,1ms/2ms,1ms/2ms", "1ms", "/", "1ms/2ms/3ms")),
    ),
    "--cut": st.sampled_from(("conv1", "relu2", "maxpool3", "fc3", "flatten1", "nope", "")),
    "--offload-after": st.sampled_from(("conv1", "relu2", "maxpool3", "fc3", "nope", "")),
    "--only": st.sampled_from(("*", "[", "*[", "gpt2-parameters", "nothing", "**", "?")),
}
QUANTITY_OPTIONS = {
    *("--size", "--bucket", "--memory", "--sample-bytes", "--deadline", "--compute-power"),
    *("--transmit-power", "--idle-power", "--forward", "--backward", "--uplink"),
}
SPEC_OPTIONS = {
    *("--cluster", "--device", "--cloud", "--model", "--fleet", "--target", "--draft"),
    *("--measured-on", "--partition", "--data"),
}


@functools.cache
def commands() -> dict[str, Any]:
    """Every leaf command of the app by its path ('edge adcnn'), as click sees it."""
    import typer

    from planner.cli import app

    found: dict[str, Any] = {}

    def walk(command: Any, path: tuple[str, ...]) -> None:
        if hasattr(command, "list_commands"):  # a group; the top-level one loads its commands when asked
            for name in command.list_commands(None):
                walk(command.get_command(None, name), (*path, name))
        else:
            found[" ".join(path)] = command

    walk(typer.main.get_command(app), ())
    return found


def test_every_command_has_a_base_command_line() -> None:
    assert set(commands()) == set(BASE), "add the new command's valid command line to BASE"


def _choices(param: Any) -> tuple[str, ...]:
    return tuple(str(choice) for choice in getattr(param.type, "choices", None) or ())


def _bare_type(param: Any) -> type | None:
    """The Python type click converts an option's value to (int, float, bool, Path), None for others (by
    the click type's name: typer vendors click from 0.26 on)."""
    kinds = {"int": int, "integer": int, "int range": int, "integer range": int, "float": float}
    return {**kinds, "boolean": bool, "path": Path}.get(getattr(param.type, "name", ""))


def value_for(param: Any) -> st.SearchStrategy[str]:
    """Values for one option: by its name where it has a grammar or names a spec, else by its type."""
    name = param.opts[0] if param.param_type_name == "option" else param.name
    if name in OUTPUTS:
        return st.sampled_from(OUTPUT_PATHS)
    kind = _bare_type(param)
    if name in WORK_BOUNDS:
        base = st.sampled_from(("0", "-1", "nan", "inf", "-inf", "abc", "", "1e-9", "0.001", "1", *HUGE_WORK))
        return base if kind is not bool else st.just("")
    if name in STRUCTURED:
        return st.one_of(STRUCTURED[name], TEXT)
    if name in QUANTITY_OPTIONS:
        return st.one_of(QUANTITIES, TEXT, FLOATS)
    if name in SPEC_OPTIONS or name in ("model", "name"):
        return st.one_of(st.sampled_from(CATALOG_NAMES), st.sampled_from(FILES), TEXT)
    choices = _choices(param)
    if choices:
        return st.one_of(st.sampled_from(choices), TEXT)
    if kind is int:
        return INTS
    if kind is float:
        return FLOATS
    if kind is Path:
        return st.sampled_from(FILES)
    return st.one_of(TEXT, st.sampled_from(CATALOG_NAMES), st.sampled_from(FILES), INTS)


@st.composite
def command_lines(draw: st.DrawFn) -> tuple[str, list[str]]:
    """(command path, argv) with one to three changes to a valid command line."""
    path = draw(st.sampled_from(sorted(BASE)))
    command = commands()[path]
    argv = list(BASE[path])
    options = [p for p in command.params if p.param_type_name == "option" and p.opts[0] != "--help"]
    for _ in range(draw(st.integers(1, 3))):
        op = draw(
            st.sampled_from(("set", "set", "set", "set", "flag", "drop", "unknown", "positional", "equals"))
        )
        if op in ("set", "equals") and options:
            param = draw(st.sampled_from(options))
            if param.is_flag:
                argv.append(draw(st.sampled_from((*param.opts, *param.secondary_opts))))
                continue
            value = draw(value_for(param))
            flag = draw(st.sampled_from(param.opts))
            argv += [f"{flag}={value}"] if op == "equals" and flag.startswith("--") else [flag, value]
        elif op == "flag":
            argv.append(draw(st.sampled_from(("-f", "--format", "--help"))))
            if argv[-1] != "--help":
                argv.append(draw(st.sampled_from(("json", "yaml", "table", "xml", ""))))
        elif op == "drop" and argv:
            index = draw(st.integers(0, len(argv) - 1))
            del argv[index : index + draw(st.integers(1, 2))]
        elif op == "unknown":
            argv.append(draw(st.sampled_from(("--bogus", "-z", "--", "---", "--format=", "-"))))
        elif op == "positional":
            argv.insert(
                draw(st.integers(0, len(argv))), draw(st.one_of(st.sampled_from(CATALOG_NAMES), TEXT))
            )
    if path == "calibrate" and "--quick" not in argv:
        argv.append("--quick")  # calibrate measures this machine: only its quick sizes are fuzzed
    return path, [*path.split(), *argv]


def _write_inputs(box: Any) -> None:
    """The files the command lines may name: specs of each kind, an empty and a binary file, a folder."""
    for kind, name in (("cluster", "cluster.yaml"), ("device", "device.yaml"), ("cnn", "cnn.yaml")):
        box.write(name, dump(seeds(kind)[0][1]))
    for kind, name in (("llm", "llm.yaml"), ("fleet", "fleet.yaml"), ("partition", "partition.yaml")):
        box.write(name, dump(seeds(kind)[0][1]))
    box.write("hf/config.json", json.dumps(seeds("hf")[0][1]))
    box.write("empty.yaml", "")
    box.write("binary.yaml", bytes(range(256)))
    box.write("exists.txt", "keep me\n")
    box.write("m.graph.txt", "node1 -- Input0 -- forward_compute_time=1, backward_compute_time=0, "
              "activation_size=4, parameter_size=0\n")  # fmt: skip
    (box.cwd / "folder").mkdir()
    box.special("fifo", "fifo")  # a FIFO hung every command; /dev/zero read until memory ran out
    box.special("zero.yaml", "zero")
    box.special("dangling.yaml", "dangling")


def _outputs(argv: list[str]) -> list[str]:
    """The files a command line asks to be written (--output/-o/--svg values)."""
    named = []
    for flag, value in itertools.pairwise(argv):
        if flag in OUTPUTS:
            named.append(value)
    named += [a.split("=", 1)[1] for a in argv if a.split("=", 1)[0] in OUTPUTS and "=" in a]
    return [n for n in named if n]


def _validate_failed(outcome: Any) -> bool:
    """`planner validate` exits 1 when a case misses: a result, not an error (printed as a table)."""
    return outcome.argv[0] == "validate" and outcome.exit_code == 1


@pytest.mark.parametrize("mode", MODES)
def test_changed_command_lines(mode: str) -> None:
    @fuzz_settings(mode, 71, 100, sample=60)
    @given(line=command_lines())
    def run(line: tuple[str, list[str]]) -> None:
        _, argv = line
        # typer's --install-completion writes the shell's start-up files in HOME, as asked: not a finding
        assume("--install-completion" not in argv)
        with sandbox() as box:
            _write_inputs(box)
            check(box, argv, outputs=_outputs(argv), result_is_error=_validate_failed)

    run()
