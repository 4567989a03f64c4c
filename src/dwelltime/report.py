"""Terminal table of stays; :func:`plot_timeline` (from :mod:`dwelltime.plot`) draws them."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping

import pandas as pd

from dwelltime.catalog import designator
from dwelltime.dwell import floor_hours, ranking_hours
from dwelltime.linking import OPEN_REASONS, LinkConfig
from dwelltime.plot import plot_timeline
from dwelltime.tables import MISSING, counted, few, format_table, table_width

__all__ = [
    "censored_label",
    "dwell_range",
    "flight_bounds_line",
    "link_rules",
    "no_stays_of_type",
    "no_stays_reason",
    "of_type",
    "plot_timeline",
    "stays_report",
    "stays_table",
    "unlinked_line",
]

#: Columns of the stays table, with their headers.
STAYS_TABLE_HEADERS: dict[str, str] = {
    "stay_id": "stay",
    "type_label": "type (prob)",
    "first_seen": "first seen (UTC)",
    "last_seen": "last seen (UTC)",
    "dwell_range": "dwell min–max h",
    "dwell_est_h": "est h",
    "censored": "censored",
    "n_seen": "n_seen",
}

#: Shorter headers of a table narrowed to the terminal's width (:func:`stays_table`).
NARROW_HEADERS: dict[str, str] = {
    **STAYS_TABLE_HEADERS,
    "first_seen": "first (UTC)",
    "last_seen": "last (UTC)",
    "dwell_range": "min–max h",
    "censored": "open",
    "n_seen": "seen",
}

#: Columns a narrowed table leaves out, in this order, while it is still too wide.
NARROW_DROP_ORDER: tuple[str, ...] = ("n_seen", "censored", "dwell_est_h", "last_seen")


def _hours(value: float) -> str:
    return MISSING if math.isnan(value) else f"{value:.1f}"


def dwell_range(min_h: float, max_h: float) -> str:
    """``"36.0–58.0"``; ``"≥ 36.0"`` when the maximum is open (censored stay). The minimum is
    rounded down (:func:`~dwelltime.dwell.floor_hours`, as the timeline's row label is) and
    the maximum up, so that the range shown holds the range computed (a stay seen over
    35.97 h, absent 58.02 h apart, is "35.9–58.1", not "36.0–58.0")."""
    low = min_h if math.isnan(min_h) else floor_hours(min_h, 1)
    if math.isnan(max_h):
        return f"≥ {_hours(low)}"
    return f"{_hours(low)}–{_hours(-floor_hours(-max_h, 1))}"  # max_h rounded up


def censored_label(start: bool, end: bool, start_reason: str = "", end_reason: str = "") -> str:
    """``"start"``, ``"end"``, ``"both"`` or ``"-"``: which end of the stay is open, followed
    by why where the reasons (:data:`dwelltime.linking.OPEN_REASONS`) are given, e.g.
    ``"end (occupied)"``, ``"both (edge, gap)"``."""
    label = {(True, True): "both", (True, False): "start", (False, True): "end"}.get(
        (bool(start), bool(end)), MISSING
    )
    reasons = [r for r, open_ in ((start_reason, start), (end_reason, end)) if open_ and r]
    return f"{label} ({', '.join(dict.fromkeys(reasons))})" if reasons else label


def _minutes(value: object, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return MISSING if pd.isna(value) else pd.Timestamp(value).tz_convert("UTC").strftime(fmt)


def of_type(stays: pd.DataFrame, type_filter: str | None) -> pd.DataFrame:
    """The stays of ICAO designator ``type_filter``, read as ``--type`` reads it (``Il-62``
    is IL62: :func:`dwelltime.catalog.designator`; case-insensitive); all when None."""
    if type_filter is None:
        return stays
    from dwelltime.errors import UnknownTypeError

    try:
        wanted = designator(type_filter)
    except UnknownTypeError:
        wanted = type_filter  # not in the catalog: matches no stay the detector typed
    return stays[stays["type"].astype(str).str.upper() == wanted.upper()]


def no_stays_of_type(stays: pd.DataFrame, type_filter: str) -> str:
    """What to say when no stay is of ``type_filter``: the types the stays are of instead,
    e.g. ``"No stays of type IL62 (3 stays of other types: A320, IL76 ×2)."``"""
    if stays.empty:
        return f"No stays of type {type_filter}."
    counts = stays["type"].astype(str).value_counts().sort_index()
    found = ", ".join(t if n == 1 else f"{t} ×{n}" for t, n in counts.items())
    return f"No stays of type {type_filter} ({len(stays)} stays of other types: {found})."


def no_stays_reason(detections: pd.DataFrame, config: LinkConfig) -> str:
    """Why ``detections`` (at least one) linked into no stay, and what to try: every track's
    evidence fell short of ``config.min_score_single`` (the false-positive rule)."""
    best = float(detections["score"].max())
    return (
        f"No stays: none of the {len(detections)} detections, alone or with the other "
        f"sightings of its stand, reaches the evidence a stay needs "
        f"({config.min_score_single:g}; best detection score {best:.2f}). "
        f"{_min_score_advice(best, len(detections))}"
    )


def _min_score_advice(best: float, n: int) -> str:
    """What to try for ``n`` detections left out of every stay, the best of score ``best``:
    the ``--min-score`` that would keep it (rounded down to 0.01)."""
    they = "it is an aircraft" if n == 1 else "they are aircraft"
    return f"If {they}, try --min-score {math.floor(best * 100) / 100:g}."


def unlinked_line(stays: pd.DataFrame, detections: pd.DataFrame, config: LinkConfig) -> str:
    """What to say of the ``detections`` that are in none of ``stays`` (some are): dropped
    by the false-positive rule (evidence under ``config.min_score_single``), and what to try;
    "" when every detection is in a stay."""
    linked = {d for ids in stays["detection_ids"] for d in str(ids).split(";")}
    left = detections[~detections["detection_id"].astype(str).isin(linked)]
    if left.empty:
        return ""
    best = float(left["score"].max())
    one = len(left) == 1
    return (
        f"{len(left)} of the {len(detections)} detections {'is' if one else 'are'} in no stay: "
        f"too weak, alone or with the other sightings of {'its' if one else 'their'} stand, "
        f"for the evidence a stay needs ({config.min_score_single:g}; "
        f"{'its score' if one else 'best of them'} {best:.2f}). "
        f"{_min_score_advice(best, len(left))}"
    )


def stays_table(
    stays: pd.DataFrame,
    type_filter: str | None = None,
    *,
    max_rows: int | None = None,
    more: str = "",
    width: int | None = None,
) -> str:
    """Stays as terminal text, sorted by type, then longest dwell first (:func:`ranking_hours`).

    ``type_filter``: only stays of this ICAO designator (case-insensitive). Times are UTC to
    the minute; dwell in hours; an open maximum (no visible absence on one side) shows as
    ``≥ min`` and the ``censored`` column says which end is open. ``max_rows``: at most this
    many rows (None: all), then a line counting the others and saying ``more`` (where they
    all are). ``width``: at most this many characters a line (a terminal's columns; None: no
    limit); a wider table is narrowed (:func:`_narrowed`), with a line under it saying so.
    """
    shown = of_type(stays, type_filter)
    if shown.empty:
        return _fill(no_stays_of_type(stays, type_filter) if type_filter else "No stays.", width)
    view = shown.assign(_rank=ranking_hours(shown)).sort_values(
        ["type", "_rank", "first_seen"], ascending=[True, False, True]
    )
    if max_rows is not None:
        view = view.head(max_rows)
    hidden = len(shown) - len(view)
    table = _stays_cells(view, with_year=True, with_reasons=True)
    if width is not None and table_width(table) > width:
        table = _narrowed(view, width)
    if hidden <= 0:
        return table
    rest = f"… {hidden} more of {len(shown)} stays not shown" + (f"; {more}" * bool(more))
    return f"{table}\n{_fill(rest, width)}"


def _fill(text: str, width: int | None) -> str:
    """``text`` in lines of at most ``width`` characters (None: as it is), each line after the
    first indented two spaces."""
    return text if width is None else textwrap.fill(text, width, subsequent_indent="  ")


def _stays_cells(
    view: pd.DataFrame,
    *,
    with_year: bool,
    with_reasons: bool,
    columns: list[str] | None = None,
    headers: Mapping[str, str] = STAYS_TABLE_HEADERS,
) -> str:
    """The table of the sorted stays ``view``: ``columns`` (default all) under ``headers``;
    times with or without the year; the censored column with or without its reasons."""
    fmt = "%Y-%m-%d %H:%M" if with_year else "%m-%d %H:%M"
    reasons = (
        (_strings(view, "start_open_reason"), _strings(view, "end_open_reason"))
        if with_reasons
        else ([""] * len(view), [""] * len(view))
    )
    cells = pd.DataFrame(
        {
            "stay_id": view["stay_id"].astype(str),
            "type_label": [
                f"{t} ({p:.2f})" for t, p in zip(view["type"], view["type_prob"], strict=True)
            ],
            "first_seen": [_minutes(v, fmt) for v in view["first_seen"]],
            "last_seen": [_minutes(v, fmt) for v in view["last_seen"]],
            "dwell_range": [
                dwell_range(lo, hi)
                for lo, hi in zip(view["dwell_min_h"], view["dwell_max_h"], strict=True)
            ],
            "dwell_est_h": view["dwell_est_h"].astype(float),
            "censored": [
                censored_label(*ends)
                for ends in zip(view["censored_start"], view["censored_end"], *reasons, strict=True)
            ],
            "n_seen": view["n_seen"].astype(int),
        }
    )
    return format_table(
        cells,
        columns or list(STAYS_TABLE_HEADERS),
        headers=headers,
        formatters={"dwell_est_h": lambda v: _hours(float(v))},  # type: ignore[arg-type]
    )


def _narrowed(view: pd.DataFrame, width: int) -> str:
    """The stays table of ``view`` in at most ``width`` characters a line, where it can be:
    :data:`NARROW_HEADERS`, times without the year where all share one, the censored column
    without its reasons, then columns left out in :data:`NARROW_DROP_ORDER`; under it, a line
    saying what was shortened and where everything is."""
    times = pd.concat([view["first_seen"], view["last_seen"]]).dropna()
    years = sorted({pd.Timestamp(t).tz_convert("UTC").year for t in times})
    one_year = len(years) == 1
    columns = list(STAYS_TABLE_HEADERS)
    dropped: list[str] = []

    def table() -> str:
        return _stays_cells(
            view,
            with_year=not one_year,
            with_reasons=False,
            columns=columns,
            headers=NARROW_HEADERS,
        )

    text = table()
    for column in NARROW_DROP_ORDER:
        if table_width(text) <= width:
            break
        columns.remove(column)
        dropped.append(STAYS_TABLE_HEADERS[column])
        text = table()
    what = [f"times of {years[0]}"] if one_year else []
    what += ["open ends without reasons"] * ("censored" in columns)
    what += [f"no {name}" for name in dropped]
    note = (
        f"(narrowed to {width} columns: {', '.join(what)}; "
        "the stays files, or output to a file or pipe, have the full table)"
    )
    return f"{text}\n{textwrap.fill(note, width)}"


def stays_report(
    stays: pd.DataFrame,
    detections: pd.DataFrame,
    config: LinkConfig,
    *,
    type_filter: str | None = None,
    flights: bool = False,
    max_rows: int | None = None,
    more: str = "",
    width: int | None = None,
) -> str:
    """What ``run`` and ``link`` print: the stays table (at most ``max_rows`` rows, then
    ``more``: :func:`stays_table`) and what became of the detections in no stay
    (:func:`unlinked_line`), or why there is no stay although there are ``detections``; with
    ``flights`` (a flight log tightened them), the ends its rows bound
    (:func:`flight_bounds_line`); then :func:`link_rules`; lines of at most ``width`` characters (a
    terminal's columns; None: no limit), the table narrowed and the text wrapped. With a
    ``type_filter``, ``stays`` are those the filter kept (as `run` and `link` have them): the
    detections in stays of other types are in none of them, so none is counted as in no stay."""
    if stays.empty and not type_filter and len(detections):
        table = _fill(no_stays_reason(detections, config), width)
    else:
        table = stays_table(stays, type_filter, max_rows=max_rows, more=more, width=width)
        unlinked = "detection_id" in detections and not type_filter
        if unlinked and (line := unlinked_line(stays, detections, config)):
            table += "\n" + _fill(line, width)
        if flights and not (shown := of_type(stays, type_filter)).empty:
            table += "\n" + _fill(flight_bounds_line(shown), width)
    rules = link_rules(config, flights=flights)
    return table + "".join(f"\n{_fill(line, width)}" for line in rules.splitlines())


def _strings(frame: pd.DataFrame, column: str) -> list[str]:
    """``column`` as strings ("" where missing, or for every row of a frame without it)."""
    if column not in frame:
        return [""] * len(frame)
    return ["" if pd.isna(v) else str(v) for v in frame[column]]


def flight_bounds_line(stays: pd.DataFrame) -> str:
    """Which ends of ``stays`` a flight log's rows bound (``start_bounded_by`` /
    ``end_bounded_by`` ``flight:<row>``), for under the table: each as its stay, the end and
    the row, or that none is (no row records a movement of a stay's type between a sighting
    and the nearest scene that saw the stand empty)."""
    ends = [
        f"{stay} {end} (row {bound.removeprefix('flight:')})"
        for stay, *bounds in zip(
            _strings(stays, "stay_id"),
            _strings(stays, "start_bounded_by"),
            _strings(stays, "end_bounded_by"),
            strict=True,
        )
        for end, bound in zip(("start", "end"), bounds, strict=True)
        if bound.startswith("flight:")
    ]
    if not ends:
        return (
            "flight log: its rows bound no end of these stays (none records an arrival or "
            "departure of a stay's type between a sighting and the nearest scene that saw the "
            "stand empty)"
        )
    return f"flight log: its rows bound {counted(len(ends), 'end')}: {few(ends, 6)}"


def link_rules(config: LinkConfig, *, flights: bool) -> str:
    """Three lines for under :func:`stays_table`: the linking rules ``config`` that made the
    stays and the estimate's prior, what bounds their ends (``flights``: a flight log
    tightened them), and what the reasons of an open end in the ``censored`` column mean."""
    ends = config.max_visible_misses + 1
    rules = [f"a stay ends at {ends} visible miss{'es' if ends > 1 else ''} in a row"]
    if config.max_gap_h is None:
        rules.append("no limit on the hours between sightings")
    else:
        rejoin = " (re-joined when the stand was not seen empty between)" * config.rejoin_gaps
        rules.append(f"sightings over {config.max_gap_h:g} h apart split{rejoin}")
    rules.append("a tow is joined to its stay" if config.link_moves else "a tow starts a new stay")
    strength = config.prior_strength
    rules.append(
        "est h under a log-uniform prior"
        if strength is None
        else f"est h under a prior fitted to this airport's stays (strength {strength:g})"
    )
    log = ", or a flight-log row" if flights else ""
    return (
        "rules: " + "; ".join(rules) + "\n"
        f"bounds: the nearest scene either side that saw the stand empty{log} "
        "(start/end_bounded_by in the stays files)\n"
        "open ends: "
        + "; ".join(
            f"{reason} = {text.format(max_gap_h=config.max_gap_h)}"
            for reason, text in OPEN_REASONS.items()
            if reason != "gap" or config.max_gap_h
        )
        + " (start/end_open_reason)"
    )
