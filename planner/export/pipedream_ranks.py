"""A pipeline plan in PipeDream's runtime terms: `stage_to_num_ranks_map`, each node's stage, and the
runtime's `stage_to_rank_map`.

Source: msr-fiddle/pipedream. `optimizer/convert_graph_to_model.py` takes `--stage_to_num_ranks_map
0:3,1:1` (comma-separated `stage_id:num_ranks`, one entry per generated stage module, asserted) and
gives stage i the ranks after those of the stages before it, contiguously; it reads each graph node's
stage from the `stage_id` that `optimizer_graph_hierarchical.py` sets on every node of a stage's down-set
(the node lines of its output graph end in ` -- stage_id=K`). It writes the runtime's configuration
(`runtime/image_classification/models/vgg16/gpus=16/hybrid_conf.json`): `module_to_stage_map`, one entry
per generated module with the criterion last, on the last stage (`[0, 1, 1]`), and `stage_to_rank_map`,
stage id (a string) -> ranks (`{"0": [0, ..., 14], "1": [15]}` for VGG-16's 15-1).

What is exported: the map string with the plan's replicas; the stage of every profile layer (a PipeDream
graph's node ids are its layer names; Input nodes sit on stage 0, as the optimizer puts them); and the
`hybrid_conf.json` content with the plan's own devices as ranks (rank r on device r, devices numbered
innermost level first). When those devices are not the contiguous blocks convert_graph_to_model.py
assigns, a note says so: the map alone would place the stages elsewhere.
"""

from __future__ import annotations

from typing import Any

from planner.export import PipelinePlan

ENGINE = "PipeDream (msr-fiddle/pipedream)"


def stage_to_num_ranks(plan: PipelinePlan) -> str:
    """ "0:15,1:1": stage id, colon, its number of ranks (replicas), comma-separated, in stage order."""
    return ",".join(f"{k}:{stage.replicas}" for k, stage in enumerate(plan.stages))


def hybrid_conf(plan: PipelinePlan) -> dict[str, Any]:
    """The runtime configuration: one module per stage plus the criterion (on the last stage), and the
    plan's devices as each stage's ranks."""
    last = plan.num_stages - 1
    return {
        "module_to_stage_map": [*range(plan.num_stages), last],
        "stage_to_rank_map": {str(k): sorted(stage.devices) for k, stage in enumerate(plan.stages)},
    }


def contiguous_ranks(plan: PipelinePlan) -> bool:
    """Whether stage k's devices are the block right after stage k-1's, from 0 (convert_graph_to_model.py's
    assignment)."""
    offset = 0
    for stage in plan.stages:
        if sorted(stage.devices) != list(range(offset, offset + stage.replicas)):
            return False
        offset += stage.replicas
    return True


def export(plan: PipelinePlan) -> dict[str, Any]:
    """The map string, node -> stage, the runtime configuration and notes."""
    mapping = stage_to_num_ranks(plan)
    conf = hybrid_conf(plan)
    notes = [
        "convert_graph_to_model.py --stage_to_num_ranks_map "
        f"{mapping} reads each node's stage from the ' -- stage_id=K' field of the graph it is given: "
        "write node_stages there (or partition with PipeDream's optimizer)"
    ]
    contiguous = contiguous_ranks(plan)
    if not contiguous:
        notes.append(
            "the plan's devices per stage are not contiguous rank blocks in stage order, which is what "
            "convert_graph_to_model.py assigns: use stage_to_rank_map (hybrid_conf.json) to keep the "
            "placement"
        )
    return {
        "engine": ENGINE,
        "num_stages": plan.num_stages,
        "stage_to_num_ranks_map": mapping,
        "ranks": plan.devices_used,
        "node_stages": plan.stage_of(),
        "hybrid_conf": conf,
        "contiguous_ranks": contiguous,
        "artifact": mapping + "\n",
        "artifact_kind": "text",
        "notes": notes,
    }
