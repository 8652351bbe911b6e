"""Write the branchy graph.txt files of issue 17 into this folder.

parallel_WxL: a source that is not an Input node, W parallel chains of L layers, one join (82 nodes for
4 x 20, 8 x 10 and 16 x 5). stem_3x4x6: an Input, a stem and 3 blocks of 4 branches of 6 layers, each
joined by an Add (the previous session's note: 7,204 antichain states); stem_4x8x3: 4 blocks of 8
branches of 3 (about 4 x 4^8 states: 13 GB before the states were bounded). Times and sizes vary a little
between layers so that partitions are not all ties.

Run: python tests/data/branchy/make_graphs.py
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
INPUT = (
    "node0 -- Input0 -- forward_compute_time=0.0, backward_compute_time=0.0, activation_size=100.0, "
    "parameter_size=0.0"
)


def figures(i: int) -> str:
    forward = 1.0 + (i % 7) * 0.25
    return (
        f"forward_compute_time={forward:.3f}, backward_compute_time={2 * forward:.3f}, "
        f"activation_size={1000.0 * (1 + i % 3):.1f}, parameter_size={4e6 * (1 + i % 5):.1f}"
    )


def blocks(first: int, lines: list[str], edges: list[str], width: int, length: int, count: int) -> None:
    """Append `count` blocks of `width` branches of `length` layers after node `first`, each joined."""
    last = join = first
    for _ in range(count):
        ends = []
        for _ in range(width):
            previous = join
            for _ in range(length):
                last += 1
                lines.append(f"node{last} -- Conv2d(64, 64) -- {figures(last)}")
                edges.append(f"\tnode{previous} -- node{last}")
                previous = last
            ends.append(previous)
        last += 1
        lines.append(f"node{last} -- Add -- {figures(last)}")
        edges += [f"\tnode{end} -- node{last}" for end in ends]
        join = last


def main() -> None:
    for width, length in ((4, 20), (8, 10), (16, 5)):
        lines, edges = [f"node0 -- Conv2d(3, 64) -- {figures(0)}"], []
        blocks(0, lines, edges, width, length, 1)
        (HERE / f"parallel_{width}x{length}.graph.txt").write_text("\n".join(lines + edges) + "\n")
    for count, width, length in ((3, 4, 6), (4, 8, 3)):
        lines, edges = [INPUT, f"node1 -- Conv2d(3, 64) -- {figures(1)}"], ["\tnode0 -- node1"]
        blocks(1, lines, edges, width, length, count)
        (HERE / f"stem_{count}x{width}x{length}.graph.txt").write_text("\n".join(lines + edges) + "\n")


if __name__ == "__main__":
    main()
