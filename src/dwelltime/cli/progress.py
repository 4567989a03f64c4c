"""Progress bars for the CLI: library functions take a callback, only the CLI draws."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def stage_bars(disable: bool) -> Iterator[object]:
    """A ``progress(stage, done, total)`` callback drawing one tqdm bar per stage."""
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="scene", disable=disable)
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
