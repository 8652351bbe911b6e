"""Every crash the fuzzers found, as a fixed input: each once crashed with a traceback (or broke another
invariant) and now exits 0, 1 or 2 with one line on error. Each test names the fix."""

from __future__ import annotations

import json
import re

import pytest

from .harness import check, sandbox

DEVICE = """\
spec: device
name: d
kind: gpu
peak_compute: {fp32: 10 TFLOPS}
memory: 16 GiB
memory_bandwidth: 500 GB/s
"""


def run(argv: list[str], files: dict[str, str | bytes] | None = None, outputs: tuple[str, ...] = ()):
    with sandbox() as box:
        for name, content in (files or {}).items():
            box.write(name, content)
        return check(box, argv, outputs=outputs)


def test_a_nul_character_is_a_located_yaml_error() -> None:
    # yamlio: PyYAML's reader rejected it in the loader's constructor, outside the error handling
    out = run(["hardware", "show", "d.yaml"], {"d.yaml": DEVICE.replace("name: d", "name: d\x00")})
    assert out.exit_code == 2 and "d.yaml:2" in out.stderr and "#x0000" in out.stderr


@pytest.mark.parametrize("nest", ["[", "{a: "])
def test_nesting_past_the_limit_is_refused_before_python_recursion_runs_out(nest: str) -> None:
    # yamlio: PyYAML composes recursively; 5,000 levels raised RecursionError (now refused at 65)
    close = "]" if nest == "[" else "}"
    text = f"{DEVICE}deep: {nest * 5000}1{close * 5000}\n"
    out = run(["hardware", "show", "d.yaml"], {"d.yaml": text})
    assert out.exit_code == 2 and "nesting at most 64 levels deep" in out.stderr


def test_deeply_nested_json_config_is_refused() -> None:
    # hf_config: the JSON fallback hit RecursionError after YAML had refused the depth
    text = "[" * 100_000 + "]" * 100_000
    out = run(
        ["llm-parallel", "hf/config.json", "--cluster", "dgx-a100", "--global-batch", "16"],
        {"hf/config.json": text},
    )
    assert out.exit_code == 2 and "nesting" in out.stderr


@pytest.mark.parametrize(("date", "code"), [("!!timestamp foo", 2), ("2001-13-45", 2), ("2026-01-01", 0)])
def test_dates_stay_text(date: str, code: int) -> None:
    # yamlio: an explicit !!timestamp with a bad value raised AttributeError inside PyYAML, and an
    # implicit date out of range a ValueError; dates are kept as the text written (Price.date is text),
    # and Price.date must be a real calendar date (issue 13)
    text = f"{DEVICE}price: {{usd_per_hour: 1, date: {date}, source: x}}\n"
    out = run(["hardware", "show", "d.yaml", "-f", "json"], {"d.yaml": text})
    assert out.exit_code == code, out.stderr
    if code:
        assert "field 'price.date': expected a calendar date YYYY-MM-DD" in out.stderr


@pytest.mark.parametrize("tagged", ["!!int abc", "!!float x", "!!python/object:os.system 1"])
def test_a_tag_that_does_not_fit_its_value_is_a_spec_error(tagged: str) -> None:
    # yamlio: int('abc') under an explicit !!int raised ValueError from the constructor
    out = run(
        ["hardware", "show", "d.yaml"], {"d.yaml": DEVICE.replace("memory: 16 GiB", f"memory: {tagged}")}
    )
    assert out.exit_code == 2 and "field 'memory'" in out.stderr


def test_user_text_with_line_breaks_stays_on_one_line() -> None:
    # errors: a catalog name with a newline split the error over two lines
    out = run(["comm", "--cluster", "a\nb\u2028c", "--size", "1MB"])
    assert out.exit_code == 2 and "no cluster named 'a\\nb\\u2028c'" in out.stderr


def test_a_name_too_long_for_the_file_system_is_looked_up_in_the_catalog() -> None:
    # catalog: Path.exists() raised OSError (file name too long) on a long catalog name
    out = run(["comm", "--cluster", "x" * 3000, "--size", "1MB"])
    assert out.exit_code == 2 and "no cluster named" in out.stderr


def test_edge_split_checks_input_dtype() -> None:
    # cli/edge: split passed --input-dtype unchecked to the cost model (KeyError)
    out = run(["edge", "split", "alexnet", "--input-dtype", "fleet.yaml"])
    assert out.exit_code == 2 and "--input-dtype" in out.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["specdec", "simulate", "--seed", "-1"],
        ["fl", "round", "--fleet", "mixed-edge", "--model", "alexnet", "--seed", "-1"],
        ["fl", "noniid", "--fleet", "mixed-edge", "--sample-bytes", "3KiB", "--seed", "-1"],
    ],
)
def test_negative_seeds_are_refused_by_the_option(argv: list[str]) -> None:
    # cli/specdec, cli/fl: numpy's SeedSequence raised ValueError (fl noniid blamed another option)
    out = run(argv)
    assert out.exit_code == 2 and "'--seed'" in out.stderr


def test_a_selection_ilp_without_an_answer_in_time_is_infeasible() -> None:
    # client_selection: a 'not solved' status within --time-limit raised RuntimeError
    out = run(["fl", "select", "--fleet", "mixed-edge", "--model", "alexnet", "--time-limit", "0.001"])
    assert out.exit_code in (0, 1)
    if out.exit_code == 1:
        assert "--time-limit" in out.stderr


def test_numpy_numbers_serialise_as_yaml() -> None:
    # render: yaml.safe_dump cannot represent numpy scalars (edge modnn's payload had np.float64)
    import yaml

    out = run(["edge", "modnn", "alexnet", "--format", "yaml"])
    assert out.exit_code == 0 and yaml.safe_load(out.stdout)["model"] == "alexnet"


def test_pipedream_cost_model_refuses_layers_no_stage_would_hold() -> None:
    # chain_view: a layer that only a second source leads to was left out of every stage (both cost
    # models partition the chain view): the partition silently dropped it, the export raised ValueError
    values = "forward_compute_time=1, backward_compute_time=2, activation_size=4, parameter_size=8"
    graph = "\n".join(
        [
            f"node1 -- Input0 -- {values}",
            f"node2 -- Conv2d -- {values}",
            f"node3 -- ReLU -- {values}",
            f"node4 -- Linear -- {values}",
            "\tnode1 -- node2",
            "\tnode2 -- node3",
            "\tnode1 -- node4",
        ]
    )
    partition = ["pipeline", "partition", "m.graph.txt", "--cluster", "pipedream-cluster-a"]
    export = ["export", "pipeline", "m.graph.txt", "--to", "pipedream", "--cluster", "pipedream-cluster-a"]
    for argv in (partition, [*partition, "--cost-model", "pipedream"], export):
        out = run(argv, {"m.graph.txt": graph + "\n"})
        assert out.exit_code == 2 and "not reached: node4" in out.stderr
    joined = graph.replace("\tnode1 -- node4", "\tnode3 -- node4") + "\n"  # node4 now follows node3
    stages = json.loads(run([*partition, "-f", "json"], {"m.graph.txt": joined}).stdout)["stages"]
    held = sorted(name for stage in stages for name in stage["layer_names"])
    assert held == ["node1", "node2", "node3", "node4"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["comm", "--cluster", "pipedream-cluster-a", "--bogus"], "No such option: --bogus"),
        (["comm", "--cluster", "pipedream-cluster-a", "--servers", "abc"], "'--servers'"),
        (["hardware", "show"], "Missing argument"),
    ],
)
def test_command_line_mistakes_are_one_line(argv: list[str], expected: str) -> None:
    # cli: click drew a usage box of several lines; now one line with a pointer to --help
    out = run(argv)
    assert out.exit_code == 2 and expected in out.stderr and "--help" in out.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["dp", "m.graph.txt", "--cluster", "pipedream-cluster-a", "--profile-batch", "32"],
        ["plan", "m.graph.txt", "--cluster", "pipedream-cluster-a", "--profile-batch", "32"],
        [
            "pipeline",
            "partition",
            "m.graph.txt",
            "--cluster",
            "pipedream-cluster-a",
            "--cost-model",
            "pipedream",
        ],
        ["dp", "p.yaml", "--cluster", "pipedream-cluster-a"],
    ],
)
def test_a_profile_without_work_is_refused_when_it_loads(argv: list[str]) -> None:
    # pipedream_graph, catalog: a profile whose layers (inputs aside) all take 0 s made dp, plan and
    # PipeDream's speed-ups divide by zero
    values = "backward_compute_time=0, activation_size=4, parameter_size=0"
    graph = (
        f"node1 -- Input0 -- forward_compute_time=5, {values}\n"
        f"node2 -- Linear -- forward_compute_time=0, {values}\n\tnode1 -- node2\n"
    )
    profile = (
        "spec: profile\nname: p\nper: minibatch\nbatch_size: 8\nlayers:\n  - {name: a, forward_time: 0 s}\n"
    )
    out = run(argv, {"m.graph.txt": graph, "p.yaml": profile})
    assert out.exit_code == 2 and "expected some work" in out.stderr


def test_graph_sizes_beyond_a_petabyte_are_refused() -> None:
    # pipedream_graph: parameter_size=1e308 became a parameter count too large for int64 (OverflowError)
    values = "backward_compute_time=1, activation_size=4"
    graph = (
        f"node1 -- Input0 -- forward_compute_time=5, {values}, parameter_size=0\n"
        f"node2 -- Linear -- forward_compute_time=5, {values}, parameter_size=1e308\n\tnode1 -- node2\n"
    )
    out = run(
        ["dp", "m.graph.txt", "--cluster", "pipedream-cluster-a", "--profile-batch", "32"],
        {"m.graph.txt": graph},
    )
    assert out.exit_code == 2 and "m.graph.txt:2" in out.stderr and "at most 1e+15" in out.stderr


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["fl", "heterofl"], ["--epochs", "nan"]),
        (["fl", "round"], ["--epochs", "inf"]),
        (["fl", "round"], ["--prox-mu", "nan"]),
        (["fl", "round"], ["--over-select", "nan"]),
        (["fl", "select"], ["--w-latency", "nan"]),
    ],
)
def test_federated_settings_refuse_nan_and_infinity(command: list[str], option: list[str]) -> None:
    # federated_plan: `epochs <= 0` let NaN through to a ValueError deeper down (a traceback); the
    # settings now have ranges (planner/limits.py), which NaN and infinity are outside of
    out = run([*command, "--fleet", "mixed-edge", "--model", "alexnet", *option])
    assert out.exit_code == 2 and f"{option[0]}:" in out.stderr
    assert re.search(r"expected an? \w+ from [0-9e.+-]+ to [0-9e.+-]+, got (nan|inf)", out.stderr), out.stderr


def test_time_hidden_behind_the_backward_pass_is_not_rounding_noise() -> None:
    # data_parallel: total - exposed all-reduce time printed as '1.388e-14 ms of it hidden' (this profile)
    keys = "forward_compute_time={}, backward_compute_time={}, activation_size={}, parameter_size={}"
    layers = [(0.0, 0.0, 602112, 0), (12.5, 26.0, 12845056, 7168), (3.25, 4.5, 12845056, 0)]
    layers += [(9.0, 17.75, 6422528, 2359808), (1.5, 3.0, 16384, 16777216), (0.25, 0.5, 4000, 4000)]
    graph = [
        f"node{i + 1} -- {'Input0' if i == 0 else 'op'} -- {keys.format(*v)}" for i, v in enumerate(layers)
    ]
    graph += [f"\tnode{i} -- node{i + 1}" for i in range(1, 6)] + ["\tnode2 -- node4"]
    argv = ["dp", "m.graph.txt", "--cluster", "pipedream-cluster-a", "--profile-batch", "32", "-f", "json"]
    reason = json.loads(run(argv, {"m.graph.txt": "\n".join(graph) + "\n"}).stdout)["plan"]["reason"]
    assert ", 0 ms of it hidden" in reason


def test_a_huge_batch_does_not_make_plan_simulate_millions_of_micro_batches() -> None:
    # optimize/plan: GPipe and 1F1B tried M = K·2^i up to the global batch, each schedule simulated
    # event by event: --batch 100000 took 60 s and 1.7 GB, --batch 1e30 never ended (now M <= 1,024).
    # Where nothing fits `plan` exits 1 (issue 14), so the strategies are read from the model side.
    # A batch past limits.MAX_BATCH (1e7) is refused before anything runs (issue 14).
    from planner.api.training import TrainingOptions, resolve_training
    from planner.optimize.plan import compare

    refused = run(["plan", "alexnet", "--cluster", "pipedream-cluster-a", "--batch", "1" + "0" * 30])
    assert refused.exit_code == 2 and "--batch" in refused.stderr
    for batch in ("100000", "10000000"):
        out = run(["plan", "alexnet", "--cluster", "pipedream-cluster-a", "--batch", batch, "-f", "json"])
        resolved = resolve_training("alexnet", "pipedream-cluster-a", TrainingOptions(batch=int(batch)))
        comparison = compare(resolved.setup, resolved.profile, resolved.batch)
        assert out.exit_code == (0 if comparison.winner is not None else 1), out.stderr
        configs = [s.config for s in comparison.strategies if s.family in ("gpipe", "1f1b")]
        assert configs and all(int(c.split("M=")[1]) <= 1024 for c in configs)


def test_validate_data_too_long_for_the_file_system_is_not_a_folder() -> None:
    # cli/validate: Path.is_dir() raised OSError (file name too long) on --data
    out = run(["validate", "--only", "gpt2-parameters", "--data", "x" * 3000])
    assert out.exit_code == 2 and "--data" in out.stderr


def test_specdec_speedup_needs_at_least_one_draft() -> None:
    # cli/specdec: --gamma 0 passed the option (min 0) and broke the acceptance-rate and PEARL columns
    out = run(["specdec", "speedup", "--alpha", "0.8", "--c", "0.05", "--gamma", "0"])
    assert out.exit_code == 2 and "'--gamma'" in out.stderr


LONG = "x" * 3000


@pytest.mark.parametrize(
    "argv",
    [
        ["llm-parallel", LONG, "--cluster", "dgx-a100", "--global-batch", "16"],
        ["export", "llm", LONG, "--cluster", "dgx-a100", "--global-batch", "16", "--to", "megatron"],
        ["pipeline", "schedule", "-k", "2", "-m", "2", "--svg", LONG],
        ["export", "dp", "alexnet", "--cluster", "pipedream-cluster-a", "-o", LONG],
        ["schema", "device", "-o", LONG],
        ["calibrate", "--quick", "-o", LONG],
    ],
)
def test_names_too_long_for_the_file_system_are_bad_input(argv: list[str]) -> None:
    # yamlio.is_dir, cli/calibrate (shared by export and schema), cli/pipeline: is_dir()/exists() raised
    # OSError (file name too long) on model names and --output/--svg paths
    out = run(argv)
    assert out.exit_code == 2


def test_an_alias_bomb_is_refused_at_once_and_small_anchors_still_work() -> None:
    # yamlio: a 9^6 alias bomb was expanded value by value up to the 1,000,000-value limit (6 s per file);
    # values repeated through aliases now have their own budget (100,000). And a key written beside a
    # merge key overrides the merged one, as YAML says (it was refused as a duplicate)
    bomb = ['l0: &l0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    bomb += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 7)]
    out = run(["hardware", "show", "d.yaml"], {"d.yaml": DEVICE + "\n".join(bomb) + "\n"})
    assert out.exit_code == 2 and "repeated through aliases" in out.stderr
    cluster = (
        "spec: cluster\nname: c\ndevice: v100-sxm2-16gb\nlevels:\n"
        "  - {name: gpu, count: 2, link: &fast {bandwidth: 10 GB/s, latency: 5 us}}\n"
        "  - {name: server, count: 2, link: {<<: *fast, bandwidth: 1 GB/s}}\n"
    )
    out = run(["hardware", "show", "c.yaml", "-f", "json"], {"c.yaml": cluster})
    assert out.exit_code == 0, out.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["comm", "--cluster", "pipedream-cluster-a", "--size", "100MB", "--servers", "1000000000"],
        ["dp", "alexnet", "--cluster", "pipedream-cluster-a", "--servers", "1000000000"],
        ["hardware", "show", "pipedream-cluster-a", "--servers", "1000000000"],
        ["llm-parallel", "gpt2", "--cluster", "dgx-a100", "--global-batch", "16", "--servers", "1000000000"],
        ["hardware", "show", "c.yaml"],
    ],
)
def test_a_cluster_of_more_than_a_million_devices_is_refused(argv: list[str]) -> None:
    # spec/hardware, cli/common: --servers 1e9 made comm and dp allocate arrays of 4e9 devices (24 GB)
    cluster = (
        "spec: cluster\nname: c\ndevice: v100-sxm2-16gb\nlevels:\n"
        "  - {name: gpu, count: 8, link: {bandwidth: 10 GB/s}}\n"
        "  - {name: server, count: 200000, link: {bandwidth: 1 GB/s}}\n"
    )
    out = run(argv, {"c.yaml": cluster})
    assert out.exit_code == 2 and "at most 1,000,000 devices" in out.stderr


def test_client_selection_refuses_a_fleet_too_big_for_the_ilp() -> None:
    # client_selection: a 1,000,000-client fleet built a PuLP model for over 2 minutes and 6 GB before CBC
    # (and --time-limit) started; fleets allow 10,000,000 clients per class
    fleet = (
        "spec: fleet\nname: big\nclasses:\n  - name: pi\n    count: 1000000\n    device: raspberry-pi-4b\n"
        "    uplink: {bandwidth: 20 Mbps}\n    downlink: {bandwidth: 50 Mbps}\n    samples: 100\n"
    )
    out = run(["fl", "select", "--fleet", "big.yaml", "--model", "alexnet"], {"big.yaml": fleet})
    assert out.exit_code == 1 and "at most 5,000 clients" in out.stderr


@pytest.mark.parametrize(
    ("argv", "code", "expected"),
    [
        (
            ["llm-parallel", "gpt2", "--cluster", "dgx-a100", "--global-batch", "1" + "0" * 30],
            2,
            "at most 2,147,483,647",
        ),
        (
            ["plan", "gpt2", "--cluster", "dgx-a100", "--global-batch", "1" + "0" * 30],
            2,
            "at most 2,147,483,647",
        ),
        (
            [
                "llm-parallel",
                "gpt2",
                "--cluster",
                "dgx-a100",
                "--global-batch",
                "16",
                "--max-interleave",
                "1000000000",
            ],
            1,
            "candidates",
        ),
        (["specdec", "speedup", "--alpha", "0.8", "--c", "0.05", "--gamma", "2147483648"], 2, "'--gamma'"),
        (["pipeline", "schedule", "-k", "4", "-m", "4", "--width", "9223372036854775808"], 2, "--width"),
    ],
)
def test_huge_counts_are_refused_before_they_are_allocated(argv: list[str], code: int, expected: str) -> None:
    # cli/llm_parallel, optimize/parallelism, cli/specdec, cli/pipeline: --global-batch 1e30 overflowed
    # int64 (OverflowError), --max-interleave 1e12 and --gamma 1e12 allocated terabytes (MemoryError),
    # --gamma 2^31 hung, --width 2^63 overflowed the chart
    out = run(argv)
    assert out.exit_code == code and expected in out.stderr


def test_a_tree_depth_bound_beyond_the_size_is_the_size() -> None:
    # token_tree: --depth 1e9 ran a billion DP layers (a tree of n nodes is at most n - 1 high)
    base = ["specdec", "tree", "--acceptance", "0.5,0.2,0.1", "--size", "16", "-f", "json"]
    huge, exact = run([*base, "--depth", "1000000000"]), run([*base, "--depth", "15"])
    assert huge.exit_code == 0
    assert json.loads(huge.stdout)["expected_tokens"] == json.loads(exact.stdout)["expected_tokens"]


def test_a_cnn_layer_beyond_1e15_values_is_refused_where_it_is_written() -> None:
    # cost/layers: input_shape [2^70, 32, 32] loaded, then overflowed int64 in the layer arrays (2^70 is
    # now refused at load as beyond int64; 2^55 is within int64 and still beyond the layer bound)
    cnn = (
        "spec: cnn\nname: big\ninput_shape: [36028797018963968, 32, 32]\n"
        "layers:\n  - conv: {out: 16, kernel: 3, padding: 1}\n  - flatten: {}\n  - fc: {out: 10}\n"
    )
    out = run(["edge", "adcnn", "cnn.yaml", "--solver", "greedy", "--cloud", "none"], {"cnn.yaml": cnn})
    assert out.exit_code == 2 and "cnn.yaml:" in out.stderr and "at most 1e+15" in out.stderr
