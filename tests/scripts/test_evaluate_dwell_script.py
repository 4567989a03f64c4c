"""scripts/evaluate_dwell.py: the README's commands simulate the airport-weeks it reports."""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path

import pytest

README = Path(__file__).parents[2] / "README.md"


class Parsed(Exception):
    """Carries the namespace the script parsed, so that nothing runs."""


def readme_week_rows() -> list[tuple[int, list[str]]]:
    """(airport-weeks, the script's arguments) of each README row of stays on simulated weeks;
    a command cell ``same, `ARGS` `` adds ARGS to the script with no arguments."""
    rows = []
    for line in README.read_text(encoding="utf-8").splitlines():
        weeks = re.match(r"\| stays on (\d+) .*airport-weeks \|", line)
        if weeks:
            command = re.findall(r"`([^`]*)`", line.rsplit("|", 2)[1])[0]
            args = shlex.split(command)
            rows.append((int(weeks[1]), args[2:] if args[:1] == ["python"] else args))
    return rows


def test_readme_commands_simulate_the_weeks_their_rows_report(script, monkeypatch):
    module = script("evaluate_dwell")
    parse_args = argparse.ArgumentParser.parse_args

    def capture(self, args=None, namespace=None):
        raise Parsed(parse_args(self, args, namespace))

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    rows = readme_week_rows()
    assert len(rows) >= 3
    for weeks, args in rows:
        monkeypatch.setattr(sys, "argv", ["evaluate_dwell.py", *args])
        with pytest.raises(Parsed) as parsed:
            module.main()
        assert parsed.value.args[0].n == weeks, args


def test_help_gives_each_setting_its_default(script, monkeypatch, capsys):
    module = script("evaluate_dwell")
    monkeypatch.setattr(sys, "argv", ["evaluate_dwell.py", "--help"])
    with pytest.raises(SystemExit):
        module.main()
    text = " ".join(capsys.readouterr().out.split())
    for shown in ("simulate (default: 20)", "(default: runs/dwell_eval)", "m (default: 10.0)"):
        assert shown in text


@pytest.mark.parametrize("given", [["--n", "0"], ["--days", "0"]])
def test_no_week_or_no_day_is_one_line_before_the_detector_loads(
    script, monkeypatch, capsys, given
):
    module = script("evaluate_dwell")

    def no_detector(*args, **kwargs):
        raise AssertionError("the detector loaded for no week")

    monkeypatch.setattr(module, "load_detector", no_detector)
    monkeypatch.setattr(sys, "argv", ["evaluate_dwell.py", *given])
    with pytest.raises(SystemExit) as refused:
        module.main()
    assert refused.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(f"{' '.join(given)}: give at least 1")


def test_reuse_renders_again_a_week_whose_rendering_was_cut_short(script, tmp_path, monkeypatch):
    module = script("evaluate_dwell")
    args = argparse.Namespace(
        out=tmp_path, days=7, max_shift=10.0, seed=0, reuse=True, relink=False, keep=False
    )
    folder = module.week(0, args).folder
    (folder / "imagery").mkdir(parents=True)  # Ctrl-C after a few scenes: no truth/scenes.csv
    (folder / "truth").mkdir()
    (folder / "truth" / "zkpy_01.geojson").write_text("{}")

    class Rendered(Exception):
        pass

    def render_week(w, args):
        raise Rendered(w.folder)

    monkeypatch.setattr(module, "render_week", render_week)
    with pytest.raises(Rendered):
        module.run_week(0, args, None, module.LinkConfig())


def test_synth_only_with_reuse_renders_only_the_weeks_not_yet_rendered(
    script, tmp_path, monkeypatch, capsys
):
    module = script("evaluate_dwell")
    argv = ["evaluate_dwell.py", "--synth-only", "--reuse", "--n", "2", "--out", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", argv)
    done = module.week(0, module.argparse.Namespace(out=tmp_path, days=7, max_shift=10.0, seed=0))
    (done.folder / "imagery").mkdir(parents=True)
    (done.folder / "truth").mkdir()
    (done.folder / "truth" / "scenes.csv").write_text("scene_id\n")
    rendered = []
    monkeypatch.setattr(module, "render_week", lambda w, args: rendered.append(w.k))
    module.main()
    assert rendered == [1]
    assert capsys.readouterr().out.splitlines()[0] == f"kept {done.folder}"
