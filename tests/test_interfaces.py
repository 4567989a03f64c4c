"""docs/INTERFACES.md: the functions its code blocks declare take the parameters they show."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

INTERFACES = Path(__file__).parents[1] / "docs" / "INTERFACES.md"

#: Modules holding the functions of each section (by the first word of its heading).
SECTION_MODULES: dict[str, tuple[str, ...]] = {
    "scenes.py": ("dwelltime.scenes", "dwelltime.timesources"),
    "airports.py": ("dwelltime.airports",),
    "tiling.py": ("dwelltime.tiling",),
    "detector/": ("dwelltime.detector", "dwelltime.detector.model"),
    "linking.py": ("dwelltime.linking", "dwelltime.dwell"),
    "io.py": ("dwelltime.io", "dwelltime.report", "dwelltime.plot", "dwelltime.formats"),
    "batch/": ("dwelltime.batch.spec", "dwelltime.batch.runner"),
    "catalog.py": ("dwelltime.catalog",),
    "synth/": ("dwelltime.synth",),
    "pipeline.py": ("dwelltime.pipeline",),
    "store.py": ("dwelltime.store",),
    "coregister.py": ("dwelltime.coregister", "dwelltime.flights"),
    "evaluation/dwell.py": ("dwelltime.evaluation.dwell",),
}


def parameter_names(code: str, start: int) -> set[str]:
    """Names of the parameters of the ``def`` whose '(' is at ``code[start]``."""
    depth, items, item = 0, [], ""
    for char in code[start:]:
        depth += char in "([{"
        depth -= char in ")]}"
        if depth == 0:
            items.append(item)
            break
        if depth == 1 and char == ",":
            items.append(item)
            item = ""
        elif depth > 1 or char not in "(":
            item += char
    return {m[1] for m in (re.match(r"\s*\*{0,2}(\w+)", i) for i in items) if m}


def declared_functions() -> list[tuple[str, str, set[str]]]:
    """(section, name, parameter names) of each top-level ``def`` in the Python blocks."""
    found = []
    text = INTERFACES.read_text(encoding="utf-8")
    for heading, body in re.findall(r"^## (\S+).*?\n(.*?)(?=^## |\Z)", text, re.S | re.M):
        for block in re.findall(r"```python\n(.*?)```", body, re.S):
            code = re.sub(r"#[^\n]*", "", block)  # comments may hold brackets
            for match in re.finditer(r"^def (\w+)\(", code, re.M):
                found.append((heading, match[1], parameter_names(code, match.end() - 1)))
    return found


def test_every_declared_function_shows_the_parameters_it_takes():
    declared = declared_functions()
    assert len(declared) > 40
    wrong = []
    for section, name, shown in declared:
        modules = [importlib.import_module(m) for m in SECTION_MODULES[section]]
        function = next(getattr(m, name) for m in modules if hasattr(m, name))
        takes = set(inspect.signature(function).parameters)
        if shown != takes:
            wrong.append(f"{name}: shows {sorted(shown - takes)}, lacks {sorted(takes - shown)}")
    assert wrong == []


def declared_fields() -> list[tuple[str, str, dict[str, str | None]]]:
    """(section, class name, {field: default as written, or None}) of each ``@dataclass``
    in the Python blocks: the ``name[: type][= default]`` items after its ``class`` line."""
    found = []
    text = INTERFACES.read_text(encoding="utf-8")
    for heading, body in re.findall(r"^## (\S+).*?\n(.*?)(?=^## |\Z)", text, re.S | re.M):
        for block in re.findall(r"```python\n(.*?)```", body, re.S):
            code = re.sub(r"#[^\n]*", "", block)
            for match in re.finditer(
                r"^@dataclass[^\n]*\nclass (\w+)[^:]*:(.*?)(?=^\S|\Z)", code, re.S | re.M
            ):
                items = (
                    re.match(r"\s*(\w+)(?:: ([^=]+?))?(?:\s*=\s*(.+?))?\s*$", piece)
                    for piece in re.split(r"[;\n]", match[2])
                )
                fields = {f[1]: f[3] for f in items if f}
                found.append((heading, match[1], fields))
    return found


def test_every_declared_dataclass_shows_its_fields_and_defaults():
    """A field shown is one the class has, and a default shown is its default
    (LinkConfig's rules, TileSpec, DecodeConfig: what contributors tune against)."""
    import ast
    import dataclasses

    declared = declared_fields()
    assert {"Scene", "TileSpec", "DecodeConfig", "LinkConfig"} <= {n for _, n, _ in declared}
    wrong = []
    for section, name, shown in declared:
        modules = [importlib.import_module(m) for m in SECTION_MODULES[section]]
        cls = next(getattr(m, name) for m in modules if hasattr(m, name))
        fields = {f.name: f.default for f in dataclasses.fields(cls)}
        wrong += [f"{name}.{f}: no such field" for f in shown if f not in fields]
        wrong += [
            f"{name}.{f}: shows {default}, is {fields[f]!r}"
            for f, default in shown.items()
            if default is not None and f in fields and ast.literal_eval(default) != fields[f]
        ]
    assert wrong == []
