"""Profile a PyTorch model layer by layer and write a profile YAML that plan, dp, pipeline partition,
export and verify accept (needs the extra: pip install 'planner[torch]').

MODEL is a torchvision model name (resnet18), a package.module:factory returning an nn.Module (give
--input-shape), or a Hugging Face config.json (random weights, nothing downloaded; give --seq-len). Each
layer is a block of the module tree named by its module name (layer3.0, features.28); its forward and
backward times are the median of --repeats training steps after --warmup, with their spread, on --device
with --threads CPU threads, plus its parameter and output activation bytes at --batch samples.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from planner.api.profile import ProfileOptions
from planner.cli.common import FormatOption, force_help, parse_numbers
from planner.render import OutputFormat

DEFAULTS = ProfileOptions  # every default is the API's, defined once (planner.api.profile)


def command(
    model: Annotated[str, typer.Argument(help="torchvision name, package.module:factory or config.json")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write the profile YAML here")] = None,
    force: Annotated[bool, typer.Option("--force", help=force_help("--output"))] = False,
    batch: Annotated[int, typer.Option(help="samples per minibatch")] = DEFAULTS.batch,
    seq_len: Annotated[int | None, typer.Option(help="tokens per sample (a config.json model)")] = None,
    input_shape: Annotated[
        str | None, typer.Option(help="one sample's shape, e.g. 3,224,224 (default for torchvision)")
    ] = None,
    dtype: Annotated[str, typer.Option(help="fp32, fp16 or bf16")] = DEFAULTS.dtype,
    device: Annotated[str, typer.Option(help="cpu or cuda")] = DEFAULTS.device,
    threads: Annotated[int, typer.Option(help="CPU threads (torch.set_num_threads)")] = DEFAULTS.threads,
    warmup: Annotated[int, typer.Option(help="untimed steps first")] = DEFAULTS.warmup,
    repeats: Annotated[int, typer.Option(help="timed steps (median and spread)")] = DEFAULTS.repeats,
    measured_on: Annotated[
        str | None,
        typer.Option(help="the device measured: catalog name or a `planner calibrate --spec device` file"),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Profile a PyTorch model layer by layer (forward and backward times, parameter and activation
    bytes) and write a profile YAML that every command taking a profile accepts."""
    import dataclasses
    import sys

    from planner.api.profile import profile_model
    from planner.fileout import check_target, write_text
    from planner.render import emit
    from planner.render.profile import profile_tables, progress_bar

    if output is not None:
        check_target(output, setting="--output", force=force)
    shape = None if input_shape is None else parse_numbers(input_shape, "--input-shape", whole=True)
    options = ProfileOptions(
        batch=batch,
        seq_len=seq_len,
        input_shape=shape,
        dtype=dtype,
        device=device,
        threads=threads,
        warmup=warmup,
        repeats=repeats,
        measured_on=measured_on,
    )
    options.check()  # before the progress bar draws
    if fmt is OutputFormat.table:
        with progress_bar(repeats) as tick:
            result = profile_model(model, options, tick)
    else:
        result = profile_model(model, options)
    if output is not None:
        write_text(output, result.yaml, setting="--output", force=force)
        result = dataclasses.replace(result, output_path=output)
    elif fmt is OutputFormat.table:
        sys.stdout.write(result.yaml)  # the YAML alone on stdout; the table goes to --output runs
        sys.stdout.flush()
        return
    emit(result.to_dict(), fmt, profile_tables)
