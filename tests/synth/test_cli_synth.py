"""``dwelltime synth``: chips, series and usage errors."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from dwelltime.cli import main


def test_chips_writes_images_and_dota_labels(tmp_path):
    out = tmp_path / "chips"
    result = CliRunner().invoke(
        main, ["-q", "synth", "chips", str(out), "-n", "2", "--size", "64", "--types", "il62"]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "images").iterdir()) == [
        "chip_000000.png",
        "chip_000001.png",
    ]
    lines = (out / "labels" / "chip_000000.txt").read_text().splitlines()
    assert lines[0] == "gsd:0.5"
    assert all(len(ln.split()) == 10 and ln.split()[8] == "IL62" for ln in lines[1:])


def test_chips_types_are_spelled_as_run_s_type(tmp_path):
    """``--types Il-62,t204`` as ``run --type Il-62`` takes it, not "unknown type(s) IL-62"."""
    out = tmp_path / "chips"
    args = ["-q", "synth", "chips", str(out), "-n", "1", "--size", "64", "--types", "Il-62,t204"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    types = {
        ln.split()[8] for ln in (out / "labels" / "chip_000000.txt").read_text().splitlines()[1:]
    }
    assert types <= {"IL62", "T204"}


def test_chips_refuses_unknown_types_and_non_empty_out(tmp_path):
    result = CliRunner().invoke(main, ["synth", "chips", str(tmp_path / "c"), "--types", "XX99"])
    assert result.exit_code == 2 and "XX99" in result.output
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    result = CliRunner().invoke(main, ["synth", "chips", str(tmp_path / "full"), "-n", "1"])
    assert result.exit_code == 2 and "--overwrite" in result.output


def test_series_unknown_airport_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["synth", "series", str(tmp_path / "s"), "--airport", "QQQQ"])
    assert result.exit_code == 2 and "--airport" in result.output


@pytest.mark.parametrize("start", ["tomorrow", "07/08/2023", "2023-02-30"])
def test_series_start_other_than_a_yyyy_mm_dd_day_is_a_usage_error(tmp_path, start):
    result = CliRunner().invoke(main, ["synth", "series", str(tmp_path / "s"), "--start", start])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "give a day as YYYY-MM-DD" in result.stderr
    assert not (tmp_path / "s").exists()


def test_every_synth_command_takes_its_folder_as_out_like_the_other_commands(tmp_path):
    """``--out DIR`` as ``run``, ``scan``, ``detect``… name it; OUT first still reads."""
    for command in ("series", "demo", "chips"):
        help_text = CliRunner().invoke(main, ["synth", command, "--help"]).output
        assert "--out DIRECTORY" in help_text, command
    out = tmp_path / "chips"
    result = CliRunner().invoke(main, ["-q", "synth", "chips", "--out", str(out), "-n", "1"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in (out / "images").iterdir()] == ["chip_000000.png"]
    result = CliRunner().invoke(main, ["synth", "chips", "-n", "1"])
    assert result.exit_code == 2 and "Missing option '--out'" in result.stderr
    result = CliRunner().invoke(main, ["synth", "chips", "a", "--out", "b", "-n", "1"])
    assert result.exit_code == 2 and "two output folders, a and b" in result.stderr


def test_chips_help_names_the_count_and_the_units_of_sizes():
    """``-n`` has a long name; sizes say pixels or metres per pixel (not "Pixels.")."""
    help_text = " ".join(CliRunner().invoke(main, ["synth", "chips", "--help"]).output.split())
    assert "-n, --count INTEGER RANGE How many chips to write." in help_text
    assert "--size INTEGER RANGE Width and height of each chip, pixels." in help_text
    assert "--source-gsd FLOAT RANGE GSD, metres per pixel," in help_text


def test_chips_count_may_be_given_by_its_long_name(tmp_path):
    args = ["-q", "synth", "chips", "--out", str(tmp_path / "c"), "--count", "2", "--size", "32"]
    assert CliRunner().invoke(main, args).exit_code == 0
    assert len(list((tmp_path / "c" / "labels").iterdir())) == 2


def test_a_series_without_a_scene_fails_saying_why(tmp_path):
    """One day that no satellite passes (seed 0): exit 1 naming the fix, not "0 scenes"."""
    args = ["-q", "synth", "series", "--out", str(tmp_path / "s"), "--days", "1", "--seed", "0"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.stderr == (
        "Error: no satellite pass fell in the 1 day(s) from 2023-07-29 (seed 0), so "
        f"{tmp_path / 's' / 'imagery'} holds no scene; give more --days or another --seed\n"
    )
