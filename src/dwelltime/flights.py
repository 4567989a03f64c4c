"""Flight-tracking evidence: recorded arrivals and departures tighten the dwell bounds.

A flight-tracking CSV (ADS-B exports, airport movement logs) has one row per movement with
columns ``time``, ``airport`` (ICAO ``ZKPY`` or IATA ``FNJ``: codes the airport registry knows
are read as ICAO, as in the stays), ``event`` (``arr``/``dep``; ``arrival``/``departure``,
``a``/``d`` accepted) and ``type`` (ICAO designator) and/or ``registration``. Times without a
zone are taken as UTC. Rows are matched to a stay by airport and type (rows without a type,
and types the aircraft catalog lacks, cannot be matched and are reported once; so is a log
with no row at the run's airport: :func:`warn_if_not_at`). A row's type matches
a stay of that type and, when the stay's type is uncertain (``type_prob`` below
:data:`SIZE_MATCH_BELOW_TYPE_PROB`, or ``unknown``) and it has a measured size (``length_m``,
``wingspan_m``), a stay whose size fits that type at least as well as it fits nothing at all
(within about 2σ of its published length and span:
:func:`dwelltime.detector.types.size_likelihood`): the type read from imagery is then often a
look-alike, while the size is measured to a few metres.

Rules, for a stay seen from ``t_i`` to ``t_j`` with visible absences ``t_a`` < ``t_i`` and
``t_b`` > ``t_j`` (:mod:`dwelltime.dwell`):

* the aircraft arrived in ``(t_a, t_i)``; if the CSV records arrivals of its type there, the
  earliest of them replaces ``t_a`` (the arrival was one of them, so not before the earliest);
* likewise the latest matching departure in ``(t_j, t_b)`` replaces ``t_b``;
* ``start_bounded_by`` / ``end_bounded_by`` then say ``flight:<row>`` (1-based data row of the
  CSV) instead of a scene id;
* ``dwell_max_h`` is recomputed as ``t_b − t_a``; ``dwell_est_h`` is recomputed by the rule of
  :mod:`dwelltime.dwell` under the airport's prior (:func:`dwelltime.linking.dwell_priors`),
  where an end bounded by exactly one matching movement has that movement's time (it is the
  arrival or departure) and otherwise the tightened window.

A censored end (no ``t_a`` or no ``t_b``) stays open: an arrival of the same type before the
first sighting does not show that *this* aircraft came then. Stays of type ``unknown`` are
matched by their size only. A log whose rows at an airport all lie outside the time its stays
span (another period) is named in one warning.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from dwelltime.airports import Airport, icao_code
from dwelltime.dwell import (
    DwellPrior,
    dwell_estimate,
    end_window,
    hours,
    log_uniform_prior,
    stay_windows,
)
from dwelltime.errors import DwelltimeError
from dwelltime.io import read_if_path
from dwelltime.tables import few

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

_EVENTS = {"arr": "arr", "arrival": "arr", "a": "arr", "dep": "dep", "departure": "dep", "d": "dep"}


class FlightsError(DwelltimeError):
    """A flight-tracking CSV that cannot be used (unreadable, required columns missing)."""


def read_flights(path: Path | str) -> pd.DataFrame:
    """The movements of a flight-tracking CSV as :data:`FLIGHT_COLUMNS`; ``attrs["path"]``
    names the file (for messages).

    Raises :class:`FlightsError` when the file cannot be read or lacks ``time``, ``airport``,
    ``event`` or both ``type`` and ``registration``. A row whose time or event cannot be read
    is skipped with one warning naming the file and the row.
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise FlightsError(f"{path}: cannot read the flights CSV: {exc}") from exc
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    missing = [c for c in ("time", "airport", "event") if c not in raw.columns]
    if missing or not {"type", "registration"} & set(raw.columns):
        need = missing or ["type and/or registration"]
        raise FlightsError(
            f"{path}: the flights CSV needs columns time, airport, event (arr/dep) and type "
            f"and/or registration; missing {', '.join(need)}"
        )
    frame = pd.DataFrame(
        {
            "row": np.arange(1, len(raw) + 1),
            "time": pd.to_datetime(raw["time"].map(_utc_time), utc=True),
            "airport": _as_icao(raw["airport"].str.strip().str.upper()),
            "event": raw["event"].str.strip().str.lower().map(_EVENTS),
            "type": raw.get("type", pd.Series("", index=raw.index)).str.strip().str.upper(),
            "registration": raw.get("registration", pd.Series("", index=raw.index)).str.strip(),
        }
    )
    bad = frame["time"].isna() | frame["event"].isna()
    for _, r in frame[bad].iterrows():
        text = ",".join(raw.iloc[int(r["row"]) - 1].tolist())
        log.warning(
            "%s: row %d (%s): unreadable time or event (arr/dep); skipped", path, r["row"], text
        )
    untyped = int((~bad & (frame["type"] == "")).sum())
    if untyped:
        log.warning("%s: %d row(s) without a type cannot be matched to stays", path, untyped)
    frame = frame[~bad].reset_index(drop=True)[list(FLIGHT_COLUMNS)]
    frame["type"] = _designators(frame["type"], path)
    frame.attrs["path"] = str(path)
    return frame


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
    """Airport codes as ICAO where the registry knows them (IATA ``FNJ`` → ``ZKPY``), else as
    written."""
    icao = {code: icao_code(code) or code for code in codes.unique()}
    return codes.map(icao)


def _designators(types: pd.Series, path: Path) -> pd.Series:
    """``types`` as the catalog's designators (``Il-62`` → ``IL62``:
    :func:`dwelltime.synth.catalog.designator`); those the catalog lacks are kept as written
    (they match no stay) and named in one warning, with the designators spelled like them."""
    from dwelltime.errors import UnknownTypeError
    from dwelltime.synth.catalog import designator

    read: dict[str, str] = {"": ""}
    unknown: dict[str, str] = {}  # as written → as the warning names it
    for text in sorted(set(types) - {""}):
        try:
            read[text] = designator(text)
        except UnknownTypeError as exc:
            read[text] = text
            unknown[text] = f"{text} ({exc.hint})" if exc.hint else text
    if unknown:
        log.warning(
            "%s: %d row(s) name types that are not ICAO designators of the aircraft catalog "
            "and match no stay: %s",
            path,
            int(types.isin(list(unknown)).sum()),
            ", ".join(unknown.values()),
        )
    return types.map(read)


def _utc_time(text: str) -> pd.Timestamp:
    """One CSV time as UTC (no zone: UTC); NaT when it cannot be read."""
    try:
        time = pd.Timestamp(text.strip())
    except ValueError:
        return pd.NaT
    if pd.isna(time):
        return pd.NaT
    return time.tz_localize("UTC") if time.tzinfo is None else time.tz_convert("UTC")


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
    flights = read_if_path(flights, read_flights)
    out = stays.copy()
    if out.empty or flights.empty:
        return out
    _warn_if_outside(out, flights)
    usable = flights[flights["type"] != ""]
    fits = _size_fits(out, sorted(set(usable["type"])))
    for i in out.index:
        stay = out.loc[i]
        types = {stay["type"]} - {"unknown"}
        uncertain = not float(stay["type_prob"]) >= SIZE_MATCH_BELOW_TYPE_PROB  # NaN too
        if uncertain or stay["type"] == "unknown":
            types |= fits.get(i, set())
        same = usable[(usable["airport"] == stay["airport"]) & usable["type"].isin(types)]
        if same.empty:
            continue
        t_i, t_j = stay["first_seen"], stay["last_seen"]
        t_a, t_b = stay["last_absent_before"], stay["first_absent_after"]
        arrival, departure = stay_windows(stay)
        if not pd.isna(t_a):
            arr = same[(same["event"] == "arr") & (same["time"] > t_a) & (same["time"] < t_i)]
            if len(arr):
                first = arr.loc[arr["time"].idxmin()]
                t_a = first["time"]
                out.at[i, "last_absent_before"] = t_a
                out.at[i, "start_bounded_by"] = f"flight:{first['row']}"
                arrival = (t_a, t_a) if len(arr) == 1 else end_window(t_a, t_i)
        if not pd.isna(t_b):
            dep = same[(same["event"] == "dep") & (same["time"] > t_j) & (same["time"] < t_b)]
            if len(dep):
                last = dep.loc[dep["time"].idxmax()]
                t_b = last["time"]
                out.at[i, "first_absent_after"] = t_b
                out.at[i, "end_bounded_by"] = f"flight:{last['row']}"
                departure = (t_b, t_b) if len(dep) == 1 else end_window(t_b, t_j)
        if not (pd.isna(t_a) or pd.isna(t_b)):
            out.at[i, "dwell_max_h"] = hours(t_b - t_a)
        prior = (priors or {}).get(str(stay["airport"]), log_uniform_prior)
        out.at[i, "dwell_est_h"] = dwell_estimate(arrival, departure, prior=prior)
    return out


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
    from dwelltime.detector.predict import catalog_dimensions
    from dwelltime.detector.types import UNKNOWN_LIKELIHOOD, size_likelihood, size_sigma_m

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
