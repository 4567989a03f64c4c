"""Progress bars for the CLI and notebooks: library functions take a callback, only these draw.

Every bar is made by :func:`progress_bar`: none with ``--quiet``, and none when stderr is not
a terminal (``dwelltime demo > demo.log 2>&1``), so log files hold no bar redraws. Without a
click context (a notebook: ``with stage_bars() as progress: pipeline.run(…, progress=progress)``)
the bars are ``tqdm.auto``'s, drawn in Jupyter.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

import click

from dwelltime.cli.options import quiet

if TYPE_CHECKING:
    from tqdm import tqdm

    from dwelltime.pipeline import Progress


def progress_bar(ctx: click.Context | None, **kwargs: object) -> tqdm:
    """A tqdm bar on stderr (``kwargs``: tqdm's), off with ``--quiet`` and when stderr is not
    a terminal (tqdm's ``disable=None``); without ``ctx`` (a notebook, whose stderr is no
    terminal) ``tqdm.auto``'s, always drawn: a widget in Jupyter, text elsewhere."""
    if ctx is None:
        from tqdm.auto import tqdm as auto

        return auto(**kwargs)
    from tqdm import tqdm

    return tqdm(disable=True if quiet(ctx) else None, **kwargs)


class Counted:
    """A ``progress(n)`` callback that moves ``bar`` on by ``n`` items and counts them in
    :attr:`n`, also where the bar is not drawn (a disabled tqdm counts nothing)."""

    def __init__(self, bar: tqdm) -> None:
        self.bar = bar
        self.n = 0

    def __call__(self, n: int) -> None:
        self.n += n
        self.bar.update(n)

    def drop(self, n: int) -> None:
        """Take ``n`` items that will not come (an input skipped) off the bar's total, so its
        time estimate stays right; nothing where the bar has no total."""
        if n and self.bar.total is not None:
            self.bar.total -= n
            self.bar.refresh()


class BarSafeStream:
    """A text stream writing to ``stream`` with the tqdm bars drawn there wiped first and
    redrawn after, so a line written while one is drawn (the console log handler's, set by
    :func:`dwelltime.cli.configure_logging`) is not glued to its end. tqdm is not imported
    for it: where nothing has imported it, no bar is drawn."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        std = sys.modules.get("tqdm.std")
        if std is None:
            return self.stream.write(text)
        with std.tqdm.external_write_mode(file=self.stream):
            return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


@contextmanager
def stage_bars(ctx: click.Context | None = None) -> Iterator[Progress]:
    """A ``progress(stage, done, total)`` callback (:data:`dwelltime.pipeline.Progress`)
    drawing one :func:`progress_bar` per stage, counting scenes; ``ctx`` None: a notebook's."""
    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = progress_bar(ctx, total=total, desc=stage, unit="scene")
        bar.total = total
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()  # the stage is over: its bar stops its clock

    try:
        yield progress
    finally:
        for bar in bars.values():
            bar.close()
