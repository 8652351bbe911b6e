"""What the edge papers report for VGG-16, and a note when a plan's answer contradicts it, with the terms
that make the difference. The headlines (shared/reference/seed_edge.yaml, the seed lecture):

* ADCNN (Zhang, Lin, Zhang, ICPP 2020): 6.68x lower latency than one Raspberry Pi, 4.42x than a remote
  cloud, VGG-16 on 8 Conv nodes and a Central node;
* MoDNN (Mao et al., DATE 2017, abstract): 2.17x to 4.28x faster as the workers grow from 2 to 4.

A contradiction is an answer off the headline by more than the validation tolerance (25 %,
planner/validate/cases/edge.yaml) or on the other side of 1x (the baseline wins)."""

from __future__ import annotations

from typing import Any

ADCNN_SINGLE, ADCNN_CLOUD = 6.68, 4.42
MODNN_RANGE = {2: 2.17, 4: 4.28}  # the abstract's ends, read as 2 and 4 workers
PAPER_MODEL = "vgg16"
TOLERANCE = 0.25


def _off(predicted: float, published: float) -> bool:
    return abs(predicted / published - 1.0) > TOLERANCE or (predicted < 1.0) != (published < 1.0)


def adcnn_notes(p: dict[str, Any]) -> list[str]:
    """Notes on an ADCNN plan's to_dict against ADCNN's headline (VGG-16 only)."""
    if p["model"] != PAPER_MODEL:
        return []
    notes = []
    single, central = p["single_device"], p["central"]
    if _off(single["speedup"], ADCNN_SINGLE):
        notes.append(
            f"ADCNN reports {ADCNN_SINGLE}x over one board; here {single['speedup']:.2f}x: the Central "
            f"node's layers take {central['time_s']:.3g} s of the board's {single['time_s']:.3g} s (at most "
            f"{single['time_s'] / max(central['time_s'], 1e-12):.1f}x however fast the tiles), the tile "
            f"phase {p['tile_phase_s']:.3g} s; the paper's per-board and per-layer times are not in the seed"
        )
    cloud = p["cloud"]
    if cloud is not None and _off(cloud["speedup"], ADCNN_CLOUD):
        faster = " (the cloud is faster)" if cloud["speedup"] < 1 else ""
        notes.append(
            f"ADCNN reports {ADCNN_CLOUD}x over a remote cloud; here {cloud['speedup']:.2f}x{faster}: "
            f"{cloud['cluster']} uploads the {cloud['upload_bytes'] / 1024:.0f} KiB input in "
            f"{cloud['upload_s']:.3g} s and computes in {cloud['compute_s']:.3g} s; the paper's WAN rate "
            "and cloud device are not in the seed"
        )
    return notes


def modnn_notes(model: str, results: list[dict[str, Any]]) -> list[str]:
    """Notes on MoDNN results (to_dict of each worker count) against MoDNN's abstract (VGG-16 only)."""
    if model != PAPER_MODEL:
        return []
    notes = []
    for r in results:
        published = MODNN_RANGE.get(r["workers"])
        if published is not None and _off(r["speedup"], published):
            notes.append(
                f"MoDNN reports {published}x on {r['workers']} workers; here {r['speedup']:.2f}x: data "
                f"delivery {r['delivery_s']:.3g} s against {r['compute_s']:.3g} s of compute (one device "
                f"{r['single_device_s']:.3g} s); the phones' times and the Wi-Fi rate are not in the abstract"
            )
    return notes
