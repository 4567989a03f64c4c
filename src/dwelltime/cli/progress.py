"""Progress bars for the CLI: library functions take a callback, only the CLI draws.

Every bar is made by :func:`progress_bar`: none with ``--quiet``, and none when stderr is not
a terminal (``dwelltime demo > demo.log 2>&1``), so log files hold no bar redraws.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from dwelltime.cli.options import quiet

if TYPE_CHECKING:
    from tqdm import tqdm


def progress_bar(ctx: click.Context, **kwargs: object) -> tqdm:
    """A tqdm bar on stderr (``kwargs``: tqdm's), off with ``--quiet`` and when stderr is not
    a terminal (tqdm's ``disable=None``)."""
    from tqdm import tqdm

    return tqdm(disable=True if quiet(ctx) else None, **kwargs)


@contextmanager
def stage_bars(ctx: click.Context) -> Iterator[object]:
    """A ``progress(stage, done, total)`` callback drawing one :func:`progress_bar` per stage."""
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
