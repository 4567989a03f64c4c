"""Traffic over days: residents that never leave, visitors arriving and departing at random
true times, towing between stands. Times are tz-aware UTC ``pandas.Timestamp``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dwelltime.catalog import load_catalog
from dwelltime.synth.layout import AirportLayout

#: How long before/after the series residents are already/still there.
RESIDENT_MARGIN = pd.Timedelta(days=60)
#: Minutes an aircraft is off any stand while it is towed.
TOW_GAP = pd.Timedelta(minutes=25)
#: Random visitors' stays: log-normal with this median (hours) and σ of the log, clipped to
#: :data:`VISIT_RANGE_H` (hours).
VISIT_MEDIAN_H = 6.0
VISIT_LOG_SIGMA = 1.0
VISIT_RANGE_H = (0.75, 80.0)


@dataclass(frozen=True)
class Presence:
    """One aircraft on one stand from ``start`` to ``end`` (UTC).

    ``visit_id`` groups the presences of one visit (several when towed); ``arrival`` and
    ``departure`` are the visit's true times at the airport.
    """

    aircraft_id: str
    visit_id: str
    type: str
    stand_id: str
    start: pd.Timestamp
    end: pd.Timestamp
    arrival: pd.Timestamp
    departure: pd.Timestamp
    resident: bool

    def present(self, t: pd.Timestamp) -> bool:
        """On the stand at ``t`` (start inclusive, end exclusive)."""
        return self.start <= t < self.end


def occupants(presences: Sequence[Presence], t: pd.Timestamp) -> list[Presence]:
    """The presences on a stand at time ``t``."""
    return [p for p in presences if p.present(t)]


def _free(
    presences: Sequence[Presence], stand_id: str, start: pd.Timestamp, end: pd.Timestamp
) -> bool:
    return all(p.stand_id != stand_id or p.end <= start or p.start >= end for p in presences)


def _fits(layout: AirportLayout, stand_id: str, type_: str) -> bool:
    return load_catalog()[type_].length_m <= layout.stand(stand_id).max_length_m


@dataclass(frozen=True)
class Visit:
    """A planned visit: ``type`` on the ground from ``arrival`` to ``departure``; ``stand_id``
    (None: any free stand that fits); ``tow_at``: time it is towed to another stand, if any."""

    type: str
    arrival: pd.Timestamp
    departure: pd.Timestamp
    stand_id: str | None = None
    tow_at: pd.Timestamp | None = None
    tow_to: str | None = None


def visit_dwell_density(dwell_h: np.ndarray) -> np.ndarray:
    """Probability density (per hour) of a random visitor's stay of ``dwell_h`` hours: the
    log-normal :func:`simulate_traffic` draws from, zero outside :data:`VISIT_RANGE_H` (the
    clipped tails, under 3 % of the stays, are left out). What the simulator knows and a real
    analyst does not: ``scripts/evaluate_dwell.py`` uses it as a reference estimator's prior."""
    d = np.asarray(dwell_h, dtype=float)
    positive = np.maximum(d, 1e-9)
    z = (np.log(positive) - np.log(VISIT_MEDIAN_H)) / VISIT_LOG_SIGMA
    pdf = np.exp(-0.5 * z**2) / (positive * VISIT_LOG_SIGMA * np.sqrt(2 * np.pi))
    return np.where((d >= VISIT_RANGE_H[0]) & (d <= VISIT_RANGE_H[1]), pdf, 0.0)


def simulate_traffic(
    layout: AirportLayout,
    start: pd.Timestamp,
    end: pd.Timestamp,
    rng: np.random.Generator,
    *,
    residents: Sequence[tuple[str, str]] = (),
    visits: Sequence[Visit] = (),
    visitor_types: Sequence[str] = ("B738", "A320", "T204", "A148", "SU95", "IL76", "AN24"),
    visitors_per_day: float = 2.0,
    tow_probability: float = 0.15,
    reserved: Sequence[str] = (),
) -> list[Presence]:
    """Presences of residents (``(type, stand_id)``, there the whole time), the planned
    ``visits`` and random visitors (Poisson arrivals, log-normal stays of ~1 h to ~3 days;
    some towed to another stand halfway; never on the ``reserved`` stands)."""
    out: list[Presence] = []
    for i, (type_, stand_id) in enumerate(residents):
        a, d = start - RESIDENT_MARGIN, end + RESIDENT_MARGIN
        out.append(Presence(f"R{i + 1}", f"R{i + 1}", type_, stand_id, a, d, a, d, True))
    planned = list(visits)
    n_random = rng.poisson(visitors_per_day * (end - start) / pd.Timedelta(days=1))
    for _ in range(n_random):
        arrival = start + (end - start) * float(rng.uniform(-0.1, 1.0))
        stay_h = np.clip(rng.lognormal(np.log(VISIT_MEDIAN_H), VISIT_LOG_SIGMA), *VISIT_RANGE_H)
        stay = pd.Timedelta(hours=float(stay_h))
        tow_at = (
            arrival + stay * float(rng.uniform(0.3, 0.7))
            if rng.random() < tow_probability
            else None
        )
        type_ = str(visitor_types[rng.integers(len(visitor_types))])
        planned.append(Visit(type_, arrival.round("s"), (arrival + stay).round("s"), tow_at=tow_at))
    for k, v in enumerate(planned):
        out += _schedule(layout, out, v, f"V{k + 1}", rng, reserved)
    return out


def _schedule(
    layout: AirportLayout,
    taken: list[Presence],
    v: Visit,
    visit_id: str,
    rng: np.random.Generator,
    reserved: Sequence[str],
) -> list[Presence]:
    """Presences of one visit, on free stands; [] when no stand is free (the visitor diverts)."""
    legs = [(v.arrival, v.departure)]
    if v.tow_at is not None:
        legs = [(v.arrival, v.tow_at), (v.tow_at + TOW_GAP, v.departure)]
    stands_wanted = [v.stand_id, v.tow_to] if v.tow_at is not None else [v.stand_id]
    result: list[Presence] = []
    for (a, d), wanted in zip(legs, stands_wanted, strict=True):
        if wanted is not None:
            stand_id = wanted
        else:
            options = [
                s.stand_id
                for s in layout.stands
                if s.stand_id not in reserved
                and _fits(layout, s.stand_id, v.type)
                and _free([*taken, *result], s.stand_id, a, d)
                and (not result or s.stand_id != result[-1].stand_id)
            ]
            if not options:
                return []
            stand_id = options[rng.integers(len(options))]
        result.append(
            Presence(visit_id, visit_id, v.type, stand_id, a, d, v.arrival, v.departure, False)
        )
    return result
