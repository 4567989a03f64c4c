"""Traffic simulation: residents, visitors, towing, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dwelltime.catalog import load_catalog
from dwelltime.synth.layout import design_layout
from dwelltime.synth.traffic import (
    TOW_GAP,
    VISIT_MEDIAN_H,
    VISIT_RANGE_H,
    Visit,
    occupants,
    simulate_traffic,
    visit_dwell_density,
)

T0, T1 = pd.Timestamp("2023-07-29T00:00Z"), pd.Timestamp("2023-08-05T00:00Z")
LAYOUT = design_layout("ZKPY", "EPSG:32651", 730486.0, 4345043.0)


def test_deterministic_and_residents_always_there():
    a = simulate_traffic(LAYOUT, T0, T1, np.random.default_rng(1), residents=[("T204", "A1")])
    b = simulate_traffic(LAYOUT, T0, T1, np.random.default_rng(1), residents=[("T204", "A1")])
    assert a == b
    for t in pd.date_range(T0, T1, periods=9):
        assert any(p.type == "T204" and p.stand_id == "A1" for p in occupants(a, t))


def test_no_visitors_and_no_residents_is_empty():
    assert simulate_traffic(LAYOUT, T0, T1, np.random.default_rng(0), visitors_per_day=0) == []


def test_towing_moves_the_aircraft_with_a_gap():
    tow = T0 + pd.Timedelta(hours=10)
    visit = Visit("B738", T0 + pd.Timedelta(hours=2), T0 + pd.Timedelta(hours=20), "A2", tow, "B1")
    legs = simulate_traffic(
        LAYOUT, T0, T1, np.random.default_rng(0), visits=[visit], visitors_per_day=0
    )
    assert [(p.stand_id, p.start, p.end) for p in legs] == [
        ("A2", visit.arrival, tow),
        ("B1", tow + TOW_GAP, visit.departure),
    ]
    assert occupants(legs, tow + TOW_GAP / 2) == []


def test_random_visitors_fit_their_stands_and_never_overlap():
    presences = simulate_traffic(LAYOUT, T0, T1, np.random.default_rng(3), visitors_per_day=6)
    assert len(presences) > 10
    for p in presences:
        assert load_catalog()[p.type].length_m <= LAYOUT.stand(p.stand_id).max_length_m
        assert p.arrival <= p.start < p.end <= p.departure
    for t in pd.date_range(T0, T1, periods=50):
        stands = [p.stand_id for p in occupants(presences, t)]
        assert len(stands) == len(set(stands))


def test_visit_dwell_density_is_the_one_visitors_are_drawn_from():
    hours = np.linspace(0.0, 100.0, 200_001)
    density = visit_dwell_density(hours)
    assert (density[(hours < VISIT_RANGE_H[0]) | (hours > VISIT_RANGE_H[1])] == 0).all()
    assert 0.97 < np.trapezoid(density, hours) < 1.0  # the clipped tails left out
    below = hours <= VISIT_MEDIAN_H
    assert np.trapezoid(density[below], hours[below]) == pytest.approx(0.5, abs=0.02)
    visits = simulate_traffic(LAYOUT, T0, T0 + pd.Timedelta(days=60), np.random.default_rng(3))
    one_each = {p.visit_id: p for p in visits}.values()  # towed visits have two presences
    stays_h = np.array([(p.departure - p.arrival) / pd.Timedelta(hours=1) for p in one_each])
    assert len(stays_h) > 60
    for lo, hi in ((1.0, 3.0), (3.0, 12.0), (12.0, 80.0)):
        inside = (hours >= lo) & (hours <= hi)
        expected = np.trapezoid(density[inside], hours[inside])
        assert np.mean((stays_h >= lo) & (stays_h <= hi)) == pytest.approx(expected, abs=0.12)
