"""Plain-text tables for the terminal, shared by the commands that print frames."""

from __future__ import annotations

import math
import textwrap
import unicodedata
from collections.abc import Callable, Mapping, Sequence

import pandas as pd

#: Shown for missing values (None, NaN, NaT, "").
MISSING = "-"


def few(names: Sequence[str], n: int = 3) -> str:
    """The first ``n`` of ``names``, comma-separated, with "…" when there are more: a
    message naming some of many files or codes."""
    return ", ".join(names[:n]) + (", …" if len(names) > n else "")


def counted(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural ("s") unless ``n`` is 1: ``"1 scene"``, ``"0 scenes"``, the
    counts of a summary line."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def format_value(value: object) -> str:
    """One cell: UTC times as ``YYYY-MM-DD HH:MM:SS``, floats with up to 2 decimals."""
    if value is None or value is pd.NaT or (isinstance(value, str) and value == ""):
        return MISSING
    if isinstance(value, pd.Timestamp):
        if value.tzinfo is not None:
            value = value.tz_convert("UTC")
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return MISSING if math.isnan(value) else f"{value:.2f}"
    return str(value)


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes: 2 per wide character (Korean, Chinese, Japanese, as in
    a file name), 0 per combining mark, else 1."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def format_table(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    headers: Mapping[str, str] | None = None,
    formatters: Mapping[str, Callable[[object], str]] | None = None,
) -> str:
    """``columns`` of ``frame`` as an aligned text table (numbers right-aligned).

    Args:
        frame: the rows; a missing column is an error (KeyError).
        columns: columns to show, in order.
        headers: column → header text (default the column name).
        formatters: column → function turning one value into its cell text (default
            :func:`format_value`).
    """
    headers = headers or {}
    formatters = formatters or {}
    titles = [headers.get(c, c) for c in columns]
    cells = [[formatters.get(c, format_value)(v) for v in frame[c].tolist()] for c in columns]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in columns]
    widths = [
        max([display_width(t), *map(display_width, col)])
        for t, col in zip(titles, cells, strict=True)
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            " " * (w - display_width(v)) + v if right else v + " " * (w - display_width(v))
            for v, w, right in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    rows = [line(titles), line(["-" * w for w in widths])]
    rows += [line(row) for row in zip(*cells, strict=True)]
    return "\n".join(rows)


def table_width(table: str) -> int:
    """Terminal columns of the widest line of ``table`` (:func:`display_width`, as
    :func:`format_table` pads)."""
    return max(display_width(line) for line in table.splitlines())


def fitted_table(
    frame: pd.DataFrame,
    columns: Sequence[str],
    width: int | None,
    drop_order: Sequence[str],
    *,
    headers: Mapping[str, str] | None = None,
) -> str:
    """:func:`format_table` of ``columns`` in at most ``width`` terminal columns a line (None:
    no limit) where it can be: the columns of ``drop_order`` are left out in turn while it is
    wider, and a line under it names them."""
    headers = headers or {}
    shown = list(columns)
    text = format_table(frame, shown, headers=headers)
    dropped: list[str] = []
    for column in drop_order:
        if width is None or table_width(text) <= width:
            break
        shown.remove(column)
        dropped.append(headers.get(column, column))
        text = format_table(frame, shown, headers=headers)
    if not dropped:
        return text
    note = (
        f"(narrowed to {width} columns: no {', no '.join(dropped)}; output to a file or pipe "
        "has them all)"
    )
    return f"{text}\n{textwrap.fill(note, width)}"
