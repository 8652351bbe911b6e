"""Speculative decoding: speedup and draft length, model pairs on hardware, token trees, Monte Carlo checks.

Formulas: Leviathan et al., ICML 2023 (Eq. 1, Thm 3.8, Thm 3.11); Sequoia (Chen et al. 2024) and Medusa
(Cai et al. 2024) trees; SpecInfer's multi-step speculative sampling (Miao et al. 2024); PEARL (Liu et al.
2025). c = time of a draft step / time of a target step; alpha = the per-token acceptance rate.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from planner.cli import specdec_tables as tables
from planner.cli.common import FormatOption
from planner.limits import (
    COST_RATIO,
    MAX_GAMMA,
    MAX_SIMULATE_GAMMA,
    MAX_SIMULATE_TREE,
    MAX_SIMULATE_TRIALS,
    MAX_SIMULATE_VOCAB,
    MAX_TREE_SIZE,
)
from planner.render import OutputFormat

app = typer.Typer(no_args_is_help=True)

AlphaOption = Annotated[
    float, typer.Option("--alpha", help="acceptance rate alpha = E[sum min(p, q)], in [0, 1)")
]
MaxGammaOption = Annotated[
    int, typer.Option("--max-gamma", min=1, max=MAX_GAMMA, help="largest gamma to tabulate")
]
PlotOption = Annotated[
    bool, typer.Option("--plot", help="a terminal plot of speedup vs gamma for a few alphas")
]


def _alpha(value: float) -> float:
    from planner.errors import SpecError

    if not 0.0 <= value < 1.0:
        raise SpecError(
            "--alpha", "alpha", "expected a number in [0, 1) (the per-token acceptance rate)", value
        )
    return value


def _c(value: float, option: str = "--c") -> float:
    from planner.errors import SpecError

    if value not in COST_RATIO:  # a cost ratio beyond 1e6 overflows the speed-up's terms
        raise SpecError(
            option,
            option.lstrip("-"),
            f"expected a number {COST_RATIO.text()} (draft step / target step)",
            value,
        )
    return value


def _floats(text: str, option: str) -> list[float]:
    from planner.errors import SpecError
    from planner.units import parse_number

    try:
        values = [parse_number(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise SpecError(
            option, option.lstrip("-"), "expected comma-separated numbers, e.g. 0.8,0.1", text
        ) from None
    if not values:
        raise SpecError(option, option.lstrip("-"), "expected at least one number", text)
    return values


@app.command("speedup")
def speedup_command(
    alpha: AlphaOption,
    c: Annotated[float, typer.Option("--c", help="draft step time / target step time (measured or derived)")],
    gamma: Annotated[
        int | None, typer.Option("--gamma", min=1, max=MAX_GAMMA, help="one draft length instead of a table")
    ] = None,
    max_gamma: MaxGammaOption = 16,
    c_hat: Annotated[
        float | None, typer.Option("--c-hat", help="draft/target arithmetic ratio for Thm 3.11 (default: c)")
    ] = None,
    plot: PlotOption = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Expected tokens, speedup and arithmetic cost per draft length gamma; the optimum marked (Thm 3.8)."""
    from planner.optimize.speculation import gamma_table
    from planner.render import emit

    a, cc = _alpha(alpha), _c(c)
    ch = cc if c_hat is None else _c(c_hat, "--c-hat")
    gammas = [gamma] if gamma is not None else list(range(1, max_gamma + 1))
    table = gamma_table(a, cc, gammas=gammas, max_gamma=max_gamma, c_hat=ch)
    payload = {**table.to_dict(), "verify_cost": "one target step per verification (Leviathan Sec. 3.3)"}
    if plot:
        payload["plot"] = _plot_series(a, cc, max_gamma)
    emit(payload, fmt, tables.speedup_tables)


@app.command("alpha")
def alpha_command(
    gamma: Annotated[int, typer.Option("--gamma", min=1, help="draft tokens per step the engine proposed")],
    acceptance_rate: Annotated[
        float | None,
        typer.Option("--acceptance-rate", help="engine counter: accepted drafts / proposed drafts"),
    ] = None,
    mean_tokens: Annotated[
        float | None,
        typer.Option("--mean-tokens", help="engine counter: mean tokens emitted per target step"),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Convert a serving engine's counters (draft acceptance rate, mean tokens per step) to alpha."""
    from planner.cost import speculative
    from planner.errors import SpecError
    from planner.render import emit

    if (acceptance_rate is None) == (mean_tokens is None):
        raise SpecError(
            "--acceptance-rate",
            "acceptance-rate",
            "give exactly one of --acceptance-rate and --mean-tokens",
            show_got=False,
        )
    try:
        if acceptance_rate is not None:
            a = float(speculative.alpha_from_acceptance_rate(acceptance_rate, gamma))
        else:
            a = float(speculative.alpha_from_expected_tokens(mean_tokens, gamma))
    except ValueError as exc:
        option = "--acceptance-rate" if acceptance_rate is not None else "--mean-tokens"
        raise SpecError(option, option.lstrip("-"), str(exc), show_got=False) from None
    payload = {
        "gamma": gamma,
        "alpha": a,
        "draft_acceptance_rate": float(speculative.draft_acceptance_rate(a, gamma)),
        "expected_tokens": float(speculative.expected_tokens(a, gamma)),
        "notes": [
            "draft acceptance rate = accepted / proposed = alpha (1 - alpha^gamma) / (gamma (1 - alpha)) "
            "<= alpha: drafts after the first rejection are proposed but never judged; equal at gamma = 1",
            "mean tokens per step = (1 - alpha^(gamma+1)) / (1 - alpha) = 1 + accepted drafts per step",
            "both assume i.i.d. acceptance and gamma drafts proposed every step "
            "(Leviathan et al. 2023, Sec. 3.1)",
        ],
    }
    emit(payload, fmt, tables.alpha_tables)


@app.command("models")
def models_command(
    target: Annotated[str, typer.Option("--target", help="target LLM: catalog name or YAML file")],
    draft: Annotated[str, typer.Option("--draft", help="draft LLM: catalog name or YAML file")],
    alpha: AlphaOption,
    device: Annotated[str | None, typer.Option("--device", help="device (catalog name or YAML)")] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            help="server whose links carry the tensor-parallel all-reduces (default: the catalog cluster of "
            "--device with the most devices per server, e.g. dgx-h100 for h100)",
        ),
    ] = None,
    tensor_parallel: Annotated[
        int, typer.Option("--tensor-parallel", "--tp", min=1, help="devices the target is split over")
    ] = 1,
    draft_tensor_parallel: Annotated[
        int, typer.Option("--draft-tensor-parallel", min=1, help="devices the draft is split over")
    ] = 1,
    batch: Annotated[int, typer.Option("--batch", min=1, help="sequences decoded together")] = 1,
    context: Annotated[int, typer.Option("--context", min=0, help="tokens already in the KV cache")] = 512,
    dtype: Annotated[
        str | None, typer.Option("--dtype", help="fp32, fp16 or bf16 (default: the target's)")
    ] = None,
    allreduce: Annotated[
        str, typer.Option("--allreduce", help="all-reduce algorithm of tensor parallelism")
    ] = "ring",
    c: Annotated[float | None, typer.Option("--c", help="a measured c instead of the roofline's")] = None,
    max_gamma: MaxGammaOption = 16,
    plot: PlotOption = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Derive c from model sizes and hardware (decode roofline, tensor parallelism), then the gamma table."""
    from planner.cost.decode import Placement, allreduces_per_step
    from planner.cost.transformer import parameter_count
    from planner.optimize.speculation import gamma_table, pair_costs, verify_function
    from planner.render import emit
    from planner.spec.catalog import find

    a = _alpha(alpha)
    target_cfg = find("models", target, ("llm",))
    draft_cfg = find("models", draft, ("llm",))
    dev, server = _hardware(device, cluster, max(tensor_parallel, draft_tensor_parallel))
    dt = _dtype(dtype or target_cfg.dtype, dev)
    _check_split(target_cfg, tensor_parallel, "--tensor-parallel")
    _check_split(draft_cfg, draft_tensor_parallel, "--draft-tensor-parallel")
    _check_algorithm(allreduce)
    target_at = Placement(dev, tensor_parallel, server if tensor_parallel > 1 else None, allreduce)
    draft_at = Placement(dev, draft_tensor_parallel, server if draft_tensor_parallel > 1 else None, allreduce)
    costs = pair_costs(target_cfg, draft_cfg, target_at, draft_at, dtype=dt, batch=batch, context=context)
    gammas = list(range(1, max_gamma + 1))
    verify_of = verify_function(target_cfg, target_at, dtype=dt, batch=batch, context=context)
    verify = [float(v) for v in verify_of(gammas)]
    c_used = costs.c if c is None else _c(c)
    table = gamma_table(
        a, c_used, gammas=gammas, max_gamma=max_gamma, c_hat=costs.c_hat, verify=verify, verify_of=verify_of
    )
    t_step = costs.target_step.time_s
    rows = table.rows()
    for row in rows:
        row["time_per_token_s"] = (
            (row["gamma"] * c_used + row["verify_ratio"]) * t_step / row["expected_tokens"]
        )
    payload = {
        **table.to_dict(),
        "rows": rows,
        "c_source": "roofline" if c is None else "given (--c)",
        "c_roofline": costs.c,
        "parameter_ratio": costs.parameter_ratio,
        "device": dev.name,
        "cluster": server.name if server is not None else None,
        "dtype": dt,
        "batch": batch,
        "context": context,
        "allreduce_algorithm": allreduce,
        "target": _model_dict(target_cfg, tensor_parallel, costs.target_step, costs.target_memory_bytes),
        "draft": _model_dict(draft_cfg, draft_tensor_parallel, costs.draft_step, costs.draft_memory_bytes),
        "plain_decoding_time_per_token_s": t_step,
    }
    payload["target"]["allreduces_per_step"] = allreduces_per_step(target_cfg, tensor_parallel)
    payload["notes"] = [
        *payload["notes"],
        "roofline step times are lower bounds (no kernel-launch or per-layer overheads); measured c runs "
        "2-3x the parameter ratio, so prefer a measured --c when you have one",
        f"parameters: target {parameter_count(target_cfg):,}, draft {parameter_count(draft_cfg):,}",
    ]
    if plot:
        payload["plot"] = _plot_series(a, c_used, max_gamma, verify)
    emit(payload, fmt, tables.models_tables)


def _hardware(device: str | None, cluster: str | None, tp: int) -> tuple[Any, Any]:
    """The device, and the cluster whose innermost link carries tensor-parallel all-reduces (or None)."""
    from planner.errors import SpecError
    from planner.spec.catalog import entries, find

    if device is None and cluster is None:
        raise SpecError("--device", "device", "give --device or --cluster", show_got=False)
    server = find("hardware", cluster, ("cluster",)) if cluster is not None else None
    dev = find("hardware", device, ("device",)) if device is not None else server.device
    if server is not None and server.device.name != dev.name:
        raise SpecError(
            "--cluster", "cluster", f"holds {server.device.name}, not --device {dev.name}", cluster
        )
    if tp > 1 and server is None:
        candidates = sorted(
            (e.value for e in entries("hardware") if e.spec == "cluster" and e.value.device.name == dev.name),
            key=lambda s: (-s.devices_per_server, s.name),
        )
        if not candidates:
            raise SpecError(
                "--cluster",
                "cluster",
                f"tensor parallelism over {tp} x {dev.name} needs a server holding them; no catalog cluster "
                f"has {dev.name}: give --cluster (a YAML file)",
                show_got=False,
            )
        server = candidates[0]
    if server is not None and tp > server.devices_per_server:
        raise SpecError(
            "--tensor-parallel",
            "tensor-parallel",
            f"a tensor-parallel group lives inside one server; {server.name} has "
            f"{server.devices_per_server} devices per server",
            tp,
        )
    return dev, server


def _dtype(dtype: str, device: Any) -> str:
    from planner.errors import SpecError

    if dtype not in ("fp32", "fp16", "bf16"):
        raise SpecError("--dtype", "dtype", "expected fp32, fp16 or bf16", dtype)
    if dtype not in device.peak_compute:
        raise SpecError(
            "--dtype",
            "dtype",
            f"{device.name} lists no {dtype} peak ({', '.join(device.peak_compute)})",
            dtype,
        )
    return dtype


def _check_split(cfg: Any, tp: int, option: str) -> None:
    from planner.errors import SpecError

    if cfg.num_heads % tp:
        raise SpecError(
            option,
            option.lstrip("-"),
            f"must divide {cfg.name}'s {cfg.num_heads} attention heads (Megatron splits heads)",
            tp,
        )


def _check_algorithm(name: str) -> None:
    from planner.errors import SpecError

    choices = ("ring", "tree", "halving-doubling", "hierarchical")
    if name not in choices:
        raise SpecError("--allreduce", "allreduce", f"expected one of {', '.join(choices)}", name)


def _model_dict(cfg: Any, tp: int, step: Any, memory: float) -> dict[str, Any]:
    from planner.cost.decode import step_weights
    from planner.cost.transformer import parameter_count

    return {
        "name": cfg.name,
        "parameters": parameter_count(cfg),
        "step_weights": step_weights(cfg),
        "tensor_parallel": tp,
        "step_time_s": step.time_s,
        "roofline_s": step.roofline_s,
        "allreduce_s": step.allreduce_s,
        "allreduces_per_step": step.allreduces,
        "step_flops": step.flops,
        "step_bytes": step.bytes,
        "compute_bound": step.compute_bound,
        "memory_per_device_bytes": memory,
    }


@app.command("tree")
def tree_command(
    acceptance: Annotated[
        str | None,
        typer.Option("--acceptance", help="Sequoia positional acceptance P[1],P[2],... (sum <= 1)"),
    ] = None,
    medusa: Annotated[
        str | None,
        typer.Option(
            "--medusa", help="Medusa top-i accuracies, one head per ';': '0.6,0.1;0.4,0.08' (greedy tree)"
        ),
    ] = None,
    size: Annotated[
        int, typer.Option("--size", min=1, max=MAX_TREE_SIZE, help="nodes in the tree, root included")
    ] = 64,
    depth: Annotated[int | None, typer.Option("--depth", min=0, help="largest depth (draft steps)")] = None,
    c: Annotated[
        float | None,
        typer.Option("--c", help="draft/target step ratio: pick size and depth by G(n,d)/(t(n) + d c)"),
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="target LLM whose roofline gives t(n) (default t(n) = 1)")
    ] = None,
    device: Annotated[str | None, typer.Option("--device", help="device of --target")] = None,
    tensor_parallel: Annotated[int, typer.Option("--tensor-parallel", "--tp", min=1, help="of --target")] = 1,
    batch: Annotated[int, typer.Option("--batch", min=1, help="sequences verified together")] = 1,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The optimal token tree (Sequoia's DP) or Medusa's greedy tree, and its expected tokens per step.

    With --c, Sequoia's hardware-aware choice of size and depth; the verification cost t(n) of n tokens
    comes from --target's decode roofline on --device when given, else t(n) = 1 (memory-bound).
    """
    from planner.errors import SpecError
    from planner.render import emit

    if (acceptance is None) == (medusa is None):
        raise SpecError(
            "--acceptance", "acceptance", "give exactly one of --acceptance and --medusa", show_got=False
        )
    if (target is None) != (device is None):
        raise SpecError("--target", "target", "give --target and --device together", show_got=False)
    if target is not None and (c is None or medusa is not None):
        raise SpecError("--target", "target", "the roofline t(n) needs --c and --acceptance", show_got=False)
    verify = None
    if target is not None:
        verify = _tree_verify(target, device, tensor_parallel, batch, size)  # type: ignore[arg-type]
    try:
        payload = _tree_payload(acceptance, medusa, size, depth, None if c is None else _c(c), verify)
    except ValueError as exc:
        option = "--acceptance" if acceptance is not None else "--medusa"
        raise SpecError(option, option.lstrip("-"), str(exc), show_got=False) from None
    emit(payload, fmt, tables.tree_tables)


def _tree_verify(target: str, device: str, tp: int, batch: int, size: int) -> dict[str, Any]:
    """t(n) for n = 1..size: verifying n tokens per sequence / one plain step, from the decode roofline."""
    from planner.cost.decode import Placement, check_fits, verify_ratios
    from planner.spec.catalog import find

    cfg = find("models", target, ("llm",))
    dev, server = _hardware(device, None, tp)
    _check_split(cfg, tp, "--tensor-parallel")
    placement = Placement(dev, tp, server if tp > 1 else None)
    dtype = _dtype(cfg.dtype, dev)
    check_fits(cfg, placement, dtype, batch, 512)
    ratios = verify_ratios(cfg, placement, list(range(size)), dtype=dtype, batch=batch)
    return {
        "target": cfg.name,
        "device": dev.name,
        "tensor_parallel": tp,
        "batch": batch,
        "t": ratios.tolist(),
    }


def _tree_payload(
    acceptance: str | None,
    medusa: str | None,
    size: int,
    depth: int | None,
    c: float | None,
    verify: dict[str, Any] | None = None,
) -> dict[str, Any]:
    import numpy as np

    from planner.optimize import token_tree as tt

    if acceptance is not None:
        values = _floats(acceptance, "--acceptance")
        tt.acceptance_matrix(values, 1)  # validates
        if c is not None:
            t = np.ones(size) if verify is None else np.asarray(verify["t"])
            tree, tokens, speed = tt.hardware_aware_tree(values, size, c, t, depth)
            method = "Sequoia hardware-aware: max G(n, d) / (t(n) + d c) over n <= size, d <= depth"
        else:
            tree, tokens = tt.optimal_tree(values, size, depth)
            speed = None
            method = "Sequoia dynamic program (Chen et al. 2024, Sec. 3.2.1), O(n^2 B D)"
        matrix: Any = values
    else:
        rows = [_floats(part, "--medusa") for part in medusa.split(";") if part.strip()]  # type: ignore[union-attr]
        if len({len(r) for r in rows}) != 1:
            raise ValueError("every head needs the same number of ranked accuracies")
        matrix = rows
        tree, tokens = tt.medusa_greedy_tree(rows, size)
        speed = tokens / (1.0 + c) if c is not None else None
        method = "Medusa greedy growth (Cai et al. 2024, Sec. 2.3.1): largest accuracy product first"
        if c is not None:  # Medusa's speedup = acceleration rate / overhead (its Sec. 3)
            method += "; --c is the heads' overhead per step (speedup = tokens / (1 + c))"
    chain = tt.expected_tokens(tt.TokenTree.chain(tree.depth), matrix)  # same number of draft steps
    values_per_node = tt.node_values(tree, matrix)
    depths = tree.depths
    paths = tree.paths()
    nodes = [
        {
            "node": v,
            "parent": tree.parents[v],
            "rank": tree.ranks[v],
            "depth": depths[v],
            "path": list(paths[v]),
            "probability": float(values_per_node[v]),
        }
        for v in range(tree.size)
    ]
    widths = [depths.count(d) for d in range(tree.depth + 1)]
    return {
        "method": method,
        "acceptance": matrix,
        "size": tree.size,
        "size_limit": size,
        "depth_limit": depth,
        "depth": tree.depth,
        "expected_tokens": tokens,
        "chain_expected_tokens": chain,
        "speedup": speed,
        "c": c,
        "verify_cost": verify,
        "widths": widths,
        "nodes": nodes,
    }


@app.command("simulate")
def simulate_command(
    gamma: Annotated[
        int, typer.Option("--gamma", min=0, max=MAX_SIMULATE_GAMMA, help="draft tokens per step (chain)")
    ] = 4,
    vocab: Annotated[
        int, typer.Option("--vocab", min=2, max=MAX_SIMULATE_VOCAB, help="vocabulary of the random models")
    ] = 6,
    p: Annotated[
        str | None, typer.Option("--p", help="target distribution, e.g. 0.5,0.3,0.2 (default random)")
    ] = None,
    q: Annotated[
        str | None, typer.Option("--q", help="draft distribution over the same tokens (default random)")
    ] = None,
    tree_size: Annotated[
        int,
        typer.Option(
            "--tree-size", min=0, max=MAX_SIMULATE_TREE, help="also check a SpecInfer tree of this size"
        ),
    ] = 8,
    trials: Annotated[
        int, typer.Option("--trials", min=100, max=MAX_SIMULATE_TRIALS, help="Monte Carlo trials per check")
    ] = 20000,
    length: Annotated[
        int, typer.Option("--length", min=1, max=4, help="tokens whose joint law is tested")
    ] = 3,
    significance: Annotated[
        float, typer.Option("--significance", help="test level (a correct sampler fails this often)")
    ] = 0.001,
    seed: Annotated[int, typer.Option("--seed", min=0, help="random seed")] = 0,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Run the real lossless samplers and test them: output law = target, mean tokens = closed form.

    Exits 1 when a test fails at the given significance.
    """
    from planner.errors import InfeasibleError, SpecError
    from planner.render import emit
    from planner.sampling.montecarlo import run_checks

    if not 0.0 < significance < 1.0:
        raise SpecError("--significance", "significance", "expected a level in (0, 1)", significance)
    explicit = None
    if p is not None or q is not None:
        if p is None or q is None:
            raise SpecError("--p", "p", "give both --p and --q", show_got=False)
        explicit = (_distribution(p, "--p"), _distribution(q, "--q"))
        if len(explicit[0]) != len(explicit[1]):
            raise SpecError("--q", "q", f"expected {len(explicit[0])} probabilities like --p", q)
    report = run_checks(
        gamma=gamma,
        vocab=vocab,
        explicit=explicit,
        tree_size=tree_size,
        trials=trials,
        length=length,
        significance=significance,
        seed=seed,
    )
    emit(report, fmt, tables.simulate_tables)
    if not all(test["passed"] for test in report["tests"]):
        raise InfeasibleError("a Monte Carlo check failed at the stated significance (see the table)")


def _distribution(text: str, option: str) -> list[float]:
    from planner.errors import SpecError

    values = _floats(text, option)
    if any(v < 0 for v in values) or abs(sum(values) - 1.0) > 1e-6:
        raise SpecError(
            option, option.lstrip("-"), "expected a probability distribution (non-negative, sums to 1)", text
        )
    return values


def _plot_series(alpha: float, c: float, max_gamma: int, verify: list[float] | None = None) -> dict[str, Any]:
    import numpy as np

    from planner.cost import speculative

    gammas = np.arange(1, max_gamma + 1)
    v = np.ones(max_gamma) if verify is None else np.asarray(verify)
    alphas = sorted({round(alpha, 3), 0.6, 0.7, 0.8, 0.9})
    return {
        "c": c,
        "gammas": gammas.tolist(),
        "series": {f"{a:g}": speculative.speedup(a, gammas, c, v).tolist() for a in alphas},
    }
