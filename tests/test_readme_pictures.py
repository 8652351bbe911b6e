"""The README's pictures (docs/pictures, drawn by bench/make_pictures.py) mark the points their commands
mark today: each mark's place inside its axes, read from the committed SVG and from one drawn now (not
the bytes, which depend on the matplotlib version). A change that moves a mark fails here until the
pictures are redrawn with `python bench/make_pictures.py`."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from tests.picture_checks import mark_places

pytest.importorskip("matplotlib")

REPO = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("make_pictures", REPO / "bench" / "make_pictures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PICTURES = _script().PICTURES


@pytest.mark.parametrize("name", sorted(PICTURES))
def test_the_committed_picture_marks_what_its_command_marks_today(run_cli, tmp_path, name) -> None:
    target = tmp_path / name
    result = run_cli(*PICTURES[name], "--plot-file", str(target))
    assert result.exit_code == 0, result.stderr
    today = mark_places(target.read_bytes())
    committed = mark_places((REPO / "docs" / "pictures" / name).read_bytes())
    assert today and committed.keys() == today.keys()
    for key, place in today.items():
        assert committed[key] == pytest.approx(place, abs=1e-3), (
            f"{name} {key}: python bench/make_pictures.py"
        )


def test_the_readme_shows_each_picture_once_and_names_its_command() -> None:
    readme = (REPO / "README.md").read_text()
    shown = re.findall(r"!\[[^\]]*\]\(docs/pictures/([^)]+)\)", readme)
    assert sorted(shown) == sorted(PICTURES)
    assert "python bench/make_pictures.py" in readme
    for argv in PICTURES.values():
        assert "planner " + " ".join(argv) in readme
