"""Tests for planner.spec.pipedream_graph: importing PipeDream's graph.txt profiles."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.errors import SpecError
from planner.spec.pipedream_graph import load_graph, parse_graph

PROFILES = Path(__file__).parents[1].parent / "shared" / "profiles" / "pipedream"
COUNTS = {"vgg16": 41, "alexnet": 23, "resnet50": 177, "gnmt": 48, "gnmt_large": 96}

NODE = (
    "{id} -- {desc} -- forward_compute_time={f}, backward_compute_time={b}, "
    "activation_size={a}, parameter_size={p}"
)


def node(node_id: str, desc: str = "ReLU", f="1.0", b="2.0", a="8.0", p="4.0") -> str:
    return NODE.format(id=node_id, desc=desc, f=f, b=b, a=a, p=p)


def profile_file(name: str) -> Path:
    path = PROFILES / f"{name}.graph.txt"
    if not path.is_file():
        pytest.skip(f"PipeDream profile {path} is absent (../shared/profiles/pipedream/ not checked out)")
    return path


def file_sums(text: str) -> dict[str, float]:
    """Totals from the raw text, independently of the importer."""
    sums = {}
    for key in ("forward_compute_time", "backward_compute_time", "parameter_size"):
        sums[key] = math.fsum(float(v) for v in re.findall(rf"{key}=([0-9.]+)", text))
    activations = []
    for value in re.findall(r"activation_size=(\[[^\]]*\]|[0-9.]+)", text):
        activations += [float(v) for v in value.strip("[]").split(";")]
    sums["activation_size"] = math.fsum(activations)
    return sums


# --- the five published profiles ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_real_profile_counts_and_totals(name: str) -> None:
    path = profile_file(name)
    text = path.read_text()
    profile = load_graph(path, str(path))
    assert profile.name == name
    assert profile.spec == "profile" and profile.per == "minibatch" and profile.batch_size is None
    assert profile.dtype == "fp32"
    assert profile.source == f"pipedream graph.txt: {path}"
    assert len(profile.layers) == COUNTS[name]
    file_ids = re.findall(r"^(node\d+) -- ", text, flags=re.M)
    assert sorted(layer.name for layer in profile.layers) == sorted(file_ids)
    layers = profile.layers
    sums = file_sums(text)
    assert math.fsum(x.forward_time for x in layers) * 1000 == pytest.approx(sums["forward_compute_time"])
    assert math.fsum(x.backward_time for x in layers) * 1000 == pytest.approx(sums["backward_compute_time"])
    assert math.fsum(x.output_bytes for x in layers) == pytest.approx(sums["activation_size"])
    assert math.fsum(x.parameter_bytes for x in layers) == pytest.approx(sums["parameter_size"])
    assert sum(x.parameters for x in layers) * 4 == pytest.approx(sums["parameter_size"])
    # Every edge line is kept as an input, and inputs are never None (no implicit chain).
    edges = re.findall(r"^\t(\S+) -- (\S+)$", text, flags=re.M)
    assert sorted((p, x.name) for x in layers for p in x.inputs) == sorted(edges)
    assert all(x.inputs is not None for x in layers)
    inputs = [x for x in layers if x.is_input]
    assert inputs and all(x.op.startswith("Input") and x.inputs == () for x in inputs)
    assert all(not x.op.startswith("Input") for x in layers if not x.is_input)


def test_file_order_is_kept_where_topological() -> None:
    path = profile_file("vgg16")
    text = path.read_text()
    profile = load_graph(path, str(path))
    file_ids = re.findall(r"^(node\d+) -- ", text, flags=re.M)
    names = [x.name for x in profile.layers]
    assert names[0] == "node1" and profile.layers[0].is_input
    # The file lists node11 before node10 although node10 feeds node11: the layers put node10 first.
    assert file_ids.index("node11") < file_ids.index("node10")
    assert names.index("node10") < names.index("node11")
    # A file already in topological order keeps it exactly.
    ordered = [line for line in text.splitlines() if not line.startswith("\t")]
    ordered.sort(key=lambda line: names.index(line.split(" -- ")[0]))
    edges = [line for line in text.splitlines() if line.startswith("\t")]
    again = parse_graph("\n".join(ordered + edges), "sorted", "vgg16")
    assert [x.name for x in again.layers] == names


def test_resnet50_branches() -> None:
    path = profile_file("resnet50")
    profile = load_graph(path, str(path))
    joins = [x for x in profile.layers if len(x.inputs) == 2]
    assert joins, "ResNet-50 has residual additions with two inputs"
    position = {x.name: i for i, x in enumerate(profile.layers)}
    for i, layer in enumerate(profile.layers):
        assert profile.predecessors(i) == [position[p] for p in layer.inputs]


def test_gnmt_multi_output_nodes() -> None:
    path = profile_file("gnmt")
    profile = load_graph(path, str(path))
    multi = [x for x in profile.layers if x.output_parts]
    assert len(multi) == 7 and all(len(x.output_parts) >= 3 for x in multi)
    for layer in multi:
        assert layer.output_bytes == pytest.approx(sum(layer.output_parts))
    node7 = next(x for x in profile.layers if x.name == "node7")
    assert node7.op == "LSTM(2048, 1024)"
    assert node7.output_parts == (6291456.0, 131072.0, 131072.0)
    assert node7.output_bytes == 6553600.0
    assert node7.forward_time == pytest.approx(3.190e-3) and node7.backward_time == pytest.approx(5.348e-3)
    assert node7.parameters == 50364416 // 4 and node7.parameter_bytes == 50364416.0
    # Descriptions with parentheses and double spaces are kept whole.
    node5 = next(x for x in profile.layers if x.name == "node5")
    assert node5.op.startswith("EmuBidirLSTM(  (bidir): LSTM(1024, 1024, bidirectional=True)")
    assert [x.name for x in profile.layers if x.is_input] == ["node1", "node2", "node3"]


def test_alexnet_input_keeps_its_time() -> None:
    path = profile_file("alexnet")
    profile = load_graph(path, str(path))
    first = profile.layers[0]
    assert first.is_input and first.op == "Input" and first.forward_time == pytest.approx(0.635902)


# --- small hand-written files -------------------------------------------------------------------


def test_parses_description_with_separator_and_stage_id(tmp_path: Path) -> None:
    text = "\n".join(
        [
            node("node1", "Input0", a="[1.0; 2.0]") + " -- stage_id=0",
            node("node3", "Weird -- desc (a, b)") + " -- stage_id=1",
            node("node2", "Add"),
            "\tnode1 -- node2",
            "\tnode3 -- node2",
            "\tnode1 -- node3",
            "",
        ]
    )
    path = tmp_path / "tiny" / "graph.txt"
    path.parent.mkdir()
    path.write_text(text)
    profile = load_graph(path, str(path))
    assert profile.name == "tiny"
    assert [x.name for x in profile.layers] == ["node1", "node3", "node2"]
    one, three, two = profile.layers
    assert one.is_input and one.inputs == () and one.output_parts == (1.0, 2.0) and one.output_bytes == 3.0
    assert three.op == "Weird -- desc (a, b)" and three.inputs == ("node1",)
    assert two.inputs == ("node1", "node3")  # edge-line order
    assert two.forward_time == 0.001 and two.backward_time == 0.002 and two.parameters == 1


def test_catalog_loads_graph_files() -> None:
    from planner.spec.catalog import load_file

    profile = load_file(profile_file("alexnet"))
    assert profile.name == "alexnet" and len(profile.layers) == 23


GOOD = node("node1", "Input")
MALFORMED = {
    "garbage line": ([GOOD, "this is not a node"], 2, "expected a node line"),
    "no key=values": ([GOOD, "node2 -- ReLU"], 2, "node2"),
    "no description": ([GOOD, "node2 -- forward_compute_time=1"], 2, "node2"),
    "missing key": (
        [GOOD, "node2 -- ReLU -- forward_compute_time=1, backward_compute_time=1, activation_size=1"],
        2,
        "node2.parameter_size",
    ),
    "non-numeric": ([GOOD, node("node2", f="fast")], 2, "node2.forward_compute_time"),
    "negative": ([GOOD, node("node2", b="-1.0")], 2, "node2.backward_compute_time"),
    "nan": ([GOOD, node("node2", a="nan")], 2, "node2.activation_size"),
    "inf": ([GOOD, node("node2", p="inf")], 2, "node2.parameter_size"),
    "overflow": ([GOOD, node("node2", p="1e999")], 2, "node2.parameter_size"),
    "bad list": ([GOOD, node("node2", a="[1.0; x]")], 2, "node2.activation_size"),
    "empty list": ([GOOD, node("node2", a="[]")], 2, "node2.activation_size"),
    "unknown key": ([GOOD, node("node2") + ", flops=3"], 2, "node2.flops"),
    "repeated key": ([GOOD, node("node2") + ", parameter_size=3"], 2, "node2.parameter_size"),
    "bad stage": ([GOOD, node("node2") + " -- stage_id=x"], 2, "node2.stage_id"),
    "duplicate node": ([GOOD, node("node2"), node("node2")], 3, "first defined on line 2"),
    "undefined edge end": ([GOOD, "\tnode1 -- node9"], 2, "'node9' is not defined"),
    "bad edge": ([GOOD, node("node2"), "\tnode1 -> node2"], 3, "edge line"),
    "repeated edge": ([GOOD, node("node2"), "\tnode1 -- node2", "\tnode1 -- node2"], 4, "first on line 3"),
    "self loop": ([GOOD, "\tnode1 -- node1"], 2, "cycle node1 -> node1"),
    "cycle": (
        [GOOD, node("node2"), node("node3"), "\tnode1 -- node2", "\tnode2 -- node3", "\tnode3 -- node2"],
        6,
        "cycle node2 -> node3 -> node2",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_files(tmp_path: Path, case: str) -> None:
    lines, line, needle = MALFORMED[case]
    path = tmp_path / "bad.graph.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SpecError) as info:
        load_graph(path, str(path))
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert needle in message, message
    assert info.value.line == line


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "empty.graph.txt"
    path.write_text(text)
    with pytest.raises(SpecError, match="at least one node line") as info:
        load_graph(path, str(path))
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.graph.txt"
    with pytest.raises(SpecError, match="file not found"):
        load_graph(path, str(path))


FRAGMENTS = st.sampled_from(
    ["node1", "node2", " -- ", "\t", "=", ", ", "[", "]", ";", "Input", "stage_id=", "-1", "1e400", "nan"]
    + [
        f"{key}="
        for key in ("forward_compute_time", "backward_compute_time", "activation_size", "parameter_size")
    ]
)
LINE = st.lists(st.one_of(FRAGMENTS, st.text(st.characters(min_codepoint=1), max_size=8)), max_size=10).map(
    "".join
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(LINE, st.sampled_from([node("node1", "Input"), node("node2"), "\tnode1 -- node2"])))
)
def test_garbage_never_raises_anything_but_spec_error(lines: list[str]) -> None:
    try:
        profile = parse_graph("\n".join(lines), "fuzz.graph.txt", "fuzz")
    except SpecError as exc:
        assert str(exc).startswith("fuzz.graph.txt")
    else:
        assert profile.layers
