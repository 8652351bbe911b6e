"""Reading back the pictures planner.render.figure_file draws: where a series' points and a marked point
sit in the SVG, the data a mark stands for (the axes' scale recovered from the series drawn), and the
colour at that place in the PNG."""

from __future__ import annotations

import io
import math
import re
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"
PT_PER_IN = 72  # an SVG from matplotlib is in points


def _panels(svg: bytes) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [g for g in root.iter(f"{SVG}g") if (g.get("id") or "").startswith("axes_")]


def positions(svg: bytes, panel: int, gid: str) -> list[tuple[float, float]]:
    """The (x, y) in points of every marker of the artist `gid` in the `panel`-th axes; of a bar
    (`bars-<group>-<layer>-<k>`, a path), its top left corner."""
    (group,) = [g for g in _panels(svg)[panel].iter(f"{SVG}g") if g.get("id") == gid]
    markers = [(float(u.get("x")), float(u.get("y"))) for u in group.iter(f"{SVG}use")]
    if markers or not gid.startswith("bars-"):
        return markers
    (path,) = group.iter(f"{SVG}path")
    numbers = [float(n) for n in re.findall(r"-?[0-9.]+", path.get("d") or "")]
    return [(min(numbers[0::2]), min(numbers[1::2]))]  # SVG's y grows downwards


def mark_data(
    svg: bytes,
    panel: int,
    name: str,
    series: list[tuple[str, list[tuple[float, float]]]],
    logs=(False, False),
) -> tuple[float, float]:
    """The data (x, y) the mark `mark-<name>` is drawn at, through the axes' scale fitted to the given
    series (gid, their data points, as the JSON gives them); `logs`: which axes are logarithmic."""
    pairs = [
        (drawn, data)
        for gid, points in series
        for drawn, data in zip(positions(svg, panel, gid), points, strict=True)
    ]
    (mark,) = positions(svg, panel, f"mark-{name}")
    return tuple(_invert([(d[0][k], d[1][k]) for d in pairs], mark[k], logs[k]) for k in (0, 1))  # type: ignore[return-value]


def _invert(pairs: list[tuple[float, float]], drawn: float, log: bool) -> float:
    """The data value at `drawn`, from a straight-line fit of drawn position on (log) data."""
    fwd = [(math.log10(v) if log else v, p) for p, v in pairs]
    (v0, p0), (v1, p1) = min(fwd), max(fwd)
    value = v0 + (drawn - p0) * (v1 - v0) / (p1 - p0)
    return 10**value if log else value


def png_colour(png: bytes, svg_point: tuple[float, float], dpi: int) -> tuple[int, int, int]:
    """The PNG's RGB at the place of an SVG point (the same figure drawn at `dpi`)."""
    from matplotlib.image import imread

    pixels = imread(io.BytesIO(png), format="png")
    scale = dpi / PT_PER_IN
    row, col = round(svg_point[1] * scale), round(svg_point[0] * scale)
    return tuple(round(float(c) * 255) for c in pixels[row][col][:3])  # type: ignore[return-value]


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def mark_places(svg: bytes) -> dict[tuple[int, str], tuple[float, float]]:
    """Where each marked point sits inside its axes, as fractions of the axes' width and height from
    the bottom left: what the data decide, whatever the fonts and legends around the axes take."""
    places = {}
    for index, axes in enumerate(_panels(svg)):
        background = next(axes.iter(f"{SVG}path"))  # the axes' own patch comes first
        numbers = [float(n) for n in re.findall(r"-?[0-9.]+", background.get("d") or "")]
        left, right = min(numbers[0::2]), max(numbers[0::2])
        top, bottom = min(numbers[1::2]), max(numbers[1::2])
        for group in axes.iter(f"{SVG}g"):
            gid = group.get("id") or ""
            if gid.startswith("mark-"):
                (x, y), *_ = positions(svg, index, gid)
                places[(index, gid)] = ((x - left) / (right - left), (bottom - y) / (bottom - top))
    return places
