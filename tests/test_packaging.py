"""What the wheel holds (pyproject.toml's setuptools tables): every package, every data file the
code reads, and the shipped weights from the top-level ``models/``."""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest

import dwelltime
from dwelltime.detector.weights import default_weights, models_dir

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]


def _setuptools() -> dict[str, Any]:
    """pyproject.toml's ``[tool.setuptools]`` table."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]


def _source(package: str, config: dict[str, Any]) -> Path:
    """The folder a package is built from: its ``package-dir`` entry, else under ``src/``."""
    mapped = config["package-dir"].get(package)
    return ROOT / mapped if mapped else ROOT / "src" / package.replace(".", "/")


def test_every_folder_of_the_source_tree_is_a_listed_package():
    """setuptools warns of (and will leave out) a folder of files that is not in ``packages``."""
    found = {
        ".".join(p.parent.relative_to(ROOT / "src").parts)
        for p in (ROOT / "src" / "dwelltime").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert sorted(found - set(_setuptools()["packages"])) == []


def test_every_data_file_ships_in_the_wheel():
    config = _setuptools()
    folders = {name: _source(name, config) for name in config["packages"]}
    missing = []
    for name, folder in folders.items():
        others = [f for n, f in folders.items() if n != name and f.is_relative_to(folder)]
        patterns = config["package-data"].get(name, [])
        for path in folder.rglob("*"):
            if (
                path.is_file()
                and path.suffix not in {".py", ".pyc"}
                and "__pycache__" not in path.parts
                and not any(path.is_relative_to(o) for o in others)
            ):
                rel = path.relative_to(folder).as_posix()
                if not any(fnmatch(rel, pattern) for pattern in patterns):
                    missing.append(f"{name}: {rel}")
    assert missing == []


def test_the_weights_the_code_reads_are_the_ones_the_wheel_carries():
    shipped = _source("dwelltime.models", _setuptools())
    assert models_dir() == shipped.resolve()
    assert default_weights().parent == shipped.resolve()


def test_import_dwelltime_reaches_every_module_as_an_attribute_without_loading_torch(
    fresh_python,
):
    """A notebook's ``import dwelltime`` then ``dwelltime.pipeline.run(...)`` (as the package
    docstring's ``dwelltime.io.read_layer``) works; the modules load on first use."""
    code = (
        "import sys, dwelltime; heavy = 'torch' in sys.modules or 'rasterio' in sys.modules;"
        "print(heavy, callable(dwelltime.pipeline.run), callable(dwelltime.io.read_layer),"
        "'scenes' in dir(dwelltime), dwelltime.__version__)"
    )
    assert fresh_python(code) == ["False", "True", "True", "True", dwelltime.__version__]
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        dwelltime.nope  # noqa: B018
