"""The ``dwelltime`` group: what every command shares."""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator

from click.testing import CliRunner

from dwelltime.cli import INTERRUPTED, main


def _interrupt(*args: object, **kwargs: object) -> None:
    raise KeyboardInterrupt


def test_ctrl_c_is_one_line_saying_what_is_kept_and_exit_130(tmp_path, monkeypatch):
    import dwelltime.scenes

    monkeypatch.setattr(dwelltime.scenes, "scan", _interrupt)
    result = CliRunner().invoke(main, ["-q", "scan", str(tmp_path)])
    assert result.exit_code == INTERRUPTED == 130
    (line,) = result.stderr.splitlines()
    assert line.startswith("dwelltime scan: interrupted; ") and "start over" in line


def test_ctrl_c_in_a_batch_job_says_it_resumes(tmp_path, monkeypatch):
    import dwelltime.batch.runner

    monkeypatch.setattr(dwelltime.batch.runner, "run_batch", _interrupt)
    job = tmp_path / "job.yaml"
    job.write_text("output: out/\njobs:\n  - {airport: ZKPY, imagery: images/}\n")
    result = CliRunner().invoke(main, ["-q", "batch", str(job)])
    assert result.exit_code == INTERRUPTED
    (line,) = result.stderr.splitlines()
    assert line.startswith("dwelltime batch: interrupted; ") and "go on where it stopped" in line


def test_ctrl_c_in_run_says_its_out_folder_keeps_the_finished_scenes(
    tmp_path, monkeypatch, write_raster
):
    from dwelltime.detector import predict

    monkeypatch.setattr(predict, "load_detector", _interrupt)  # what DetectorPlan loads with
    write_raster(tmp_path / "images" / "zkpy_20230801T023512.tif")  # a scene: the model loads
    args = ["-q", "run", str(tmp_path / "images"), "--airport", "ZKPY", "--out", str(tmp_path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == INTERRUPTED
    (line,) = result.stderr.splitlines()
    assert line == (
        f"dwelltime run: interrupted; the scenes finished so far are kept in {tmp_path / 'parts'}"
        f": run it again with --out {tmp_path} to go on where it stopped"
    )


def test_ctrl_c_in_run_without_out_says_nothing_is_kept(tmp_path, monkeypatch, write_raster):
    from dwelltime.detector import predict

    monkeypatch.setattr(predict, "load_detector", _interrupt)  # what DetectorPlan loads with
    write_raster(tmp_path / "images" / "zkpy_20230801T023512.tif")  # a scene: the model loads
    result = CliRunner().invoke(main, ["-q", "run", str(tmp_path / "images"), "--airport", "ZKPY"])
    assert result.exit_code == INTERRUPTED
    (line,) = result.stderr.splitlines()
    assert line.startswith("dwelltime run: interrupted; nothing is kept without --out")
    assert "parts" not in line


def test_tables_fit_the_terminal_and_go_whole_to_a_file_or_pipe(monkeypatch):
    """``terminal_width``: the columns of a terminal (``COLUMNS`` first), None for a pipe."""
    import io
    import sys

    from dwelltime.cli.options import terminal_width

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("COLUMNS", "72")
    monkeypatch.setattr(sys, "stdout", Terminal())
    assert terminal_width() == 72
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert terminal_width() is None


class _ClosedPipe(io.StringIO):
    """Standard output piped into a reader that has gone (``| head -1``)."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


class _PipedIntoHead(CliRunner):
    @contextlib.contextmanager
    def isolation(self, *args: object, **kwargs: object) -> Iterator[object]:
        with super().isolation(*args, **kwargs) as streams:
            sys.stdout = _ClosedPipe()
            yield streams


def test_output_piped_into_head_still_writes_the_files_and_exits_0(tmp_path, write_raster):
    write_raster(tmp_path / "images" / "sunan_20230731T023512.tif")
    args = ["-q", "scan", str(tmp_path / "images"), "--out", str(tmp_path / "out")]
    result = _PipedIntoHead().invoke(main, args)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "out" / "scenes.csv").is_file()
    assert result.stderr == ""


def test_every_command_s_help_gives_its_exit_status():
    """As the README says: 0 done, 1 failed, 2 bad usage, each command's --help says when."""
    from dwelltime.cli import COMMANDS

    for command in COMMANDS:
        help_text = CliRunner().invoke(main, [command, "--help"]).stdout
        assert "Exit status" in help_text, command


def test_one_v_gives_the_debug_log_its_help_promises(tmp_path):
    """-v already shows debug records (there is no more to give with -vv)."""
    import logging

    from dwelltime.cli import _CONSOLE

    help_line = next(
        line for line in CliRunner().invoke(main, ["--help"]).stdout.splitlines() if "-v," in line
    )
    assert "Debug" in help_line and "-vv" not in help_line
    CliRunner().invoke(main, ["-v", "scan", str(tmp_path)])
    assert _CONSOLE.level == logging.DEBUG


def test_q_and_v_after_the_command_name_are_as_before_it(tmp_path, write_raster):
    """``dwelltime scan DIR -q``, as scripts write it, is ``dwelltime -q scan DIR``, not
    "No such option: -q" (also for synth's commands)."""
    import logging

    from dwelltime.cli import _CONSOLE

    write_raster(tmp_path / "images" / "sunan_20230731T023512.tif")
    result = CliRunner().invoke(main, ["scan", str(tmp_path / "images"), "-q"])
    assert result.exit_code == 0, result.output
    assert _CONSOLE.level == logging.WARNING
    result = CliRunner().invoke(main, ["scan", str(tmp_path / "images"), "-v"])
    assert result.exit_code == 0 and _CONSOLE.level == logging.DEBUG
    result = CliRunner().invoke(main, ["-v", "scan", str(tmp_path / "images"), "-q"])
    assert result.exit_code == 0 and _CONSOLE.level == logging.WARNING  # -q wins
    args = ["synth", "chips", str(tmp_path / "chips"), "-n", "1", "--size", "32", "-q"]
    assert CliRunner().invoke(main, args).exit_code == 0
