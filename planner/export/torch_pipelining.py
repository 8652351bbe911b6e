"""A pipeline plan as split points for `torch.distributed.pipelining` (its `split_spec`).

Source: PyTorch documentation, "Pipeline Parallelism" (docs/source/distributed.pipelining.md, Option 2:
splitting a model automatically): `pipeline(module, mb_args, split_spec={"layers.1":
SplitPoint.BEGINNING})`, where `SplitPoint.BEGINNING` adds a split point before the execution of the named
submodule in `forward` and `SplitPoint.END` after it; keys are fully-qualified submodule names (FQNs), and
the partitions come out as `submod_0`, `submod_1`, ... (torch/distributed/pipelining/_IR.py:
`class SplitPoint(Enum): BEGINNING = 1; END = 2`, `split_spec: dict[str, SplitPoint]`).

What is exported: for every stage but the first, the first of its layers in the profile's order, with
`SplitPoint.BEGINNING`; S stages give S - 1 split points. The JSON form writes the enum member's name
(`{"conv3_1": "BEGINNING"}`; `{k: SplitPoint[v] for k, v in spec.items()}` rebuilds it).

Conditions, each checked or stated:
* The tracer cuts `forward` in execution order, so a stage must be a contiguous run of the profile's
  layer order (taken to be the execution order); a plan whose stages interleave in that order (a branchy
  graph cut across its branches) is `NotExpressible`.
* The names are the profile's layer names, and must be submodule FQNs of the model being split: the
  catalog ResNets use torchvision's (`layer3.0.conv1`); a layer that is a functional op in the model
  (`layer1.0.add`) or a PipeDream graph node (`node4`) names no module, and must be mapped by hand.
* `pipeline` builds one stage per rank. Data parallelism composes with it on a 2-D device mesh (pipeline
  × data), which gives every stage the same data-parallel degree: a plan that replicates its stages
  unequally ("15-1") keeps its split points here, not its replication (a note says so).
"""

from __future__ import annotations

import json
from typing import Any

from planner.export import NotExpressible, PipelinePlan

ENGINE = "torch.distributed.pipelining"
SPLIT_POINT = "BEGINNING"  # SplitPoint.BEGINNING: split before the named submodule runs


def split_spec(plan: PipelinePlan) -> dict[str, str]:
    """{FQN of the first layer of stage k: "BEGINNING"} for k = 1 .. S-1, in stage order.

    Raises NotExpressible when a stage is not a contiguous run of the profile's layer order.
    """
    bounds = plan.boundaries()
    if bounds is None:
        raise NotExpressible(
            f"the stages of {plan.model or 'this plan'} are not contiguous runs of the order the profile "
            f"lists its layers in (taken as forward's execution order), so {ENGINE}'s split points, which "
            "cut forward in execution order, cannot express them"
        )
    return {plan.layer_names[start]: SPLIT_POINT for start in bounds[1:-1]}


def python_snippet(spec: dict[str, str], plan: PipelinePlan) -> str:
    """Python source that builds the split_spec and shows the `pipeline` call it feeds."""
    replicas = "-".join(str(r) for r in plan.replicas)
    lines = [
        f"# {ENGINE} split points for {plan.model or 'the model'}: {plan.num_stages} stage(s), "
        f"replicas {replicas} (planner export)",
        "from torch.distributed.pipelining import SplitPoint, pipeline",
        "",
        "split_spec = {",
        *(f"    {json.dumps(name)}: SplitPoint.{point}," for name, point in spec.items()),
        "}",
        "# pipe = pipeline(module=model, mb_args=(example_microbatch,), split_spec=split_spec)",
        "# stage i: pipe.build_stage(i, device, group)",
    ]
    return "\n".join(lines) + "\n"


def export(plan: PipelinePlan) -> dict[str, Any]:
    """The split_spec (JSON form and Python source), the stages it gives, and notes on what it leaves out."""
    spec = split_spec(plan)
    bounds = plan.boundaries() or []
    replicas = plan.replicas
    notes = [
        "keys are the profile's layer names: they must be submodule FQNs of the model you split "
        "(a functional op or a PipeDream node id names no module)"
    ]
    uniform = len(set(replicas)) == 1
    if uniform and replicas[0] > 1:
        notes.append(
            f"every stage has {replicas[0]} replicas: run {plan.num_stages} stage(s) × {replicas[0]} "
            "data-parallel replicas on a 2-D device mesh (DDP or FSDP on each stage module)"
        )
    elif not uniform:
        notes.append(
            f"this plan replicates its stages unequally ({'-'.join(map(str, replicas))}); {ENGINE} composed "
            "with data parallelism on a device mesh gives every stage the same degree, so these split points "
            "reproduce the stages, not their replication"
        )
    return {
        "engine": ENGINE,
        "num_stages": plan.num_stages,
        "split_points": list(spec),
        "split_spec": spec,
        "replicas": list(replicas),
        "uniform_replication": uniform,
        "stages": [
            {"first_layer": plan.layer_names[start], "layers": end - start, "replicas": stage.replicas}
            for stage, start, end in zip(plan.stages, bounds[:-1], bounds[1:], strict=True)
        ],
        "artifact": python_snippet(spec, plan),
        "artifact_kind": "python",
        "notes": notes,
    }
