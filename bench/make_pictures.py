"""Draw the README's pictures (docs/pictures/*.svg), each with the planner command listed here.

    python bench/make_pictures.py            # (re)write every picture
    python bench/make_pictures.py --check    # exit 1 naming the pictures whose marked points moved

tests/test_readme_pictures.py checks that the committed pictures mark the points these commands mark
today (where each mark sits inside its axes, not the bytes: those depend on the matplotlib version).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PICTURES_DIR = REPO / "docs" / "pictures"

# file name -> the command's arguments (after `planner`); --plot-file FILE --force are added
COMMANDS = {
    "dp.svg": "dp vgg16 --cluster pipedream-cluster-a",
    "plan.svg": "plan",
    "llm-parallel.svg": "llm-parallel llama-2-7b --cluster dgx-h100 --servers 1 --global-batch 64",
    "pipeline-bubble.svg": "pipeline bubble -k 4",
    "pipeline-partition.svg": "pipeline partition vgg16 --cluster pipedream-cluster-b",
    "specdec-speedup.svg": "specdec speedup --alpha 0.7 --c 0.1",
    "specdec-batch.svg": "specdec batch --target llama-2-70b --draft llama-2-7b --device h100 "
    "--tensor-parallel 4 --alpha 0.8",
    "serve.svg": "serve llama-2-7b --cluster dgx-h100",
    "comm.svg": "comm --cluster dgx-h100 --size 100MB",
    "fl-round.svg": "fl round --fleet mixed-edge --model resnet18 --deadline 300s",
}
PICTURES: dict[str, tuple[str, ...]] = {name: tuple(line.split()) for name, line in COMMANDS.items()}


def draw(name: str, folder: Path) -> Path:
    """Run the picture's command with --plot-file into `folder`; the file written."""
    target = folder / name
    command = [sys.executable, "-m", "planner", *PICTURES[name], "--plot-file", str(target), "--force"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=REPO)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    if not args.check:
        PICTURES_DIR.mkdir(parents=True, exist_ok=True)
        for name in PICTURES:
            print(draw(name, PICTURES_DIR).relative_to(REPO))
        return 0
    sys.path.insert(0, str(REPO))
    from tests.picture_checks import mark_places

    moved = []
    with tempfile.TemporaryDirectory() as folder:
        for name in PICTURES:
            today = mark_places(draw(name, Path(folder)).read_bytes())
            committed = mark_places((PICTURES_DIR / name).read_bytes())
            if today.keys() != committed.keys() or any(
                abs(a - b) > 1e-3 for key in today for a, b in zip(today[key], committed[key], strict=True)
            ):
                moved.append(name)
    for name in moved:
        print(f"{name}: its marked points moved; run python bench/make_pictures.py")
    return 1 if moved else 0


if __name__ == "__main__":
    sys.exit(main())
