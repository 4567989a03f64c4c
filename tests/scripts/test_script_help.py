"""Every script's --help opens with a whole sentence of what it does, the commands the docs
quote take the options they show, and a bad input ends a script in one line."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
SCRIPTS = sorted(p.stem for p in (REPO / "scripts").glob("*.py"))
#: Where the commands that made the published figures are quoted.
DOCS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md")), *(REPO / "models").glob("*.md")]


class Parsed(Exception):
    """Carries the script's parser, so that nothing runs."""


def parser_of(script, monkeypatch, name: str) -> argparse.ArgumentParser:
    """The argument parser of ``scripts/<name>.py``, caught as it parses (nothing runs)."""
    module = script(name)

    def capture(self, args=None, namespace=None):
        raise Parsed(self)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    monkeypatch.setattr(sys, "argv", [f"{name}.py"])
    with pytest.raises(Parsed) as parsed:
        module.parse_args() if hasattr(module, "parse_args") else module.main()
    return parsed.value.args[0]


@pytest.mark.parametrize("name", SCRIPTS)
def test_help_describes_the_script_in_a_whole_sentence(script, monkeypatch, name):
    description = " ".join(parser_of(script, monkeypatch, name).description.split())
    assert description.endswith("."), description


def test_the_docs_quote_each_script_with_options_it_has(script, monkeypatch):
    """The options the docs quote exist, each given a value where it takes one (``--chips``
    alone scores no chips)."""
    options = {}
    wrong = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8").replace("\\\n", " ")
        for name, args in re.findall(r"scripts/(\w+)\.py([^`\n|;]*)", text):
            if name not in options:
                options[name] = parser_of(script, monkeypatch, name)._option_string_actions
            words = args.split()
            for i, word in enumerate(words):
                option = re.match(r"\[?(--[a-z][\w-]*)", word)
                if option is None or option[1] == "--help":
                    continue
                action = options[name].get(option[1])
                bare = i + 1 < len(words) and words[i + 1].startswith("--")  # no value
                if action is None or (action.nargs != 0 and bare):
                    wrong.append(f"{doc.name}: scripts/{name}.py {' '.join(words[i : i + 2])}")
    assert not wrong


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("evaluate_dwell", ["--n", "1", "--weights", "missing.safetensors"]),
        ("benchmark", ["--devices", "nodevice", "--tiles", "64", "--iters", "1", "--warmup", "0"]),
    ],
)
def test_a_bad_weights_file_or_device_ends_a_script_in_one_line(name, args, monkeypatch, tmp_path):
    import runpy

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [f"{name}.py", *args])
    with pytest.raises(SystemExit) as ended:  # not the DwelltimeError's traceback
        runpy.run_path(str(REPO / "scripts" / f"{name}.py"), run_name="__main__")
    message = ended.value.code
    assert isinstance(message, str) and "\n" not in message
    assert ("missing.safetensors" if name == "evaluate_dwell" else "'nodevice'") in message


@pytest.mark.parametrize("name", ["train_detector", "train_refiner"])
def test_training_without_the_airbus_folder_is_a_usage_line_before_any_work(
    script, tmp_path, capsys, name
):
    module = script(name)
    with pytest.raises(SystemExit) as refused:
        module.parse_args(["--airbus", str(tmp_path / "airbus_dev")])
    assert refused.value.code == 2
    assert (
        capsys.readouterr()
        .err.splitlines()[-1]
        .endswith(
            "no annotations.csv there; give the folder of the Airbus aircraft sample, or "
            "--synthetic-only to train without it"
        )
    )
    assert module.parse_args(["--airbus", str(tmp_path), "--synthetic-only"]).synthetic_only
