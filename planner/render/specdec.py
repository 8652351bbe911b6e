"""Tables of speculative decoding (planner.api.specdec, specdec_models, specdec_tree): the gamma tables, the
token tree and the Monte Carlo checks; no computing here."""

from __future__ import annotations

from typing import Any


def speedup_tables(payload: dict[str, Any]) -> list[Any]:
    from rich.text import Text

    from planner.render import make_table

    cols = ["gamma", "tokens/step", "speedup", "operations", "accept rate", "PEARL", "best"]
    rows = [
        (
            r["gamma"],
            f"{r['expected_tokens']:.3f}",
            f"{r['speedup']:.3f}x",
            f"{r['operations']:.3f}x",
            f"{r['draft_acceptance_rate']:.3f}",
            f"{r['pearl_speedup']:.3f}x",
            "*" if r["optimal"] else "",
        )
        for r in payload["rows"]
    ]
    title = f"Speculative decoding, alpha {payload['alpha']:g}, c {payload['c']:g} (Leviathan et al. 2023)"
    out: list[Any] = [make_table(title, cols, rows, right=cols[:6], keep=["best"])]
    out.append(Text(summary(payload)))
    out.extend(notes(payload))
    return out


def summary(payload: dict[str, Any]) -> str:
    pearl = payload["pearl"]
    best = payload["optimal_gamma"]
    head = (
        f"optimal gamma {best}: {payload['optimal_speedup']:.3f}x over plain decoding"
        if best > 0
        else "optimal: do not speculate (gamma 0, 1.000x)"
    )
    return (
        f"{head}\nPEARL (parallel drafting): best window {pearl['optimal_gamma']}, "
        f"{pearl['optimal_speedup']:.3f}x ({pearl['vs_speculative']:.2f}x standard speculation)"
    )


def notes(payload: dict[str, Any]) -> list[Any]:
    """The notes (the picture of payload['plot']: planner.render.figures_sweeps.specdec_figure)."""
    from rich.text import Text

    out: list[Any] = []
    if payload["notes"]:
        out.append(Text("notes:\n" + "\n".join(f"- {n}" for n in payload["notes"])))
    return out


def alpha_tables(payload: dict[str, Any]) -> list[Any]:
    from rich.text import Text

    from planner.render import make_table

    table = make_table(
        f"Engine counters at gamma {payload['gamma']}",
        ["quantity", "value"],
        [
            ("alpha (per-token acceptance)", f"{payload['alpha']:.4f}"),
            ("draft acceptance rate (accepted / proposed)", f"{payload['draft_acceptance_rate']:.4f}"),
            ("mean tokens per target step", f"{payload['expected_tokens']:.4f}"),
        ],
        right=["value"],
    )
    return [table, Text("notes:\n" + "\n".join(f"- {n}" for n in payload["notes"]))]


def models_tables(payload: dict[str, Any]) -> list[Any]:
    from rich.text import Text

    from planner.render import fmt_si, make_table
    from planner.units import format_quantity

    def ms(value: float) -> str:
        return format_quantity(value, "time")

    with_formats = quantised(payload)  # then a column of each model's, e.g. 'int4 weights / bf16'
    models: list[tuple[Any, ...]] = []
    for role in ("target", "draft"):
        m = payload[role]
        models.append(
            (
                f"{role} {m['name']}",
                fmt_si(m["parameters"]),
                m["tensor_parallel"],
                format_quantity(m["memory_per_device_bytes"], "memory"),
                ms(m["step_time_s"]),
                f"{m['allreduces_per_step']} ({ms(m['allreduce_s'])})",
                *([m["precision"]] if with_formats else []),
            )
        )
    where = payload["device"] + (f" in {payload['cluster']}" if payload["cluster"] else "")
    cols = ["model", "params", "TP", "mem/device", "step", "all-reduces"] + (
        ["format"] if with_formats else []
    )
    head = make_table(
        f"Decode step on {where}, {payload['dtype']}, batch {payload['batch']}, context {payload['context']}",
        cols,
        models,
        right=["params", "TP", "mem/device", "step", "all-reduces"],
    )
    bounds = ", ".join(
        f"{payload[r]['name']} {'compute' if payload[r]['compute_bound'] else 'memory'}-bound"
        for r in ("target", "draft")
    )
    c_line = (
        f"c = {payload['c']:.4f} ({payload['c_source']}; roofline {payload['c_roofline']:.4f}, "
        f"parameter ratio {payload['parameter_ratio']:.4f}); c_hat (FLOP ratio) = {payload['c_hat']:.4f}"
    )
    cols = ["gamma", "tokens", "verify", "speedup", "time/token", "ops", "PEARL", "best"]
    rows = [
        (
            r["gamma"],
            f"{r['expected_tokens']:.3f}",
            f"{r['verify_ratio']:.3f}",
            f"{r['speedup']:.3f}x",
            ms(r["time_per_token_s"]),
            f"{r['operations']:.3f}x",
            f"{r['pearl_speedup']:.3f}x",
            "*" if r["optimal"] else "",
        )
        for r in payload["rows"]
    ]
    table = make_table(
        f"Speculative decoding, alpha {payload['alpha']:g}", cols, rows, right=cols[:7], keep=["best"]
    )
    plain = f"plain decoding: {ms(payload['plain_decoding_time_per_token_s'])} per token"
    return [
        head,
        Text(f"{bounds}; {c_line}"),
        table,
        Text(summary(payload) + "\n" + plain),
        *notes(payload),
    ]


def quantised(payload: dict[str, Any]) -> bool:
    """Whether either model's weights or the KV cache are in a quantised format."""
    weights = (payload["target"]["weight_dtype"], payload["draft"]["weight_dtype"])
    return payload["kv_cache_dtype"] is not None or any(w is not None for w in weights)


def formats(payload: dict[str, Any]) -> str:
    """e.g. ', weights int4 / bf16, KV cache fp8' (target / draft); empty when nothing is quantised."""
    if not quantised(payload):
        return ""
    weights = " / ".join(payload[r]["weight_dtype"] or payload["dtype"] for r in ("target", "draft"))
    kv = payload["kv_cache_dtype"] or payload["dtype"]
    return f", weights {weights}, KV cache {kv}"


def tree_tables(payload: dict[str, Any]) -> list[Any]:
    from rich.text import Text
    from rich.tree import Tree

    nodes = payload["nodes"]
    root = Tree(f"root (f = 1)  [{payload['method']}]")
    handles = {0: root}
    for node in nodes[1:]:
        label = f"rank {node['rank']}  f = {node['probability']:.4f}"
        handles[node["node"]] = handles[node["parent"]].add(label)
    lines = [
        f"tree of {payload['size']} nodes, depth {payload['depth']}, widths by depth {payload['widths']}",
        f"expected tokens per target step: {payload['expected_tokens']:.4f} "
        f"(a chain as deep: {payload['chain_expected_tokens']:.4f})",
    ]
    verify = payload.get("verify_cost")
    if verify is not None:
        lines.append(
            f"t(n) from {verify['target']} ({verify['precision']}) on {verify['tensor_parallel']} x "
            f"{verify['device']}, batch "
            f"{verify['batch']}: t({payload['size']}) = {verify['t'][payload['size'] - 1]:.3f} steps"
        )
    if payload["speedup"] is not None:
        lines.append(f"speedup at c = {payload['c']:g}: {payload['speedup']:.3f}x")
    return [root, Text("\n".join(lines))]


def batch_tables(payload: dict[str, Any]) -> list[Any]:
    from rich.text import Text

    from planner.render import make_table
    from planner.units import format_quantity

    trees = payload["tree_acceptance"] is not None
    cols = ["batch", "step", "c", "gamma", "verify", "speedup", "tokens/s", "with spec"]
    cols += ["tree", "tree speedup"] if trees else []
    rows = []
    for r in payload["rows"]:
        row = [
            r["batch"],
            format_quantity(r["target_step_s"], "time"),
            f"{r['c']:.3f}",
            r["optimal_gamma"],
            f"{r['verify_ratio']:.3f}",
            f"{r['speedup']:.3f}x",
            f"{r['plain_tokens_per_s']:,.0f}",
            f"{r['speculative_tokens_per_s']:,.0f}",
        ]
        if trees:
            tree = r["tree"]
            row += [f"{tree['size']} / {tree['depth']}", f"{tree['speedup']:.3f}x"]
        rows.append(tuple(row))
    target, draft = payload["target"], payload["draft"]
    where = payload["device"] + (f" in {payload['cluster']}" if payload["cluster"] else "")
    title = (
        f"{target['name']} (TP {target['tensor_parallel']}) drafted by {draft['name']} (TP "
        f"{draft['tensor_parallel']}) on {where}, alpha {payload['alpha']:g}, context {payload['context']}"
        f"{formats(payload)}"
    )
    table = make_table(title, cols, rows, right=cols)
    breakeven = payload["breakeven_batch"]
    lines = [
        f"largest batch that fits: {payload['largest_batch']}; "
        + (
            f"speculation stops paying at batch {breakeven}"
            if breakeven is not None
            else "speculation pays at every batch swept"
        ),
        *(f"note: {note}" for note in payload["notes"]),
    ]
    if trees:
        lines.insert(1, "tree: Sequoia's hardware-aware tree, nodes / depth")
    return [table, Text("\n".join(lines))]


def simulate_tables(payload: dict[str, Any]) -> list[Any]:
    from rich.text import Text

    from planner.render import make_table

    rows = [
        (
            t["name"],
            t["samples"],
            f"{t['statistic']:.3f}",
            f"{t['p_value']:.4f}",
            "pass" if t["passed"] else "FAIL",
        )
        for t in payload["tests"]
    ]
    details = [f"{t['name']}: {t['detail']}" for t in payload["tests"]]
    table = make_table(
        f"Monte Carlo checks (seed {payload['seed']}, significance {payload['significance']:g})",
        ["check", "samples", "statistic", "p-value", "result"],
        rows,
        right=["samples", "statistic", "p-value"],
        keep=["result"],
    )
    return [table, Text("notes:\n" + "\n".join(f"- {n}" for n in [*details, *payload["notes"]]))]
