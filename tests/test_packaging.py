"""A plain (non-editable) install carries the catalog: build the wheel, install it elsewhere, load it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from planner.spec.catalog import catalog_dir, entries

REPO = Path(__file__).resolve().parents[1]


def test_wheel_carries_the_catalog_and_finds_it(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("planner-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    catalog = {n for n in names if n.startswith("planner/_catalog/")}
    expected = {
        f"planner/_catalog/{e.path.relative_to(catalog_dir(area).parent).as_posix()}"
        for area in ("hardware", "models")
        for e in entries(area)
    }
    assert expected <= catalog, expected - catalog
    assert "planner/validate/cases/models.yaml" in names
    assert "planner/validate/error_bands.json" in names  # read by every result that carries a band

    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    code = (
        "import planner.spec.catalog as c; "
        "print(c.catalog_dir('hardware')); "
        "print(len(c.entries('hardware')), len(c.entries('models')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.split("\n")
    assert out[0].startswith(str(site)), out
    assert out[1] == f"{len(entries('hardware'))} {len(entries('models'))}"
