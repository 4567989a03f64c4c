"""Where an image's acquisition time comes from, in order of trust.

1. ``user``: an explicit mapping (``scan(times=...)``, CLI ``--times CSV``), keyed by absolute
   path, path relative to the scanned folder, file name or file stem.
2. ``stac``: a STAC item sidecar ``<stem>.json`` / ``<stem>.stac.json`` (``properties.datetime``,
   else the middle of ``start_datetime``…``end_datetime`` when they are at most
   :data:`STAC_RANGE_TOLERANCE` apart, ``start_datetime`` without an end), or any STAC item in
   the image's folder whose assets ``href`` the image.
3. ``planet_json``: Planet ``<stem or item id>_metadata.json`` (``properties.acquired``).
4. ``planet_xml``: Planet ``<stem or item id>_metadata.xml`` (``ps:acquisitionDateTime`` of
   its acquisition parameters, RapidEye's ``re:``, else ``eop:acquisitionDate``).
5. ``maxar_imd``: Maxar/DigitalGlobe ``<stem>.IMD``, else (or where it gives no time) its XML
   twin ``<stem>.XML`` (root ``isd`` or ``IMD``; not a ``DIM_*.XML``): ``firstLineTime`` of
   its first image, warned where its images were taken more than :data:`STRIPS_TOLERANCE`
   apart, else ``earliestAcqTime``.
6. ``dimap``: Airbus DIMAP v2 (Pléiades, SPOT 6/7, Pléiades Neo): the strip's ``IMAGING_DATE``
   and ``IMAGING_TIME`` (UTC) in the ``DIM_*.XML`` the image is, or the one beside it whose
   ``DATA_FILE_PATH`` names it (a tile of the product).
7. ``gdal_tag``: GDAL metadata ``ACQUISITIONDATETIME`` (default or IMAGERY domain), else
   ``NITF_IDATIM`` (image date-time, UTC: NITF 2.1's "CCYYMMDDhhmmss", NITF 2.0's
   "DDhhmmssZMONYY"), else ``TIFFTAG_DATETIME`` ("YYYY:MM:DD HH:MM:SS", which has no time
   zone: read as UTC). The TIFF spec makes
   ``TIFFTAG_DATETIME`` the file's save time, so :func:`warn_save_times` names the images
   whose time rests on the tag alone, in one warning (the tag is still used).
8. ``filename``: a date and time of day in the file name, see :data:`FILENAME_REGEX` (and
   :data:`MAXAR_FILENAME_REGEX` for Maxar product names). A name
   with a date but no time of day is rejected (midnight would bias dwell times by up to a day).

Where a sidecar or tag gives the time and the file name holds a date-time more than
:data:`NAME_TOLERANCE` away, one warning names both (:func:`_warn_if_name_differs`): the
sidecar's time is used, but it may be another image's (a Planet ``_metadata.json`` is matched
by the start of the image's name) or the name may be wrong.

Times without a zone are read as UTC. The first source that yields a time wins; a sidecar
that exists but cannot be parsed, or whose time is in the future or before
:data:`EARLIEST_ACQUISITION` (:func:`implausible`), is logged as a warning and the next source
is tried. A user time in the future is refused; an earlier one is the user's word.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import logging
import math
import numbers
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from dwelltime.errors import DwelltimeError
from dwelltime.formats import ard_id, is_dimap_name
from dwelltime.io import user_csv
from dwelltime.stac import item_rgb_bands, local_path
from dwelltime.tables import few

log = logging.getLogger(__name__)

#: A date and a time of day in a file name: 20230731T023512, 20230731_023512,
#: 2023-07-31T02:35:12, 2023-07-31_02-35-12 as Windows allows it (separators optional, the
#: same one between hours, minutes and seconds; years 19xx or 20xx; not inside a longer run
#: of digits), the time perhaps followed by one digit of tenths of a second, as Airbus names
#: Pléiades and SPOT products (``IMG_PHR1A_P_202307310235125_SEN_…``), or by a fraction;
#: or hours and minutes alone with a separator (``2023-07-31_02-35``, ``20230731T0235``).
#: A zone after the time (``Z``, ``+03:00``, ``-0500``: a real UTC offset) is applied.
FILENAME_REGEX = re.compile(
    r"(?<!\d)(?P<date>(?:19|20)\d{2}-?\d{2}-?\d{2})"
    r"(?:(?:[T_ -]?(?P<time>\d{2}(?P<sep>[:._-]?)\d{2}(?P=sep)\d{2})\d?(?:\.\d+)?"
    r"|[T_ -](?P<minutes>\d{2}[:.-]\d{2})|T(?P<hhmm>\d{4}))"
    r"(?P<zone>Z|[+-](?:0\d|1[0-4]):?(?:00|30|45))?)?(?!\d)"
)
#: Four digits after a date in a file name, ``20230731_0235`` or ``20230731-0235``: a time of
#: day or a tile number, so not read as a time (``20230731T0235`` is); the refusal names them.
DIGITS_AFTER_DATE = re.compile(r"[_ -](?P<digits>\d{4})(?!\d)")
#: Format of the ``date`` and time groups once separators are removed (seconds 00 where
#: the name gives hours and minutes alone).
FILENAME_FORMAT = "%Y%m%d%H%M%S"
#: NITF 2.0's image date-time ``IDATIM``, ``DDhhmmssZMONYY`` (``31023512ZJUL23``), UTC.
NITF20_IDATIM_FORMAT = "%d%H%M%SZ%b%y"
#: Maxar/DigitalGlobe product names start with the acquisition date-time as YYMONDDhhmmss,
#: UTC (``23AUG01020512-P1BS-…``, tiles ``23AUG01020512-P1BS_R1C1-…``).
MAXAR_FILENAME_REGEX = re.compile(
    r"(?<![A-Z0-9])(?P<datetime>\d{2}(?:JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)\d{8})"
    r"(?!\d)",
    re.IGNORECASE,
)
#: Format of :data:`MAXAR_FILENAME_REGEX`'s ``datetime`` group.
MAXAR_FILENAME_FORMAT = "%y%b%d%H%M%S"
#: Planet scene assets are named ``<item id>_<1B|3B>_…``, the item id
#: ``YYYYMMDD_hhmmss[_f or _ff]_<satellite, 4 hex digits>``
#: (``20230731_023512_12_2405_3B_AnalyticMS``, ``20230731_023512_1_2405_3B_Visual``).
PLANET_FILENAME_REGEX = re.compile(r"(?<!\d)\d{8}_\d{6}(?:_\d{1,2})?_[0-9a-f]{4}_[13]B_", re.I)
#: RapidEye products (as Planet delivers them) name the satellite and level:
#: ``<tile id>_<YYYY-MM-DD>_RE<1-5>_<1B|3A>_…`` (``2078218_2015-03-25_RE2_3A_Analytic``).
RAPIDEYE_FILENAME_REGEX = re.compile(r"(?<![A-Z0-9])RE[1-5]_(?:1B|3A)(?![A-Z0-9])", re.I)

#: A sidecar or tag time farther than this from a date-time in the file name is warned.
NAME_TOLERANCE = pd.Timedelta(minutes=5)
#: A DIMAP product or Maxar IMD whose strips were imaged farther apart than this is warned.
STRIPS_TOLERANCE = pd.Timedelta(minutes=5)
#: A STAC item without ``datetime`` whose ``start_datetime``…``end_datetime`` span more than
#: this gives no one acquisition time (a mosaic or composite of days): it is warned and
#: passed over; a shorter range (one strip being imaged) gives its middle.
STAC_RANGE_TOLERANCE = pd.Timedelta(minutes=5)
#: A time read from metadata or a file name before this is a date left unset (GDAL gives
#: 1970-01-01 for a provider time it cannot read), not an image of the satellites this tool
#: reads: it is passed over for the next source. Archive imagery (Corona, aerial film) takes
#: its time from the user (``--times``), which is not held to it.
EARLIEST_ACQUISITION = pd.Timestamp("1990-01-01T00:00:00Z")

#: An ISO 8601 date and time of day, as a ``--times`` CSV gives them: ``2023-08-02T05:00``,
#: ``2023-08-02 05:00:00.5Z``, ``2023-08-02T14:00:00+09:00``, ``20230802T050000Z``.
ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?"
    r"|\d{8}T\d{4}(\d{2}(\.\d+)?)?(Z|[+-]\d{2}(\d{2})?)?",
    re.IGNORECASE,
)
#: A time zone written after a time of day: ``Z``, ``UTC``/``GMT``, ``+09:00``, ``-0500``, ``+09``.
ZONE = re.compile(r"(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)\s*$", re.IGNORECASE)
#: How a message names the way to give acquisition times, to CLI and Python users alike.
TIMES_HINT = "--times CSV (times= in Python)"
#: :data:`TIMES_HINT` where the time is read by ``detect``, which takes none: the time it
#: records in its detections is set by the commands that take one.
DETECT_TIMES_HINT = "--times CSV of scan, run or batch (times= in Python; detect takes none)"
#: An ISO 8601 date alone (``2023-08-02``, ``20230802``): no time of day.
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{8}")

#: A band group of a Maxar .IMD file (``BEGIN_GROUP = BAND_R``: its id, ``R``), in the order
#: of the image's bands: C(oastal), B, G, Y, R, RE, N, N2, P(an)…
IMD_BAND_GROUP = re.compile(r"^[ \t]*BEGIN_GROUP[ \t]*=[ \t]*BAND_(\w+)", re.M)
#: One ``name = value;`` line of a Maxar .IMD file (value unquoted).
IMD_FIELD = re.compile(r"^[ \t]*(\w+)[ \t]*=[ \t]*\"?([^\";\n]*?)\"?[ \t]*;", re.M)

TIME_SOURCES = (
    "user",
    "stac",
    "planet_json",
    "planet_xml",
    "maxar_imd",
    "dimap",
    "gdal_tag",
    "filename",
)


class NoTimeError(ValueError):
    """No source gave an acquisition time; the message says what was looked at."""


class TimesError(DwelltimeError):
    """A user CSV of acquisition times (``--times``) that cannot be used; the message names
    the file."""


@dataclass(frozen=True)
class TimeInfo:
    """An acquisition time with where it came from and what the provider said besides."""

    acquired: pd.Timestamp  # tz-aware UTC
    source: str  # one of TIME_SOURCES
    provider: str = "unknown"
    cloud_fraction: float = math.nan  # [0, 1]
    #: what gave it, as a warning names it: the sidecar file's name, or the GDAL tag
    origin: str = ""


def to_utc(value: object) -> pd.Timestamp:
    """A timestamp in UTC; values without a zone are taken to be UTC. ValueError if unparsable."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("empty time")
    ts = pd.Timestamp(value.strip() if isinstance(value, str) else value)
    if pd.isna(ts):
        raise ValueError(f"not a time: {value!r}")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def implausible(when: pd.Timestamp, *, earliest: bool = True) -> str | None:
    """Why ``when`` (tz-aware UTC) cannot be when an image was taken: after now, or, if
    ``earliest``, before :data:`EARLIEST_ACQUISITION`; None when it can be."""
    if when > pd.Timestamp.now(tz="UTC"):
        return f"{utc_text(when)} is in the future"
    if earliest and when < EARLIEST_ACQUISITION:
        return (
            f"{utc_text(when)} is before {EARLIEST_ACQUISITION.year}, a date left unset rather "
            "than when the image was taken"
        )
    return None


def utc_text(when: pd.Timestamp) -> str:
    """``when`` (tz-aware UTC) as messages name an acquisition time: ``2023-07-31T02:35:12Z``."""
    return f"{when:%Y-%m-%dT%H:%M:%SZ}"


def read_times_csv(path: Path | str) -> dict[str, pd.Timestamp]:
    """User times (``scan(times=...)``) from a CSV with a ``path`` (or ``stem``/``scene_id``/
    ``file``) and an ``acquired`` column (separator and encoding:
    :func:`dwelltime.io.user_csv`): an ISO 8601 date and time of day
    (:data:`ISO_DATETIME`; no zone: UTC, counted in one warning: :func:`warn_zoneless`).
    :class:`TimesError` naming the file (and the line)
    if it cannot be used: a time that is not ISO 8601 (``02/08/2023 05:00``), a date without
    a time of day, an image named twice. Blank rows (``,``) are passed over."""
    try:
        text, separator = user_csv(path)
        reader = csv.DictReader(text, delimiter=separator)
        fields = [c.strip().lower() for c in reader.fieldnames or []]
        key_col = next((c for c in ("path", "stem", "scene_id", "file") if c in fields), None)
        if key_col is None or "acquired" not in fields:
            raise TimesError(
                f"{path}: the times CSV needs columns path (or stem) and acquired, found {fields}"
            )
        out, lines, zoneless = {}, {}, []
        for row in reader:
            n = reader.line_num  # the file's line, blank lines counted
            row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            if not any(row.values()):
                continue  # a blank row, as Excel saves one: ",", ";"
            key = user_key(row[key_col])
            if key in lines:
                raise TimesError(
                    f"{path}: line {n}: {key!r} is given a time on line {lines[key]} already"
                )
            try:
                out[key], lines[key] = _user_value(row["acquired"]), n
            except ValueError as e:
                raise TimesError(f"{path}: line {n}: {e}") from None
            if not ZONE.search(row["acquired"]):
                zoneless.append((n, row["acquired"]))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TimesError(f"{path}: cannot read the times CSV: {exc}") from exc
    warn_zoneless(path, zoneless, "line")
    return out


def warn_zoneless(path: Path | str, zoneless: list[tuple[int, str]], where: str) -> None:
    """One warning that the times of ``path`` in ``zoneless`` ((line or row number, text);
    ``where`` names which) carry no zone and are read as UTC: local times would be off by
    their UTC offset (9 h at Pyongyang). Nothing when ``zoneless`` is empty."""
    if not zoneless:
        return
    n, text = zoneless[0]
    log.warning(
        "%s: %d time(s) without a zone (%s %d: %r) read as UTC; if they are local times, "
        "write their offset (2023-08-02T14:05+09:00)",
        path,
        len(zoneless),
        where,
        n,
        text,
    )


def _iso_time(text: str) -> pd.Timestamp:
    """An ISO 8601 date and time of day (:data:`ISO_DATETIME`) in UTC; ValueError for any
    other text (a date alone, ``02/08/2023 05:00``, ``yesterday``)."""
    text = text.strip()
    if ISO_DATE.fullmatch(text):
        raise ValueError(
            f"{text!r} has no time of day; midnight would bias dwell times by up to a day, "
            "so give it (2023-08-02T05:00:00Z)"
        )
    if not ISO_DATETIME.fullmatch(text):
        raise ValueError(
            f"{text!r} is not an ISO 8601 date and time such as 2023-08-02T05:00:00Z "
            "(year-month-day; no zone: UTC)"
        )
    return to_utc(text)


def user_times(
    times: Mapping[str, object] | str | os.PathLike | None,
) -> dict[str, pd.Timestamp] | None:
    """User times (``scan(times=...)``) checked before any image is read, as UTC timestamps
    by key (keys as text, so a ``Path`` key works): a CSV path is read by
    :func:`read_times_csv`; a mapping's values are datetimes (no zone: UTC) or ISO 8601
    date-time strings. :class:`TimesError` naming the key when a value is no time or a date
    without a time of day, as the CSV refuses them."""
    if times is None:
        return None
    if isinstance(times, (str, os.PathLike)):
        return read_times_csv(times)
    if not isinstance(times, Mapping):
        raise TimesError(
            f"times must be a mapping of image (path, name or stem) to time, or a CSV path; "
            f"got a {type(times).__name__}"
        )
    checked = {}
    for key, value in times.items():
        try:
            checked[user_key(str(key))] = _user_value(value)
        except ValueError as e:
            raise TimesError(f"times[{str(key)!r}]: {e}") from None
    return checked


def _user_value(value: object) -> pd.Timestamp:
    """One user time in UTC: an ISO 8601 date-time string (:func:`_iso_time`) or a datetime;
    ValueError for a date alone (``datetime.date``, ``"2023-08-02"``), a time in the future
    (a typo in the year?) or anything else (a number, which pandas would read as nanoseconds
    since 1970)."""
    when = _user_time(value)
    problem = implausible(when, earliest=False)
    if problem:
        raise ValueError(f"{problem}; correct it")
    return when


def _user_time(value: object) -> pd.Timestamp:
    """:func:`_user_value` unchecked against the clock."""
    if isinstance(value, str):
        return _iso_time(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        raise ValueError(
            f"{value!r} has no time of day; midnight would bias dwell times by up to a day, "
            "so give a datetime"
        )
    if isinstance(value, numbers.Number):
        raise ValueError(
            f"{value!r} is not a time; give a datetime or an ISO 8601 date and time such as "
            "2023-08-02T05:00:00Z"
        )
    return to_utc(value)


def user_time(image: Path, folder: Path, times: Mapping[str, object]) -> pd.Timestamp | None:
    """The user's time for ``image`` (UTC): keyed by absolute path, relative path, name or
    stem. ValueError for a value :func:`user_times` refuses, or naming the keys when two of
    them give it different times."""
    given = {key: _user_value(times[key]) for key in user_keys(image, folder) if key in times}
    if len(set(given.values())) > 1:
        named = ", ".join(f"{utc_text(t)} as {key}" for key, t in given.items())
        raise ValueError(f"--times gives it different times ({named}); keep one")
    return next(iter(given.values()), None)


def user_key(path: str) -> str:
    """A path as user times are keyed by it: separators ``/``, as Windows paths written
    ``sub\\a.tif`` (a CSV made on Windows) name the same file as ``sub/a.tif``."""
    return path.replace("\\", "/")


def user_keys(image: Path, folder: Path) -> list[str]:
    """The keys under which a user mapping may name ``image``, most specific first
    (:func:`user_key`)."""
    keys = [user_key(str(image.resolve())), user_key(str(image))]
    try:
        keys.append(image.resolve().relative_to(folder.resolve()).as_posix())
    except ValueError:
        pass
    return [*keys, image.name, image.stem]


def case_matched(
    times: Mapping[str, pd.Timestamp] | None, images: Sequence[Path], folder: Path
) -> dict[str, pd.Timestamp] | None:
    """``times`` with each key that names none of ``images`` (found under ``folder``) but,
    ignoring case, names one that no key names exactly (``A.TIF`` for ``a.tif``: a CSV typed
    by hand, or made where file names ignore case) renamed to that image's key; a key that so
    names several is warned in one line and dropped. None (no user times) stays None."""
    if times is None:
        return None
    keys = {p: user_keys(p, folder) for p in images}
    exact = {k for names in keys.values() for k in names}
    unnamed = {p: names for p, names in keys.items() if not any(k in times for k in names)}
    matched = {}
    for key, when in times.items():
        folded = key.casefold()
        near = {p: k for p, names in unnamed.items() for k in names if k.casefold() == folded}
        if key in exact or not near:
            matched[key] = when
        elif len(near) == 1:
            matched[next(iter(near.values()))] = when
        else:
            log.warning(
                "--times (times= in Python) names %s, which matches %d images only ignoring "
                "case (%s); it is not used: name one of them as it is written",
                key,
                len(near),
                few(sorted(near.values())),
            )
    return matched


def stac_items(json_paths: Iterable[Path]) -> dict[Path, dict[str, Any]]:
    """Index STAC items by the resolved paths of the local files their assets href."""
    index: dict[Path, dict[str, Any]] = {}
    for p in json_paths:
        item = _load_json(p)
        if not _is_stac_item(item):
            continue
        for asset in (item.get("assets") or {}).values():
            local = local_path(str((asset or {}).get("href", "")), p.parent)
            if local is not None:
                index[local.resolve()] = item
    return index


def stac_item(
    image: Path, index: Mapping[Path, dict[str, Any]], *, warn: bool = True
) -> dict[str, Any] | None:
    """The STAC item of ``image``: its ``<stem>.json``/``<stem>.stac.json`` sidecar (of a
    Maxar ARD image ``<id>-visual.tif``…, also its acquisition's ``<id>.json``, whose asset
    hrefs may be remote, ``s3://…``, as older deliveries wrote them), else the item of
    ``index`` (:func:`stac_items`) whose asset it is; None if none. ``warn``: name a sidecar
    that cannot be read in a warning."""
    acquisition = ard_id(image)
    ard_item = [] if acquisition is None else [image.with_name(f"{acquisition}.json")]
    for sidecar in (image.with_suffix(".json"), image.with_suffix(".stac.json"), *ard_item):
        item = _load_json(sidecar, warn=warn) if sidecar.is_file() else None
        if _is_stac_item(item):
            return item
    return index.get(image.resolve())


def stac_time(image: Path, index: Mapping[Path, dict[str, Any]]) -> TimeInfo | None:
    """Time from a ``<stem>.json``/``<stem>.stac.json`` item or an item whose asset is ``image``."""
    item = stac_item(image, index)
    if item is None:
        return None
    props = item.get("properties") or {}
    if props.get("datetime"):
        acquired = _parse(props["datetime"], image, "STAC item")
    else:
        acquired = _range_middle(props, image)
    if acquired is None:
        return None
    provider = props.get("constellation") or props.get("platform") or "stac"
    cloud = _percent(props.get("eo:cloud_cover"))
    return TimeInfo(acquired, "stac", str(provider).lower(), cloud, "its STAC item")


def _range_middle(props: Mapping[str, Any], image: Path) -> pd.Timestamp | None:
    """The middle (UTC) of a STAC item's ``start_datetime``…``end_datetime`` (its ``properties``
    ``props``; ``start_datetime`` where it has no end); None, with one warning naming
    ``image``, when they span more than :data:`STAC_RANGE_TOLERANCE` or end before they
    start."""
    start = _parse(props.get("start_datetime"), image, "STAC item start")
    end = _parse(props.get("end_datetime"), image, "STAC item end")
    if start is None or end is None:
        return start
    if pd.Timedelta(0) <= end - start <= STAC_RANGE_TOLERANCE:
        return start + (end - start) / 2
    log.warning(
        "%s: its STAC item gives no datetime but a range, %s to %s (%.1f h), not one "
        "acquisition (a mosaic?); trying other sources",
        image,
        utc_text(start),
        utc_text(end),
        (end - start) / pd.Timedelta(hours=1),
    )
    return None


def planet_json_time(image: Path) -> TimeInfo | None:
    """Time from Planet ``<stem or item id>_metadata.json`` (``properties.acquired``)."""
    sidecar = _prefixed_sidecar(image, "_metadata.json")
    if sidecar is None:
        return None
    props = (_load_json(sidecar) or {}).get("properties") or {}
    acquired = _parse(props.get("acquired"), sidecar, "Planet metadata")
    if acquired is None:
        return None
    if props.get("cloud_cover") is not None:
        cloud = _fraction(props["cloud_cover"])
    else:
        cloud = _percent(props.get("cloud_percent"))
    return TimeInfo(acquired, "planet_json", "planet", cloud, sidecar.name)


def planet_xml_time(image: Path) -> TimeInfo | None:
    """Time from Planet ``<stem or item id>_metadata.xml``: ``acquisitionDateTime`` (``ps:``,
    RapidEye's ``re:``; the acquisition parameters'), else ``eop:acquisitionDate``."""
    sidecar = _prefixed_sidecar(image, "_metadata.xml")
    if sidecar is None:
        return None
    root = _parse_xml(sidecar, "Planet metadata XML")
    if root is None:
        return None
    texts = {el.tag.rsplit("}", 1)[-1]: (el.text or "").strip() for el in root.iter()}
    value = texts.get("acquisitionDateTime") or texts.get("acquisitionDate")
    acquired = _parse(value, sidecar, "Planet metadata")
    if acquired is None:
        return None
    cloud = _percent(texts.get("cloudCoverPercentage"))
    return TimeInfo(acquired, "planet_xml", "planet", cloud, sidecar.name)


def maxar_imd_time(image: Path) -> TimeInfo | None:
    """Time from a Maxar/DigitalGlobe ``<stem>.IMD``, else (none, or none usable there) its
    XML twin ``<stem>.XML`` (:func:`_maxar_fields`): the ``firstLineTime`` of its first image
    (group ``IMAGE_1``, the XML's first ``IMAGE``; :func:`_first_strip`), else its
    ``earliestAcqTime``."""
    for sidecar, pairs in _maxar_fields(image):
        values = [v for k, v in pairs if k.lower() == "firstlinetime"] or [
            v for k, v in pairs if k.lower() == "earliestacqtime"
        ]
        what = f"Maxar {sidecar.suffix[1:].upper()}"
        times = [t for v in values if (t := _parse(v, sidecar, what)) is not None]
        if times:
            cloud = _fraction({k.lower(): v for k, v in pairs}.get("cloudcover"))
            return TimeInfo(_first_strip(times, sidecar), "maxar_imd", "maxar", cloud, sidecar.name)
    return None


def _maxar_fields(image: Path) -> Iterator[tuple[Path, list[tuple[str, str]]]]:
    """The Maxar ``<stem>.IMD`` beside ``image`` and its fields (name, value; :data:`IMD_FIELD`),
    then its XML twin and the fields of its ``IMD`` (:func:`_maxar_xml_imd`: ``FIRSTLINETIME``
    for ``firstLineTime``), each read only when asked for; those that are not there are left
    out."""
    imd = _imd_sidecar(image)
    if imd is not None:
        yield imd, IMD_FIELD.findall(imd.read_text(errors="replace"))
    xml = _maxar_xml_sidecar(image)
    element = None if xml is None else _maxar_xml_imd(xml)
    if xml is not None and element is not None:
        yield xml, [(el.tag, (el.text or "").strip()) for el in element.iter() if not len(el)]


def _maxar_xml_imd(sidecar: Path, *, warn: bool = True) -> ET.Element | None:
    """The ``IMD`` element of a Maxar XML ``sidecar`` (root ``isd`` holding it, or root
    ``IMD``), whose elements are the ``.IMD``'s fields and groups upper-cased
    (``FIRSTLINETIME``, ``IMAGE``, ``BAND_R``); None when the file cannot be read (with one
    warning, if ``warn``: :func:`_parse_xml`) or is other XML (a DIMAP or Planet file)."""
    root = _parse_xml(sidecar, "Maxar XML metadata", warn=warn)
    if root is None or root.tag not in ("IMD", "isd"):
        return None
    return root if root.tag == "IMD" else root.find("IMD")


def imd_rgb_bands(image: Path, count: int) -> tuple[int, int, int] | None:
    """1-based indexes of the red, green and blue bands of ``image`` (``count`` bands) as its
    Maxar ``<stem>.IMD``, else its XML twin (:func:`_maxar_xml_imd`), lists them (band groups
    ``BAND_R``, ``BAND_G``, ``BAND_B``… in the order of the image's bands); None without
    either, or one that lists another number of bands or not all three."""
    sidecar = _imd_sidecar(image)
    if sidecar is not None:
        groups = IMD_BAND_GROUP.findall(sidecar.read_text(errors="replace"))
    else:
        xml = _maxar_xml_sidecar(image)
        imd = None if xml is None else _maxar_xml_imd(xml, warn=False)
        groups = [] if imd is None else [el.tag[5:] for el in imd if el.tag.startswith("BAND_")]
    ids = [i.upper() for i in groups]
    if len(ids) != count or not all(c in ids for c in "RGB"):
        return None
    red, green, blue = (ids.index(c) + 1 for c in "RGB")
    return red, green, blue


def named_rgb_bands(
    path: Path, count: int, stac_index: Mapping[Path, dict] | None = None
) -> tuple[int, int, int] | None:
    """1-based indexes of the red, green and blue bands of the image at ``path`` (``count``
    bands) as its metadata names them: its STAC item (sidecar, or of ``stac_index``:
    :func:`dwelltime.stac.item_rgb_bands`), else its Maxar IMD
    (:func:`imd_rgb_bands`); None where none does."""
    item = stac_item(path, stac_index or {}, warn=False)
    return item_rgb_bands(item, path, count) or imd_rgb_bands(path, count)


def _imd_sidecar(image: Path) -> Path | None:
    """The Maxar ``<stem>.IMD`` (or ``.imd``) beside ``image``, if any."""
    return next((p for p in map(image.with_suffix, (".IMD", ".imd")) if p.is_file()), None)


def _maxar_xml_sidecar(image: Path) -> Path | None:
    """The ``<stem>.XML`` (or ``.xml``) beside ``image``, if any, that may be its Maxar
    metadata: not ``image`` itself nor a DIMAP ``DIM_*.XML``."""
    candidates = map(image.with_suffix, (".XML", ".xml"))
    return next(
        (p for p in candidates if p != image and not is_dimap_name(p) and p.is_file()), None
    )


def dimap_time(image: Path) -> TimeInfo | None:
    """Time from Airbus DIMAP v2 metadata: ``image`` itself when it is a ``DIM_*.XML``, else
    the ``DIM_*.XML`` beside it whose ``DATA_FILE_PATH`` names it; the ``IMAGING_DATE`` and
    ``IMAGING_TIME`` of its first ``Strip_Source`` (UTC; :func:`_first_strip`)."""
    if is_dimap_name(image):
        sidecar = image
    else:
        folder = image.parent
        sidecar = _dimap_index(folder, folder.stat().st_mtime_ns).get(image.name.lower())
    if sidecar is None:
        return None
    root = _parse_xml(sidecar, "DIMAP metadata")
    strips = [] if root is None else list(root.iter("Strip_Source"))
    times = [
        _parse(f"{date}T{time}", sidecar, "DIMAP IMAGING_DATE/IMAGING_TIME")
        for strip in strips
        if (date := (strip.findtext("IMAGING_DATE") or "").strip())
        and (time := (strip.findtext("IMAGING_TIME") or "").strip())
    ]
    times = [t for t in times if t is not None]
    if not times:
        return None
    return TimeInfo(_first_strip(times, sidecar), "dimap", "airbus", origin=sidecar.name)


def _first_strip(times: Sequence[pd.Timestamp], sidecar: Path) -> pd.Timestamp:
    """The first of the times (UTC) at which a product's strips (images) were taken, as its
    metadata ``sidecar`` lists them; one warning naming it when they lie more than
    :data:`STRIPS_TOLERANCE` apart: each aircraft was seen at its own strip's time."""
    if max(times) - min(times) > STRIPS_TOLERANCE:
        log.warning(
            "%s: the product is made of %d strips taken from %s to %s; using the first, %s",
            sidecar,
            len(times),
            utc_text(min(times)),
            utc_text(max(times)),
            utc_text(times[0]),
        )
    return times[0]


@functools.lru_cache(maxsize=64)
def _dimap_index(folder: Path, mtime_ns: int) -> dict[str, Path]:
    """Lower-case tile name → the ``DIM_*.XML`` in ``folder`` that lists it (the first by
    name), read once per folder as it is (``mtime_ns``, the folder's modification time,
    changes when a file is added or removed), not once per image."""
    index: dict[str, Path] = {}
    for dim in sorted(p for p in folder.iterdir() if is_dimap_name(p) and p.is_file()):
        for name in _dimap_files(dim):
            index.setdefault(name, dim)
    return index


def _dimap_files(dim: Path) -> set[str]:
    """Lower-case file names of the tiles (``DATA_FILE_PATH href``) a DIMAP file lists."""
    root = _parse_xml(dim, "DIMAP metadata", warn=False)
    if root is None:
        return set()
    return {PurePosixPath(el.get("href", "")).name.lower() for el in root.iter("DATA_FILE_PATH")}


def _parse_xml(path: Path, what: str, *, warn: bool = True) -> ET.Element | None:
    """The root of the XML file ``path``; None (with one warning naming it and ``what`` it
    is, if ``warn``) when it cannot be read."""
    try:
        return ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        if warn:
            log.warning("%s: cannot read %s (%s); trying other sources", path, what, e)
        return None


def gdal_tag_time(tags: Mapping[str, str], image: Path) -> TimeInfo | None:
    """Time from GDAL metadata: ``ACQUISITIONDATETIME``, else ``NITF_IDATIM``, else
    ``TIFFTAG_DATETIME`` (no zone: read as UTC; the file's save time, as the TIFF spec has
    it: :func:`warn_save_times`); ``origin`` names the tag."""
    tag, value = "ACQUISITIONDATETIME", tags.get("ACQUISITIONDATETIME")
    idatim = _idatim(tags.get("NITF_IDATIM", ""))
    if not value and idatim:
        tag, value = "NITF_IDATIM", idatim
    if not value and tags.get("TIFFTAG_DATETIME"):
        # "YYYY:MM:DD HH:MM:SS", no time zone: read as UTC
        tag, value = "TIFFTAG_DATETIME", tags["TIFFTAG_DATETIME"].strip().replace(":", "-", 2)
    acquired = _parse(value, image, "GDAL tag")
    if acquired is None:
        return None
    return TimeInfo(acquired, "gdal_tag", origin=tag)


def _idatim(text: str) -> str | None:
    """A NITF ``IDATIM`` (UTC) as ISO 8601 text: NITF 2.1's ``CCYYMMDDhhmmss``, or NITF 2.0's
    ``DDhhmmssZMONYY`` (``31023512ZJUL23``); None for any other text (a part unknown, ``-``)."""
    text = text.strip()
    if re.fullmatch(r"\d{14}", text):
        return f"{text[:8]}T{text[8:]}Z"
    if re.fullmatch(r"\d{8}Z[A-Z]{3}\d{2}", text, re.IGNORECASE):
        with contextlib.suppress(ValueError):
            return f"{datetime.strptime(text.upper(), NITF20_IDATIM_FORMAT):%Y-%m-%dT%H:%M:%S}Z"
    return None


def warn_save_times(timed: Iterable[tuple[Path, pd.Timestamp, str]]) -> None:
    """One warning naming the images of ``timed`` (path, acquisition time in UTC, and what
    gave it: :attr:`TimeInfo.origin`) whose time is a ``TIFFTAG_DATETIME`` their file name
    holds no date-time to confirm: the tag has no zone (read as UTC) and TIFF writers often
    set it to the time the file was saved. Nothing when there are none."""
    alone = [
        f"{path.name} {utc_text(when)}"
        for path, when, origin in timed
        if origin == "TIFFTAG_DATETIME" and name_time(path) is None
    ]
    if alone:
        log.warning(
            "%d image(s) take their acquisition time from TIFFTAG_DATETIME alone (%s), which "
            "has no zone (read as UTC) and which TIFF writers often set to the time the file "
            "was saved; if that is not when they were taken, give their times with %s",
            len(alone),
            few(alone),
            TIMES_HINT,
        )


def name_time(image: Path) -> pd.Timestamp | None:
    """The date-time in ``image``'s file name (:func:`filename_time`, UTC), None if none."""
    try:
        named = filename_time(image)
    except NoTimeError:
        return None
    return None if named is None else named.acquired


def _warn_if_name_differs(info: TimeInfo, image: Path, hint: str) -> None:
    """One warning when ``image``'s file name holds a date-time more than
    :data:`NAME_TOLERANCE` from the sidecar's or tag's time ``info``, which is used, as the
    order of trust says: the sidecar may be another image's, the tag (``TIFFTAG_DATETIME``)
    the file's save time, or the name wrong. ``hint`` names how to give the time."""
    named = name_time(image)
    if named is None or abs(named - info.acquired) <= NAME_TOLERANCE:
        return
    if info.origin == "TIFFTAG_DATETIME":
        doubt = "TIFF writers often set it to the time the file was saved"
    else:
        doubt = "it may be another image's, or the name wrong"
    log.warning(
        "%s: %s %s differs from the file name's %s by %.1f h; using %s (it ranks above the "
        "file name), though %s: give the acquisition time with %s",
        image,
        info.origin,
        utc_text(info.acquired),
        utc_text(named),
        abs(named - info.acquired) / pd.Timedelta(hours=1),
        info.origin,
        doubt,
        hint,
    )


def name_provider(image: Path) -> str:
    """``"planet"``, ``"rapideye"`` or ``"maxar"`` when the file name follows that
    provider's naming (:data:`PLANET_FILENAME_REGEX`, :data:`RAPIDEYE_FILENAME_REGEX`,
    :data:`MAXAR_FILENAME_REGEX`), else ``"unknown"``."""
    if PLANET_FILENAME_REGEX.search(image.stem):
        return "planet"
    if RAPIDEYE_FILENAME_REGEX.search(image.stem):
        return "rapideye"
    return "maxar" if MAXAR_FILENAME_REGEX.search(image.stem) else "unknown"


def filename_time(image: Path) -> TimeInfo | None:
    """Time from the file name: a Maxar product name (:data:`MAXAR_FILENAME_REGEX`), else
    :data:`FILENAME_REGEX`. NoTimeError for a name with a date but no time of day."""
    maxar = MAXAR_FILENAME_REGEX.search(image.stem)
    if maxar is not None:
        with contextlib.suppress(ValueError):
            when = to_utc(datetime.strptime(maxar["datetime"].upper(), MAXAR_FILENAME_FORMAT))
            if not implausible(when):
                return TimeInfo(when, "filename", "maxar")
    date_only, problem = None, None
    for m in FILENAME_REGEX.finditer(image.stem):
        time = m["time"] or m["minutes"] or m["hhmm"]
        if time is None:
            if _is_date(m["date"]):
                date_only = date_only or m
            continue
        digits = re.sub(r"\D", "", m["date"] + time).ljust(14, "0")
        try:
            when = datetime.strptime(digits, FILENAME_FORMAT)
        except ValueError:
            continue
        acquired = to_utc(f"{when.isoformat()}{m['zone'] or ''}")
        why = implausible(acquired)
        if why is None:
            return TimeInfo(acquired, "filename")
        problem = problem or why
    if problem:
        raise NoTimeError(
            f"the file name's date-time {problem}; give the time with {TIMES_HINT} (path,acquired)"
        )
    if date_only:
        date, digits = date_only["date"], DIGITS_AFTER_DATE.match(image.stem, date_only.end())
        maybe = (
            f" ({digits['digits']} after it may be a time or a tile number: if it is the time, "
            f"put a T before it, {date}T{digits['digits']})"
            if digits
            else ""
        )
        raise NoTimeError(
            f"file name holds a date ({date}) but no time of day{maybe}; midnight would bias "
            f"dwell times by up to a day, so give the time with {TIMES_HINT} (path,acquired)"
        )
    return None


def _is_date(text: str) -> bool:
    """Whether ``text`` (``20230731`` or ``2023-07-31``) is a calendar date."""
    try:
        datetime.strptime(text.replace("-", ""), "%Y%m%d")
    except ValueError:
        return False
    return True


def _parse(value: object, where: Path, what: str) -> pd.Timestamp | None:
    """``value`` as a UTC time; None, with one warning naming ``where`` and ``what`` gave it,
    when it is no date-time or :func:`implausible`, for the next source to be tried."""
    if value is None or value == "":
        return None
    try:
        when = to_utc(value)
    except (ValueError, TypeError):
        log.warning("%s: %s time %r is not a date-time; trying other sources", where, what, value)
        return None
    problem = implausible(when)
    if problem:
        log.warning("%s: %s time %s; trying other sources", where, what, problem)
        return None
    return when


def _load_json(path: Path, *, warn: bool = True) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        if warn:
            log.warning("%s: cannot read JSON (%s); trying other sources", path, e)
        return None
    return data if isinstance(data, dict) else None


def _is_stac_item(item: object) -> bool:
    return (
        isinstance(item, dict)
        and item.get("type") == "Feature"
        and isinstance(item.get("properties"), dict)
        and ("stac_version" in item or "assets" in item)
    )


def _prefixed_sidecar(image: Path, suffix: str) -> Path | None:
    """``<prefix><suffix>`` beside image, prefix = stem or its longest ``_``-separated head
    (Planet names ``<item id>_3B_AnalyticMS.tif`` beside ``<item id>_metadata.json``)."""
    parts = image.stem.split("_")
    for n in range(len(parts), 0, -1):
        candidate = image.parent / ("_".join(parts[:n]) + suffix)
        if candidate.is_file():
            return candidate
    return None


def _fraction(value: object) -> float:
    """A cloud fraction in [0, 1] from a provider value in [0, 1]; NaN if missing/invalid."""
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return f if 0.0 <= f <= 1.0 else math.nan


def _percent(value: object) -> float:
    """A cloud fraction in [0, 1] from a percentage in [0, 100]; NaN if missing/invalid."""
    try:
        return _fraction(float(value) / 100.0)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def acquisition_time(
    image: Path,
    *,
    folder: Path,
    tags: Mapping[str, str],
    times: Mapping[str, object] | None = None,
    stac_index: Mapping[Path, dict[str, Any]] | None = None,
    hint: str = TIMES_HINT,
) -> TimeInfo:
    """The acquisition time of ``image`` from the most trusted source that has one.

    ``tags``: the image's GDAL metadata (default and IMAGERY domains merged). ``hint``: how
    its warning of a file name that disagrees names the way to give a time (the command's
    own: :data:`TIMES_HINT`, or :data:`DETECT_TIMES_HINT` for detect). NoTimeError when
    no source gives a time (naming a JPEG's ``EXIF_DateTimeOriginal``, which is not read:
    a camera's local clock, in no stated zone, or the time a picture was exported). A user
    time keeps the provider and cloud fraction of the sidecar that would have given one
    (:func:`_quietly`).
    """
    sidecars = (
        lambda: stac_time(image, stac_index or {}),
        lambda: planet_json_time(image),
        lambda: planet_xml_time(image),
        lambda: maxar_imd_time(image),
        lambda: dimap_time(image),
    )
    if times:
        acquired = user_time(image, folder, times)
        if acquired is not None:
            said = _quietly(sidecars)
            if said is None:
                return TimeInfo(acquired, "user")
            return TimeInfo(acquired, "user", said.provider, said.cloud_fraction)
    for reader in (
        *sidecars,
        lambda: gdal_tag_time(tags, image),
        lambda: filename_time(image),
    ):
        info = reader()
        if info is not None:
            if info.source != "filename":
                _warn_if_name_differs(info, image, hint)
            return info
    exif = tags.get("EXIF_DateTimeOriginal", "").strip()
    unread = f"; EXIF_DateTimeOriginal {exif!r} is not read: a camera's clock, of no zone"
    raise NoTimeError(
        "no acquisition time (none usable from a STAC/Planet/Maxar/DIMAP sidecar, an "
        "ACQUISITIONDATETIME, NITF_IDATIM or TIFFTAG_DATETIME tag or the file name"
        f"{unread if exif else ''}); give it with {TIMES_HINT}"
    )


def _quietly(readers: Iterable[Callable[[], TimeInfo | None]]) -> TimeInfo | None:
    """What the first of ``readers`` (sidecar readers) to give a time says, read without
    their warnings: for an image the user gives the time of, whose provider (which orders
    its bands) and cloud fraction its sidecar still gives, and whose sidecar's times,
    unused, are not warned about. None where none gives one."""
    was, log.disabled = log.disabled, True
    try:
        return next((info for read in readers if (info := read()) is not None), None)
    finally:
        log.disabled = was
