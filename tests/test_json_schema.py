"""JSON Schemas of the YAML formats: generated from the spec dataclasses, shipped, in step with the loader.

The shipped files (planner/spec/schemas/*.schema.json) must equal the generator's output. After changing a
spec dataclass, refresh them on purpose:

    PLANNER_UPDATE_SCHEMAS=1 python -m pytest -q tests/test_json_schema.py -k shipped
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.errors import SpecError
from planner.spec.catalog import SPEC_TYPES, build_spec, catalog_dir
from planner.spec.json_schema import (
    KINDS,
    SCHEMA_DIR,
    SCHEMA_TYPES,
    dumps_schema,
    json_schema,
    schema_filename,
    write_schemas,
)
from planner.spec.schema import build
from planner.spec.yamlio import load_yaml, parse_yaml
from planner.units import accepted_units, parse_quantity
from planner.validate.cases import CASES_DIR

jsonschema = pytest.importorskip("jsonschema")

REPO = Path(__file__).resolve().parents[1]


def _validator(kind: str) -> Any:
    return jsonschema.Draft202012Validator(json_schema(kind))


def _draft7(kind: str) -> Any:
    """The same schema read by a draft-07 validator, as editors limited to draft-07 read it (VS Code's
    YAML extension): the generator emits only keywords both drafts read alike."""
    return jsonschema.Draft7Validator(json_schema(kind))


def _catalog_files() -> list[Path]:
    files = [
        p for area in ("hardware", "models", "fleets") for p in sorted(catalog_dir(area).rglob("*.yaml"))
    ]
    return [*files, *sorted(CASES_DIR.glob("*.yaml"))]


def _load(kind: str, doc: dict[str, Any]) -> Any:
    """Load `doc` the way planner does (through YAML text, so PyYAML's reading applies)."""
    parsed = parse_yaml(yaml.safe_dump(doc, sort_keys=False), "test.yaml")
    if kind in SPEC_TYPES:
        return build_spec(parsed, (kind,))
    from planner.spec.json_schema import _load as load_class

    return build(load_class(SCHEMA_TYPES[kind]), parsed)


def test_kinds_cover_every_spec_type_and_the_cli_lists_them() -> None:
    from planner.cli.schema import KIND_NAMES

    assert set(SPEC_TYPES) <= set(KINDS)
    assert {"partition", "validation", "any"} <= set(KINDS)
    assert tuple(KIND_NAMES) == KINDS


@pytest.mark.parametrize("kind", KINDS)
def test_schema_is_valid_draft_2020_12(kind: str) -> None:
    schema = json_schema(kind)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft7Validator.check_schema(schema)


@pytest.mark.parametrize("kind", KINDS)
def test_shipped_schema_equals_the_generator(kind: str) -> None:
    path = SCHEMA_DIR / schema_filename(kind)
    if os.environ.get("PLANNER_UPDATE_SCHEMAS"):
        write_schemas()
    assert path.is_file(), f"{path} is missing; refresh with PLANNER_UPDATE_SCHEMAS=1 (see module doc)"
    assert path.read_text(encoding="utf-8") == dumps_schema(json_schema(kind)), (
        f"{path.name} is stale; refresh with PLANNER_UPDATE_SCHEMAS=1 (see module doc)"
    )


def test_no_stray_shipped_schemas() -> None:
    assert sorted(p.name for p in SCHEMA_DIR.glob("*.json")) == sorted(schema_filename(k) for k in KINDS)


def test_every_catalog_and_case_file_validates() -> None:
    files = _catalog_files()
    kinds = set()
    any_kind = _validator("any")
    for path in files:
        data = load_yaml(path).data
        kinds.add(data["spec"])
        errors = [e.message for e in _validator(data["spec"]).iter_errors(data)]
        assert not errors, (path, errors[:3])
        assert any_kind.is_valid(data), path
        assert _draft7(data["spec"]).is_valid(data), path
    assert {"device", "cluster", "cnn", "llm", "fleet", "validation"} <= kinds
    assert len(files) > 40


# Kinds the catalog ships no file of: a minimal valid document each, which the loader accepts too.
PROFILE = {
    "spec": "profile",
    "name": "tiny",
    "per": "minibatch",
    "batch_size": 32,
    "layers": [
        {"name": "input", "is_input": True, "output_bytes": "1 MiB"},
        {"name": "fc1", "forward_time": "2 ms", "backward_time": "4 ms", "parameters": 100},
        {
            "name": "fc2",
            "forward_flops": "1.5 GFLOP",
            "forward_time": "1 ms",
            "inputs": ["fc1"],
            "output_bytes": "0.5 MB",
        },
    ],
}
PARTITION = {"spec": "partition", "counts": [[3, 0], [1, 2]], "classes": ["cat", "dog"]}


@pytest.mark.parametrize(("kind", "doc"), [("profile", PROFILE), ("partition", PARTITION)])
def test_documents_of_unshipped_kinds_validate_and_load(kind: str, doc: dict[str, Any]) -> None:
    assert _validator(kind).is_valid(doc)
    assert _validator("any").is_valid(doc)
    _load(kind, doc)


def _catalog_doc(relative: str) -> dict[str, Any]:
    return load_yaml(REPO / relative).data


def _mutated(relative: str, path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """The catalog file at `relative` with the value at `path` replaced (or deleted: value DELETE)."""
    doc = copy.deepcopy(_catalog_doc(relative))
    node = doc
    for key in path[:-1]:
        node = node[key]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


DELETE = object()
DEVICE = "hardware/devices/v100-sxm2-16gb.yaml"
CLUSTER = "hardware/systems/pipedream-cluster-a.yaml"
LLM = "models/llm/gpt2.yaml"
CNN = "models/cnn/resnet18.yaml"
FLEET = "fleets/mixed-edge.yaml"
MALFORMED = {
    "unknown key": ("device", lambda: _mutated(DEVICE, ("memroy",), "16 GiB")),
    "bits for memory": ("device", lambda: _mutated(DEVICE, ("memory",), "16 Gb")),
    "no unit": ("device", lambda: _mutated(DEVICE, ("memory",), "16")),
    "number for a unit": ("device", lambda: _mutated(DEVICE, ("memory_bandwidth",), 900e9)),
    "negative memory": ("device", lambda: _mutated(DEVICE, ("memory",), "-16 GiB")),
    "zero memory": ("device", lambda: _mutated(DEVICE, ("memory",), "0 GiB")),
    "efficiency above 1": ("device", lambda: _mutated(DEVICE, ("compute_efficiency",), 1.5)),
    "unknown dtype": ("device", lambda: _mutated(DEVICE, ("peak_compute", "fp2"), "1 PFLOPS")),
    "empty name": ("device", lambda: _mutated(DEVICE, ("name",), "")),
    "wrong marker": ("device", lambda: _mutated(DEVICE, ("spec",), "gpu")),
    "no levels": ("cluster", lambda: _mutated(CLUSTER, ("levels",), [])),
    "zero count": ("cluster", lambda: _mutated(CLUSTER, ("levels", 0, "count"), 0)),
    "negative latency": ("cluster", lambda: _mutated(CLUSTER, ("levels", 0, "link", "latency"), "-5 us")),
    "missing field": ("llm", lambda: _mutated(LLM, ("hidden_size",), DELETE)),
    "string for an integer": ("llm", lambda: _mutated(LLM, ("hidden_size",), "768")),
    "boolean for an integer": ("llm", lambda: _mutated(LLM, ("num_layers",), True)),
    "unknown architecture": ("llm", lambda: _mutated(LLM, ("architecture",), "encoder")),
    "two layer types": (
        "cnn",
        lambda: _mutated(CNN, ("layers", 0), {"conv": {"out": 8, "kernel": 3}, "relu": {}}),
    ),
    "unknown layer type": ("cnn", lambda: _mutated(CNN, ("layers", 1), {"pool": {"kernel": 2}})),
    "layer without settings": ("cnn", lambda: _mutated(CNN, ("layers", 1), {"relu": None})),
    "fleet class without uplink": ("fleet", lambda: _mutated(FLEET, ("classes", 0, "uplink"), DELETE)),
    "availability 0": ("fleet", lambda: _mutated(FLEET, ("classes", 0, "availability"), 0)),
    "profile per batch": ("profile", lambda: {**PROFILE, "per": "batch"}),
    "profile without layers": ("profile", lambda: {**PROFILE, "layers": []}),
    "partition of strings": ("partition", lambda: {**PARTITION, "counts": [["3", "0"]]}),
    "case without tolerance": (
        "validation",
        lambda: {"spec": "validation", "cases": [{k: v for k, v in _case().items() if k != "tolerance_pct"}]},
    ),
    "case with a word for published": (
        "validation",
        lambda: {"spec": "validation", "cases": [{**_case(), "published": "many"}]},
    ),
}


def _case() -> dict[str, Any]:
    return dict(load_yaml(CASES_DIR / "communication.yaml").data["cases"][0])


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_documents_fail_the_schema_and_the_loader(name: str) -> None:
    kind, make = MALFORMED[name]
    doc = make()
    assert not _validator(kind).is_valid(doc), name
    assert not _validator("any").is_valid(doc), name
    assert not _draft7(kind).is_valid(doc), name
    with pytest.raises(SpecError):
        _load(kind, doc)


def test_the_mutations_start_from_valid_documents() -> None:
    for relative in (DEVICE, CLUSTER, LLM, CNN, FLEET):
        doc = _catalog_doc(relative)
        assert _validator(doc["spec"]).is_valid(doc), relative
    assert _validator("validation").is_valid({"spec": "validation", "cases": [_case()]})


def test_float_fields_accept_what_pyyaml_reads_as_a_string() -> None:
    # `published: 1.4e9` is a string to PyYAML (YAML 1.1) and a number to an editor (YAML 1.2)
    doc = {"spec": "validation", "cases": [{**_case(), "published": "1.4e9"}]}
    assert _validator("validation").is_valid(doc)
    assert _load("validation", doc).cases[0].published == 1.4e9


def test_cnn_layer_is_a_one_key_union_of_every_layer_type() -> None:
    import dataclasses

    from planner.spec.architecture import LAYER_KINDS, CNNLayer

    layer = json_schema("cnn")["$defs"]["CNNLayer"]
    keys = [next(iter(option["required"])) for option in layer["oneOf"]]
    assert keys == [f.name for f in dataclasses.fields(CNNLayer)]
    assert set(LAYER_KINDS.values()) <= set(keys)
    # the recursive `repeat` refers back to the layer union
    assert json_schema("cnn")["$defs"]["Repeat"]["properties"]["layers"]["items"] == {
        "$ref": "#/$defs/CNNLayer"
    }


def test_required_defaults_and_bounds_come_from_the_spec_fields() -> None:
    device = json_schema("device")
    assert device["required"] == ["spec", "name", "kind", "peak_compute", "memory", "memory_bandwidth"]
    assert device["additionalProperties"] is False
    efficiency = device["properties"]["compute_efficiency"]
    assert efficiency["default"] == 0.7  # DEFAULT_COMPUTE_EFFICIENCY (issue 20: never a silent 1.0)
    assert efficiency["anyOf"][0] == {"type": "number", "minimum": 1e-6, "maximum": 1}  # limits.FRACTION
    assert "description" not in {
        k for k, v in device["properties"].items() if "default" in v and v["default"] == ""
    }
    link = json_schema("cluster")["$defs"]["Link"]["properties"]
    assert link["latency"]["default"] == "0 s"  # an SI default written back with its unit
    assert "us" in link["latency"]["description"]


UNIT_SAMPLES = ["16 GiB", "16GiB", " 1.5e3 ms ", ".5 TB/s", "10 Gbps", "4.1 GMAC", "-3 W", "+2 kW", "0 s"]
UNIT_NEAR_MISSES = [
    "16 Gb",
    "16 gib",
    "16",
    "GiB",
    "nan GB",
    "inf s",
    "1 FLOPs",
    "1e GB",
    "16 GiB GiB",
    "",
    "1.2.3 s",
]


@pytest.mark.parametrize("kind", ["bandwidth", "compute", "flops", "memory", "time", "power"])
def test_unit_pattern_accepts_exactly_what_parse_quantity_accepts(kind: str) -> None:
    from planner.spec.json_schema import _unit_schema

    pattern = re.compile(_unit_schema({"unit": kind})["pattern"])
    candidates = [
        f"{n}{sep}{u}" for n in ("7", "0.25", "-1e3", "3.") for sep in ("", " ") for u in accepted_units(kind)
    ]
    candidates += (
        UNIT_SAMPLES
        + UNIT_NEAR_MISSES
        + [f"2 {u}" for k in ("memory", "time", "compute") for u in accepted_units(k)]
    )
    for text in candidates:
        try:
            parse_quantity(text, kind)
            parses = True
        except ValueError:
            parses = False
        assert bool(pattern.search(text)) == parses, (kind, text)


def test_schema_command_prints_the_generated_schema(run_cli: Any) -> None:
    result = run_cli("schema", "cluster")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == json_schema("cluster")
    assert result.stdout == dumps_schema(json_schema("cluster"))


def test_schema_command_writes_a_file_and_never_overwrites_without_force(
    run_cli: Any, tmp_path: Path
) -> None:
    out = tmp_path / "device.schema.json"
    assert run_cli("schema", "device", "--output", str(out)).exit_code == 0
    assert out.read_text(encoding="utf-8") == dumps_schema(json_schema("device"))
    out.write_text("mine", encoding="utf-8")
    refused = run_cli("schema", "device", "--output", str(out))
    assert refused.exit_code == 2
    assert "--force" in refused.stderr and "Traceback" not in refused.stderr + refused.stdout
    assert out.read_text(encoding="utf-8") == "mine"
    assert run_cli("schema", "device", "--output", str(out), "--force").exit_code == 0
    assert json.loads(out.read_text(encoding="utf-8")) == json_schema("device")


def test_schema_command_rejects_an_unknown_kind(run_cli: Any) -> None:
    result = run_cli("schema", "gpu")
    assert result.exit_code == 2
    assert "KIND" in result.stderr and "device" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
