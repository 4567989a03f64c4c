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
    "io.py": ("dwelltime.io", "dwelltime.report", "dwelltime.plot"),
    "batch/": ("dwelltime.batch.spec", "dwelltime.batch.runner"),
    "synth/": ("dwelltime.synth",),
    "pipeline.py": ("dwelltime.pipeline",),
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
