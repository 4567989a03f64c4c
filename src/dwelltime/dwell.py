"""Dwell-time intervals from sighting and visible-absence times (pure functions, no geometry).

A stay seen in scenes ``t_i … t_j`` with last visible absence ``t_a < t_i`` and first visible
absence ``t_b > t_j`` stayed at least ``t_j − t_i`` and at most ``t_b − t_a``. Without ``t_a``
(or ``t_b``) the stay is *censored* at that end and the maximum is open (NaN). Scenes in which the
stand was not visible are neither presence nor absence and must not be passed in. Absences
between ``t_i`` and ``t_j`` (tolerated missed detections, see :mod:`dwelltime.linking`) do not
shorten the stay and are ignored.

Point estimate: the aircraft arrived at some time in the *arrival window* ``[t_a, t_i]`` and
left in the *departure window* ``[t_j, t_b]``, each equally likely anywhere in its window, so
the dwell ``departure − arrival`` is spread over ``[dwell_min, dwell_max]`` as a trapezoid,
weighted by a prior over dwells. The estimate is the median of that distribution: the midpoint
``(dwell_min + dwell_max)/2`` would be its median without a prior, and it overstates short
visits bounded by overnight gaps. The default prior here is the scale-invariant (log-uniform)
``1/d``, flat below :data:`PRIOR_FLOOR_H`: stays are far more often short than long
(turnarounds of hours, few stays of days); on the simulated airport-weeks of
``scripts/evaluate_dwell.py`` it cuts the median error of the midpoint by a third. Linking
instead fits the prior to the airport's own stays (:func:`fitted_prior`, empirical Bayes,
shrunk towards the log-uniform one; see :mod:`dwelltime.linking`), which cuts the median error
by another third to two fifths on those weeks.
A stay censored at either end has no point estimate (NaN): the images do not say when it
arrived or left, and the prior alone would choose (a stay seen once, on the first image, would
get the prior's typical dwell). Its interval, ``≥ dwell_min``, is what they say. Where both ends
are bounded, ``dwell_min <= dwell_est <= dwell_max``. All durations are in hours; all times
tz-aware UTC.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

_HOUR = pd.Timedelta(hours=1)

#: Hours below which the dwell prior is flat: no aircraft is turned around much faster.
PRIOR_FLOOR_H = 0.5

#: A prior over dwell times: relative weights (any scale) of dwells given in hours.
DwellPrior = Callable[[np.ndarray], np.ndarray]

#: Cells over ``[dwell_min, dwell_max]`` for the estimate's median (under 0.1 % of the width).
_ESTIMATE_STEPS = 2000


@dataclass(frozen=True)
class DwellInterval:
    """How long one aircraft stayed: bounds in hours and the scene times that made them."""

    first_seen: pd.Timestamp  # t_i, UTC
    last_seen: pd.Timestamp  # t_j, UTC
    last_absent_before: pd.Timestamp  # t_a, UTC; NaT when censored at the start
    first_absent_after: pd.Timestamp  # t_b, UTC; NaT when censored at the end
    min_h: float  # t_j − t_i, hours
    max_h: float  # t_b − t_a, hours; NaN (open) when censored at either end
    est_h: float  # point estimate, hours; NaN when censored (see module docstring)

    @property
    def censored_start(self) -> bool:
        """No visible absence before the first sighting: the arrival is unbounded."""
        return pd.isna(self.last_absent_before)

    @property
    def censored_end(self) -> bool:
        """No visible absence after the last sighting: the departure is unbounded."""
        return pd.isna(self.first_absent_after)


def hours(delta: pd.Timedelta) -> float:
    """A time difference in hours (NaN for NaT)."""
    return float("nan") if pd.isna(delta) else float(delta / _HOUR)


def end_window(bound: pd.Timestamp, seen: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """When one end of the stay happened (UTC, earliest and latest): between the visible absence
    ``bound`` and the nearest sighting ``seen``; ``(NaT, NaT)`` when that end is censored
    (``bound`` NaT): the images do not say."""
    return (pd.NaT, pd.NaT) if pd.isna(bound) else (min(bound, seen), max(bound, seen))


def log_uniform_prior(dwell_h: np.ndarray) -> np.ndarray:
    """The estimate's default prior: weight ``1/d`` for a dwell of ``d`` hours, flat below
    :data:`PRIOR_FLOOR_H`."""
    return 1.0 / np.maximum(dwell_h, PRIOR_FLOOR_H)


def dwell_estimate(
    arrival: tuple[pd.Timestamp, pd.Timestamp],
    departure: tuple[pd.Timestamp, pd.Timestamp],
    prior: DwellPrior = log_uniform_prior,
) -> float:
    """Point estimate of the dwell in hours, from the arrival and departure windows (UTC,
    earliest and latest; equal where the time is known): the median of ``departure − arrival``
    with both uniform in their windows, weighted by ``prior`` (module docstring). A prior that
    gives no weight anywhere in the window leaves the unweighted median. NaN when a window is
    open (NaT: a censored end)."""
    if any(pd.isna(t) for t in (*arrival, *departure)):
        return float("nan")
    lo = hours(departure[0] - arrival[1])
    hi = hours(departure[1] - arrival[0])
    ramp = min(hours(arrival[1] - arrival[0]), hours(departure[1] - departure[0]))
    if hi - lo <= 0.0:
        return lo
    edges = np.linspace(lo, hi, _ESTIMATE_STEPS + 1)
    d = (edges[:-1] + edges[1:]) / 2  # cell centres
    spread = np.minimum(1.0, np.minimum(d - lo, hi - d) / ramp) if ramp > 0 else np.ones_like(d)
    weight = spread * prior(d)
    cdf = np.concatenate([[0.0], np.cumsum(weight if weight.sum() > 0 else spread)])
    return float(np.interp(0.5 * cdf[-1], cdf, edges))


def stay_windows(
    stay: Mapping[str, pd.Timestamp],
) -> tuple[tuple[pd.Timestamp, pd.Timestamp], tuple[pd.Timestamp, pd.Timestamp]]:
    """Arrival and departure windows (:func:`end_window`) of a stay given by its
    ``first_seen``, ``last_seen``, ``last_absent_before`` and ``first_absent_after`` (a row of
    the stays table, or a :class:`DwellInterval`'s fields)."""
    return (
        end_window(stay["last_absent_before"], stay["first_seen"]),
        end_window(stay["first_absent_after"], stay["last_seen"]),
    )


def ranking_hours(stays: pd.DataFrame) -> pd.Series:
    """Hours to rank stays by how long they stood: the point estimate, or ``dwell_min_h``
    where a censored stay has none."""
    return stays["dwell_est_h"].astype(float).fillna(stays["dwell_min_h"].astype(float))


def floor_hours(hours: float, digits: int) -> float:
    """``hours`` rounded down to ``digits`` decimals: an open stay's minimum as shown, which
    never claims more than was seen (71.97 h is "≥ 71.9", not "≥ 72.0"); 1e-9 keeps a sum
    of 0.29999… h from being floored to 0.2."""
    return math.floor(hours * 10**digits + 1e-9) / 10**digits


def _utc(times: Sequence[pd.Timestamp]) -> pd.DatetimeIndex:
    """``times`` as a sorted UTC index without NaT, naive times read as UTC. A zoned
    DatetimeIndex is converted, not parsed again: this runs for every stay."""
    if isinstance(times, pd.DatetimeIndex) and times.tz is not None:
        index = times.tz_convert("UTC")
    else:
        index = pd.DatetimeIndex(pd.to_datetime(list(times), utc=True))
    return index.dropna().sort_values()


def bounding_absences(
    seen: Sequence[pd.Timestamp], visible_absent: Sequence[pd.Timestamp]
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``(t_a, t_b)``: the last visible absence before the first sighting and the first after
    the last sighting; ``NaT`` where there is none. Raises ``ValueError`` if ``seen`` is empty."""
    seen_utc = _utc(seen)
    if len(seen_utc) == 0:
        raise ValueError("a dwell interval needs at least one sighting; got none")
    absent = _utc(visible_absent)
    before = absent[absent < seen_utc[0]]
    after = absent[absent > seen_utc[-1]]
    t_a = before[-1] if len(before) else pd.NaT
    t_b = after[0] if len(after) else pd.NaT
    return t_a, t_b


def dwell_interval(
    seen: Sequence[pd.Timestamp], visible_absent: Sequence[pd.Timestamp]
) -> DwellInterval:
    """The dwell interval of one stay.

    ``seen``: UTC times of the scenes in which the aircraft was detected (any order, at least
    one). ``visible_absent``: UTC times of the scenes in which its stand was visible and it was
    not there. Returns bounds and estimate in hours; see the module docstring for the rules.
    """
    seen_utc = _utc(seen)
    t_a, t_b = bounding_absences(seen_utc, visible_absent)
    t_i, t_j = seen_utc[0], seen_utc[-1]
    max_h = hours(t_b - t_a) if not (pd.isna(t_a) or pd.isna(t_b)) else float(np.nan)
    return DwellInterval(
        first_seen=t_i,
        last_seen=t_j,
        last_absent_before=t_a,
        first_absent_after=t_b,
        min_h=hours(t_j - t_i),
        max_h=max_h,
        est_h=dwell_estimate(end_window(t_a, t_i), end_window(t_b, t_j)),
    )


#: Dwell grid of :func:`fitted_prior`: log-spaced cells per doubling of the dwell.
_CELLS_PER_DOUBLING = 12

#: Stays' worth of weight the log-uniform prior keeps in a :func:`fitted_prior` by default
#: (on the simulated weeks of ``scripts/evaluate_dwell.py`` 1 to 2 did best, 5 a little worse).
PRIOR_STRENGTH = 2.0


def _arrival_overlap(
    arrival: tuple[float, float], departure: tuple[float, float], dwell_h: np.ndarray
) -> np.ndarray:
    """Hours of arrival times in ``arrival`` (hours; -inf at a censored start) whose departure
    after ``dwell_h`` falls in ``departure`` (+inf at a censored end): the likelihood of a
    stay's windows given its dwell, up to a constant."""
    lo = np.maximum(arrival[0], departure[0] - dwell_h)
    hi = np.minimum(arrival[1], departure[1] - dwell_h)
    return np.clip(hi - lo, 0.0, None)


#: A stay's arrival and departure windows for :func:`fitted_prior`: ``((earliest, latest),
#: (earliest, latest))`` in hours on one clock, ``-inf`` / ``+inf`` at a censored end.
StayWindows = tuple[tuple[float, float], tuple[float, float]]


def fitted_prior(
    windows: Sequence[StayWindows],
    scene_h: Sequence[float],
    *,
    strength: float = PRIOR_STRENGTH,
    iterations: int = 300,
) -> DwellPrior:
    """A dwell prior fitted to one airport's stays (empirical Bayes): the distribution of
    dwells that best explains their arrival and departure ``windows``, shrunk towards
    :func:`log_uniform_prior` by ``strength`` stays' worth of weight. ``scene_h``: the
    airport's scene times on the windows' clock.

    Long stays are more likely to be imaged at all (a stay is seen when one of the scenes
    falls inside it), so the likelihood is that of the stays given that they were seen, and
    the prior is that of all stays, seen or not. Maximised over a log-spaced grid of dwells by
    the self-consistency iteration ``F ← (F·A + strength·F₀) / (B + strength)`` (A: the stays'
    responsibilities, B: the expected number seen). Returns relative weights per hour of
    dwell."""
    times = np.sort(np.asarray(scene_h, dtype=float))
    doublings = np.log2(2 * max(1.0, np.ptp(times) if len(times) else 0.0) / PRIOR_FLOOR_H)
    cells = int(np.ceil(doublings * _CELLS_PER_DOUBLING))
    edges = PRIOR_FLOOR_H * np.exp2(np.linspace(0.0, doublings, cells + 1))
    grid = np.sqrt(edges[:-1] * edges[1:])
    # hours of arrival times for which a stay of each dwell holds one of the scenes
    chance = grid + np.minimum(grid[:, None], np.diff(times)[None, :]).sum(1)
    base = np.full(cells, 1.0 / cells)  # log-uniform: equal mass per cell
    mass = base.copy()
    if len(windows):
        likelihood = np.stack([_arrival_overlap(a, d, grid) for a, d in windows])
        for _ in range(iterations):
            a = (likelihood / np.maximum(likelihood @ mass, 1e-300)[:, None]).sum(0)
            b = len(windows) * chance / (chance @ mass)
            mass = (mass * a + strength * base) / (b + strength)
            mass /= mass.sum()
    density = mass / np.diff(edges)  # per hour of dwell
    log_grid = np.log(grid)
    return lambda dwell_h: np.interp(np.log(np.maximum(dwell_h, PRIOR_FLOOR_H)), log_grid, density)


def stays_prior(
    stays: pd.DataFrame, scene_times: Sequence[pd.Timestamp], *, strength: float = PRIOR_STRENGTH
) -> DwellPrior:
    """:func:`fitted_prior` from a stays table (``first_seen``, ``last_seen``,
    ``last_absent_before``, ``first_absent_after``; UTC) and its airport's scene times (UTC):
    the windows of a censored end run to ±infinity. No scene times: the log-uniform prior."""
    times = _utc(scene_times)
    if len(times) == 0:
        return log_uniform_prior
    origin = times[0]
    windows = [
        (
            (
                _hours_after(row["last_absent_before"], origin, -np.inf),
                hours(row["first_seen"] - origin),
            ),
            (
                hours(row["last_seen"] - origin),
                _hours_after(row["first_absent_after"], origin, np.inf),
            ),
        )
        for _, row in stays.iterrows()
    ]
    return fitted_prior(windows, [hours(t - origin) for t in times], strength=strength)


def _hours_after(t: pd.Timestamp, origin: pd.Timestamp, missing: float) -> float:
    """Hours from ``origin`` to ``t``, or ``missing`` where ``t`` is NaT (a censored end)."""
    return missing if pd.isna(t) else hours(t - origin)
