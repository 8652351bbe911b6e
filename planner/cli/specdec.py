"""Speculative decoding: speedup and draft length, model pairs on hardware, token trees, Monte Carlo checks.

Formulas: Leviathan et al., ICML 2023 (Eq. 1, Thm 3.8, Thm 3.11); Sequoia (Chen et al. 2024) and Medusa
(Cai et al. 2024) trees; SpecInfer's multi-step speculative sampling (Miao et al. 2024); PEARL (Liu et al.
2025). c = time of a draft step / time of a target step; alpha = the per-token acceptance rate.
"""

from __future__ import annotations

from typing import Annotated

import typer

from planner.api.specdec import SpecdecSimulateOptions, SpecdecSpeedupOptions
from planner.api.specdec_batch import SpecdecBatchOptions
from planner.api.specdec_models import SpecdecModelsOptions
from planner.api.specdec_tree import SpecdecTreeOptions
from planner.cli.common import WEIGHTS_HELP, FormatOption, parse_numbers
from planner.cli.plot_options import ForceOption, PlotFileOption, PlotOption
from planner.limits import (
    MAX_GAMMA,
    MAX_SIMULATE_GAMMA,
    MAX_SIMULATE_TREE,
    MAX_SIMULATE_TRIALS,
    MAX_SIMULATE_VOCAB,
    MAX_TREE_SIZE,
)
from planner.render import OutputFormat

app = typer.Typer(no_args_is_help=True)
MODELS, TREE, SIMULATE = SpecdecModelsOptions, SpecdecTreeOptions, SpecdecSimulateOptions  # the defaults
BATCH = SpecdecBatchOptions

AlphaOption = Annotated[
    float, typer.Option("--alpha", help="acceptance rate alpha = E[sum min(p, q)], in [0, 1)")
]
MaxGammaOption = Annotated[
    int, typer.Option("--max-gamma", min=1, max=MAX_GAMMA, help="largest gamma to tabulate")
]
ModelHelp = "LLM: catalog name, YAML file or Hugging Face config.json"
TargetOption = Annotated[str, typer.Option("--target", help=f"target {ModelHelp}")]
DraftOption = Annotated[str, typer.Option("--draft", help=f"draft {ModelHelp}")]
DeviceOption = Annotated[str | None, typer.Option("--device", help="device (catalog name or YAML)")]
PairClusterOption = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        help="server whose links carry the tensor-parallel all-reduces (default: the catalog cluster of "
        "--device with the most devices per server, the first by name among equals)",
    ),
]
TargetParallelOption = Annotated[
    int, typer.Option("--tensor-parallel", "--tp", min=1, help="devices the target is split over")
]
DraftParallelOption = Annotated[
    int, typer.Option("--draft-tensor-parallel", min=1, help="devices the draft is split over")
]
ContextOption = Annotated[
    int, typer.Option("--context", min=0, help="tokens already in each sequence's KV cache")
]
PairDtypeOption = Annotated[
    str | None, typer.Option("--dtype", help="fp32, fp16 or bf16 (default: the target's)")
]
AllreduceOption = Annotated[
    str, typer.Option("--allreduce", help="all-reduce algorithm of tensor parallelism")
]
WeightsHelp = f"{WEIGHTS_HELP}; default unquantised"
WeightDtypeOption = Annotated[str | None, typer.Option("--weight-dtype", help=f"target's {WeightsHelp}")]
DraftWeightDtypeOption = Annotated[
    str | None, typer.Option("--draft-weight-dtype", help=f"draft's {WeightsHelp}")
]
KvCacheDtypeOption = Annotated[
    str | None, typer.Option("--kv-cache-dtype", help="KV cache (of both models): fp8 or int8")
]


@app.command("speedup")
def speedup_command(
    alpha: AlphaOption,
    c: Annotated[float, typer.Option("--c", help="draft step time / target step time (measured or derived)")],
    gamma: Annotated[
        int | None, typer.Option("--gamma", min=1, max=MAX_GAMMA, help="one draft length instead of a table")
    ] = None,
    max_gamma: MaxGammaOption = SpecdecSpeedupOptions.max_gamma,
    c_hat: Annotated[
        float | None, typer.Option("--c-hat", help="draft/target arithmetic ratio for Thm 3.11 (default: c)")
    ] = None,
    plot: PlotOption = False,
    plot_file: PlotFileOption = None,
    force: ForceOption = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Expected tokens, speedup and arithmetic cost per draft length gamma; the optimum marked (Thm 3.8)."""
    from planner.api.specdec import specdec_speedup
    from planner.cli.plot_options import emit_with_plot, plot_request
    from planner.render.figures_sweeps import specdec_figure
    from planner.render.specdec import speedup_tables

    request = plot_request(plot, plot_file, force)
    options = SpecdecSpeedupOptions(
        alpha, c, gamma=gamma, max_gamma=max_gamma, c_hat=c_hat, plot=request.wanted
    )
    emit_with_plot(specdec_speedup(options).to_dict(), fmt, speedup_tables, specdec_figure, request)


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
    from planner.api.specdec import SpecdecAlphaOptions, specdec_alpha
    from planner.render import emit
    from planner.render.specdec import alpha_tables

    options = SpecdecAlphaOptions(gamma, acceptance_rate=acceptance_rate, mean_tokens=mean_tokens)
    emit(specdec_alpha(options).to_dict(), fmt, alpha_tables)


@app.command("models")
def models_command(
    target: TargetOption,
    draft: DraftOption,
    alpha: AlphaOption,
    device: DeviceOption = None,
    cluster: PairClusterOption = None,
    tensor_parallel: TargetParallelOption = MODELS.tensor_parallel,
    draft_tensor_parallel: DraftParallelOption = MODELS.draft_tensor_parallel,
    batch: Annotated[int, typer.Option("--batch", min=1, help="sequences decoded together")] = MODELS.batch,
    context: ContextOption = MODELS.context,
    dtype: PairDtypeOption = None,
    allreduce: AllreduceOption = MODELS.allreduce,
    weight_dtype: WeightDtypeOption = None,
    draft_weight_dtype: DraftWeightDtypeOption = None,
    kv_cache_dtype: KvCacheDtypeOption = None,
    c: Annotated[float | None, typer.Option("--c", help="a measured c instead of the roofline's")] = None,
    max_gamma: MaxGammaOption = MODELS.max_gamma,
    plot: PlotOption = False,
    plot_file: PlotFileOption = None,
    force: ForceOption = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Derive c from model sizes and hardware (decode roofline, tensor parallelism), then the gamma table."""
    from planner.api.specdec_models import specdec_models
    from planner.cli.plot_options import emit_with_plot, plot_request
    from planner.render.figures_sweeps import specdec_figure
    from planner.render.specdec import models_tables

    request = plot_request(plot, plot_file, force)

    options = SpecdecModelsOptions(
        alpha,
        tensor_parallel=tensor_parallel,
        draft_tensor_parallel=draft_tensor_parallel,
        batch=batch,
        context=context,
        dtype=dtype,
        allreduce=allreduce,
        c=c,
        max_gamma=max_gamma,
        plot=request.wanted,
        weight_dtype=weight_dtype,
        draft_weight_dtype=draft_weight_dtype,
        kv_cache_dtype=kv_cache_dtype,
    )
    result = specdec_models(target, draft, options, device=device, cluster=cluster)
    emit_with_plot(result.to_dict(), fmt, models_tables, specdec_figure, request)


@app.command("batch")
def batch_command(
    target: TargetOption,
    draft: DraftOption,
    alpha: AlphaOption,
    device: DeviceOption = None,
    cluster: PairClusterOption = None,
    tensor_parallel: TargetParallelOption = BATCH.tensor_parallel,
    draft_tensor_parallel: DraftParallelOption = BATCH.draft_tensor_parallel,
    batches: Annotated[
        str | None,
        typer.Option("--batches", help="batch sizes, e.g. 1,8,64 (default: powers of two up to the largest)"),
    ] = None,
    context: ContextOption = BATCH.context,
    dtype: PairDtypeOption = None,
    allreduce: AllreduceOption = BATCH.allreduce,
    weight_dtype: WeightDtypeOption = None,
    draft_weight_dtype: DraftWeightDtypeOption = None,
    kv_cache_dtype: KvCacheDtypeOption = None,
    max_gamma: MaxGammaOption = BATCH.max_gamma,
    tree_acceptance: Annotated[
        str | None,
        typer.Option(
            "--tree-acceptance", help="Sequoia positional acceptance P[1],P[2],...: a tree per batch"
        ),
    ] = None,
    tree_size: Annotated[
        int, typer.Option("--tree-size", min=1, max=MAX_TREE_SIZE, help="largest tree, root included")
    ] = BATCH.tree_size,
    plot: PlotOption = False,
    plot_file: PlotFileOption = None,
    force: ForceOption = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Speculative decoding on a served batch: the best gamma (and tree) per batch, where it stops paying."""
    from planner.api.specdec_batch import specdec_batch
    from planner.cli.plot_options import emit_with_plot, plot_request
    from planner.render.figures_sweeps import specdec_batch_figure
    from planner.render.specdec import batch_tables

    request = plot_request(plot, plot_file, force)

    sizes = () if batches is None else parse_numbers(batches, "--batches", whole=True)
    options = SpecdecBatchOptions(
        alpha,
        tensor_parallel=tensor_parallel,
        draft_tensor_parallel=draft_tensor_parallel,
        batches=sizes,
        context=context,
        dtype=dtype,
        allreduce=allreduce,
        max_gamma=max_gamma,
        tree_acceptance=None
        if tree_acceptance is None
        else parse_numbers(tree_acceptance, "--tree-acceptance"),
        tree_size=tree_size,
        weight_dtype=weight_dtype,
        draft_weight_dtype=draft_weight_dtype,
        kv_cache_dtype=kv_cache_dtype,
    )
    result = specdec_batch(target, draft, options, device=device, cluster=cluster)
    emit_with_plot(result.to_dict(), fmt, batch_tables, specdec_batch_figure, request)


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
    ] = TREE.size,
    depth: Annotated[int | None, typer.Option("--depth", min=0, help="largest depth (draft steps)")] = None,
    c: Annotated[
        float | None,
        typer.Option("--c", help="draft/target step ratio: pick size and depth by G(n,d)/(t(n) + d c)"),
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help=f"target {ModelHelp}; its roofline gives t(n) (default 1)")
    ] = None,
    device: Annotated[str | None, typer.Option("--device", help="device of --target")] = None,
    tensor_parallel: Annotated[
        int, typer.Option("--tensor-parallel", "--tp", min=1, help="of --target")
    ] = TREE.tensor_parallel,
    batch: Annotated[int, typer.Option("--batch", min=1, help="sequences verified together")] = TREE.batch,
    weight_dtype: WeightDtypeOption = None,
    kv_cache_dtype: KvCacheDtypeOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The optimal token tree (Sequoia's DP) or Medusa's greedy tree, and its expected tokens per step.

    With --c, Sequoia's hardware-aware choice of size and depth; the verification cost t(n) of n tokens
    comes from --target's decode roofline on --device when given, else t(n) = 1 (memory-bound).
    """
    from planner.api.specdec_tree import specdec_tree
    from planner.render import emit
    from planner.render.specdec import tree_tables

    heads = (
        None
        if medusa is None
        else tuple(parse_numbers(part, "--medusa") for part in medusa.split(";") if part.strip())
    )
    options = SpecdecTreeOptions(
        acceptance=None if acceptance is None else parse_numbers(acceptance, "--acceptance"),
        medusa=heads,
        size=size,
        depth=depth,
        c=c,
        tensor_parallel=tensor_parallel,
        batch=batch,
        weight_dtype=weight_dtype,
        kv_cache_dtype=kv_cache_dtype,
    )
    emit(specdec_tree(options, target=target, device=device).to_dict(), fmt, tree_tables)


@app.command("simulate")
def simulate_command(
    gamma: Annotated[
        int, typer.Option("--gamma", min=0, max=MAX_SIMULATE_GAMMA, help="draft tokens per step (chain)")
    ] = SIMULATE.gamma,
    vocab: Annotated[
        int, typer.Option("--vocab", min=2, max=MAX_SIMULATE_VOCAB, help="vocabulary of the random models")
    ] = SIMULATE.vocab,
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
    ] = SIMULATE.tree_size,
    trials: Annotated[
        int, typer.Option("--trials", min=100, max=MAX_SIMULATE_TRIALS, help="Monte Carlo trials per check")
    ] = SIMULATE.trials,
    length: Annotated[
        int, typer.Option("--length", min=1, max=4, help="tokens whose joint law is tested")
    ] = SIMULATE.length,
    significance: Annotated[
        float, typer.Option("--significance", help="test level (a correct sampler fails this often)")
    ] = SIMULATE.significance,
    seed: Annotated[int, typer.Option("--seed", min=0, help="random seed")] = SIMULATE.seed,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Run the real lossless samplers and test them: output law = target, mean tokens = closed form.

    Exits 1 when a test fails at the given significance.
    """
    from planner.api.specdec import specdec_simulate
    from planner.errors import InfeasibleError
    from planner.render import emit
    from planner.render.specdec import simulate_tables

    options = SpecdecSimulateOptions(
        gamma=gamma,
        vocab=vocab,
        p=None if p is None else parse_numbers(p, "--p"),
        q=None if q is None else parse_numbers(q, "--q"),
        tree_size=tree_size,
        trials=trials,
        length=length,
        significance=significance,
        seed=seed,
    )
    result = specdec_simulate(options)
    emit(result.to_dict(), fmt, simulate_tables)
    if not result.passed:
        raise InfeasibleError("a Monte Carlo check failed at the stated significance (see the table)")
