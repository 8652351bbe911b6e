"""Fuzz PipeDream graph.txt profiles through the commands that read them: a random valid DAG (chains,
branches, multi-output nodes, Input sources, stage ids, node lines out of order) with one mutation:
a field missing or repeated, a negative, NaN, infinite, huge or tiny number, a malformed list, a cycle,
a self-loop, a dangling or repeated edge, a repeated node, a broken separator, unicode, CRLF. Some graphs are
wide: blocks of parallel branches joined again (ResNet-, Inception-like), now and then past the chain view's
antichain-state limit (w branches of l layers give about (l+1)^w states), which must be refused at once."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .harness import MODES, check, fuzz_settings, sandbox

KEYS = ("forward_compute_time", "backward_compute_time", "activation_size", "parameter_size")
DESCRIPTIONS = (
    "Conv2d(3, 64, kernel_size=(3, 3))",
    "ReLU(inplace)",
    "Linear(in_features=4096, out_features=1000)",
    "LSTM(1024, 1024) -- with a separator",
    "__getitem__(0)",
    "Dropout(p=0.5)",
    "漢字 🙂",
    "Add()",
)
COMMANDS = (
    ("models", "show", "{F}", "-f", "json"),
    ("pipeline", "partition", "{F}", "--cluster", "pipedream-cluster-a", "-f", "json"),
    ("pipeline", "partition", "{F}", "--cluster", "pipedream-cluster-b", "--cost-model", "pipedream"),
    ("pipeline", "partition", "{F}", "--levels", "4:10GB/s,2:1GB/s", "--memory", "1GB", "-f", "json"),
    ("dp", "{F}", "--cluster", "pipedream-cluster-a", "--profile-batch", "32", "-f", "json"),
    ("plan", "{F}", "--cluster", "pipedream-cluster-a", "--profile-batch", "32", "-f", "json"),
    ("comm", "--cluster", "pipedream-cluster-a", "--model", "{F}", "-f", "json"),
    ("export", "pipeline", "{F}", "--to", "pipedream", "--cluster", "pipedream-cluster-a", "-f", "json"),
    (
        "export",
        "pipeline",
        "{F}",
        "--to",
        "deepspeed",
        "--cluster",
        "pipedream-cluster-a",
        "--profile-batch",
        "8",
    ),
    ("edge", "split", "{F}", "--measured-on", "v100-sxm2-16gb", "--batch-size", "32", "-f", "json"),
)
NUMBERS = st.one_of(
    st.floats(min_value=0, max_value=1e4).map(lambda x: f"{x:.3f}"),
    st.sampled_from(("0.000", "0", "12", "1e3", "3.5E-2", ".5", "5.")),
)
BAD_NUMBERS = st.sampled_from(
    (
        "-1",
        "-0.000",
        "nan",
        "inf",
        "-inf",
        "1e400",
        "1e-400",
        "",
        " ",
        "abc",
        "1,5",
        "0x10",
        "1_0",
        "[1; 2]",
        "[]",
        "[;]",
        "[1; -2]",
        "[1; nan]",
        "[1",
        "1]",
        "[1, 2]",
        "1e308",
        "123456789" * 40,
        "١",
        *("1e-300", "5e-324", "1e15", "1e16", "1e30", "9223372036854775807", "9223372036854775808"),
    )
)

GRAPH_OPS = (
    *("none", "value", "value", "drop-key", "repeat-key", "unknown-key", "cycle", "self-loop"),
    *("dangling", "repeat-edge", "repeat-node", "separator", "edge-format", "crlf", "blank"),
    *("no-edges", "unicode", "bad-stage", "many-outputs"),
)


def _node_line(draw: st.DrawFn, i: int) -> str:
    description = "Input0" if i == 1 else draw(st.sampled_from(DESCRIPTIONS))
    values = {key: draw(NUMBERS) for key in KEYS}
    if draw(st.integers(0, 5)) == 0:
        values["activation_size"] = f"[{'; '.join(draw(st.lists(NUMBERS, min_size=1, max_size=3)))}]"
    tail = f" -- stage_id={draw(st.integers(0, 3))}" if draw(st.booleans()) else ""
    body = ", ".join(f"{key}={values[key]}" for key in KEYS)
    return f"node{i} -- {description} -- {body}{tail}"


def _random_edges(draw: st.DrawFn, n: int) -> list[str]:
    """Each node after the first fed by one to three earlier nodes."""
    edges = []
    for j in range(2, n + 1):
        sources = draw(st.sets(st.integers(1, j - 1), min_size=1, max_size=min(3, j - 1)))
        edges.extend(f"\tnode{i} -- node{j}" for i in sorted(sources))
    return edges


def _wide_edges(draw: st.DrawFn) -> tuple[int, list[str]]:
    """(nodes, edges) of a stem and blocks of parallel branches, each block joined by one node; rarely
    past the antichain-state limit (8 branches of 3 layers: about 4^8 states per block)."""
    huge = draw(st.integers(0, 19)) == 0
    width = 8 if huge else draw(st.integers(2, 5))
    length = 3 if huge else draw(st.integers(1, 3 if width <= 3 else 2))
    edges, last, join = ["\tnode1 -- node2"], 2, 2
    for _ in range(2 if huge else draw(st.integers(1, 3))):
        ends = []
        for _ in range(width):
            previous = join
            for _ in range(length):
                last += 1
                edges.append(f"\tnode{previous} -- node{last}")
                previous = last
            ends.append(previous)
        last += 1
        edges += [f"\tnode{end} -- node{last}" for end in ends]
        join = last
    return last, edges


@st.composite
def graphs(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """(node lines, edge lines) of a valid DAG, random or wide; node lines may come out of topological
    order."""
    if draw(st.integers(0, 3)) == 0:
        n, edges = _wide_edges(draw)
    else:
        n = draw(st.integers(1, 12))
        edges = _random_edges(draw, n)
    nodes = [_node_line(draw, i) for i in range(1, n + 1)]
    if draw(st.booleans()):
        nodes = draw(st.permutations(nodes))
    return nodes, edges


@st.composite
def mutated_graphs(draw: st.DrawFn) -> str:
    nodes, edges = draw(graphs())
    n = len(nodes)
    op = draw(st.sampled_from(GRAPH_OPS))
    i = draw(st.integers(0, n - 1))
    line = nodes[i]
    if op == "value":
        key = draw(st.sampled_from(KEYS))
        head, _, rest = line.partition(f"{key}=")
        value_end = rest.find(",")
        rest = rest[value_end:] if value_end >= 0 else (rest[rest.find(" -- ") :] if " -- " in rest else "")
        nodes[i] = f"{head}{key}={draw(BAD_NUMBERS)}{rest}"
    elif op == "drop-key":
        key = draw(st.sampled_from(KEYS))
        nodes[i] = line.replace(f"{key}=", "", 1) if draw(st.booleans()) else _drop_item(line, key)
    elif op == "repeat-key":
        nodes[i] = line.replace("forward_compute_time=", "forward_compute_time=1, forward_compute_time=", 1)
    elif op == "unknown-key":
        nodes[i] = line.replace("parameter_size=", "weights=1, parameter_size=", 1)
    elif op == "cycle" and n > 1:
        a, b = sorted(draw(st.lists(st.integers(1, n), min_size=2, max_size=2, unique=True)))
        edges += [f"\tnode{a} -- node{b}", f"\tnode{b} -- node{a}"]
    elif op == "self-loop":
        edges.append(f"\tnode{i + 1} -- node{i + 1}")
    elif op == "dangling":
        edges.append(draw(st.sampled_from((f"\tnode{i + 1} -- node999", "\tghost -- node1", "\tnode1 --"))))
    elif op == "repeat-edge" and edges:
        edges.append(draw(st.sampled_from(edges)))
    elif op == "repeat-node":
        nodes.append(line)
    elif op == "separator":
        nodes[i] = line.replace(" -- ", draw(st.sampled_from(("--", " - ", " -- -- ", "\t--\t"))), 1)
    elif op == "edge-format" and edges:
        k = draw(st.integers(0, len(edges) - 1))
        edges[k] = draw(
            st.sampled_from((edges[k].strip(), edges[k] + " -- node1", "\t", "\t -- ", "  " + edges[k]))
        )
    elif op == "crlf":
        return "\r\n".join(nodes + edges) + "\r\n"
    elif op == "blank":
        return draw(st.sampled_from(("", "\n\n", "\t\n", "   ")))
    elif op == "no-edges":
        edges = []
    elif op == "unicode":
        nodes[i] = line.replace(
            f"node{i + 1} ", draw(st.sampled_from(("nöde ", "node\u00a0", "node\x00 ", "🙂 "))), 1
        )
    elif op == "bad-stage":
        nodes[i] = f"{line} -- stage_id={draw(st.sampled_from(('-1', 'x', '', '1e3', '99999999999')))}"
    elif op == "many-outputs":
        nodes[i] = _drop_item(line, "activation_size").replace(
            "parameter_size=", f"activation_size=[{'; '.join(['1'] * 50)}], parameter_size=", 1
        )
    return "\n".join(nodes + edges) + "\n"


def _drop_item(line: str, key: str) -> str:
    head, _, tail = line.partition(f"{key}=")
    comma = tail.find(", ")
    return head + (tail[comma + 2 :] if comma >= 0 else "")


@pytest.mark.parametrize("mode", MODES)
def test_one_mutation_of_a_valid_graph(mode: str) -> None:
    @fuzz_settings(mode, 12, 100, sample=24)
    @given(
        text=mutated_graphs(),
        command=st.sampled_from(COMMANDS),
        name=st.sampled_from(("m.graph.txt", "g/graph.txt")),
    )
    def run(text: str, command: tuple[str, ...], name: str) -> None:
        with sandbox() as box:
            box.write(name, text)
            check(box, [name if arg == "{F}" else arg for arg in command])

    run()
