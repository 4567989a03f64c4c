"""Progress bars: drawn on a terminal only, never into a log file, none with --quiet."""

from __future__ import annotations

import io

import click
import pytest
from click.testing import CliRunner

from dwelltime.cli import main
from dwelltime.cli.progress import progress_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("quiet", "stream", "drawn"),
    [(False, Terminal, True), (True, Terminal, False), (False, io.StringIO, False)],
)
def test_a_bar_is_drawn_on_a_terminal_without_quiet(quiet, stream, drawn):
    ctx = click.Context(main, obj={"quiet": quiet})
    with progress_bar(ctx, total=2, desc="scan", file=stream()) as bar:
        assert bar.disable is not drawn


def test_a_command_writes_no_bar_into_redirected_stderr(tmp_path, write_raster):
    write_raster(tmp_path / "images" / "sunan_20230731T023512.tif")
    result = CliRunner().invoke(main, ["scan", str(tmp_path / "images")])
    assert result.exit_code == 0, result.output
    assert "100%" not in result.stderr and "scene/s" not in result.stderr


def test_a_notebook_gets_one_drawn_bar_per_stage_without_a_terminal(capsys):
    """``with stage_bars() as progress: pipeline.run(…, progress=progress)`` in a notebook,
    whose stderr is no terminal and which has no click context: the bars are drawn
    (``tqdm.auto``'s), one per stage, not switched off as they are for a log file."""
    from dwelltime.cli.progress import stage_bars

    with progress_bar(None, total=2, file=io.StringIO()) as bar:
        assert not bar.disable
    with stage_bars() as progress:
        for done in (1, 2):
            progress("scan", done, 2)
        progress("detect", 1, 2)
    drawn = capsys.readouterr().err
    assert "scan: 100%" in drawn and "2/2" in drawn and "detect:  50%" in drawn


def test_a_log_line_is_written_on_a_line_of_its_own_under_a_bar():
    """A log record printed while a bar is drawn (a warning about one image in the middle of
    ``detect``) wipes the bar first and has it redrawn after, instead of being glued to it."""
    import logging

    from tqdm import tqdm

    from dwelltime.cli.progress import BarSafeStream

    screen = Terminal()
    logger = logging.getLogger("dwelltime.tests.bar_safe")
    logger.propagate = False
    handler = logging.StreamHandler(BarSafeStream(screen))
    logger.addHandler(handler)
    try:
        with tqdm(total=3, desc="detect", unit="tile", file=screen) as bar:
            bar.update(1)
            logger.warning("a.png: coarse")
            before, after = screen.getvalue().split("a.png: coarse\n")
    finally:
        logger.removeHandler(handler)
    assert "tile" in before and before.endswith("\r"), repr(before)
    assert "1/3" in after  # redrawn under it
