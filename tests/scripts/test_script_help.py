"""Every script's --help opens with a whole sentence of what it does."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

SCRIPTS = sorted(p.stem for p in (Path(__file__).parents[2] / "scripts").glob("*.py"))


class Parsed(Exception):
    """Carries the parser's description, so that nothing runs."""


@pytest.mark.parametrize("name", SCRIPTS)
def test_help_describes_the_script_in_a_whole_sentence(script, monkeypatch, name):
    module = script(name)

    def capture(self, args=None, namespace=None):
        raise Parsed(self.description)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    monkeypatch.setattr(sys, "argv", [f"{name}.py"])
    with pytest.raises(Parsed) as parsed:
        module.parse_args() if hasattr(module, "parse_args") else module.main()
    description = " ".join(parsed.value.args[0].split())
    assert description.endswith("."), description
