"""Flight-tracking evidence: recorded arrivals and departures tighten the dwell bounds.

A flight-tracking CSV (ADS-B exports, airport movement logs) has one row per movement (or one
per flight, a route: :data:`ROUTE`) with columns ``time``, ``airport`` (ICAO ``ZKPY`` or IATA
``FNJ``: codes the airport registry knows are read as ICAO, as in the stays), ``event``
(``arr``/``dep``; ``arrival``/``departure``, ``landed``/``took off`` and the other
:data:`EVENT_WORDS`, any case) and ``type`` (ICAO designator, or a catalog variant's name,
``Ilyushin Il-62M`` or ``Il-62M``: :func:`dwelltime.catalog.designator`) and/or
``registration`` (or the names exports give them: :data:`COLUMN_ALIASES`); a row without a type
takes the one the file's other rows give its registration. A log with a ``status``
(FlightRadar24's ``Landed 08:42``: an airport's arrivals, an aircraft's history) takes from it
the movement and its actual time (:data:`STATUS_MOVEMENT`). A log with no type at all (OpenSky's
flights) is read, and one warning says that its movements match no stay. Times without a zone
are taken in the offset their column's header gives (``Time (UTC+9)``), else as UTC (counted
in one warning: :func:`dwelltime.timesources.warn_zoneless`); ``UTC+9`` in a time or a header
is nine hours ahead of UTC, as people write it (:data:`UTC_OFFSET`); a time
needs a year and a time of day, its date written in it or in a ``date`` column (FlightRadar24's
``DATE`` with ``ATD`` ``08:42``: a route's arrival earlier than its departure is the next day's;
times of day with no date anywhere are refused); a number of 9 or 10 digits is Unix time in
seconds, of 12 or 13 in milliseconds. Dates written day and month as numbers
(``31/07/2023 14:05``, ``7/31/2023 2:05 PM``, ``31.07.2023``) are read in the one order the
file's dates show (a number over 12 is the day); a row whose order the file does not show (only
``02/08/2023``: 2 August or 8 February) is skipped with a warning. A row that repeats an earlier
one (same time, airport, event, type and registration) counts once. Rows are matched to a stay
by airport and type (rows without a type, and types the aircraft catalog lacks, cannot be
matched and are reported once; so is a log with no row at the run's airport:
:func:`warn_if_not_at`). A row's type matches a stay of that type and, when the stay's type is
uncertain (``type_prob`` below :data:`SIZE_MATCH_BELOW_TYPE_PROB`, or ``unknown``) and it has a
measured size (``length_m``, ``wingspan_m``), a stay whose size fits that type at least as well
as it fits nothing at all (within about 2σ of its published length and span:
:func:`dwelltime.detector.types.size_likelihood`): the type read from imagery is then often a
look-alike, while the size is measured to a few metres.

Rules, for a stay seen from ``t_i`` to ``t_j`` with visible absences ``t_a`` < ``t_i`` and
``t_b`` > ``t_j`` (:mod:`dwelltime.dwell`):

* the aircraft arrived in ``(t_a, t_i]``; if the CSV records arrivals of its type there, the
  earliest of them replaces ``t_a`` (the arrival was one of them, so not before the earliest;
  one at ``t_i`` itself, the time of the first image that shows it, counts);
* likewise the latest matching departure in ``[t_j, t_b)`` replaces ``t_b``;
* ``start_bounded_by`` / ``end_bounded_by`` then say ``flight:<row>`` (1-based data row of the
  CSV) instead of a scene id;
* ``dwell_max_h`` is recomputed as ``t_b − t_a``; ``dwell_est_h`` is recomputed by the rule of
  :mod:`dwelltime.dwell` under the airport's prior (:func:`dwelltime.linking.dwell_priors`),
  where an end bounded by exactly one matching movement has that movement's time (it is the
  arrival or departure) and otherwise the tightened window.

A censored end (no ``t_a`` or no ``t_b``) stays open: an arrival of the same type before the
first sighting does not show that *this* aircraft came then. A matching arrival after the first
sighting (departure before the last) that bounds no stay contradicts the imagery, which wins:
one warning per end names the stay, the rows and the scene that bounds it. A movement that
bounds ends of several stays is one aircraft's, so the log lacks the others': one warning.
Stays of type ``unknown`` are matched by their size only. A log whose rows at an airport all lie
outside the time its stays span (another period) is named in one warning.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from dwelltime.airports import Airport, icao_code
from dwelltime.catalog import catalog_dimensions, designator
from dwelltime.detector.types import UNKNOWN_LIKELIHOOD, size_likelihood, size_sigma_m
from dwelltime.dwell import (
    DwellPrior,
    dwell_estimate,
    end_window,
    hours,
    log_uniform_prior,
    stay_windows,
)
from dwelltime.errors import DwelltimeError, UnknownTypeError
from dwelltime.io import read_if_path, user_csv, user_path
from dwelltime.tables import few
from dwelltime.timesources import ZONE, warn_zoneless

log = logging.getLogger(__name__)

#: Below this ``type_prob`` a stay's type is more likely wrong than right, and movements of the
#: types its measured size fits match it too (see the module docstring).
SIZE_MATCH_BELOW_TYPE_PROB = 0.5

#: Columns of the frame :func:`read_flights` returns.
FLIGHT_COLUMNS: tuple[str, ...] = (
    "row",  # int, 1-based data row of the CSV (header excluded)
    "time",  # UTC timestamp of the movement
    "airport",  # str, ICAO code (an IATA code the registry knows is read as ICAO), upper case
    "event",  # "arr" or "dep"
    "type",  # str, ICAO designator upper case, "" when the CSV has none
    "registration",  # str, "" when the CSV has none
)

#: A date written as numbers, day and month in either order, then the year: ``31/07/2023``,
#: ``7/31/2023``, ``31.07.2023`` (groups ``a`` and ``b``: the first two numbers).
NUMERIC_DATE = re.compile(r"(?P<a>\d{1,2})[/.-](?P<b>\d{1,2})[/.-]\d{4}(?!\d)")

#: A time given as seconds since 1970-01-01 UTC (Unix time: OpenSky's ``firstSeen`` and
#: ``lastSeen``, ADS-B Exchange's traces): 9 or 10 digits, perhaps a fraction.
UNIX_SECONDS = re.compile(r"\d{9,10}(\.\d*)?")

#: The same in milliseconds (JavaScript's ``Date.now()``, as some web trackers export it): 12
#: or 13 digits.
UNIX_MILLISECONDS = re.compile(r"\d{12,13}")

#: A year (``2023``, also inside ``20230731T140500Z``) and a time of day (``14:05``,
#: ``T1405``): a movement's time needs both.
YEAR = re.compile(r"(?:19|20)\d{2}")
TIME_OF_DAY = re.compile(r"\d:\d{2}|T\d{4}", re.IGNORECASE)

#: A header that says its times are UTC (``Time (UTC)``, ``time_utc``, FlightRadar24's
#: ``UTC``): its times without a zone are not warned of.
UTC_HEADER = re.compile(r"(?<![a-z])(?:utc|gmt)(?![a-z])", re.IGNORECASE)

#: An offset written after UTC or GMT, as people write a local time's zone (``UTC+9``,
#: ``GMT-05:00``, ``UTC+5:30``), in a time or in its column's header (``Time (UTC+9)``): read
#: as the ISO 8601 offset ``+09:00``, not as POSIX's ``UTC+9`` (nine hours *behind* UTC),
#: which is how dateutil, and so pandas, would read it.
UTC_OFFSET = re.compile(
    r"(?<![a-z])(?:utc|gmt)\s*(?P<sign>[+-])\s*(?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?(?!\d)",
    re.IGNORECASE,
)

#: Other names that exports and spreadsheets give the columns (lower case, spaces and hyphens
#: as ``_``) → the name :func:`read_flights` reads: ``typecode`` as in OpenSky's aircraft
#: database, ``t``/``r`` as in ADS-B Exchange's data, FlightRadar24's ``timestamp``/``utc``
#: and ``aircraft``; the columns of a route (:data:`ROUTE`): OpenSky's ``firstSeen`` from
#: ``estDepartureAirport`` and ``lastSeen`` at ``estArrivalAirport``, FlightRadar24's ``ATD``
#: from ``From`` and ``ATA`` at ``To``, a spreadsheet's ``departure_time`` from ``origin``…
COLUMN_ALIASES = {
    "timestamp": "time",
    "datetime": "time",
    "date_time": "time",
    "time_utc": "time",
    "utc": "time",
    "airport_icao": "airport",
    "airport_code": "airport",
    "movement": "event",
    "typecode": "type",
    "type_code": "type",
    "aircraft_type": "type",
    "ac_type": "type",
    "icao_type": "type",
    "t": "type",
    "aircraft": "type",
    "reg": "registration",
    "r": "registration",
    "tail": "registration",
    "firstseen": "dep_time",
    "atd": "dep_time",
    "departure_time": "dep_time",
    "actual_departure": "dep_time",
    "lastseen": "arr_time",
    "ata": "arr_time",
    "arrival_time": "arr_time",
    "actual_arrival": "arr_time",
    "estdepartureairport": "dep_airport",
    "from": "dep_airport",
    "origin": "dep_airport",
    "departure_airport": "dep_airport",
    "estarrivalairport": "arr_airport",
    "to": "arr_airport",
    "destination": "arr_airport",
    "arrival_airport": "arr_airport",
}

#: Names that stand for the first of two columns that the header lacks once it is read by
#: :data:`COLUMN_ALIASES`: FlightAware's history's ``Departure`` from ``Origin`` and
#: ``Arrival`` at ``Destination`` are times, pyopensky's flight list's ``departure`` and
#: ``arrival`` the airports of its ``firstseen`` and ``lastseen``.
SHARED_ALIASES = {
    "departure": ("dep_time", "dep_airport"),
    "arrival": ("arr_time", "arr_airport"),
}

#: A log with one row per flight (a route; no ``event`` column), as the columns are read
#: (:data:`COLUMN_ALIASES`): the column of a movement's time → that of its airport and the
#: movement there. A row gives its departure, its arrival, or both; without an arrival's
#: time column, a ``status`` of :data:`STATUS_MOVEMENT` gives it.
ROUTE = {"dep_time": ("dep_airport", "dep"), "arr_time": ("arr_airport", "arr")}

#: How exports write a field that has no value (lower case): OpenSky's airport it could not
#: estimate (``null`` in its JSON, ``None`` once Python wrote it as text), FlightRadar24's
#: ``—`` for a time a flight does not have. Read as empty.
NO_VALUE = frozenset({"none", "null", "n/a", "-", "–", "—"})

#: Columns of a track of positions, not of movements (FlightRadar24's playback
#: ``Position``/``Altitude``, ADS-B Exchange's and tar1090's ``lat``/``lon``/``alt_baro``),
#: named when a log lacks a movement's columns.
TRACK_COLUMNS = ("position", "lat", "latitude", "lon", "longitude", "altitude", "alt_baro")

#: FlightRadar24's ``STATUS`` of a flight that has landed or departed, ``Landed 08:42``,
#: ``Departed 08:42``: the movement and its actual time (an aircraft's history there has
#: ``ATD`` but no ``ATA`` column; an airport's arrivals and departures give as ``TIME`` the
#: scheduled time).
STATUS_MOVEMENT = re.compile(r"^\s*(?P<event>landed|departed)\s+(?P<time>\S.*?)\s*$", re.IGNORECASE)

#: An airport written as a name with its codes in brackets, as FlightRadar24 and FlightAware
#: write it: ``Pyongyang (FNJ)``, ``Moscow Vnukovo (VKO/UUWW)``, ``Beijing Capital Int'l (PEK /
#: ZBAA)``.
AIRPORT_IN_NAME = re.compile(r"\((?P<a>[A-Z0-9]{3,4})(?:\s*/\s*(?P<b>[A-Z0-9]{3,4}))?\)\s*$")

#: A time zone written as an abbreviation after a time of day, as FlightAware writes each
#: airport's local time (``08:42AM CST``): not read, as one can name several zones.
ZONE_ABBREVIATION = re.compile(r"\d(?:\s*[AP]M)?\s+(?P<zone>[A-Z]{3,5})\s*$")

#: The words an ``event`` is written with (any case, spaces collapsed), as trackers and
#: movement logs write them, and the movement each means.
EVENT_WORDS = {
    **dict.fromkeys(("arr", "a", "arrival", "arrive", "arrived", "landed", "landing"), "arr"),
    **dict.fromkeys(("dep", "d", "departure", "depart", "departed", "takeoff", "take-off"), "dep"),
    **dict.fromkeys(("take off", "took off"), "dep"),
}


class FlightsError(DwelltimeError):
    """A flight-tracking CSV that cannot be used (unreadable, required columns missing)."""


def read_flights(path: Path | str) -> pd.DataFrame:
    """The movements of a flight-tracking CSV as :data:`FLIGHT_COLUMNS`; ``attrs["path"]``
    names the file (for messages).

    Raises :class:`FlightsError` when the file cannot be read, is empty or lacks ``time``,
    ``airport``, ``event`` (or a route's times and airports: :data:`ROUTE`), or has a time
    column of times of day only and no ``date`` column; a header without rows is named in one
    warning, and so is a log without a ``type`` column (OpenSky's: its movements match no
    stay). Fields are separated by ``,``, ``;`` or tab, in UTF-8, Windows-1252 or UTF-16
    (:func:`dwelltime.io.user_csv`). A row whose time or event cannot be read, without an
    airport, or with more fields than the header, is skipped with one warning naming the file
    and the row; the other rows count.
    """
    path = user_path(path)
    raw = _read_text(path)
    shown = pd.Series([",".join(fields) for fields in raw.to_numpy()], index=raw.index)
    raw = raw.map(lambda field: "" if field.strip().lower() in NO_VALUE else field)
    raw = raw.assign(time_header=raw.attrs["headers"].get("time", "time"))
    if {"status", "dep_time"} <= set(raw.columns) and "arr_time" not in raw.columns:
        raw = _arrivals_of_status(raw)
    routes = "event" not in raw.columns and any(
        {t, a} <= set(raw.columns) for t, (a, _) in ROUTE.items()
    )
    if routes:
        raw = _movements_of_routes(raw)
    elif "status" in raw.columns:
        raw = _movements_of_status(raw)
    rows, raw = raw.index.to_numpy(), raw.reset_index(drop=True)
    missing = [c for c in ("time", "airport", "event") if c not in raw.columns]
    if missing == ["airport"] and "status" in raw.columns:
        _refuse_airport_page(raw, path)
    if missing:
        track = [raw.attrs["headers"][c] for c in TRACK_COLUMNS if c in raw.columns]
        raise FlightsError(
            f"{path}: the flights CSV needs columns time, airport and event (arr/dep), or a "
            f"route's (From, ATD, To, ATA), and type; missing {', '.join(missing)}"
            + (
                f"; its {', '.join(track)} are a track's positions, not arrivals and "
                "departures: give the aircraft's flights (FlightRadar24's aircraft history, "
                "OpenSky's flights)"
            )
            * bool(track)
        )
    raw["time"], dated = _with_dates(raw, path)
    day_first = _day_first(raw["time"])
    zones = raw["time_header"].map(_header_zone)
    times = [
        _utc_time(text, day_first, zone or dt.timezone.utc)
        for text, zone in zip(raw["time"], zones, strict=True)
    ]
    frame = pd.DataFrame(
        {
            "row": rows,
            "time": pd.to_datetime(pd.Series(times, index=raw.index, dtype=object), utc=True),
            "airport": _as_icao(raw["airport"]),
            "event": _events(raw["event"]),
            "type": raw.get("type", pd.Series("", index=raw.index)).str.strip().str.upper(),
            "registration": raw.get("registration", pd.Series("", index=raw.index)).str.strip(),
        }
    )
    frame["time"] = _next_day_arrivals(frame, dated)
    bad = frame["time"].isna() | frame["event"].isna() | (frame["airport"] == "")
    for i in frame.index[bad]:
        if pd.isna(frame.at[i, "time"]):
            problem = _time_problem(raw.at[i, "time"].strip(), raw.at[i, "time_header"])
        elif pd.isna(frame.at[i, "event"]):
            event = raw.attrs["headers"].get("event", "event")
            problem = f"{event} {raw.at[i, 'event'].strip()!r} is not arr or dep"
        else:
            problem = "no airport"
        row = frame.at[i, "row"]
        movement = {"arr": "arrival", "dep": "departure"}.get(frame.at[i, "event"])
        skipped = f"its {movement} skipped" if routes else "skipped"  # a route's other counts
        log.warning("%s: row %d (%s): %s; %s", path, row, shown[row], problem, skipped)
    unzoned = ~bad & raw["time"].map(_zoneless).astype(bool) & zones.isna()
    rows_unzoned = zip(frame["row"][unzoned], raw["time"][unzoned].str.strip(), strict=True)
    warn_zoneless(path, list(rows_unzoned), "row")
    frame = frame[~bad].reset_index(drop=True)[list(FLIGHT_COLUMNS)]
    frame["type"] = _types_of_registrations(
        _designators(frame["type"], path), frame["registration"]
    )
    untyped = int((frame["type"] == "").sum())
    if untyped and "type" not in raw.columns:
        _warn_no_type(path, "type, typecode, aircraft…", untyped, "icao24" in raw.columns)
    elif untyped:
        log.warning(
            "%s: %d of %d row(s) have no type and match no stay (stays are matched by type "
            "and size; a registration alone is not used): give each row its type (IL62)",
            path,
            untyped,
            len(frame),
        )
    frame = _drop_repeats(frame, path)
    if shown.empty:
        log.warning("%s: the flights CSV has a header but no rows; it tightens no bound", path)
    frame.attrs["path"] = str(path)
    return frame


def _refuse_airport_page(raw: pd.DataFrame, path: Path) -> None:
    """:class:`FlightsError` for FlightRadar24's arrivals (``From``) or departures (``To``) of
    an airport copied without the ``Airport`` column that names it (the page does not), saying
    what to add; nothing when ``raw`` is no such page."""
    page = {"dep_airport": "arrivals", "arr_airport": "departures"}
    ends = [c for c in page if c in raw.columns]
    if len(ends) == 1:
        raise FlightsError(
            f"{path}: an airport's {page[ends[0]]} ({raw.attrs['headers'][ends[0]]} is the "
            "other end of each flight) without the airport they are at; add a column Airport "
            "holding its code (ICAO or IATA, such as ZKPY or FNJ) on every row"
        )


def _warn_no_type(source: object, columns: str, count: int, icao24: bool) -> None:
    """The one warning for a log without a type column (OpenSky's): its ``count`` movements
    match no stay; ``columns`` names the columns read as the type."""
    log.warning(
        "%s: no column gives the aircraft's type (%s), so its %d movement(s) match no stay "
        "and tighten no bound (stays are matched by type and size): add each row's type "
        "(IL62)%s",
        source,
        columns,
        count,
        ", as OpenSky's aircraft database gives it for its icao24" if icao24 else "",
    )


def as_flights(flights: pd.DataFrame | str | os.PathLike | None) -> pd.DataFrame | None:
    """Movements as :data:`FLIGHT_COLUMNS`: a CSV path read by :func:`read_flights`, or a
    frame, as :func:`read_flights` returns it or made elsewhere with columns ``time``,
    ``airport``, ``event`` and ``type``: its times in UTC (datetimes or ISO 8601 text; no zone
    means UTC, as in the CSV; ``UTC+9`` is nine hours ahead of it), ``row`` 1, 2… and
    ``registration`` "" where it has none; its airports, events and types read as the CSV's
    are (``FNJ`` is ZKPY, ``arrival`` arr, ``Il-62M`` IL62, a row without a type takes its
    registration's); a frame without ``type`` (OpenSky's) is taken as the CSV is, its
    movements matching no stay (one warning).
    :class:`FlightsError` naming a missing column, a time that cannot be read, an event
    that is neither arr nor dep, or a value that is neither a path nor a frame (a list)."""
    if flights is None or isinstance(flights, (str, os.PathLike)):
        return read_if_path(flights, read_flights)  # read_flights gives them as read here
    if not isinstance(flights, pd.DataFrame):
        raise FlightsError(
            f"flights: a {type(flights).__name__} is no flight log; give the CSV's path or a "
            "frame (pandas.DataFrame(rows) of a list of rows)"
        )
    missing = [c for c in ("time", "airport", "event") if c not in flights.columns]
    if missing:
        raise FlightsError(
            f"flights: the frame lacks column(s) {', '.join(missing)}; give the frame "
            "read_flights reads, or the CSV's path"
        )
    try:
        offsets = flights["time"].map(
            lambda t: UTC_OFFSET.sub(_iso_offset, t) if isinstance(t, str) else t
        )
        times = pd.to_datetime(offsets, utc=True)
    except (ValueError, TypeError) as exc:
        raise FlightsError(f"flights: a time cannot be read ({exc})") from None
    if "type" not in flights and len(flights):
        _warn_no_type("flights", "type", len(flights), "icao24" in flights)

    def text(column: str) -> pd.Series:
        values = flights[column] if column in flights else pd.Series("", flights.index)
        return values.fillna("").astype(str).str.strip()

    events = _events(text("event"))
    if events.isna().any():
        words = sorted(set(text("event")[events.isna()]))
        raise FlightsError(
            f"flights: event(s) {few([repr(w) for w in words], 5)} are neither arr nor dep "
            "(arrival, landed…; departure, took off…)"
        )
    out = flights.assign(
        time=times,
        airport=_as_icao(text("airport")),
        event=events,
        row=flights["row"] if "row" in flights else np.arange(1, len(flights) + 1),
        type=_types_of_registrations(
            _designators(text("type").str.upper(), None), text("registration")
        ),
        registration=text("registration"),
    )
    return out[list(FLIGHT_COLUMNS)]


def _read_text(path: Path) -> pd.DataFrame:
    """The data rows of a flights CSV as text, indexed by their 1-based data row (header
    excluded, blank rows counted but dropped), columns named by the header
    (:func:`_column_name`; :data:`COLUMN_ALIASES` renamed where the header lacks the name
    they stand for); ``attrs["headers"]`` maps each name to the header as written.
    Separator and encoding: :func:`dwelltime.io.user_csv`. A row with more
    fields than the header is skipped with a warning naming it; a shorter row is padded with
    empty fields."""
    try:
        text, separator = user_csv(path)
        lines = list(csv.reader(text, delimiter=separator))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise FlightsError(f"{path}: cannot read the flights CSV: {exc}") from exc
    if not lines:
        raise FlightsError(f"{path}: the flights CSV is empty (not even a header row)")
    header, *rows = lines
    columns = _with_aliases_read([_column_name(c) for c in header])
    kept = {}
    for n, fields in enumerate(rows, start=1):
        if not any(f.strip() for f in fields):
            continue
        if any(f.strip() for f in fields[len(columns) :]):
            log.warning(
                "%s: row %d (%s): %d fields where the header has %d; skipped",
                path,
                n,
                separator.join(fields),
                len(fields),
                len(columns),
            )
            continue
        kept[n] = (fields + [""] * len(columns))[: len(columns)]
    frame = pd.DataFrame.from_dict(kept, orient="index", columns=columns, dtype=str)
    frame.attrs["headers"] = {c: h.strip() for c, h in zip(columns, header, strict=True)}
    return frame


def _movements_of_routes(flights: pd.DataFrame) -> pd.DataFrame:
    """A log of one row per flight (:data:`ROUTE`: a departure ``dep_time`` from
    ``dep_airport``, an arrival ``arr_time`` at ``arr_airport``) as one row per movement with
    ``time``, ``airport``, ``event`` and ``time_header`` (the time's header as written, for
    messages), indexed by the flight's data row; an airport left empty (not known) gives no
    movement."""
    headers = flights.attrs["headers"]
    parts = [
        flights.assign(
            time=flights[time],
            airport=flights[airport],
            event=event,
            time_header=headers[time],
        )
        for time, (airport, event) in ROUTE.items()
        if {time, airport} <= set(flights.columns)
    ]
    movements = pd.concat([part[part["airport"].str.strip() != ""] for part in parts])
    return movements.sort_index(kind="stable")


def _arrivals_of_status(flights: pd.DataFrame) -> pd.DataFrame:
    """``flights`` with an ``arr_time`` column: the time of each landed ``status``
    (:data:`STATUS_MOVEMENT`: FlightRadar24's ``Landed 08:42``), "" where the flight has not
    landed (``Scheduled``, ``Canceled``, ``Diverted``…)."""
    match = flights["status"].str.extract(STATUS_MOVEMENT)
    landed = match["time"].where(match["event"].str.lower() == "landed").fillna("")
    out = flights.assign(arr_time=landed)
    out.attrs["headers"] = {
        **flights.attrs["headers"],
        "arr_time": f"landing time in {flights.attrs['headers']['status']}",
    }
    return out


def _column_name(header: str) -> str:
    """The name :func:`read_flights` gives a column headed ``header``: lower case, spaces and
    hyphens as ``_``, without a note in brackets at the end (``Time (UTC)`` → ``time``)."""
    return re.sub(r"[\s\-]+", "_", re.sub(r"\(.*\)\s*$", "", header).strip().lower())


def _movements_of_status(flights: pd.DataFrame) -> pd.DataFrame:
    """A movement log with a ``status`` (FlightRadar24's arrivals and departures of an
    airport: ``Landed 08:42``, :data:`STATUS_MOVEMENT`) with the status's movement as the
    ``event`` where it has no such column (else the status as written, named in the row's
    warning: ``Scheduled``, ``Canceled``…), and its actual time as the ``time`` where that is
    a time of day or empty (there the scheduled time), not a date and time of the log's own;
    ``flights`` as it is where no status is such a movement."""
    match = flights["status"].str.extract(STATUS_MOVEMENT)
    if match["event"].isna().all():
        return flights  # a status of another kind
    times = flights["time"] if "time" in flights.columns else pd.Series("", flights.index)
    actual = match["time"].notna() & (times.map(_undated) | (times.str.strip() == ""))
    out = flights.assign(
        time=times.where(~actual, match["time"]),
        time_header=flights["time_header"].where(~actual, flights.attrs["headers"]["status"]),
    )
    if "event" not in flights.columns:
        out["event"] = match["event"].fillna(flights["status"])
        out.attrs["headers"] = {**flights.attrs["headers"], "event": out.attrs["headers"]["status"]}
    return out


def _with_aliases_read(columns: list[str]) -> list[str]:
    """``columns`` with the first :data:`COLUMN_ALIASES` name of each column they lack renamed
    to it (``typecode`` → ``type`` unless there is a ``type``), then each of
    :data:`SHARED_ALIASES` to the first of its columns they still lack."""
    out = list(columns)
    for i, column in enumerate(columns):
        name = COLUMN_ALIASES.get(column)
        if name and name not in out:
            out[i] = name
    for i, column in enumerate(columns):
        name = next((n for n in SHARED_ALIASES.get(column, ()) if n not in out), None)
        if name:
            out[i] = name
    return out


def warn_if_not_at(flights: pd.DataFrame, airport: Airport | str) -> None:
    """One warning when no movement of ``flights`` (:data:`FLIGHT_COLUMNS`) is at ``airport``
    (or the code of an airport the registry does not know), so that the log can tighten none
    of its stays: it names the file and the airports the rows are at."""
    icao, iata = (airport, "") if isinstance(airport, str) else (airport.icao, airport.iata)
    if flights.empty or (flights["airport"] == icao).any():
        return
    named = sorted(set(flights["airport"]))
    log.warning(
        "%s: 0 of %d rows are at %s%s; they are at %s",
        flights.attrs.get("path", "flights"),
        len(flights),
        icao,
        f" ({iata})" if iata else "",
        few(named, 5),
    )


def _as_icao(codes: pd.Series) -> pd.Series:
    """Airport codes (text) as ICAO where the registry knows them (IATA ``FNJ`` → ``ZKPY``;
    also the codes in brackets after a name, :data:`AIRPORT_IN_NAME`), else as written; upper
    case, blanks around them dropped."""
    codes = codes.str.strip().str.upper()
    return codes.map({code: _icao_of(code) for code in codes.unique()})


def _events(words: pd.Series) -> pd.Series:
    """Events as written (text) as ``arr`` or ``dep`` (:data:`EVENT_WORDS`: any case, spaces
    collapsed), NaN where they are neither."""
    return words.str.lower().str.split().str.join(" ").map(EVENT_WORDS)


def _icao_of(text: str) -> str:
    """The ICAO code of an airport written as a code or as :data:`AIRPORT_IN_NAME`, the first
    the registry knows; ``text`` as written when it knows none."""
    match = AIRPORT_IN_NAME.search(text)
    written = [text] + ([c for c in match.groups() if c] if match else [])
    return next((icao for icao in map(icao_code, written) if icao), text)


def _designators(types: pd.Series, path: Path | None) -> pd.Series:
    """``types`` as the catalog's designators (``Il-62`` → ``IL62``:
    :func:`dwelltime.catalog.designator`); those the catalog lacks are kept as written
    (they match no stay) and named in one warning, with the designators spelled like them,
    where ``path`` names the CSV (None: a frame, read again each time it is used)."""
    read: dict[str, str] = {"": ""}
    unknown: dict[str, str] = {}  # as written → as the warning names it
    for text in sorted(set(types) - {""}):
        try:
            read[text] = designator(text)
        except UnknownTypeError as exc:
            read[text] = text
            unknown[text] = f"{text} ({exc.hint})" if exc.hint else text
    if unknown and path is not None:
        log.warning(
            "%s: %d row(s) name types that are not ICAO designators of the aircraft catalog "
            "and match no stay: %s",
            path,
            int(types.isin(list(unknown)).sum()),
            ", ".join(unknown.values()),
        )
    return types.map(read)


def _types_of_registrations(types: pd.Series, registrations: pd.Series) -> pd.Series:
    """``types`` (designators, "" where a row has none) with each empty one taken from the
    other rows of its registration (case, spaces and hyphens ignored: ``RA86496`` is
    ``RA-86496``), where they all give the same type; "" where none or several."""
    keys = registrations.str.upper().str.replace(r"[\s\-]", "", regex=True)
    known = pd.DataFrame({"key": keys, "type": types})[(types != "") & (keys != "")]
    one = {key: t.iloc[0] if t.nunique() == 1 else "" for key, t in known.groupby("key")["type"]}
    return types.where(types != "", keys.map(lambda key: one.get(key, "")))


def _day_month_order(text: str) -> bool | None:
    """Whether ``text``'s :data:`NUMERIC_DATE` puts the day first (True), the month (False),
    or does not say (None: both numbers up to 12, or no such date)."""
    match = NUMERIC_DATE.search(text)
    if match is None or max(int(match["a"]), int(match["b"])) <= 12:
        return None
    return int(match["a"]) > 12


def _ambiguous(text: str) -> bool:
    """Whether ``text`` holds a :data:`NUMERIC_DATE` whose numbers do not show its order."""
    return bool(NUMERIC_DATE.search(text)) and _day_month_order(text) is None


def _day_first(times: pd.Series) -> bool | None:
    """The order of day and month in a file's :data:`NUMERIC_DATE` times: True (day first) or
    False where the dates that show it agree, None where none shows it or they disagree."""
    orders = {_day_month_order(text) for text in times} - {None}
    return orders.pop() if len(orders) == 1 else None


def _drop_repeats(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """``frame`` without the rows that repeat an earlier row's movement (same time, airport,
    event, type and registration: a log exported twice, or merged from two trackers), named
    in one warning; a repeated arrival would otherwise count as a second candidate."""
    repeat = frame.duplicated(subset=list(FLIGHT_COLUMNS[1:]))
    if repeat.any():
        rows = sorted(set(frame.loc[repeat, "row"]))  # a route's row repeats two movements
        log.warning(
            "%s: %d row(s) repeat an earlier row's time, airport, event, type and registration "
            "(rows %s); each movement counts once",
            path,
            len(rows),
            few([str(row) for row in rows], 5),
        )
    return frame[~repeat].reset_index(drop=True)


def _undated(text: str) -> bool:
    """Whether ``text`` is a time of day without a date (``08:42``, ``8:42 AM``,
    ``08:42 UTC``): a :data:`TIME_OF_DAY` and no :data:`YEAR`, not Unix time."""
    return bool(TIME_OF_DAY.search(text) and not YEAR.search(text)) and _unix_time(text) is None


def _with_dates(flights: pd.DataFrame, path: Path) -> tuple[pd.Series, pd.Series]:
    """The ``time`` of each movement of ``flights`` with the ``date`` column's date written
    before a time of day that has none (FlightRadar24's ``DATE`` with ``ATD`` ``08:42``), and
    which times took it. Raises :class:`FlightsError` naming a time column (``time_header``)
    whose times are all times of day when no ``date`` column gives their day."""
    undated = flights["time"].map(_undated).astype(bool)
    if "date" in flights.columns:
        dates = flights["date"].str.strip()
        undated &= dates != ""
        return flights["time"].where(~undated, dates + " " + flights["time"].str.strip()), undated
    given = flights[flights["time"].str.strip() != ""]
    headers = given.groupby("time_header", sort=False)["time"].agg(lambda t: t.map(_undated).all())
    if headers.any():
        example = given.loc[given["time_header"].isin(headers.index[headers]), "time"].iloc[0]
        raise FlightsError(
            f"{path}: column(s) {', '.join(headers.index[headers])} hold times of day without "
            f"a date ({example.strip()!r}) and no Date column gives their day; add a Date column "
            "(2023-08-01) or write each time with its date (2023-08-01 08:42)"
        )
    return flights["time"], undated & False


def _next_day_arrivals(frame: pd.DataFrame, dated: pd.Series) -> pd.Series:
    """``frame``'s times (UTC) with each arrival that took its date from a ``date`` column
    (``dated``: the flight's departure day, as FlightRadar24 gives it) a day later where it is
    earlier than its flight's departure (a route's row): it landed after midnight."""
    departures = frame[frame["event"] == "dep"].set_index("row")["time"]
    departure = departures.reindex(frame["row"]).set_axis(frame.index)
    early = dated & (frame["event"] == "arr") & (frame["time"] < departure)
    return frame["time"].where(~early, frame["time"] + pd.Timedelta(days=1))


def _time_problem(text: str, column: str = "time") -> str:
    """Why :func:`_utc_time` cannot read ``text``, in the column headed ``column``, for a
    warning."""
    if not text:
        return f"no {column}"
    if not YEAR.search(text):
        return f"{column} {text!r} has no date with its year; write it 2023-08-02 03:10"
    if not TIME_OF_DAY.search(text):
        return (
            f"{column} {text!r} has no time of day (midnight would bias dwell times by up to a "
            "day); write it 2023-08-02 03:10"
        )
    if _ambiguous(text):
        return (
            f"{column} {text!r} could be day/month or month/day and the file's other dates do "
            "not say which; write dates year first (2023-08-02 03:10)"
        )
    zone = ZONE_ABBREVIATION.search(text)
    if zone:
        return (
            f"{column} {text!r} gives its zone as {zone['zone']!r}, which is not read (such "
            "abbreviations name several zones: CST is China's or US Central); write times in "
            "UTC or with their offset (2023-08-02 03:10+08:00)"
        )
    return f"{column} {text!r} is not a date and time"


def _unix_time(text: str) -> pd.Timestamp | None:
    """``text`` as :data:`UNIX_SECONDS` or :data:`UNIX_MILLISECONDS` in UTC; None when it is
    neither."""
    text = text.strip()
    if UNIX_SECONDS.fullmatch(text):
        return pd.Timestamp(float(text), unit="s", tz="UTC")
    if UNIX_MILLISECONDS.fullmatch(text):
        return pd.Timestamp(int(text), unit="ms", tz="UTC")
    return None


def _utc_time(
    text: str, day_first: bool | None = None, zone: dt.tzinfo = dt.timezone.utc
) -> pd.Timestamp:
    """One CSV time as UTC (no zone: ``zone``, the one its column's header gives, else UTC;
    ``UTC+9`` is :data:`UTC_OFFSET`; :data:`UNIX_SECONDS` or :data:`UNIX_MILLISECONDS`: Unix
    time, as OpenSky and ADS-B Exchange give it: :func:`_unix_time`); NaT when it cannot be
    read or lacks a :data:`YEAR` or a :data:`TIME_OF_DAY` (``14:05`` would be today,
    ``2023-07-31`` midnight). A :data:`NUMERIC_DATE` is read day first when ``day_first`` is
    True, month first when False, and is NaT when its own numbers do not show the order and
    ``day_first`` is None."""
    unix = _unix_time(text)
    if unix is not None:
        return unix
    text = UTC_OFFSET.sub(_iso_offset, text)
    if not (YEAR.search(text) and TIME_OF_DAY.search(text)):
        return pd.NaT
    if not _ambiguous(text):
        day_first = _day_month_order(text)
    elif day_first is None:
        return pd.NaT
    try:
        time = pd.to_datetime(text.strip(), dayfirst=bool(day_first))
    except ValueError:
        return pd.NaT
    if pd.isna(time):
        return pd.NaT
    return (time.tz_localize(zone) if time.tzinfo is None else time).tz_convert("UTC")


def _zoneless(text: str) -> bool:
    """Whether a CSV time gives no zone: no :data:`ZONE` at its end, no :data:`UTC_OFFSET`,
    not Unix time."""
    return not (ZONE.search(text) or UTC_OFFSET.search(text) or _unix_time(text) is not None)


def _iso_offset(match: re.Match[str]) -> str:
    """A :data:`UTC_OFFSET` as ISO 8601 writes it: ``UTC+9`` → `` +09:00``."""
    return f" {match['sign']}{int(match['hours']):02d}:{match['minutes'] or '00'}"


def _header_zone(header: str) -> dt.tzinfo | None:
    """The zone that a time column's ``header`` gives its times without one: the offset of
    ``Time (UTC+9)`` (:data:`UTC_OFFSET`), UTC for ``Time (UTC)`` (:data:`UTC_HEADER`), None
    where it names neither."""
    match = UTC_OFFSET.search(header)
    if match is None:
        return dt.timezone.utc if UTC_HEADER.search(header) else None
    offset = dt.timedelta(hours=int(match["hours"]), minutes=int(match["minutes"] or 0))
    return dt.timezone(-offset if match["sign"] == "-" else offset)


def tighten_with_flights(
    stays: gpd.GeoDataFrame,
    flights: pd.DataFrame | str | os.PathLike,
    priors: Mapping[str, DwellPrior] | None = None,
) -> gpd.GeoDataFrame:
    """``stays`` (columns of :func:`dwelltime.linking.link_stays`) with ``t_a``/``t_b``, the
    ``*_bounded_by`` columns, ``dwell_max_h`` and ``dwell_est_h`` tightened by the movements in
    ``flights`` (:data:`FLIGHT_COLUMNS`, or a CSV :func:`read_flights` reads); see the module
    docstring. ``priors``: the dwell estimate's prior per airport
    (:func:`dwelltime.linking.dwell_priors`, as linking used; the log-uniform prior where none
    is given). Returns a new frame."""
    flights = as_flights(flights).reset_index(drop=True)
    out = stays.copy()
    if out.empty or flights.empty:
        return out
    _warn_if_outside(out, flights)
    usable = flights[flights["type"] != ""]
    fits = _size_fits(out, sorted(set(usable["type"])))
    matched: dict[object, pd.DataFrame] = {}  # stay index → its type's movements at its airport
    used: dict[object, list[str]] = {}  # a movement's index label → the stays it bounds
    for i in out.index:
        stay = out.loc[i]
        types = {stay["type"]} - {"unknown"}
        uncertain = not float(stay["type_prob"]) >= SIZE_MATCH_BELOW_TYPE_PROB  # NaN too
        if uncertain or stay["type"] == "unknown":
            types |= fits.get(i, set())
        same = usable[(usable["airport"] == stay["airport"]) & usable["type"].isin(types)]
        if same.empty:
            continue
        matched[i] = same
        t_i, t_j = stay["first_seen"], stay["last_seen"]
        t_a, t_b = stay["last_absent_before"], stay["first_absent_after"]
        arrival, departure = stay_windows(stay)
        if not pd.isna(t_a):
            arr = same[(same["event"] == "arr") & (same["time"] > t_a) & (same["time"] <= t_i)]
            if len(arr):
                first = arr.loc[arr["time"].idxmin()]
                used.setdefault(arr["time"].idxmin(), []).append(str(stay["stay_id"]))
                t_a = first["time"]
                out.at[i, "last_absent_before"] = t_a
                out.at[i, "start_bounded_by"] = f"flight:{first['row']}"
                arrival = (t_a, t_a) if len(arr) == 1 else end_window(t_a, t_i)
        if not pd.isna(t_b):
            dep = same[(same["event"] == "dep") & (same["time"] >= t_j) & (same["time"] < t_b)]
            if len(dep):
                last = dep.loc[dep["time"].idxmax()]
                used.setdefault(dep["time"].idxmax(), []).append(str(stay["stay_id"]))
                t_b = last["time"]
                out.at[i, "first_absent_after"] = t_b
                out.at[i, "end_bounded_by"] = f"flight:{last['row']}"
                departure = (t_b, t_b) if len(dep) == 1 else end_window(t_b, t_j)
        if not (pd.isna(t_a) or pd.isna(t_b)):
            out.at[i, "dwell_max_h"] = hours(t_b - t_a)
        prior = (priors or {}).get(str(stay["airport"]), log_uniform_prior)
        out.at[i, "dwell_est_h"] = dwell_estimate(arrival, departure, prior=prior)
    conflicts = [
        line
        for i, same in matched.items()
        for line in _conflicts(out.loc[i], same.drop(index=list(used), errors="ignore"))
    ]
    _warn_conflicts(conflicts, flights.attrs.get("path", "flights"))
    _warn_shared(flights, used)
    return out


def _warn_shared(flights: pd.DataFrame, used: Mapping[object, list[str]]) -> None:
    """One warning per movement of ``flights`` that bounds an end of several stays (``used``:
    index label → stay ids): one arrival or departure is one aircraft's, so the log lacks
    the others' and those stays' bounds may be too tight."""
    for label, stays in used.items():
        if len(stays) < 2:
            continue
        movement = flights.loc[label]
        log.warning(
            "%s: row %s (%s of %s at %s, %s UTC) bounds %d stays (%s), but is one aircraft's "
            "movement: the log lacks the others', so their bounds may be too tight",
            flights.attrs.get("path", "flights"),
            movement["row"],
            "an arrival" if movement["event"] == "arr" else "a departure",
            movement["type"],
            movement["airport"],
            f"{movement['time']:%Y-%m-%d %H:%M}",
            len(stays),
            few(stays, 5),
        )


def _warn_conflicts(conflicts: list[str], path: object) -> None:
    """Warn of ``conflicts`` (:func:`_conflicts`' lines): the one line as it is, or, where a
    busy log holds several (each movement of a type while another aircraft of that type
    stood there), one line that counts them, each then logged at info level (``-v``)."""
    if len(conflicts) == 1:
        log.warning(conflicts[0])
    elif conflicts:
        log.warning(
            "%s: %d movements fall while a stay of their type was seen on the ground (another "
            "aircraft of the type, or a time or zone wrong in the log?); the imagery bounds "
            "those ends (-v lists them)",
            path,
            len(conflicts),
        )
        for line in conflicts:
            log.info(line)


def _conflicts(stay: pd.Series, movements: pd.DataFrame) -> list[str]:
    """One line per end of ``stay`` that no flight bounds where ``movements`` (rows of its
    type at its airport that bound no stay's end) record that end's movement after its first
    sighting and before its last, while the imagery shows it on the ground: the line names
    the stay, the rows and what bounds that end instead (a scene, or nothing: open)."""
    seen = (stay["first_seen"], stay["last_seen"])
    during = movements[(movements["time"] > seen[0]) & (movements["time"] < seen[1])]
    lines = []
    for event, end in (("arr", "start"), ("dep", "end")):
        rows = during[during["event"] == event]
        bound = str(stay[f"{end}_bounded_by"])
        if rows.empty or bound.startswith("flight:"):
            continue
        kind = "/".join(sorted(set(rows["type"])))
        row_times = few(
            [f"{r} ({t:%Y-%m-%d %H:%M})" for r, t in zip(rows["row"], rows["time"], strict=True)],
            5,
        )
        first, last = (f"{t:%Y-%m-%d %H:%M}" for t in seen)
        movement = "an arrival" if event == "arr" else "a departure"
        bounded = f"is bounded by scene {bound}" if bound else "stays open"
        lines.append(
            f"{movements.attrs.get('path', 'flights')}: row(s) {row_times} record {movement} of "
            f"{kind} at {stay['airport']} while stay {stay['stay_id']} was seen there from "
            f"{first} to {last} UTC; the imagery wins: its {end} {bounded} (is it another "
            f"{kind}, or a time or zone wrong in the log?)"
        )
    return lines


def _warn_if_outside(stays: pd.DataFrame, flights: pd.DataFrame) -> None:
    """One warning per airport of ``stays`` whose movements in ``flights`` all lie outside the
    time its stays span, from the earliest visible absence or sighting to the latest (UTC):
    none of them can tighten a bound."""
    ends = ["last_absent_before", "first_seen", "last_seen", "first_absent_after"]
    for airport, group in stays.groupby("airport"):
        times = flights.loc[flights["airport"] == airport, "time"]
        span = pd.concat([group[c] for c in ends]).dropna()
        if times.empty or times.between(span.min(), span.max()).any():
            continue
        log.warning(
            "%s: its %d row(s) at %s are from %s to %s, outside the %s to %s its stays span; "
            "they tighten no bound",
            flights.attrs.get("path", "flights"),
            len(times),
            airport,
            *(f"{t:%Y-%m-%d %H:%M}" for t in (times.min(), times.max(), span.min(), span.max())),
        )


def _size_fits(stays: gpd.GeoDataFrame, types: list[str]) -> dict[object, set[str]]:
    """Stay index → the ``types`` (ICAO) of the catalog that its measured length and span fit
    at least as well as ``unknown`` does; empty where the stays carry no size."""
    if not types or not {"length_m", "wingspan_m"} <= set(stays.columns):
        return {}
    dims = catalog_dimensions()
    known = [t for t in types if t in dims]
    if not known:
        return {}
    length = stays["length_m"].to_numpy(float)
    span = stays["wingspan_m"].to_numpy(float)
    like = size_likelihood(length, span, known, dims, size_sigma_m(None))
    fit = like >= UNKNOWN_LIKELIHOOD
    return {
        i: {t for t, ok in zip(known, row, strict=True) if ok}
        for i, row in zip(stays.index, fit, strict=True)
    }
