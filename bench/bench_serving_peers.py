"""Peers side by side on serving questions: `planner serve` against llm-analysis 0.2.2 and GenZ (genz-llm
0.0.16), same model, hardware, batch and lengths.

The peers pin an old transformers, so they live in their own virtual environment (bench/peers/.venv,
ignored by git), never in the project's extras: this script creates it with pip on first use and runs
itself inside it (`--peers`) to print the peers' figures as JSON.

Every tool gets the same sustained fractions: 80% of peak FLOP/s and 80% of peak memory bandwidth (the
planner's H100 fields; llm-analysis: flops_efficiency / hbm_memory_efficiency; GenZ: system_eff). Known
differences: llm-analysis charges the KV cache twice per decode step (its kv_cache_latency plus the
attention's reads); GenZ reads "GB/s" as GiB/s. The planner's A100 has compute_efficiency 0.86.

Run (after `pip install -e .`): python bench/bench_serving_peers.py [--venv bench/peers/.venv]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

PEERS = ("llm-analysis==0.2.2", "genz-llm==0.0.16")
EFFICIENCY = 0.8
# (label, planner model, llm-analysis model, GenZ model, device, tp, batch, prompt, output)
QUESTIONS = (
    ("7B 1xA100 b1", "llama-2-7b", "NousResearch_Llama-2-7b-hf", "llama2_7b", "a100", 1, 1, 512, 128),
    ("7B 1xH100 b1", "llama-2-7b", "NousResearch_Llama-2-7b-hf", "llama2_7b", "h100", 1, 1, 512, 128),
    ("7B 1xH100 b64", "llama-2-7b", "NousResearch_Llama-2-7b-hf", "llama2_7b", "h100", 1, 64, 512, 128),
    ("70B 8xH100 b1", "llama-2-70b", "upstage_Llama-2-70b-instruct-v2", "llama2_70b", "h100", 8, 1, 512, 128),
    (
        "70B 8xH100 b64",
        "llama-2-70b",
        "upstage_Llama-2-70b-instruct-v2",
        "llama2_70b",
        "h100",
        8,
        64,
        512,
        128,
    ),
)
CLUSTERS = {"a100": "dgx-a100", "h100": "dgx-h100"}
LLM_ANALYSIS_GPU = {"a100": "a100-sxm-80gb", "h100": "h100-sxm-80gb"}
# GenZ's system: dense bf16 TFLOPS, memory GB, memory bandwidth GB/s, interconnect GB/s per direction
GENZ_SYSTEM = {
    "a100": {"Flops": 312, "Memory_size": 80, "Memory_BW": 2039, "ICN": 300, "real_values": True},
    "h100": {"Flops": 989.4, "Memory_size": 80, "Memory_BW": 3350, "ICN": 450, "real_values": True},
}


def peers() -> dict[str, dict[str, float]]:
    """The peers' (TTFT, TPOT) in seconds per question; runs inside the peers' environment."""
    import logging

    from GenZ import decode_moddeling, prefill_moddeling
    from llm_analysis.analysis import infer

    logging.disable(logging.WARNING)
    out: dict[str, dict[str, float]] = {}
    for label, _, la_model, genz_model, device, tp, batch, prompt, output in QUESTIONS:
        la = infer(
            model_name=la_model,
            gpu_name=LLM_ANALYSIS_GPU[device],
            dtype_name="w16a16e16",
            log_level="ERROR",
            batch_size_per_gpu=batch,
            tp_size=tp,
            seq_len=prompt,
            num_tokens_to_generate=output,
            flops_efficiency=EFFICIENCY,
            hbm_memory_efficiency=EFFICIENCY,
        )
        system = GENZ_SYSTEM[device]
        common = {"model": genz_model, "batch_size": batch, "system_name": system, "bits": "bf16"}
        genz_prefill = prefill_moddeling(
            input_tokens=prompt, system_eff=EFFICIENCY, tensor_parallel=tp, **common
        )
        genz_decode = decode_moddeling(
            input_tokens=prompt + output // 2,
            output_tokens=0,
            system_eff=EFFICIENCY,
            tensor_parallel=tp,
            **common,
        )
        out[label] = {
            "llm_analysis_ttft_s": la["prefill_latency"],
            "llm_analysis_tpot_s": la["decode_latency"],
            "genz_ttft_s": genz_prefill["Latency"] / 1e3,  # GenZ reports ms
            "genz_tpot_s": genz_decode["Latency"] / 1e3,
        }
    return out


def planner_figures() -> dict[str, dict[str, float]]:
    """The planner's prefill of the batch's prompts and decode step at the mean context, per question."""
    from planner.api.serve import serve
    from planner.api.serve_inputs import ServeOptions
    from planner.optimize.serving_costs import prefill_latency

    out = {}
    for label, model, _, _, device, tp, batch, prompt, output in QUESTIONS:
        options = ServeOptions(
            prompt_len=prompt, output_len=output, batch=batch, tensor_parallel=tp, servers=1
        )
        result = serve(model, CLUSTERS[device], options)
        payload = result.to_dict()
        out[label] = {
            "planner_ttft_s": prefill_latency(result.setup, batch, prompt),
            "planner_tpot_s": payload["decode_step_s"],
            "floor_s": payload["decode_floor_s"],
        }
    return out


def ensure_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEERS], check=True)
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--peers", action="store_true", help="print the peers' figures (in their venv)")
    parser.add_argument("--venv", type=Path, default=Path(__file__).parent / "peers" / ".venv")
    args = parser.parse_args()
    if args.peers:
        print(json.dumps(peers()))
        return
    python = ensure_venv(args.venv)
    run = subprocess.run([str(python), __file__, "--peers"], check=True, capture_output=True, text=True)
    theirs = json.loads(run.stdout.strip().splitlines()[-1])
    ours = planner_figures()
    print("TTFT = prefill of the batch's prompts; TPOT = one decode step at context prompt + output/2 (ms)")
    head = f"{'question':16} {'floor':>6} | {'TPOT planner':>12} {'llm-an.':>8} {'GenZ':>8} |"
    print(head + f" {'TTFT planner':>12} {'llm-an.':>8} {'GenZ':>8}")
    for label, *_ in QUESTIONS:
        row = {**ours[label], **theirs[label]}
        tpot = [row[f"{tool}_tpot_s"] * 1e3 for tool in ("planner", "llm_analysis", "genz")]
        ttft = [row[f"{tool}_ttft_s"] * 1e3 for tool in ("planner", "llm_analysis", "genz")]
        cells = " ".join(f"{v:>8.2f}" for v in tpot[1:])
        print(
            f"{label:16} {row['floor_s'] * 1e3:>6.2f} | {tpot[0]:>12.2f} {cells} | {ttft[0]:>12.2f} "
            + " ".join(f"{v:>8.2f}" for v in ttft[1:])
        )


if __name__ == "__main__":
    main()
