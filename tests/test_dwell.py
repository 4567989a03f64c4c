"""Dwell-interval rules on hand-made timestamps, plus the bounds property for perfect data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dwelltime.dwell import (
    PRIOR_FLOOR_H,
    bounding_absences,
    dwell_estimate,
    dwell_interval,
    fitted_prior,
    hours,
    log_uniform_prior,
    stay_windows,
)

T0 = pd.Timestamp("2026-07-31T00:00:00Z")


def at(h: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(hours=h)


def test_bounded_both_ends():
    d = dwell_interval([at(10), at(34), at(46)], [at(0), at(58), at(70)])
    assert d.first_seen == at(10) and d.last_seen == at(46)
    assert d.last_absent_before == at(0) and d.first_absent_after == at(58)
    assert d.min_h == 36.0
    assert d.max_h == 58.0
    assert d.est_h == pytest.approx(sampled_median((0, 10), (46, 58)), abs=0.1)
    assert d.est_h < (36 + 58) / 2  # short stays are likelier than long ones
    assert not d.censored_start and not d.censored_end


def sampled_median(arrival: tuple[float, float], departure: tuple[float, float]) -> float:
    """The estimate's definition by sampling: arrival and departure uniform in their windows
    (hours), each draw weighted by the log-uniform prior; the weighted median, hours."""
    rng = np.random.default_rng(0)
    dwell = rng.uniform(*departure, 400_000) - rng.uniform(*arrival, 400_000)
    order = np.sort(dwell)
    cumulative = np.cumsum(1 / np.maximum(order, PRIOR_FLOOR_H))
    return float(order[np.searchsorted(cumulative, cumulative[-1] / 2)])


def test_times_given_as_a_zoned_index_are_not_parsed_again(monkeypatch):
    # Linking asks for one interval per stay (12,000 for 2,000 aircraft over 50 scenes);
    # parsing its times with pd.to_datetime, twice a stay, was most of the stays table's time.
    def parse(*args, **kwargs):
        raise AssertionError("parsed again")

    seen = pd.DatetimeIndex([at(46), at(10), at(34)]).tz_convert("Asia/Pyongyang")
    absent = pd.DatetimeIndex([at(0), at(58)])
    monkeypatch.setattr(pd, "to_datetime", parse)
    d = dwell_interval(seen, absent)
    assert (d.first_seen, d.last_seen) == (at(10), at(46)) and str(d.first_seen.tz) == "UTC"
    assert (d.min_h, d.max_h) == (36.0, 58.0)


def test_a_single_sighting_between_two_absences_is_estimated_short_of_the_midpoint():
    d = dwell_interval([at(10)], [at(0), at(34)])
    assert d.min_h == 0.0 and d.max_h == 34.0
    assert d.est_h == pytest.approx(sampled_median((0, 10), (10, 34)), abs=0.1)
    assert 0.0 < d.est_h < 17.0


def test_known_arrival_and_departure_times_give_the_dwell_itself():
    assert dwell_estimate((at(3), at(3)), (at(40), at(40))) == pytest.approx(37.0)
    assert dwell_estimate((at(3), at(3)), (at(40), at(50))) == pytest.approx(
        sampled_median((3, 3), (40, 50)), abs=0.05
    )


def test_the_prior_is_a_parameter():
    # windows of equal width: the dwell's trapezoid is symmetric about 30 h
    arrival, departure = (at(0), at(10)), (at(30), at(40))
    assert dwell_estimate(arrival, departure) < 30.0  # log-uniform: short stays likelier
    flat = dwell_estimate(arrival, departure, prior=np.ones_like)
    assert flat == pytest.approx(30.0, abs=0.05)
    assert dwell_estimate(arrival, departure, prior=lambda d: (d > 33.0) * 1.0) > 33.0
    # no weight anywhere in [20, 40] h: the unweighted median
    assert dwell_estimate(arrival, departure, prior=np.zeros_like) == flat


def test_stay_windows_of_a_table_row():
    row = {
        "first_seen": at(10),
        "last_seen": at(20),
        "last_absent_before": pd.NaT,
        "first_absent_after": at(30),
    }
    assert stay_windows(row) == ((pd.NaT, pd.NaT), (at(20), at(30)))  # the arrival: unknown
    row["last_absent_before"] = at(0)
    assert stay_windows(row) == ((at(0), at(10)), (at(20), at(30)))
    d = dwell_interval([at(10), at(20)], [at(0), at(30)])
    assert dwell_estimate(*stay_windows(vars(d))) == d.est_h


def test_censored_start_has_a_minimum_and_no_estimate():
    """The images do not say when it arrived: at least 10 h, and no point estimate (the
    prior alone would pick one)."""
    d = dwell_interval([at(10), at(20)], [at(30)])
    assert d.censored_start and not d.censored_end
    assert math.isnan(d.max_h) and math.isnan(d.est_h)
    assert d.min_h == 10.0
    bounded = dwell_interval([at(10), at(20)], [at(10 - 1e-6), at(30)])
    # arrival at t_i, departure uniform in [t_j, t_b]: dwell uniform on [10, 20] h, weighted
    # by 1/d, whose median is the geometric mean
    assert bounded.est_h == pytest.approx(math.sqrt(10 * 20), abs=0.01)


def test_censored_both_ends_single_sighting():
    d = dwell_interval([at(5)], [])
    assert d.censored_start and d.censored_end
    assert d.min_h == 0.0 and math.isnan(d.est_h) and math.isnan(d.max_h)


def test_absences_inside_the_stay_are_ignored():
    d = dwell_interval([at(0), at(48)], [at(-24), at(24), at(72)])
    assert d.last_absent_before == at(-24) and d.first_absent_after == at(72)
    assert d.min_h == 48.0 and d.max_h == 96.0


def test_order_and_timezone_do_not_matter():
    naive_order = dwell_interval([at(20), at(10)], [at(40), at(0)])
    local = [t.tz_convert("Asia/Pyongyang") for t in (at(10), at(20))]
    assert dwell_interval(local, [at(0), at(40)]) == naive_order
    assert naive_order.first_seen.tzname() == "UTC"


def test_no_sighting_is_an_error():
    with pytest.raises(ValueError, match="at least one sighting"):
        bounding_absences([], [at(0)])


def test_hours_of_nat_is_nan():
    assert math.isnan(hours(pd.NaT))
    assert hours(pd.Timedelta(minutes=90)) == 1.5


@st.composite
def perfect_series(draw):
    """Scene times, a true [arrival, departure] and visibility; sightings are perfect, and the
    aircraft is on the ground at one visible scene at least (drawn so, not filtered)."""
    minutes = draw(st.lists(st.integers(0, 30 * 24 * 60), min_size=1, max_size=25, unique=True))
    times = sorted(T0 + pd.Timedelta(minutes=m) for m in minutes)
    visible = draw(st.lists(st.booleans(), min_size=len(times), max_size=len(times)))
    k = draw(st.integers(0, len(times) - 1))
    visible[k] = True
    arrival = times[k] - pd.Timedelta(minutes=draw(st.integers(0, 10 * 24 * 60)))
    departure = times[k] + pd.Timedelta(minutes=draw(st.integers(1, 10 * 24 * 60)))
    seen = [t for t, v in zip(times, visible, strict=True) if v and arrival <= t <= departure]
    absent = [t for t, v in zip(times, visible, strict=True) if v and not arrival <= t <= departure]
    return seen, absent, hours(departure - arrival)


@settings(max_examples=300, deadline=None)
@given(perfect_series())
def test_truth_lies_within_bounds_for_perfect_detections(series):
    seen, absent, truth = series
    d = dwell_interval(seen, absent)
    upper = math.inf if math.isnan(d.max_h) else d.max_h
    assert d.min_h <= truth + 1e-9
    assert truth <= upper + 1e-9
    if math.isnan(d.max_h):  # censored: no point estimate
        assert math.isnan(d.est_h)
    else:
        assert d.min_h <= d.est_h <= d.max_h


def _seen_windows(dwells_h, arrivals_h, scenes_h):
    """Arrival and departure windows (hours, ±inf where censored) of the stays that hold a
    scene, as linking would bound them from the scenes around them, and their true dwells."""
    scenes_h = np.sort(np.asarray(scenes_h, dtype=float))
    out, seen = [], []
    for d, a in zip(dwells_h, arrivals_h, strict=True):
        inside = scenes_h[(scenes_h >= a) & (scenes_h <= a + d)]
        if len(inside):
            before, after = scenes_h[scenes_h < a], scenes_h[scenes_h > a + d]
            t_a = before[-1] if len(before) else -np.inf
            t_b = after[0] if len(after) else np.inf
            out.append(((t_a, inside[0]), (inside[-1], t_b)))
            seen.append(d)
    return out, np.array(seen)


def _mass_near(prior, centre_h: float) -> float:
    """Prior mass within a factor 1.25 of ``centre_h`` (relative weights per hour)."""
    d = np.geomspace(centre_h / 1.25, centre_h * 1.25, 200)
    return float(np.trapezoid(prior(d), d))


def test_a_prior_fitted_to_no_stays_is_the_log_uniform_one():
    prior = fitted_prior([], [0.0, 24.0, 48.0])
    d = np.array([1.0, 3.0, 10.0, 30.0])
    ratio = prior(d) / log_uniform_prior(d)
    np.testing.assert_allclose(ratio, ratio[0], rtol=0.05)


def test_the_fitted_prior_finds_where_the_dwells_are():
    rng = np.random.default_rng(1)
    scenes = np.arange(0.0, 24 * 14, 3.0)
    dwells = rng.uniform(4.5, 5.5, 300)
    windows, _ = _seen_windows(dwells, rng.uniform(-10, 24 * 14, 300), scenes)
    prior = fitted_prior(windows, scenes)
    assert _mass_near(prior, 5.0) > 5 * max(_mass_near(prior, 1.5), _mass_near(prior, 15.0))


def test_the_fitted_prior_undoes_the_bias_towards_long_stays():
    """As many 2 h as 20 h stays, imaged once a day: the long ones are seen about 8 times as
    often (20/24 against 2/24), the fitted prior weighs them about equally again."""
    rng = np.random.default_rng(2)
    scenes = np.arange(0.0, 24 * 60, 24.0) + rng.uniform(-3, 3, 60)
    dwells = np.repeat([2.0, 20.0], 2000)
    windows, seen = _seen_windows(dwells, rng.uniform(0, 24 * 59, dwells.size), scenes)
    assert (seen == 20.0).sum() > 6 * (seen == 2.0).sum()
    prior = fitted_prior(windows, scenes, strength=1.0)
    assert 0.5 < _mass_near(prior, 20.0) / _mass_near(prior, 2.0) < 2.0
