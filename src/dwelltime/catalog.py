"""Aircraft types as seen from above: sourced facts plus the planform traits drawn from them.

Reference data of the whole product (detector classes, ``--type``, flight logs, batch jobs,
labels, the synthetic engine); it imports only the standard library.

Facts (length, span, engines, mount, wing position, tail, sweep, role) come from
``dwelltime/data/aircraft_types.csv``, which cites a public source for every row (see its
``source`` column and ``aircraft_types_SOURCES.md``). Where the CSV holds several variants of
one ICAO designator the first row is used (T204 → Tu-204-100, B752 → 757-200). Traits the
CSV does not give (fuselage width, chord, wing and tail placement, fin height, missing
sweep) are *derived* here from the type's size, role and layout with the rules below; every
derived field is listed in :attr:`AircraftType.derived`.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources

#: Fuselage widths (metres) of types whose width is well known; others use :func:`_fuselage_width`.
#: Typical published cabin-section outer widths; treated as derived (not in the cited CSV).
_FUSELAGE_WIDTH_M: dict[str, float] = {
    "IL62": 3.75, "T154": 3.8, "T204": 3.8, "T134": 2.9, "YK42": 3.8, "A148": 3.35,
    "IL76": 4.8, "IL86": 6.08, "IL96": 6.08, "AN24": 2.9, "AN26": 2.9, "AN32": 2.9,
    "AN12": 4.1, "A124": 7.3, "SU95": 3.46, "B738": 3.76, "B38M": 3.76, "B737": 3.76,
    "A319": 3.95, "A320": 3.95, "A321": 3.95, "B744": 6.5, "B748": 6.5, "B752": 3.76,
    "B763": 5.03, "B77W": 6.2, "B772": 6.2, "B789": 5.77, "B788": 5.77, "A332": 5.64,
    "A333": 5.64, "A343": 5.64, "A359": 5.96, "A388": 7.14, "A310": 5.64, "E190": 3.01,
    "CRJ2": 2.69, "GLF5": 2.5, "GLF6": 2.6, "C17": 6.85, "C130": 4.3, "C30J": 4.3,
    "A400": 5.6, "Y20": 5.6, "MC23": 4.06, "C919": 3.96, "AJ27": 3.3, "MA60": 2.9,
    "AT72": 2.87, "AT76": 2.87, "DH8D": 2.69, "TU95": 2.9, "AN72": 3.1, "IL18": 3.5,
}  # fmt: skip


@dataclass(frozen=True)
class AircraftType:
    """One aircraft type. Lengths in metres, angles in degrees.

    Planform fractions are of the overall length, measured from the nose.
    """

    icao: str
    name: str
    length_m: float
    wingspan_m: float
    engines: int
    engine_mount: str  # wing | rear fuselage | turboprop wing | wing (over-wing)
    wing_position: str  # low | high | mid
    tail: str  # conventional | T-tail
    sweep_deg: float  # quarter-chord wing sweep
    role: tuple[str, ...]
    fuselage_width_m: float
    wing_root_le_frac: float  # wing root leading edge, fraction of length from the nose
    root_chord_m: float
    taper: float  # tip chord / root chord
    tailplane_span_m: float
    fin_height_m: float  # top of the fin above ground
    nose_len_m: float  # length of the nose taper
    tailcone_len_m: float  # length of the tail-cone taper
    derived: tuple[str, ...]  # fields not taken from the cited CSV

    @property
    def is_jet(self) -> bool:
        """True for turbofan types (not turboprops)."""
        return self.engine_mount != "turboprop wing"

    def scaled(self, length_m: float, icao: str) -> AircraftType:
        """This planform shrunk or grown to ``length_m`` metres long, every length scaled alike,
        under the designator ``icao``: an aircraft outside the catalog that looks like it."""
        k = length_m / self.length_m
        metric = ("length_m", "wingspan_m", "fuselage_width_m", "root_chord_m")
        metric += ("tailplane_span_m", "fin_height_m", "nose_len_m", "tailcone_len_m")
        return replace(
            self,
            icao=icao,
            name=f"{self.name} scaled to {length_m:.1f} m",
            **{f: getattr(self, f) * k for f in metric},
        )


def _fuselage_width(length_m: float, roles: tuple[str, ...]) -> float:
    width = 0.55 + 0.08 * length_m
    if "military transport" in roles:
        width += 0.8
    return min(max(width, 2.4), 7.2)


def _default_sweep(engine_mount: str, roles: tuple[str, ...], length_m: float) -> float:
    """Plausible quarter-chord sweep where no source states one (marked derived)."""
    if engine_mount == "turboprop wing":
        return 3.0
    if engine_mount == "rear fuselage":
        return 33.0
    if "military transport" in roles:
        return 25.0
    return 30.0 if length_m > 50 else 25.0


def _derive(row: dict[str, str]) -> AircraftType:
    icao = row["icao"].strip()
    length = float(row["length_m"])
    span = float(row["wingspan_m"])
    mount = row["engine_mount"].strip()
    roles = tuple(r.strip() for r in row["role"].split(";") if r.strip())
    tail = row["tail"].strip()
    derived = ["fuselage_width_m", "wing_root_le_frac", "root_chord_m", "taper"]
    derived += ["tailplane_span_m", "fin_height_m", "nose_len_m", "tailcone_len_m"]
    if row["sweep_deg"].strip():
        sweep = float(row["sweep_deg"])
    else:
        sweep = _default_sweep(mount, roles, length)
        derived.append("sweep_deg")
    fw = _FUSELAGE_WIDTH_M.get(icao) or _fuselage_width(length, roles)
    turboprop = mount == "turboprop wing"
    le_frac = {"rear fuselage": 0.44}.get(mount, 0.36)
    if turboprop:
        root_chord, taper = 0.13 * span, 0.45
    else:
        root_chord, taper = 0.20 * span, 0.28
    tail_frac = 0.33 if tail == "T-tail" else (0.32 if turboprop else 0.37)
    fin_height = 0.23 * length + 1.5 if tail == "T-tail" else 0.19 * length + 2.0
    nose = (1.2 if turboprop or "military transport" in roles else 1.7) * fw
    tailcone = (2.6 if mount == "rear fuselage" else 2.2) * fw
    return AircraftType(
        icao=icao,
        name=row["name"].strip(),
        length_m=length,
        wingspan_m=span,
        engines=int(row["engines"]),
        engine_mount=mount,
        wing_position=row["wing_position"].strip(),
        tail=tail,
        sweep_deg=sweep,
        role=roles,
        fuselage_width_m=fw,
        wing_root_le_frac=le_frac,
        root_chord_m=root_chord,
        taper=taper,
        tailplane_span_m=tail_frac * span,
        fin_height_m=fin_height,
        nose_len_m=nose,
        tailcone_len_m=tailcone,
        derived=tuple(derived),
    )


@cache
def _rows() -> tuple[dict[str, str], ...]:
    """The rows of ``aircraft_types.csv``, every variant."""
    text = resources.files("dwelltime").joinpath("data", "aircraft_types.csv").read_text("utf-8")
    return tuple(csv.DictReader(text.splitlines()))


@cache
def load_catalog() -> dict[str, AircraftType]:
    """All types keyed by ICAO designator (one variant per designator: the CSV's first row)."""
    catalog: dict[str, AircraftType] = {}
    for row in _rows():
        icao = row["icao"].strip()
        if icao not in catalog:
            catalog[icao] = _derive(row)
    return catalog


def catalog_dimensions() -> dict[str, tuple[float, float]]:
    """(length_m, wingspan_m) of every catalog type, keyed by ICAO designator."""
    return {k: (t.length_m, t.wingspan_m) for k, t in load_catalog().items()}


def _spelling(text: str) -> str:
    """``text`` upper case without spaces, hyphens and dots: how :func:`designator` compares."""
    return re.sub(r"[\s\-.]", "", text).upper()


def _without_notes(text: str) -> str:
    """``text`` without its notes in brackets: ``Ilyushin Il-62M`` of the catalog's name
    ``Ilyushin Il-62M [VIP]``, ``IL62`` of a tracker's ``IL62 (RA-86496)``."""
    return re.sub(r"\s*[(\[][^)\]]*[)\]]", "", text)


def _name(row: dict[str, str]) -> str:
    """A catalog row's full name without its notes in brackets (``Ilyushin Il-62M``)."""
    return _without_notes(row["name"])


@cache
def _designators_by_name() -> dict[str, str]:
    """Each variant's full name in the CSV (``Ilyushin Il-62M``, ``Tupolev Tu-204-300``; notes
    in brackets left out) and that name without its maker (``Il-62M``), as :func:`_spelling`
    writes them → its ICAO designator; a full name wins over a model name spelled like it."""
    names: dict[str, str] = {}
    models: dict[str, str] = {}
    for row in _rows():
        name = _name(row)
        names.setdefault(_spelling(name), row["icao"].strip())
        models.setdefault(_spelling(name.partition(" ")[2]), row["icao"].strip())
    return {**models, **names}


@cache
def _makers() -> tuple[str, ...]:
    """The makers that begin the catalog's names (``ILYUSHIN``, ``BOEING``), as
    :func:`_spelling` writes them, longest first."""
    return tuple(sorted({_spelling(_name(row).split()[0]) for row in _rows()}, key=len)[::-1])


def _without_maker(spelling: str) -> str:
    """``spelling`` (:func:`_spelling`) without the maker it begins with (``ILYUSHINIL62`` →
    ``IL62``); as it is when it begins with none."""
    maker = next((m for m in _makers() if spelling.startswith(m) and spelling != m), "")
    return spelling[len(maker) :]


def designator(text: str) -> str:
    """The catalog's ICAO designator that ``text`` names, case, spaces, hyphens and dots
    ignored (``Il-62`` → ``IL62``), or a variant's name as flight trackers write it, with or
    without its maker (``Ilyushin Il-62M``, ``Il-62M``, ``Ilyushin Il-62`` → ``IL62``), notes in
    brackets ignored (FlightRadar24's ``IL62 (RA-86496)``), or ``unknown``. Raises
    :class:`UnknownTypeError` naming the close matches (``IL62X`` → IL62) when the catalog has
    no such type, or when ``text`` is no text (``["IL62"]``)."""
    import difflib

    from dwelltime.errors import UnknownTypeError

    if not isinstance(text, str):  # a list of types, a number: one designator is asked for
        raise UnknownTypeError(text, [], len(load_catalog()))
    wanted = _spelling(_without_notes(text))
    if wanted == "UNKNOWN":
        return "unknown"
    known = sorted(load_catalog())
    for spelling in (wanted, _without_maker(wanted)):
        if spelling in known:
            return spelling
        if spelling in _designators_by_name():
            return _designators_by_name()[spelling]
    close = difflib.get_close_matches(wanted, known, n=3, cutoff=0.6)
    raise UnknownTypeError(text, close, len(known))
