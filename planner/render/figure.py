"""What a picture shows, apart from how it is drawn: panels of series, bars and marked points, built from a
command's payload (the same result its table shows) and drawn by planner.render.figure_text (terminal)
or planner.render.figure_file (SVG/PNG, matplotlib)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Style(str, Enum):
    """How a series is drawn: a line through its points, points alone, a dashed reference (linear
    scaling, a target), a dotted bound (what a lower bound allows), or points greyed out (infeasible)."""

    line = "line"
    points = "points"
    reference = "reference"
    bound = "bound"
    muted = "muted"


@dataclass(frozen=True)
class Series:
    label: str
    xs: tuple[float, ...]
    ys: tuple[float, ...]
    style: Style = Style.line

    def __post_init__(self) -> None:
        if len(self.xs) != len(self.ys):
            raise ValueError(f"series {self.label!r}: {len(self.xs)} x values for {len(self.ys)} y values")


@dataclass(frozen=True)
class Mark:
    """A point the answer names (the recommendation, the optimum), labelled in the picture; `name` is its
    kind, also its id in an SVG (`mark-<name>`), so a test can find it."""

    name: str
    label: str
    x: float
    y: float


@dataclass(frozen=True)
class Bars:
    """Bars at `xs` (a category's index or a value), each `width` wide, with one segment per layer stacked
    bottom to top (one layer: plain bars, a histogram's counts); `labels` name the bars in the terminal."""

    labels: tuple[str, ...]
    xs: tuple[float, ...]
    layers: tuple[tuple[str, tuple[float, ...]], ...]  # (legend label, one height per bar)
    width: tuple[float, ...]
    categories: bool = True  # xs are positions of named things, labelled by `labels` on the axis

    def __post_init__(self) -> None:
        for label, heights in self.layers:
            if not len(heights) == len(self.xs) == len(self.labels) == len(self.width):
                raise ValueError(f"bars {label!r}: one height, label and width per bar")

    @property
    def tops(self) -> tuple[float, ...]:
        """Each bar's stacked height."""
        return tuple(map(sum, zip(*(heights for _, heights in self.layers), strict=True)))


@dataclass(frozen=True)
class Panel:
    title: str
    x_label: str
    y_label: str
    series: tuple[Series, ...]
    marks: tuple[Mark, ...] = ()
    x_log: bool = False
    y_log: bool = False
    bars: tuple[Bars, ...] = ()  # drawn under the series


@dataclass(frozen=True)
class Figure:
    title: str
    panels: tuple[Panel, ...]


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other point beats on both axes (both lower is better), by x: the front a reader
    chooses along. A selection among the drawn points, not a new figure."""
    front: list[tuple[float, float]] = []
    for x, y in sorted(set(points)):
        if not front or y < front[-1][1]:
            front.append((x, y))
    return front
