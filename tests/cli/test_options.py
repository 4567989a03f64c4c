"""Options shared by several commands: their help says what the measurements say."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from dwelltime.cli import main

BENCHMARKS = Path(__file__).parents[2] / "docs" / "benchmarks"


def test_precision_help_quotes_the_measured_int8_speedup_at_1024_tiles():
    ratios = []
    for path in sorted(BENCHMARKS.glob("detector_cpu_s17_amd_int8_onednn_run*.json")):
        rows = json.loads(path.read_text())["rows"]
        speed = {
            r["precision"]: r["tiles_per_s"]
            for r in rows
            if r["tile"] == 1024 and r["model"].startswith("dwelltime")
        }
        ratios.append(speed["int8"] / speed["fp32"])
    assert ratios, "the int8 benchmark runs the help quotes are missing"
    quoted = f"{min(ratios):.1f}-{max(ratios):.1f}x as fast at 1024²"
    help_text = " ".join(CliRunner().invoke(main, ["run", "--help"]).output.split())
    assert quoted in help_text


def test_a_path_from_home_is_not_a_folder_named_tilde(tmp_path, monkeypatch, write_raster):
    """The shell leaves ``~`` in ``--out=~/scanned`` (and in quotes): it is still home."""
    home = tmp_path / "home"
    write_raster(home / "images" / "sunan_20230731T023512.tif")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["-q", "scan", "~/images", "--out=~/scanned"])
    assert result.exit_code == 0, result.output
    assert (home / "scanned" / "scenes.csv").is_file() and not (tmp_path / "~").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
@pytest.mark.parametrize(
    "args",
    [
        ["detect", "{fifo}"],
        ["link", "{fifo}"],
        ["run", "{folder}", "--airport", "ZKPY", "--flights", "{fifo}"],
    ],
)
def test_a_fifo_given_as_an_input_is_refused_in_one_line(tmp_path, args):
    # ``dwelltime detect pipe.tif``, ``link pipe`` and ``--flights pipe`` waited forever on a
    # FIFO without a writer (folders already left such files out).
    os.mkfifo(tmp_path / "pipe.tif")
    names = {"fifo": tmp_path / "pipe.tif", "folder": tmp_path}
    result = CliRunner().invoke(main, [a.format(**names) for a in args])
    assert result.exit_code == 2
    assert f"{tmp_path / 'pipe.tif'}: not a regular file (a FIFO, socket or device)" in (
        result.output
    )
    assert "Traceback" not in result.output
