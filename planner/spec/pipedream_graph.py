"""Import PipeDream's per-layer profiles (`graph.txt`) as a ModelProfile.

Format (PipeDream's profiler output; see ../shared/profiles/pipedream/README.md). A node line is

    nodeN -- <description> -- forward_compute_time=<ms>, backward_compute_time=<ms>,
        activation_size=<bytes>, parameter_size=<bytes>

(on one line), optionally followed by ` -- stage_id=K`; an edge line starts with a tab:
`\\tnodeA -- nodeB` (A feeds B). The key=value part is the last ` -- ` segment, or the second-to-last
when a `stage_id=K` segment follows, so a description may itself contain ` -- `. `activation_size` of a
node with several outputs is a list, `[a; b; c]` (GNMT's LSTMs). Blank lines are skipped; lines are
numbered from 1, split on newlines only.

What the importer keeps, one Layer per node line (nothing is dropped or merged):

* `name` is the node id (`node4`), `op` the description.
* `forward_time` / `backward_time` in seconds (the file has milliseconds per minibatch).
* `parameter_bytes` is `parameter_size`; `parameters = round(parameter_size / 4)`: PipeDream profiles
  fp32 models, so the count is the byte size over 4 (every size in the shipped profiles is a multiple of 4).
* `output_bytes` is `activation_size`; for a list it is the sum (as PipeDream's parser does) and
  `output_parts` keeps each output's size in file order.
* `inputs` is the tuple of predecessors from the edge lines, in the order those lines appear; a node
  without incoming edges has `inputs=()` (never None, which would mean "the previous layer").
* `is_input` is set for nodes whose description starts with "Input" (PipeDream's data sources). Their
  times are kept as measured (AlexNet's Input carries 636 ms of data loading).
* `stage_id=K` is validated (a non-negative integer) and not kept: a partition is the planner's output.

This is the full DAG with PipeDream's node ids, so PipeDream's chain view (the antichain states it
partitions) can be built later from the profile alone: PipeDream zeroes the Input sources and drops the
`__getitem__` sinks before partitioning; the importer does neither, it keeps what that step needs.

Layer order. PipeDream writes node lines in no particular order, and none of the five published profiles
lists its nodes in a topological order (each has edges from a later line to an earlier one: 11 in AlexNet,
21 in VGG-16, 95 in ResNet-50, 1 in each GNMT). ModelProfile needs every input to be an earlier layer, so
layers come in a stable topological order: of the nodes whose inputs are all placed, the one whose line
comes first goes next. A file whose order is already topological keeps it exactly; the node ids (and
their lines, through the file) identify nodes, not the position.

The profile: `spec: profile`, name from the file name (`vgg16.graph.txt` -> vgg16; `<dir>/graph.txt` ->
`<dir>`), `per: minibatch`, `batch_size` unknown (the file does not say), dtype fp32.

Every malformed input is a SpecError naming the file, the 1-based line and the node or field: a line that
is neither a node nor an edge, a node without key=values, missing, unknown or repeated keys, a value that is
not a finite non-negative number (or above 1e15: a typo, whose sums would overflow), a repeated node id,
an edge naming an undefined node, a repeated edge, a cycle, an empty file, and a file whose nodes (Inputs
aside) all take 0 ms.
"""

from __future__ import annotations

import heapq
import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path

from planner.errors import SpecError
from planner.limits import MAX_GRAPH_VALUE
from planner.spec.profile import Layer, ModelProfile, has_work
from planner.spec.yamlio import read_text

SEPARATOR = " -- "
KEYS = ("forward_compute_time", "backward_compute_time", "activation_size", "parameter_size")
BYTES_PER_PARAMETER = 4  # PipeDream profiles fp32 models

_NODE_ID = re.compile(r"\S+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")  # ASCII digits: see units
_STAGE = re.compile(r"stage_id=(.*)")
_NODE_FORMAT = "nodeN -- <description> -- " + ", ".join(f"{key}=<number>" for key in KEYS)
_LINE_FORMAT = f"a node line '{_NODE_FORMAT}' or an edge line '<tab>nodeA -- nodeB'"


@dataclass(frozen=True)
class _Node:
    node_id: str
    description: str
    values: dict[str, float]
    parts: tuple[float, ...]
    line: int
    position: int  # index among the file's node lines


@dataclass(frozen=True)
class _Edge:
    source: str
    target: str
    line: int

    @property
    def label(self) -> str:
        return f"edge {self.source} -- {self.target}"


def load_graph(path: Path, source: str) -> ModelProfile:
    """Load a PipeDream graph.txt file; any problem is a SpecError naming `source`."""
    return parse_graph(read_text(path, source), source, profile_name(path))


def profile_name(path: Path) -> str:
    """`vgg16.graph.txt` -> vgg16; `resnet50/graph.txt` -> resnet50 (else `graph`)."""
    if path.name.endswith(".graph.txt") and len(path.name) > len(".graph.txt"):
        return path.name[: -len(".graph.txt")]
    if path.name == "graph.txt":
        return path.parent.name or "graph"
    return path.name.split(".")[0] or "graph"


def parse_graph(text: str, source: str, name: str) -> ModelProfile:
    """Parse the text of a PipeDream graph.txt into a per-minibatch ModelProfile (see the module doc)."""
    nodes: dict[str, _Node] = {}
    edges: list[_Edge] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        if line.startswith("\t"):
            edges.append(_parse_edge(line, source, number))
        else:
            node = _parse_node(line, source, number, len(nodes))
            first = nodes.get(node.node_id)
            if first is not None:
                raise SpecError(
                    source,
                    node.node_id,
                    f"a unique node id (first defined on line {first.line})",
                    show_got=False,
                    line=number,
                )
            nodes[node.node_id] = node
    if not nodes:
        raise SpecError(
            source, "", f"expected at least one node line ({_NODE_FORMAT})", show_got=False, line=None
        )
    inputs = _inputs(nodes, edges, source)
    order = _topological_order(nodes, edges, inputs, source)
    layers = tuple(_layer(nodes[node_id], inputs[node_id]) for node_id in order)
    try:
        profile = ModelProfile(
            spec="profile",
            name=name,
            per="minibatch",
            layers=layers,
            batch_size=None,
            dtype="fp32",
            description=(
                f"PipeDream profile: {len(nodes)} nodes, {len(edges)} edges; layers in a stable "
                "topological order of the file's node lines"
            ),
            source=f"pipedream graph.txt: {source}",
        )
    except ValueError as exc:  # not expected: the checks above cover ModelProfile's own
        raise SpecError(source, "", str(exc), show_got=False) from None
    if not has_work(profile):
        raise SpecError(
            source, "", "expected some work: every node but the Inputs takes 0 ms", show_got=False
        )
    return profile


def _parse_edge(line: str, source: str, number: int) -> _Edge:
    ends = line.strip().split(SEPARATOR)
    if len(ends) != 2 or not all(_NODE_ID.fullmatch(end) for end in ends):
        raise SpecError(source, "", "expected an edge line '<tab>nodeA -- nodeB'", line.strip(), number)
    return _Edge(ends[0], ends[1], number)


def _parse_node(line: str, source: str, number: int, position: int) -> _Node:
    segments = line.split(SEPARATOR)
    node_id = segments[0]
    if len(segments) < 2 or not _NODE_ID.fullmatch(node_id):
        raise SpecError(source, "", f"expected {_LINE_FORMAT}", line, number)
    if len(segments) >= 4 and _STAGE.fullmatch(segments[-1]):
        _check_stage(segments[-1], node_id, source, number)
        segments = segments[:-1]
    if len(segments) < 3 or "=" not in segments[-1]:
        raise SpecError(
            source,
            node_id,
            f"expected '<description> -- {', '.join(f'{k}=<number>' for k in KEYS)}'",
            SEPARATOR.join(segments[1:]),
            number,
        )
    description = SEPARATOR.join(segments[1:-1])
    if not description.strip():
        raise SpecError(
            source, node_id, "expected a layer description before the key=values", show_got=False, line=number
        )
    values: dict[str, float] = {}
    parts: tuple[float, ...] = ()
    for item in segments[-1].split(","):
        key, equals, value = item.strip().partition("=")
        if not equals or not key:
            raise SpecError(
                source, node_id, "expected key=value items separated by ', '", item.strip(), number
            )
        field = f"{node_id}.{key}"
        if key not in KEYS:
            raise SpecError(source, field, f"expected one of the keys {', '.join(KEYS)}", key, number)
        if key in values:
            raise SpecError(source, field, "expected each key once", show_got=False, line=number)
        value = value.strip()
        if key == "activation_size" and value.startswith("["):
            parts = _parse_list(value, field, source, number)
            values[key] = math.fsum(parts)
        else:
            values[key] = _parse_number(value, field, source, number)
    for key in KEYS:
        if key not in values:
            raise SpecError(source, f"{node_id}.{key}", "missing required key", show_got=False, line=number)
    return _Node(node_id, description, values, parts, number, position)


def _check_stage(segment: str, node_id: str, source: str, number: int) -> None:
    value = segment[len("stage_id=") :].strip()
    if not re.fullmatch(r"[0-9]{1,9}", value):
        raise SpecError(source, f"{node_id}.stage_id", "expected a non-negative integer", value, number)


def _parse_list(value: str, field: str, source: str, number: int) -> tuple[float, ...]:
    if not value.endswith("]") or not value[1:-1].strip():
        raise SpecError(
            source, field, "expected a number or a list '[a; b; ...]' of byte sizes", value, number
        )
    return tuple(_parse_number(part.strip(), field, source, number) for part in value[1:-1].split(";"))


def _parse_number(value: str, field: str, source: str, number: int) -> float:
    if not _NUMBER.fullmatch(value):
        raise SpecError(source, field, "expected a finite non-negative number", value, number)
    parsed = float(value)
    if not math.isfinite(parsed) or parsed < 0:
        raise SpecError(source, field, "expected a finite non-negative number", value, number)
    if parsed > MAX_GRAPH_VALUE:  # 31,700 years in ms, a petabyte in bytes: a typo; sums would overflow
        raise SpecError(source, field, f"expected a number at most {MAX_GRAPH_VALUE:.0e}", value, number)
    return parsed + 0.0  # -0.0 -> 0.0


def _inputs(nodes: dict[str, _Node], edges: list[_Edge], source: str) -> dict[str, list[str]]:
    """Predecessors of each node in edge-line order; undefined ends and repeated edges are errors."""
    inputs: dict[str, list[str]] = {node_id: [] for node_id in nodes}
    seen: dict[tuple[str, str], int] = {}
    for edge in edges:
        for end in (edge.source, edge.target):
            if end not in nodes:
                raise SpecError(
                    source,
                    edge.label,
                    f"expected nodes defined by node lines; '{end}' is not defined",
                    show_got=False,
                    line=edge.line,
                )
        first = seen.setdefault((edge.source, edge.target), edge.line)
        if first != edge.line:
            raise SpecError(
                source,
                edge.label,
                f"expected each edge once (first on line {first})",
                show_got=False,
                line=edge.line,
            )
        inputs[edge.target].append(edge.source)
    return inputs


def _topological_order(
    nodes: dict[str, _Node], edges: list[_Edge], inputs: dict[str, list[str]], source: str
) -> list[str]:
    """Kahn's algorithm, taking the ready node with the earliest line first; a cycle is an error."""
    consumers: dict[str, list[str]] = {node_id: [] for node_id in nodes}
    waiting = {node_id: len(producers) for node_id, producers in inputs.items()}
    for node_id, producers in inputs.items():
        for producer in producers:
            consumers[producer].append(node_id)
    ready = [(node.position, node_id) for node_id, node in nodes.items() if waiting[node_id] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, node_id = heapq.heappop(ready)
        order.append(node_id)
        for consumer in consumers[node_id]:
            waiting[consumer] -= 1
            if waiting[consumer] == 0:
                heapq.heappush(ready, (nodes[consumer].position, consumer))
    if len(order) < len(nodes):
        _raise_cycle(nodes, edges, inputs, set(order), source)
    return order


def _raise_cycle(
    nodes: dict[str, _Node], edges: list[_Edge], inputs: dict[str, list[str]], placed: set[str], source: str
) -> None:
    # Every unplaced node has an unplaced producer, so walking producers from one must loop.
    start = min((node for node_id, node in nodes.items() if node_id not in placed), key=lambda n: n.position)
    walk = [start.node_id]
    index = {start.node_id: 0}
    while True:
        producer = next(p for p in inputs[walk[-1]] if p not in placed)
        if producer in index:
            loop = walk[index[producer] :]
            break
        index[producer] = len(walk)
        walk.append(producer)
    cycle = [*reversed(loop), loop[-1]]  # producer -> consumer order, closed
    pairs = set(itertools.pairwise(cycle))
    closing = max((edge for edge in edges if (edge.source, edge.target) in pairs), key=lambda e: e.line)
    start_at = cycle.index(closing.target)  # name the cycle so that the closing edge is its last hop
    cycle = cycle[start_at:-1] + cycle[: start_at + 1]
    raise SpecError(
        source,
        closing.label,
        f"expected an acyclic graph; this edge closes the cycle {' -> '.join(cycle)}",
        show_got=False,
        line=closing.line,
    )


def _layer(node: _Node, inputs: list[str]) -> Layer:
    parameter_size = node.values["parameter_size"]
    return Layer(
        name=node.node_id,
        op=node.description,
        forward_time=node.values["forward_compute_time"] / 1000.0,
        backward_time=node.values["backward_compute_time"] / 1000.0,
        parameters=round(parameter_size / BYTES_PER_PARAMETER),
        parameter_bytes=parameter_size,
        output_bytes=node.values["activation_size"],
        output_parts=node.parts,
        inputs=tuple(inputs),
        is_input=node.description.startswith("Input"),
    )
