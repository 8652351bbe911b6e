"""Structure-aware YAML inputs: valid seed documents with one mutation each.

Seeds are the shipped catalog files (devices, clusters, CNN architectures, LLM configs, the fleet) and
small hand-written documents for the kinds the catalog ships none of (a layer profile, a label
partition, a Hugging Face config.json). A mutation changes one thing: a value (wrong type, unit, huge or
tiny number, NaN/inf, unicode, a deep structure), a key (dropped, unknown, misspelt), a list (emptied,
one item repeated), or the text itself (duplicate key, anchors and aliases, merge keys, tags such as
!!python/object, nesting deeper than the limit, an alias bomb, truncation, a BOM, CRLF, invalid UTF-8).
Generated sizes are bounded: every document stays under a few hundred kilobytes.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]

PROFILE = {
    "spec": "profile",
    "name": "tiny",
    "per": "minibatch",
    "batch_size": 32,
    "dtype": "fp32",
    "layers": [
        {"name": "input", "is_input": True, "output_bytes": "600 KiB"},
        {
            "name": "conv",
            "op": "Conv2d",
            "forward_time": "2 ms",
            "backward_time": "4 ms",
            "parameters": 1792,
            "output_bytes": "12 MiB",
        },
        {"name": "relu", "forward_time": "0.5 ms", "backward_time": "0.6 ms", "output_bytes": "12 MiB"},
        {
            "name": "fc",
            "forward_flops": "2 GFLOP",
            "backward_flops": "4 GFLOP",
            "forward_time": "1 ms",
            "backward_time": "2 ms",
            "parameters": 1000000,
            "parameter_bytes": "4 MB",
            "output_bytes": "4 KiB",
            "inputs": ["relu", "conv"],
        },
    ],
}
SMALL_CNN = {
    "spec": "cnn",
    "name": "small-cnn",
    "input_shape": [3, 32, 32],
    "layers": [
        {"conv": {"out": 16, "kernel": 3, "padding": 1}},
        {"bn": {}},
        {"relu": {}},
        {"maxpool": {"kernel": 2}},
        {"basic": {"planes": 16, "blocks": 1}},
        {"repeat": {"times": 2, "layers": [{"conv": {"out": 16, "kernel": 3, "padding": 1}}, {"relu": {}}]}},
        {"adaptive_avgpool": {"output": 1}},
        {"flatten": {}},
        {"dropout": {"p": 0.1}},
        {"fc": {"out": 10}},
    ],
}
SMALL_CLUSTER = {
    "spec": "cluster",
    "name": "tiny-cluster",
    "device": {
        "spec": "device",
        "name": "tiny-gpu",
        "kind": "gpu",
        "peak_compute": {"fp32": "10 TFLOPS", "fp16": "40 TFLOPS", "bf16": "40 TFLOPS"},
        "memory": "16 GiB",
        "memory_bandwidth": "500 GB/s",
        "compute_efficiency": 0.7,
        "price": {"usd_per_hour": 1.5, "date": "2026-01-01", "source": "made up"},
    },
    "levels": [
        {"name": "gpu", "count": 2, "link": {"bandwidth": "50 GB/s", "latency": "5 us", "efficiency": 0.9}},
        {"name": "server", "count": 2, "link": {"bandwidth": "10 Gbps", "latency": "20 us"}},
    ],
    "price": {"usd_per_hour": 3.0, "date": "2026-01-01", "source": "made up"},
}
PARTITION = {"spec": "partition", "counts": [[5, 0, 3], [0, 7, 1], [2, 2, 2]], "classes": ["a", "b", "c"]}
HF_LLAMA = {
    "model_type": "llama",
    "hidden_size": 512,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "intermediate_size": 1376,
    "vocab_size": 32000,
    "max_position_embeddings": 2048,
    "tie_word_embeddings": False,
}
HF_GPT2 = {
    "model_type": "gpt2",
    "n_embd": 256,
    "n_layer": 4,
    "n_head": 4,
    "vocab_size": 5000,
    "n_positions": 512,
}
HF_T5 = {
    "model_type": "t5",
    "d_model": 256,
    "num_layers": 2,
    "num_heads": 4,
    "d_kv": 64,
    "d_ff": 1024,
    "vocab_size": 5000,
    "feed_forward_proj": "gated-gelu",
}

# catalog files too large to be worth fuzzing many times (every example re-derives them)
_SKIP = {"resnet101.yaml", "resnet152.yaml", "wide_resnet50_2.yaml", "resnext50_32x4d.yaml"}


@cache
def seeds(kind: str) -> tuple[tuple[str, Any], ...]:
    """Valid documents of one kind: (name, data) pairs."""
    extra = {
        "device": [],
        "cluster": [("tiny-cluster", SMALL_CLUSTER)],
        "profile": [("tiny", PROFILE)],
        "cnn": [("small-cnn", SMALL_CNN)],
        "llm": [],
        "fleet": [],
        "partition": [("partition", PARTITION)],
        "hf": [("llama", HF_LLAMA), ("gpt2", HF_GPT2), ("t5", HF_T5)],
    }[kind]
    found: list[tuple[str, Any]] = []
    if kind not in ("profile", "partition", "hf"):
        for path in sorted(
            (*REPO.glob("hardware/**/*.yaml"), *REPO.glob("models/**/*.yaml"), *REPO.glob("fleets/*.yaml"))
        ):
            if path.name in _SKIP:
                continue
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and data.get("spec") == kind:
                found.append((path.stem, data))
    return tuple(found + extra)


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value in a document (the root excluded)."""
    found: list[tuple[Any, ...]] = []
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        found.append((*prefix, key))
        found.extend(paths(value, (*prefix, key)))
    return found


def _get_parent(data: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        data = data[key]
    return data


UNITS = (
    *("B", "KB", "KiB", "MB", "MiB", "GB", "GiB", "TB", "B/s", "GB/s", "GiB/s", "Gbps", "Mbps"),
    *("bps", "Gb/s", "FLOP", "GFLOP", "TFLOP", "FLOPS", "TFLOPS", "FLOP/s", "TFLOP/s", "TFLOPs"),
    *("s", "ms", "us", "µs", "ns", "min", "h", "W", "kW", "mW", "parsec", "GB/h", "B/s/s", "%"),
    *("",),
)
NUMBERS = (
    *("0", "-0", "1", "-1", "1e400", "-1e400", "1e-400", "1e308", "1e-308", "5e-324", "nan"),
    *("NaN", "inf", "-inf", "Infinity", "1_000", "0x10", "1,5", "1.", ".5", "1e", "--1", "+2"),
    *("1/2", "½", "١٢٣", "1e3", "123456789012345678901234567890"),
    # huge and tiny but finite (issue 13: 1e-300 B/s, 1e30 TFLOPS and 0.5 B loaded, then divided by zero
    # or printed inf), int64 edges
    *("1e-300", "1e300", "1e-30", "1e30", "0.5", "1e15", "9223372036854775807", "9223372036854775808"),
)
SPECIAL_VALUES: tuple[Any, ...] = (
    *(None, True, False, 0, -1, 1, 2**31, 2**63, 2**64 + 1, 10**40, -(10**40), 0.5, 1.0000000001),
    # counts a machine cannot work through in seconds, int64 edges, huge and tiny finite floats
    *(100_000, 1_000_000, 10**9, 10**18, 10**21, 2**63 - 1, -(2**63), 1e-300, 1e300, 1e-30, 1e30),
    *(0.0, -0.0, 1e-320, 5e-324, 1e308, 1.7976931348623157e308, math.nan, math.inf, -math.inf),
    *("", " ", "0", "nan", ".nan", ".inf", "1e3", "yes", "no", "~", "null", "\x00", "a\nb", "\t", "x" * 5000),
    *("ä", "漢字", "🙂", "\u202e", "fp32", "fp64", "int8", "v100-sxm2-16gb", "pipedream-cluster-a", "gpt2"),
    *([], [1], ["a"], [None], [[]], {}, {"a": 1}, {"": None}, [[[[[[[[1]]]]]]]]),
)

quantities = st.builds(
    lambda n, sep, u: f"{n}{sep}{u}",
    st.one_of(st.sampled_from(NUMBERS), st.floats(allow_nan=True, allow_infinity=True).map(repr)),
    st.sampled_from(("", " ", "  ", "\t")),
    st.sampled_from(UNITS),
)
values = st.one_of(
    st.sampled_from(SPECIAL_VALUES),
    quantities,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.lists(st.integers(-5, 5), max_size=4),
)


@st.composite
def mutated_data(draw: st.DrawFn, kind: str) -> tuple[str, Any, str]:
    """(seed name, mutated data, what was done) for a data-level mutation of a seed of `kind`."""
    name, seed = draw(st.sampled_from(seeds(kind)))
    data = copy.deepcopy(seed)
    where = draw(st.sampled_from(paths(data) or [()]))
    op = draw(st.sampled_from(("value", "value", "value", "drop", "unknown", "misspell", "list", "swap")))
    if not where:
        return name, draw(values), "root replaced"
    parent = _get_parent(data, where)
    key = where[-1]
    if op == "value":
        parent[key] = draw(values)
    elif op == "drop":
        if isinstance(parent, dict):
            del parent[key]
        else:
            parent.pop(key)
    elif op == "unknown" and isinstance(parent, dict):
        parent[
            draw(st.sampled_from(("extra", "Name", "levels ", "peak_compute", "<<", "spec", "🙂", "1")))
        ] = draw(values)
    elif op == "misspell" and isinstance(parent, dict):
        parent[f"{key}s" if isinstance(key, str) else key] = parent.pop(key)
    elif op == "list":
        target = parent[key]
        if isinstance(target, list):
            parent[key] = draw(st.sampled_from(([], target * 2, target[:1], target[::-1])))
        elif isinstance(target, dict):
            parent[key] = draw(st.sampled_from(({}, [target], list(target))))
        else:
            parent[key] = [target]
    else:  # swap a value between two places
        other = draw(st.sampled_from(paths(data)))
        with contextlib.suppress(KeyError, IndexError, TypeError):  # the other place may be gone
            there = _get_parent(data, other)
            parent[key], there[other[-1]] = there[other[-1]], parent[key]
    return name, data, f"{op} at {list(where)}"


def dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=200)


TEXT_OPS = (
    *("none",) * 4,
    *("dup-key", "tag", "anchor", "merge", "bomb", "deep", "truncate", "bom", "crlf", "bytes"),
    *("multi-doc", "tabs", "empty", "scalar", "long-key"),
)
TAGS = (
    "!!python/object:os.system",
    '!!python/object/apply:os.system ["echo pwned > pwned.txt"]',
    "!!python/name:os.system",
    "!!python/tuple [1, 2]",
    "!!binary aGVsbG8=",
    "!!set {a, b}",
    "!!omap [{a: 1}]",
    "!!timestamp 2001-12-14",
    "!!float nan",
    "!!float .inf",
    "!!int 0x1F",
    "!!str 12",
    "!!null ''",
    "!custom 1",
    "!<tag:yaml.org,2002:python/object/new:os.system> [ls]",
)


@st.composite
def mutated_text(draw: st.DrawFn, kind: str) -> tuple[str, str | bytes, str]:
    """(seed name, document text or bytes, what was done): a data mutation, or a text-level one."""
    name, data, what = draw(mutated_data(kind))
    text = json.dumps(data, indent=2, allow_nan=True) if kind == "hf" else dump(data)
    op = draw(st.sampled_from(TEXT_OPS))
    lines = text.splitlines()
    if op == "none":
        return name, text, what
    if op == "dup-key":
        index = draw(st.integers(0, len(lines) - 1))
        lines.insert(index, lines[index])
        return name, "\n".join(lines) + "\n", "duplicated line"
    if op == "tag":
        index = draw(st.integers(0, len(lines) - 1))
        head, sep, _ = lines[index].partition(": ")
        tag = draw(st.sampled_from(TAGS))
        lines[index] = f"{head}: {tag}" if sep else f"{head} {tag}"
        return name, "\n".join(lines) + "\n", f"tag {tag}"
    if op == "anchor":
        return (
            name,
            f"{text}x-anchor: &a {{bandwidth: 1 GB/s}}\nx-alias: *a\nx-missing: *nowhere\n",
            "anchors",
        )
    if op == "merge":
        merge = draw(st.sampled_from(("<<: *a", "<<: [*a, *a]", "<<: 5", "<<: [1, 2]", "<<: {spec: device}")))
        return name, f"base: &a {{name: merged}}\n{merge}\n{text}", f"merge {merge}"
    if op == "bomb":
        levels = draw(st.integers(3, 9))
        bomb = ['l0: &l0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
        bomb += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
        return name, text + "\n".join(bomb) + "\n", f"alias bomb of 9^{levels}"
    if op == "deep":
        depth = draw(st.sampled_from((63, 64, 65, 200, 5000, 20000)))
        nest = draw(st.sampled_from(("[", "{a: ")))
        close = "]" if nest == "[" else "}"
        return name, f"{text}deep: {nest * depth}1{close * depth}\n", f"nesting {depth} deep"
    if op == "truncate":
        cut = draw(st.integers(0, len(text)))
        return name, text[:cut], f"truncated at {cut}"
    if op == "bom":
        return name, "\ufeff" + text, "BOM"
    if op == "crlf":
        return name, text.replace("\n", "\r\n"), "CRLF"
    if op == "bytes":
        cut = draw(st.integers(0, len(text)))
        junk = draw(st.sampled_from((b"\xff\xfe", b"\x80", b"\x00", b"\xc3\x28", b"\xed\xa0\x80")))
        raw = text.encode("utf-8")
        return name, raw[:cut] + junk + raw[cut:], f"invalid UTF-8 at {cut}"
    if op == "multi-doc":
        return name, f"{text}---\n{text}", "two documents"
    if op == "tabs":
        return name, text.replace("  ", "\t"), "tabs for indentation"
    if op == "empty":
        return name, draw(st.sampled_from(("", "\n", "~\n", "---\n", "# only a comment\n", "...\n"))), "empty"
    if op == "scalar":
        return (
            name,
            draw(st.sampled_from(("42\n", "[1, 2]\n", "'text'\n", "spec\n", "- spec: device\n"))),
            "scalar",
        )
    return name, f"{'k' * 100_000}: 1\n{text}", "a 100,000-character key"
