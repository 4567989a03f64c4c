"""Linking rules on small hand-made detection and coverage tables (no rendering)."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from dwelltime import linking
from dwelltime.detector.types import size_sigma_m
from dwelltime.dwell import dwell_estimate, log_uniform_prior
from dwelltime.linking import (
    STAY_EXTRA_COLUMNS,
    LinkConfig,
    dwell_priors,
    link_stays,
    stay_visibility,
)
from dwelltime.schema import COVERAGE_COLUMNS, DETECTION_COLUMNS, STAY_COLUMNS

CRS = "EPSG:32651"
T0 = pd.Timestamp("2026-07-31T00:00:00Z")
APRON = shapely.box(0, 0, 600, 300)
CLOUD = shapely.Polygon()  # nothing visible


def at(h: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(hours=h)


def coverage(scenes: dict[str, float], hidden: dict[str, shapely.Geometry] | None = None):
    """One apron row per scene (hours after T0); ``hidden`` gives another visible area."""
    hidden = hidden or {}
    rows = [
        {
            "scene_id": s,
            "airport": "ZKPY",
            "apron_id": "main",
            "acquired": at(h),
            "visible_fraction": 1.0 if s not in hidden else 0.0,
            "geometry": hidden.get(s, APRON),
        }
        for s, h in scenes.items()
    ]
    return gpd.GeoDataFrame(rows, columns=list(COVERAGE_COLUMNS), crs=CRS)


def detections(rows: list[dict]) -> gpd.GeoDataFrame:
    """Detections from dicts with scene_id, hours, x, y and optional attributes."""
    full = []
    for n, r in enumerate(rows):
        d = {
            "detection_id": f"{r['scene_id']}:{n}",
            "airport": "ZKPY",
            "heading_deg": 90.0,
            "length_m": 53.0,
            "wingspan_m": 43.0,
            "type": "IL62",
            "type_prob": 0.9,
            "score": 0.9,
            **r,
        }
        d["acquired"] = at(d.pop("hours"))
        d["geometry"] = shapely.Point(d["x"], d["y"]).buffer(d["length_m"] / 2)
        full.append(d)
    extra = sorted({k for d in full for k in d} - set(DETECTION_COLUMNS))  # e.g. size_sigma_m
    return gpd.GeoDataFrame(full, columns=[*DETECTION_COLUMNS, *extra], crs=CRS)


SCENES = {f"s{i}": 12.0 * i for i in range(8)}  # every 12 h for 3.5 days


def sighting(scene: str, x: float = 100.0, y: float = 100.0, **kw) -> dict:
    return {"scene_id": scene, "hours": SCENES[scene], "x": x, "y": y, **kw}


def test_one_aircraft_seen_in_consecutive_visible_scenes():
    dets = detections([sighting(s) for s in ("s1", "s2", "s3")])
    cover = coverage(SCENES)
    stays = link_stays(dets, cover)
    assert len(stays) == 1
    stay = stays.iloc[0]
    assert stay["stay_id"] == "ZKPY-0001"
    assert (stay["first_seen"], stay["last_seen"]) == (at(12), at(36))
    assert (stay["last_absent_before"], stay["first_absent_after"]) == (at(0), at(48))
    assert (stay["start_bounded_by"], stay["end_bounded_by"]) == ("s0", "s4")
    assert stay["dwell_min_h"] == 24.0 and stay["dwell_max_h"] == 48.0
    prior = dwell_priors(stays, cover)["ZKPY"]  # fitted to this airport's stays
    assert stay["dwell_est_h"] == dwell_estimate((at(0), at(12)), (at(36), at(48)), prior=prior)
    assert not stay["censored_start"] and not stay["censored_end"]
    assert stay["n_seen"] == 3 and stay["scene_ids"] == "s1;s2;s3"
    assert stay["detection_ids"] == "s1:0;s2:1;s3:2"
    assert stay["type"] == "IL62" and stay["type_prob"] == pytest.approx(0.9)
    assert stays.crs == CRS and stays.geometry.iloc[0].equals(shapely.Point(100, 100))


def test_the_estimate_uses_a_prior_fitted_to_the_airports_stays():
    """Three aircraft each seen for 36 h and one seen once between absences 24 h apart: the
    single sighting's estimate is the median under the prior fitted to all four stays, not
    the log-uniform one; the bounds do not depend on the prior."""
    rows = [sighting(s, x=x) for x in (100, 200, 300) for s in ("s1", "s2", "s3", "s4")]
    rows.append(sighting("s6", x=400))
    cover = coverage(SCENES)
    fitted = link_stays(detections(rows), cover)
    plain = link_stays(detections(rows), cover, LinkConfig(prior_strength=None))
    assert len(fitted) == len(plain) == 4
    for column in ("dwell_min_h", "dwell_max_h", "first_seen", "first_absent_after"):
        assert fitted[column].equals(plain[column])
    single = fitted[fitted["n_seen"] == 1].iloc[0]
    windows = ((at(60), at(72)), (at(72), at(84)))
    prior = dwell_priors(fitted, cover)["ZKPY"]
    assert single["dwell_est_h"] == dwell_estimate(*windows, prior=prior)
    assert plain.loc[single.name, "dwell_est_h"] == dwell_estimate(*windows)
    assert abs(single["dwell_est_h"] - dwell_estimate(*windows)) > 0.5
    assert dwell_priors(plain, cover, LinkConfig(prior_strength=None)) == {
        "ZKPY": log_uniform_prior
    }


def test_columns_and_empty_input():
    empty = detections([])
    stays = link_stays(empty, coverage(SCENES))
    assert list(stays.columns) == list(STAY_COLUMNS[:-1]) + list(STAY_EXTRA_COLUMNS) + ["geometry"]
    assert stays.empty and stays.crs == CRS
    assert str(stays["first_seen"].dtype) == "datetime64[us, UTC]"
    assert link_stays(empty, coverage({})).empty


def test_seen_at_the_edges_is_censored():
    dets = detections([sighting(s) for s in ("s0", "s1")] + [sighting("s7", x=400)])
    log_uniform = LinkConfig(prior_strength=None)
    first, last = link_stays(dets, coverage(SCENES), log_uniform).itertuples()
    assert first.censored_start and not first.censored_end and first.start_bounded_by == ""
    assert math.isnan(first.dwell_max_h) and math.isnan(first.dwell_est_h)
    assert first.dwell_min_h == 12.0
    assert last.censored_end and not last.censored_start and last.end_bounded_by == ""
    assert (first.start_open_reason, first.end_open_reason) == ("edge", "")
    assert (last.start_open_reason, last.end_open_reason) == ("", "edge")


def test_an_end_no_scene_saw_is_open_because_unseen():
    # scenes before s2 and after s3 exist, but all clouded over the stand
    hidden = {s: CLOUD for s in ("s0", "s1", "s4", "s5", "s6", "s7")}
    stays = link_stays(detections([sighting("s2"), sighting("s3")]), coverage(SCENES, hidden))
    stay = stays.iloc[0]
    assert stay["censored_start"] and stay["censored_end"]
    assert (stay["start_open_reason"], stay["end_open_reason"]) == ("unseen", "unseen")


def test_aircraft_of_one_type_side_by_side_stay_distinct():
    rng = np.random.default_rng(0)
    xs = [100.0, 150.0, 200.0]  # 50 m apart, all IL62, jittered by up to 4 m
    rows = [
        sighting(s, x=x + rng.uniform(-4, 4), y=100 + rng.uniform(-4, 4))
        for s in ("s1", "s2", "s3", "s4")
        for x in rng.permutation(xs)
    ]
    stays = link_stays(detections(rows), coverage(SCENES))
    assert len(stays) == 3
    assert (stays["n_seen"] == 4).all()
    assert sorted(np.round(stays["x"] / 50) * 50) == xs


def test_global_assignment_beats_greedy_nearest_neighbour():
    # Tracks at x=100 (A) and x=112 (B); next scene has detections at 108 and 120 (B moved).
    # Nearest pair first would give B→108 (4 m) and leave A with 120 (20 m, gated out):
    # only the global assignment continues both tracks (A→108, B→120).
    cfg = LinkConfig(max_distance_m=10.0)
    rows = [sighting("s1", x=x) for x in (100.0, 112.0)]
    rows += [sighting("s2", x=x) for x in (108.0, 120.0)]
    stays = link_stays(detections(rows), coverage(SCENES), cfg)
    assert len(stays) == 2 and (stays["n_seen"] == 2).all()
    assert sorted(stays["detection_ids"]) == ["s1:0;s2:2", "s1:1;s2:3"]


def test_the_assignment_per_group_is_the_assignment_of_the_whole_matrix():
    # Gated pairs (inf) split a scene's tracks and detections into groups no allowed pair
    # joins; solving each group alone gives the matching of the whole matrix with gated
    # pairs at a prohibitive cost.
    rng = np.random.default_rng(0)
    for _ in range(200):
        cost = rng.random((rng.integers(1, 9), rng.integers(1, 9)))
        cost[rng.random(cost.shape) < 0.7] = np.inf
        finite = np.isfinite(cost)
        big = cost[finite].max() * 2 + 1e6 if finite.any() else 0.0
        rows, cols = linear_sum_assignment(np.where(finite, cost, big))
        whole = [(r, c) for r, c in zip(rows, cols, strict=True) if finite[r, c]]
        assert linking._assign(cost) == whole


def test_a_busy_scene_is_assigned_in_groups_of_nearby_tracks(monkeypatch):
    # 30 aircraft 20 m apart, their distance gate 15 m: 30 assignments of one pair each, not
    # one of 30 x 30 (2,000 aircraft: four million pairs a scene, nearly all gated).
    shapes = []
    solve = linking.linear_sum_assignment
    monkeypatch.setattr(
        linking, "linear_sum_assignment", lambda cost: shapes.append(cost.shape) or solve(cost)
    )
    scenes = ("s0", "s1")
    dets = detections([sighting(s, x=10.0 + 20.0 * i) for s in scenes for i in range(30)])
    stays = link_stays(dets, coverage({s: SCENES[s] for s in scenes}))
    assert len(stays) == 30 and (stays["n_seen"] == 2).all()
    assert shapes == [(1, 1)] * 30


def test_one_visible_miss_is_tolerated_two_close_the_stay():
    dets = detections([sighting(s) for s in ("s1", "s2", "s4", "s5")])
    stays = link_stays(dets, coverage(SCENES))
    assert len(stays) == 1
    assert stays.iloc[0]["n_missed"] == 1 and stays.iloc[0]["n_seen"] == 4
    assert len(link_stays(dets, coverage(SCENES), LinkConfig(max_visible_misses=0))) == 2

    dets = detections([sighting(s) for s in ("s1", "s2", "s5", "s6")])
    first, second = link_stays(dets, coverage(SCENES)).itertuples()
    assert first.end_bounded_by == "s3" and first.dwell_max_h == 36.0
    assert second.start_bounded_by == "s4"


def test_scene_where_stand_was_not_visible_is_neither_presence_nor_absence():
    cover = coverage(SCENES, hidden={"s3": CLOUD, "s4": CLOUD})
    dets = detections([sighting(s) for s in ("s1", "s2", "s5")])
    stays = link_stays(dets, cover, LinkConfig(max_visible_misses=0))
    assert len(stays) == 1
    stay = stays.iloc[0]
    assert stay["n_missed"] == 0 and stay["end_bounded_by"] == "s6"


def test_a_track_without_new_sightings_is_not_measured_again_at_every_scene(monkeypatch):
    # Seen at s1 and s2, then clouded in s3..s7: the track stays open through six scenes
    # that add nothing to it. Its state (centre, size, type mix) is computed again only when
    # a sighting joins it, not at each scene: a year of scenes over a busy airport would
    # otherwise recompute every open track's state at every scene.
    calls = []
    state = linking._Detections.state
    monkeypatch.setattr(
        linking._Detections, "state", lambda self, rows: calls.append(rows) or state(self, rows)
    )
    cover = coverage(SCENES, hidden={s: CLOUD for s in ("s3", "s4", "s5", "s6", "s7")})
    stays = link_stays(detections([sighting("s1"), sighting("s2")]), cover)
    assert len(stays) == 1 and stays.iloc[0]["censored_end"]
    assert len(calls) < len(SCENES)


def test_a_busy_scene_costs_each_track_only_against_its_neighbours(monkeypatch):
    # 30 aircraft 20 m apart, seen in three scenes: each open track is costed against the
    # detections within its distance gate (one here), not all 30 of the scene. Costing every
    # track against every detection made an airport of 2,000 aircraft a scene spend seconds
    # a scene on pairs the gate throws away.
    sizes = []
    costs = linking._Detections.costs
    monkeypatch.setattr(
        linking._Detections,
        "costs",
        lambda self, state, rows, config: (
            sizes.append(len(rows)) or costs(self, state, rows, config)
        ),
    )
    scenes = ("s0", "s1", "s2")
    dets = detections([sighting(s, x=10.0 + 20.0 * i) for s in scenes for i in range(30)])
    stays = link_stays(dets, coverage({s: SCENES[s] for s in scenes}))
    assert len(stays) == 30 and (stays["n_seen"] == 3).all()
    assert sizes and max(sizes) == 1


def test_a_scene_taken_at_the_time_of_a_sighting_bounds_no_end():
    # s2a and s2c, taken with s2b (the sighting) at 24 h, see the stand empty: neither can be
    # t_a < t_i or t_b > t_j, so the bounds are the scenes 12 h either side
    cover = coverage({**SCENES, "s2a": 24.0, "s2b": 24.0, "s2c": 24.0})
    dets = detections([{"scene_id": "s2b", "hours": 24.0, "x": 100.0, "y": 100.0}])
    stay = link_stays(dets, cover).iloc[0]
    assert (stay["start_bounded_by"], stay["end_bounded_by"]) == ("s1", "s3")
    assert (stay["last_absent_before"], stay["first_absent_after"]) == (at(12), at(36))
    assert not stay["censored_start"] and not stay["censored_end"]
    assert stay["dwell_max_h"] == 24.0


@pytest.mark.parametrize("seen_in", ["s2a", "s2b"])
def test_scenes_taken_at_one_time_are_one_look(seen_in):
    # s2a and s2b at 24 h: one sees the aircraft, the other its stand empty, in either order.
    # Not a miss, even with no miss allowed: one stay from s1 to s3
    cover = coverage({**SCENES, "s2a": 24.0, "s2b": 24.0})
    rows = [sighting("s1"), {"scene_id": seen_in, "hours": 24.0, "x": 100.0, "y": 100.0}]
    stays = link_stays(detections([*rows, sighting("s3")]), cover, LinkConfig(max_visible_misses=0))
    assert list(stays["scene_ids"]) == [f"s1;{seen_in};s3"] and stays.iloc[0]["n_missed"] == 0
    # two scenes at 24 h showing the stand empty are one miss, which one allowed miss survives
    stays = link_stays(detections([sighting("s1"), sighting("s3")]), cover)
    assert list(stays["n_missed"]) == [1] and stays.iloc[0]["dwell_min_h"] == 24.0


def test_an_aircraft_like_it_in_a_scene_of_that_time_leaves_the_end_open():
    # seen at s1, s2; s3 clouded; at 48 h s4 shows the stand empty but s4a, taken then too,
    # shows a like aircraft there (21 % shorter: another stay, but within the gates)
    cover = coverage({**SCENES, "s4a": 48.0}, hidden={"s3": CLOUD})
    later = {"scene_id": "s4a", "hours": 48.0, "x": 101.0, "y": 100.0, "length_m": 42.0}
    first, second = link_stays(detections([sighting("s1"), sighting("s2"), later]), cover)[
        ["end_bounded_by", "censored_end", "end_open_reason"]
    ].itertuples(index=False)
    assert first == ("", True, "occupied") and second == ("s5", False, "")


def test_stand_mostly_outside_the_visible_area_is_not_visible():
    # The visible area cuts the stand disc (radius 26.5 m at x=100): 70 % in s2, 90 % in s3.
    cut70 = shapely.box(0, 0, 100 + 26.5 * 0.4, 300)
    cut90 = shapely.box(0, 0, 100 + 26.5 * 0.8, 300)
    cover = coverage(SCENES, hidden={"s2": cut70, "s3": cut90})
    dets = detections([sighting("s1")])
    stay = link_stays(dets, cover).iloc[0]
    assert stay["end_bounded_by"] == "s3"


def test_weak_stays_are_dropped_by_their_combined_evidence():
    # Evidence 1 - prod(1 - score): 0.6 alone fails 0.65, 0.7 passes; two sightings at 0.3
    # give 0.51 (fail), two at 0.45 give 0.6975 (pass).
    dets = detections(
        [sighting("s1", x=100, score=0.6), sighting("s2", x=200, score=0.7)]
        + [sighting(s, x=300, score=0.3) for s in ("s1", "s2")]
        + [sighting(s, x=400, score=0.45) for s in ("s1", "s2")]
    )
    stays = link_stays(dets, coverage(SCENES))
    assert sorted(stays["x"]) == [200.0, 400.0]
    assert len(link_stays(dets, coverage(SCENES), LinkConfig(min_score_single=0.0))) == 4
    assert len(link_stays(dets, coverage(SCENES), LinkConfig(min_score_single=0.55))) == 3


def test_type_flip_only_costs_and_the_stay_takes_the_weighted_majority():
    rows = [
        sighting("s1", type="IL62", type_prob=0.8, score=0.9),
        sighting("s2", type="TU20", type_prob=0.6, score=0.5),
        sighting("s3", type="IL62", type_prob=0.7, score=0.9),
    ]
    stays = link_stays(detections(rows), coverage(SCENES))
    assert len(stays) == 1
    assert stays.iloc[0]["type"] == "IL62"
    assert stays.iloc[0]["type_prob"] == pytest.approx((0.8 * 0.9 + 0.7 * 0.9) / 2.3)


def test_unknown_type_only_when_nothing_named():
    rows = [sighting("s1", type="unknown", type_prob=0.9), sighting("s2", type_prob=0.4)]
    assert link_stays(detections(rows), coverage(SCENES)).iloc[0]["type"] == "IL62"
    rows = [sighting(s, type="unknown", type_prob=0.9) for s in ("s1", "s2")]
    assert link_stays(detections(rows), coverage(SCENES)).iloc[0]["type"] == "unknown"


def test_nose_tail_flip_is_allowed_but_a_turn_is_not():
    rows = [sighting("s1", heading_deg=90.0), sighting("s2", heading_deg=272.0)]
    assert len(link_stays(detections(rows), coverage(SCENES))) == 1
    rows = [sighting("s1", heading_deg=90.0), sighting("s2", heading_deg=0.0)]
    assert len(link_stays(detections(rows), coverage(SCENES))) == 2


def test_different_size_is_a_different_aircraft():
    rows = [sighting("s1"), sighting("s2", length_m=30.0, wingspan_m=28.0)]
    first, second = link_stays(detections(rows), coverage(SCENES)).itertuples()
    assert (first.n_seen, second.n_seen) == (1, 1)
    assert first.end_bounded_by == "s2"  # the small aircraft there does not hide the absence


def test_after_hours_unseen_only_a_close_match_extends_a_track():
    scenes = {"a": 0.0, "b": 2.0, "c": 20.0, "d": 22.0}
    first = [{"scene_id": s, "hours": scenes[s], "x": 100.0, "y": 100.0} for s in ("a", "b")]

    def stays_with(later: dict, config: LinkConfig | None = None) -> list[int]:
        rows = [*first, {"scene_id": "c", "hours": 20.0, "y": 100.0, **later}]
        stays = link_stays(detections(rows), coverage(scenes), config or LinkConfig())
        return sorted(stays["n_seen"])

    smaller = {"x": 101.0, "length_m": 42.0}  # 21 % shorter: inside max_size_diff only
    assert stays_with(smaller) == [1, 2]
    assert stays_with(smaller, LinkConfig(close_after_h=None)) == [3]
    assert stays_with(smaller, LinkConfig(close_after_h=24.0)) == [3]
    assert stays_with({"x": 107.0}) == [3]  # 7 m off: by default only size must agree closely
    assert stays_with({"x": 107.0}, LinkConfig(close_distance_m=5.0)) == [1, 2]
    assert stays_with({"x": 103.0, "length_m": 50.0}) == [3]  # close: the same aircraft


def test_size_gates_are_set_for_the_detectors_noise_in_fine_imagery():
    assert LinkConfig().size_sigma_ref_m == pytest.approx(size_sigma_m(0.5), abs=0.05)


def test_a_size_blurred_by_coarse_imagery_does_not_split_the_stay():
    # fine (σ 2.7 m) sightings, then one at 3 m (σ 6.5 m) 18 h later with the wing 30 % wider
    scenes = {"a": 0.0, "b": 2.0, "c": 20.0, "d": 22.0}
    fine = [
        {"scene_id": s, "hours": scenes[s], "x": 100.0, "y": 100.0, "size_sigma_m": 2.7}
        for s in ("a", "b")
    ]
    coarse = {"scene_id": "c", "hours": 20.0, "x": 101.0, "y": 100.0, "wingspan_m": 56.0}

    def n_seen(sigma: float | None, config: LinkConfig | None = None) -> list[int]:
        later = coarse if sigma is None else {**coarse, "size_sigma_m": sigma}
        stays = link_stays(detections([*fine, later]), coverage(scenes), config or LinkConfig())
        return sorted(stays["n_seen"])

    assert n_seen(2.7) == [1, 2]  # as fine a measurement: another aircraft
    assert n_seen(None) == [1, 2]  # no σ given: counted as fine
    assert n_seen(6.5) == [3]  # blurred at 3 m: the same aircraft
    assert n_seen(6.5, LinkConfig(size_sigma_ref_m=6.0)) == [1, 2]  # gates set for 3 m noise
    # the fine sightings weigh most in the stay's size (score / σ²: span 44 m, not the plain
    # mean 47.3 m), so a fine one 20 h later with a span of 36.5 m still agrees closely
    later = {"scene_id": "e", "hours": 40.0, "x": 100.0, "y": 100.0, "wingspan_m": 36.5}
    rows = [*fine, {**coarse, "size_sigma_m": 6.5}, {**later, "size_sigma_m": 2.7}]
    stays = link_stays(detections(rows), coverage({**scenes, "e": 40.0}))
    assert list(stays["n_seen"]) == [4]


#: The Il-62M at (100, 100), nose east, seen whole at s1…s3; at s4 nodata east of x = 93.5
#: cuts its nose: the detector measures the 20 m seen, centred 16.5 m west of the aircraft's
#: (beyond the 15 m distance gate).
NOSE_CUT = {"x": 83.5, "length_m": 20.0, "cut": True}
NODATA_EAST = shapely.box(0, 0, 93.5, 300)


def test_an_aircraft_cut_by_nodata_continues_its_stay():
    """A sighting cut by nodata measures only the part seen: it neither starts a stay of its
    own nor bounds the aircraft's (a phantom 0-24 h stay and a stay ended a look early), at
    the last look, the first, or inside; the stay's size and place are the whole ones'."""
    cover = coverage(SCENES, {"s4": NODATA_EAST})
    whole = [sighting(s) for s in ("s1", "s2", "s3")]
    for rows in (
        [*whole, sighting("s4", **NOSE_CUT)],
        [*whole, sighting("s4", **NOSE_CUT), sighting("s5")],
    ):
        (stay,) = link_stays(detections(rows), cover).itertuples()
        assert stay.scene_ids == ";".join(r["scene_id"] for r in rows)
        assert stay.first_absent_after == at(12.0 * (len(rows) + 1))
        assert (stay.length_m, stay.x, stay.y) == pytest.approx((53.0, 100.0, 100.0))
    # cut at its first look, by nodata west of x = 96: the part seen is centred east
    first = [sighting("s1", x=111.5, length_m=30.0, cut=True), *whole[1:], sighting("s4")]
    cover = coverage(SCENES, {"s1": shapely.box(96, 0, 600, 300)})
    (stay,) = link_stays(detections(first), cover).itertuples()
    assert (stay.scene_ids, stay.start_bounded_by, stay.end_bounded_by) == (
        "s1;s2;s3;s4",
        "s0",
        "s5",
    )
    assert (stay.dwell_min_h, stay.length_m, stay.x) == pytest.approx((36.0, 53.0, 100.0))
    # typed by their short size (the detector's type weighs size), cut sightings do not vote
    # for the stay's type: an Il-62M cut at s3 and s4 is no AN24 (a tie of 2 against 2)
    rows = [*whole[:2], *(sighting(s, **NOSE_CUT, type="AN24") for s in ("s3", "s4"))]
    cover = coverage(SCENES, {"s3": NODATA_EAST, "s4": NODATA_EAST})
    (stay,) = link_stays(detections(rows), cover).itertuples()
    assert (stay.type, stay.type_prob, stay.n_seen) == ("IL62", pytest.approx(0.9), 4)
    # marked whole (as before `cut` was recorded), the short sighting is another aircraft
    rows = [*whole, sighting("s4", **{**NOSE_CUT, "cut": False})]
    assert sorted(
        link_stays(detections(rows), coverage(SCENES, {"s4": NODATA_EAST}))["n_seen"]
    ) == [1, 3]


def test_a_cut_aircraft_is_no_larger_one_and_keeps_its_neighbour_distinct():
    """A cut size is a lower bound: a cut sighting longer than the stay's aircraft by more
    than the gate is another aircraft; and the slack a cut gives the centre distance does
    not join two aircraft parked wingtip to wingtip (centres 45 m apart, nose east)."""
    cover = coverage(SCENES, {"s4": NODATA_EAST})
    whole = [sighting(s) for s in ("s1", "s2", "s3")]
    longer = sighting("s4", x=95.0, length_m=80.0, cut=True)
    assert sorted(link_stays(detections([*whole, longer]), cover)["n_seen"]) == [1, 3]
    # the neighbour north of it, its north wing under cloud at s2: 25 m of its span seen
    cloud = coverage(SCENES, {"s2": shapely.box(0, 0, 600, 154)})
    rows = [sighting(s, y=y) for s in ("s1", "s2", "s3") for y in (100.0, 145.0)]
    rows[3] = sighting("s2", y=136.0, wingspan_m=25.0, cut=True)
    stays = link_stays(detections(rows), cloud)
    assert sorted(stays["scene_ids"]) == ["s1;s2;s3", "s1;s2;s3"]
    assert sorted(stays["y"]) == pytest.approx([100.0, 145.0])


GAP_SCENES = {"a": 0.0, "b": 12.0, "c": 24.0, "d": 124.0, "e": 136.0, "f": 148.0}


def gap_sighting(scene: str, x: float = 100.0, **kw) -> dict:
    return {"scene_id": scene, "hours": GAP_SCENES[scene], "x": x, "y": 100.0, **kw}


def test_long_gap_without_sightings_splits_and_censors_both_sides():
    # Sizes differ by 20 % + (53 -> 42 m): beyond close_size_diff, so no re-join.
    rows = [gap_sighting(s) for s in ("b", "c")]
    rows += [gap_sighting(s, length_m=42.0, wingspan_m=43.0) for s in ("d", "e")]
    cover = coverage(GAP_SCENES)
    first, second = link_stays(detections(rows), cover).itertuples()
    assert first.censored_end and second.censored_start
    assert first.start_bounded_by == "a" and second.end_bounded_by == "f"
    assert (first.end_open_reason, second.start_open_reason) == ("gap", "gap")
    whole = link_stays(detections(rows), cover, LinkConfig(max_gap_h=None, close_after_h=None))
    assert len(whole) == 1 and whole.iloc[0]["dwell_max_h"] == 148.0


def test_same_aircraft_after_a_long_gap_is_rejoined():
    rows = [gap_sighting(s) for s in ("b", "c")]
    rows += [gap_sighting(s, x=103.0, length_m=50.0, heading_deg=95.0) for s in ("d", "e")]
    cover = coverage(GAP_SCENES)
    stays = link_stays(detections(rows), cover)
    assert len(stays) == 1
    stay = stays.iloc[0]
    assert stay["scene_ids"] == "b;c;d;e" and stay["dwell_min_h"] == 124.0
    assert (stay["start_bounded_by"], stay["end_bounded_by"]) == ("a", "f")
    assert len(link_stays(detections(rows), cover, LinkConfig(rejoin_gaps=False))) == 2
    assert len(link_stays(detections(rows), cover, LinkConfig(close_distance_m=2.0))) == 2


def test_an_aircraft_cut_at_its_first_look_after_a_long_gap_is_rejoined():
    """The first sighting after the gap is the nose-cut one, 16.5 m off (its seen part's
    centre): it starts the track that continues the stay, not one of its own."""
    rows = [gap_sighting(s) for s in ("b", "c")]
    rows += [gap_sighting("d", **NOSE_CUT), gap_sighting("e")]
    stays = link_stays(detections(rows), coverage(GAP_SCENES, {"d": NODATA_EAST}))
    assert list(stays["scene_ids"]) == ["b;c;d;e"]
    assert (stays.iloc[0]["start_bounded_by"], stays.iloc[0]["end_bounded_by"]) == ("a", "f")


def test_a_chain_of_long_gaps_rejoins_into_one_stay():
    scenes = {"a": 0.0, "b": 100.0, "c": 200.0, "d": 212.0}
    rows = [{"scene_id": s, "hours": scenes[s], "x": 100.0, "y": 100.0} for s in ("a", "b", "c")]
    stays = link_stays(detections(rows), coverage(scenes))
    assert list(stays["scene_ids"]) == ["a;b;c"]
    assert stays.iloc[0]["end_bounded_by"] == "d"


def test_no_rejoin_when_the_stand_was_seen_empty_or_used_in_between():
    scenes = {"a": 0.0, "b": 12.0, "c": 100.0, "d": 112.0, "e": 124.0}
    rows = [{"scene_id": s, "hours": scenes[s], "x": 100.0, "y": 100.0} for s in ("a", "b", "e")]
    # c and d show the stand empty: two visible misses, more than max_visible_misses.
    assert len(link_stays(detections(rows), coverage(scenes))) == 2
    hidden = {"c": CLOUD, "d": CLOUD}
    assert len(link_stays(detections(rows), coverage(scenes, hidden))) == 1
    # Something else (a smaller aircraft) stood there in d: e does not rejoin a-b.
    other = {"scene_id": "d", "hours": 112.0, "x": 101.0, "y": 100.0, "length_m": 30.0}
    stays = link_stays(detections([*rows, other]), coverage(scenes, {"c": CLOUD}))
    assert sorted(stays["n_seen"]) == [1, 1, 2]
    # d9, taken with e (and sorted before it), shows the stand empty: one look with e, not between
    scenes = {**scenes, "d9": 124.0}
    stays = link_stays(detections(rows), coverage(scenes, hidden))
    assert list(stays["scene_ids"]) == ["a;b;e"]


def test_stray_detections_days_apart_are_not_joined_into_a_stay():
    # Alone, each fails the evidence rule (0.5 < 0.65); joined they would pass (0.75).
    rows = [gap_sighting("b", score=0.5), gap_sighting("e", score=0.5)]
    cover = coverage(GAP_SCENES, {s: CLOUD for s in ("c", "d")})
    assert link_stays(detections(rows), cover).empty
    rows = [gap_sighting("b", score=0.7), gap_sighting("e", score=0.7)]
    assert len(link_stays(detections(rows), cover)) == 1


def test_badly_measured_sighting_inside_a_stay_is_absorbed():
    # s3's detection is 35 % wider and typed otherwise: gated out of the track, it would
    # be a second stay on the same spot at the same time as the first one.
    rows = [sighting(s) for s in ("s1", "s2", "s4", "s5")]
    rows.append(sighting("s3", x=101.0, wingspan_m=58.0, type="B77W", score=0.8))
    stays = link_stays(detections(rows), coverage(SCENES))
    assert len(stays) == 1
    stay = stays.iloc[0]
    assert stay["scene_ids"] == "s1;s2;s3;s4;s5" and stay["n_missed"] == 0
    apart = link_stays(detections(rows), coverage(SCENES), LinkConfig(absorb_distance_m=None))
    assert sorted(apart["n_seen"]) == [1, 4]
    assert apart.set_index("n_seen").loc[4, "n_missed"] == 1


def test_only_sightings_inside_and_where_the_stay_was_not_seen_are_absorbed():
    rows = [sighting(s) for s in ("s1", "s2", "s3", "s4")]
    wide = {"wingspan_m": 58.0, "score": 0.8}
    cases = [
        sighting("s2", x=110.0, **wide),  # same scene as a sighting of the stay (4 m: below)
        sighting("s5", x=101.0, **wide),  # after the stay's last sighting
        sighting("s2", x=130.0, **wide),  # 30 m away: another spot
    ]
    for extra in cases:
        assert len(link_stays(detections([*rows, extra]), coverage(SCENES))) == 2, extra


def test_a_weak_track_absorbs_nothing():
    # Two stray 0.3 detections at s1 and s5 (clouds in s2, s4) around a real aircraft seen
    # at s3 whose span is off the gate: the strays are not a stay, so s3 stays alone.
    cover = coverage(SCENES, {"s2": CLOUD, "s4": CLOUD})
    rows = [sighting(s, score=0.3) for s in ("s1", "s5")]
    rows.append(sighting("s3", wingspan_m=58.0))
    stays = link_stays(detections(rows), cover)
    assert list(stays["scene_ids"]) == ["s3"]


def test_weak_stay_at_a_known_stand_is_kept():
    strong = [sighting(s) for s in ("s1", "s2", "s3")]
    weak = sighting("s6", x=103.0, score=0.4, length_m=28.0, wingspan_m=30.0, type="AN24")
    stays = link_stays(detections([*strong, weak]), coverage(SCENES))
    assert sorted(stays["n_seen"]) == [1, 3]
    assert stays.set_index("n_seen").loc[1, "type"] == "AN24"
    off = link_stays(
        detections([*strong, weak]), coverage(SCENES), LinkConfig(stand_distance_m=None)
    )
    assert len(off) == 1
    far = {**weak, "x": 120.0}  # 20 m from the stand
    assert len(link_stays(detections([*strong, far]), coverage(SCENES))) == 1


def test_weak_stay_overlapping_a_strong_one_in_time_is_not_rescued():
    # A weak duplicate 4 m from a stay, in a scene where the stay was seen too: it joins the
    # stay as that aircraft detected again, not as a stay standing there before or after it.
    strong = [sighting(s) for s in ("s1", "s2", "s3")]
    duplicate = sighting("s2", x=104.0, score=0.4, wingspan_m=58.0)
    stays = link_stays(detections([*strong, duplicate]), coverage(SCENES))
    assert len(stays) == 1 and stays.iloc[0]["n_seen"] == 3
    later = {**duplicate, "scene_id": "s5", "hours": SCENES["s5"]}
    assert len(link_stays(detections([*strong, later]), coverage(SCENES))) == 2


def test_towed_aircraft_is_a_new_stay_unless_moves_are_linked():
    rows = [sighting(s) for s in ("s1", "s2")] + [sighting(s, x=400.0) for s in ("s3", "s4")]
    assert len(link_stays(detections(rows), coverage(SCENES))) == 2
    stays = link_stays(detections(rows), coverage(SCENES), LinkConfig(link_moves=True))
    assert len(stays) == 1
    stay = stays.iloc[0]
    assert stay["moves"] == 1 and stay["n_seen"] == 4 and stay["x"] == 400.0
    assert (stay["start_bounded_by"], stay["end_bounded_by"]) == ("s0", "s5")
    assert stay["dwell_min_h"] == 36.0 and stay["dwell_max_h"] == 60.0


def test_moves_chain_across_several_stands():
    rows = [sighting("s1"), sighting("s2", x=300.0), sighting("s3", x=500.0)]
    stays = link_stays(detections(rows), coverage(SCENES), LinkConfig(link_moves=True))
    assert len(stays) == 1 and stays.iloc[0]["moves"] == 2
    assert stays.iloc[0]["scene_ids"] == "s1;s2;s3"


def test_moves_are_not_joined_across_types_or_a_skipped_scene():
    cfg = LinkConfig(link_moves=True)
    rows = [sighting("s1"), sighting("s2", x=400.0, type="B738", length_m=40, wingspan_m=36)]
    assert len(link_stays(detections(rows), coverage(SCENES), cfg)) == 2
    rows = [sighting("s1"), sighting("s3", x=400.0)]
    assert len(link_stays(detections(rows), coverage(SCENES), cfg)) == 2


def test_moves_measure_each_stay_once_not_each_pair(monkeypatch):
    # Six aircraft leave their stands after s1 and six appear on others at s2: the move
    # join measures each of the twelve stays once, not each ender again for each starter
    # (a busy airport's scene has hundreds of each).
    calls = []
    state = linking._Detections.state
    monkeypatch.setattr(
        linking._Detections, "state", lambda self, rows: calls.append(rows) or state(self, rows)
    )
    join = linking._AirportLinker._join_moves
    counted = {}

    def counting(self, stays):
        before = len(calls)
        joined = join(self, stays)
        counted["states"] = len(calls) - before
        return joined

    monkeypatch.setattr(linking._AirportLinker, "_join_moves", counting)
    rows = [sighting(s, x=50.0 + 100 * i, y=50.0) for s in ("s0", "s1") for i in range(6)]
    rows += [sighting("s2", x=50.0 + 100 * i, y=250.0) for i in range(6)]
    stays = link_stays(detections(rows), coverage(SCENES), LinkConfig(link_moves=True))
    assert len(stays) == 6 and (stays["moves"] == 1).all()
    assert counted["states"] == 12


def test_frames_must_share_a_metric_crs():
    dets = detections([sighting("s1")])
    with pytest.raises(ValueError, match=r"coverage in EPSG:32652.*to_crs"):
        link_stays(dets, coverage(SCENES).set_crs("EPSG:32652", allow_override=True))
    with pytest.raises(ValueError, match="degrees"):
        link_stays(dets.to_crs("EPSG:4326"), coverage(SCENES).to_crs("EPSG:4326"))


def test_frames_without_their_contract_columns_are_named_not_a_keyerror():
    """Detections from elsewhere (pandas.read_csv, another tool) say what they lack."""
    dets = detections([sighting("s1")])
    with pytest.raises(ValueError, match=r"^detections lack the column\(s\) acquired, score that"):
        link_stays(dets.drop(columns=["acquired", "score"]), coverage(SCENES))
    with pytest.raises(ValueError, match=r"^coverage must be a GeoDataFrame, not DataFrame"):
        link_stays(dets, pd.DataFrame(coverage(SCENES).drop(columns="geometry")))


def test_detections_without_a_centre_or_score_are_named_not_a_traceback():
    # a blank x or score in an edited detections table crashed deep in the KD-tree
    dets = detections([sighting("s1"), sighting("s2"), sighting("s3")])
    for column, message in (("x", "no number in x: s2:1"), ("score", "no number in score: s2:1")):
        bad = dets.copy()
        bad.loc[1, column] = np.nan
        with pytest.raises(ValueError, match=f"^1 detection with {message}; each needs"):
            link_stays(bad, coverage(SCENES))


def test_airports_are_linked_separately():
    rows = detections([sighting("s1"), sighting("s2")])
    rows.loc[1, "airport"] = "UUEE"
    cover = pd.concat([coverage(SCENES), coverage(SCENES).assign(airport="UUEE")])
    stays = link_stays(rows, cover)
    assert list(stays["stay_id"]) == ["UUEE-0001", "ZKPY-0001"]


def test_stay_visibility_table():
    cover = coverage(SCENES, hidden={"s2": CLOUD})
    stays = link_stays(detections([sighting("s1")]), cover)
    table = stay_visibility(stays, cover)
    assert list(table.columns) == list(SCENES)
    assert table.loc["ZKPY-0001"].tolist() == [True, True, False] + [True] * 5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_distance_m": 0}, "max_distance_m must be > 0"),
        ({"max_visible_misses": -1}, "max_visible_misses"),
        ({"max_visible_misses": 1.5}, "max_visible_misses"),
        ({"min_visible_fraction": 1.5}, "min_visible_fraction"),
        ({"max_heading_diff_deg": 120}, "axial"),
        ({"max_gap_h": 0}, "max_gap_h"),
        ({"type_weight": -1}, "type_weight"),
        ({"close_distance_m": 0}, "close_distance_m"),
        ({"close_size_diff": 0}, "close_size_diff"),
        ({"close_after_h": -1}, "close_after_h"),
        ({"absorb_distance_m": -1}, "absorb_distance_m"),
        ({"stand_distance_m": 0}, "stand_distance_m"),
        ({"min_score_single": 1.5}, "probability"),
    ],
)
def test_config_is_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LinkConfig(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_gap_h": "24"}, r"max_gap_h must be a number or None, got '24'"),
        ({"max_distance_m": None}, r"max_distance_m must be a number, got None"),
        ({"min_score_single": True}, r"min_score_single must be a number, got True"),
        ({"link_moves": "yes"}, r"link_moves must be True or False, got 'yes'"),
    ],
)
def test_a_value_of_the_wrong_kind_is_named_not_a_comparison_error(kwargs, message):
    """``result.relink(max_gap_h="24")`` in a notebook: a ValueError naming the field and the
    value, not ``'>' not supported between 'str' and 'int'`` (nor a "yes" read as True)."""
    with pytest.raises(ValueError, match=message):
        LinkConfig(**kwargs)


def test_numpy_numbers_are_kept_as_python_numbers():
    """``for gap in np.arange(12, 96, 12): result.relink(max_gap_h=gap)``: the rules hold
    plain numbers, so run.json can record them and the repr shows ``24``, not
    ``np.int64(24)``."""
    import dataclasses
    import json

    config = LinkConfig(
        max_gap_h=np.int64(24), max_visible_misses=np.int64(2), flip_cost=np.float64(1)
    )
    assert json.loads(json.dumps(dataclasses.asdict(config)))["max_gap_h"] == 24
    assert "max_gap_h=24," in repr(config) and "np." not in repr(config)


def test_config_from_dict_rejects_unknown_keys():
    assert LinkConfig.from_dict({"max_gap_h": None}).max_gap_h is None
    with pytest.raises(ValueError, match="unknown LinkConfig keys \\['max_dist'\\]"):
        LinkConfig.from_dict({"max_dist": 3})


@st.composite
def perfect_series(draw):
    hours = sorted(draw(st.lists(st.integers(0, 20 * 24), min_size=1, max_size=12, unique=True)))
    visible = draw(st.lists(st.booleans(), min_size=len(hours), max_size=len(hours)))
    k = draw(st.integers(0, len(hours) - 1))  # on the ground at a visible scene: drawn so
    visible[k] = True
    arrival = hours[k] - draw(st.integers(0, 4 * 24))
    departure = hours[k] + draw(st.integers(1, 4 * 24))
    return hours, visible, arrival, departure


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(perfect_series())
def test_linked_bounds_hold_the_truth_for_perfect_detections(series):
    hours, visible, arrival, departure = series
    scenes = {f"s{h:04d}": float(h) for h in hours}
    hidden = {s: CLOUD for s, v in zip(scenes, visible, strict=True) if not v}
    seen = [
        s for s, v in zip(scenes, visible, strict=True) if v and arrival <= scenes[s] <= departure
    ]
    rows = [{"scene_id": s, "hours": scenes[s], "x": 100.0, "y": 100.0} for s in seen]
    stays = link_stays(detections(rows), coverage(scenes, hidden), LinkConfig(max_gap_h=None))
    assert len(stays) == 1
    stay = stays.iloc[0]
    upper = math.inf if math.isnan(stay["dwell_max_h"]) else stay["dwell_max_h"]
    assert stay["dwell_min_h"] <= departure - arrival <= upper
    if math.isnan(stay["dwell_max_h"]):  # censored: no point estimate
        assert math.isnan(stay["dwell_est_h"])
    else:
        assert stay["dwell_min_h"] <= stay["dwell_est_h"] <= upper


def test_the_aligned_scenes_are_the_reference_and_those_matched_to_it():
    from dwelltime.linking import aligned_scenes

    scenes = pd.DataFrame(
        {"scene_id": ["s0", "s1", "s2", "s3"], "coreg_status": ["reference", "ok", "low_peak", ""]}
    )
    assert aligned_scenes(scenes) == {"s0", "s1"}
    assert aligned_scenes(pd.DataFrame({"scene_id": ["s1"]})) == frozenset()  # not co-registered


@pytest.mark.parametrize("gap_h", [24.0, 96.0])  # within max_gap_h; re-joined across it
@pytest.mark.parametrize(
    ("statuses", "close_distance_m", "n_stays"),
    [
        (("reference", "ok", "low_peak"), None, 1),  # s2 unshifted: 8 m of misregistration
        (("low_peak", "no_overlap", "ok"), None, 1),  # the stay's centre from unshifted scenes
        (("reference", "ok", "ok"), None, 2),  # all aligned: 8 m off is another aircraft
        (("reference", "ok", "ok"), 10.0, 1),  # a gate the user set holds everywhere
        (("reference", "ok", "low_peak"), 5.0, 2),
    ],
)
def test_the_tight_close_gate_holds_only_between_coregistered_scenes(
    statuses, close_distance_m, n_stays, gap_h
):
    """An aircraft seen at s0 and s1, a day apart, then ``gap_h`` later at s2 8 m off; s3
    shows the stand empty. The close gate is 5 m (COREGISTERED_CLOSE_DISTANCE_M) only where
    s2 and the scenes of the stay's centre were all aligned; elsewhere 15 m (max_distance_m),
    so an unshifted scene's misregistration does not split the stay."""
    from dwelltime.linking import aligned_scenes

    hours = {"s0": 0.0, "s1": 24.0, "s2": 24.0 + gap_h, "s3": 48.0 + gap_h}
    rows = [
        sighting(s, x=108.0 if s == "s2" else 100.0, hours=hours[s]) for s in ("s0", "s1", "s2")
    ]
    scenes = pd.DataFrame({"scene_id": list(hours), "coreg_status": [*statuses, "ok"]})
    config = LinkConfig(close_distance_m=close_distance_m)
    stays = link_stays(detections(rows), coverage(hours), config, aligned=aligned_scenes(scenes))
    assert len(stays) == n_stays
    if n_stays == 1:
        assert stays.iloc[0]["scene_ids"] == "s0;s1;s2"
        assert stays.iloc[0]["end_bounded_by"] == "s3"


def test_stays_name_the_aprons_they_stand_on_once_each():
    """Aprons "main" (0-600 m) and "north" (400-700 m) overlap: an aircraft in both is one
    stay on "main;north", one on "main" alone is on "main", one off both is on ""."""
    main = coverage(SCENES)
    north = main.assign(apron_id="north", geometry=shapely.box(400, 0, 700, 300))
    cover = pd.concat([main, north], ignore_index=True)
    rows = [sighting(s, x=x) for x in (100, 500) for s in ("s1", "s2")]
    rows += [sighting(s, x=100, y=900) for s in ("s1", "s2")]
    stays = link_stays(detections(rows), cover).sort_values(["y", "x"])
    assert stays["apron_id"].tolist() == ["main", "main;north", ""]
    assert stays["n_seen"].tolist() == [2, 2, 2]


def test_a_stay_is_on_the_aprons_of_its_own_airport_seen_in_any_scene():
    # The stand lies on ZKPY's "main" (seen from s1 on) and, at the same coordinates, on
    # UUEE's "main" seen only in its last scene, s7: each stay names its own airport's apron.
    late = coverage(SCENES, hidden={s: CLOUD for s in SCENES if s != "s7"})
    cover = pd.concat([coverage(SCENES), late.assign(airport="UUEE")], ignore_index=True)
    rows = detections([sighting("s1"), sighting("s2"), sighting("s3"), sighting("s4")])
    rows.loc[2:, "airport"] = "UUEE"
    stays = link_stays(rows, cover)
    assert stays.set_index("airport")["apron_id"].to_dict() == {"UUEE": "main", "ZKPY": "main"}
    off = cover.assign(geometry=[APRON if a == "ZKPY" else CLOUD for a in cover["airport"]])
    assert link_stays(rows, off).set_index("airport")["apron_id"].to_dict() == {
        "UUEE": "",
        "ZKPY": "main",
    }


def test_stay_ids_hold_when_a_later_scene_is_added():
    """Two residents first seen in one scene, parked in a north-south row (nearly one x): a
    later scene moves the fused position of one past the other's, not their ids, which
    follow the first sighting (analysts cite them)."""
    first = [sighting(s, x=100.0, y=100.0) for s in ("s0", "s1", "s2")]
    first += [sighting(s, x=100.05, y=180.0) for s in ("s0", "s1", "s2")]
    later = [sighting("s3", x=100.4, y=100.0), sighting("s3", x=100.05, y=180.0)]
    ids = []
    for rows, scenes in ((first, ("s0", "s1", "s2")), (first + later, ("s0", "s1", "s2", "s3"))):
        stays = link_stays(detections(rows), coverage({s: SCENES[s] for s in scenes}))
        ids.append(dict(zip(stays["y"].round(), stays["stay_id"], strict=True)))
    assert ids[0] == ids[1] == {100.0: "ZKPY-0001", 180.0: "ZKPY-0002"}


def test_two_aircraft_seen_at_one_time_are_not_a_move():
    # s1 and s1b, two images of one pass (12 h): an IL62 at x=100 seen last in s1, another at
    # x=400 seen first in s1b. Seen at once in two places, they are two aircraft, not a tow.
    cfg = LinkConfig(link_moves=True)
    cover = coverage({**SCENES, "s1b": 12.0})
    rows = [sighting("s0"), sighting("s1"), {**sighting("s1", x=400.0), "scene_id": "s1b"}]
    stays = link_stays(detections([*rows, sighting("s2", x=400.0)]), cover, cfg)
    assert list(stays["scene_ids"]) == ["s0;s1", "s1b;s2"] and list(stays["moves"]) == [0, 0]
    # a tow seen first in any image of the next time is joined, whatever its id sorts as
    for later in ("s1z", "s2b"):
        cover = coverage({**SCENES, later: 24.0})
        rows = [sighting("s0"), sighting("s1"), {**sighting("s2", x=400.0), "scene_id": later}]
        stays = link_stays(detections([*rows, sighting("s3", x=400.0)]), cover, cfg)
        assert list(stays["moves"]) == [1], later


@st.composite
def look_series(draw):
    """Scenes, many taken at one time (images of one pass), some clouded, and up to three
    aircraft on stands 70 m or more apart, each seen at most once per scene."""
    n = draw(st.integers(2, 7))
    hours = draw(st.lists(st.sampled_from([0.0, 6.0, 12.0, 40.0, 130.0]), min_size=n, max_size=n))
    scenes = {f"s{i}": h for i, h in enumerate(hours)}
    hidden = {s: CLOUD for s in scenes if draw(st.integers(0, 4)) == 0}
    rows = []
    places = draw(st.permutations([100.0, 170.0, 400.0]))
    for x in places[: draw(st.integers(1, 3))]:
        length = draw(st.sampled_from([53.0, 44.0, 30.0]))
        for s in scenes:
            if draw(st.booleans()):
                kw = {"x": x + draw(st.sampled_from([0.0, 1.0, -2.0])), "length_m": length}
                kw |= {"wingspan_m": 0.8 * length, "score": draw(st.sampled_from([0.9, 0.5]))}
                rows.append({"scene_id": s, "hours": scenes[s], "y": 100.0, **kw})
    return scenes, hidden, rows


def _linked(scenes, hidden, rows, names, order, config, aligned=()):
    """``link_stays`` of the series with scene ids renamed by ``names`` and detection rows
    (ids d<n>, n their place in ``rows``) in ``order``, the scenes ``aligned`` co-registered;
    each stay as a tuple with its scenes' original names and bounds by time."""
    dets = detections([{**rows[i], "scene_id": names[rows[i]["scene_id"]]} for i in order])
    dets["detection_id"] = [f"d{i}" for i in order]
    cover = coverage(
        {names[s]: h for s, h in scenes.items()}, {names[s]: g for s, g in hidden.items()}
    )
    stays = link_stays(dets, cover.iloc[::-1], config, aligned={names[s] for s in aligned})
    back = {v: k for k, v in names.items()}
    times = ["first_seen", "last_seen", "last_absent_before", "first_absent_after"]
    kept = ["dwell_min_h", "dwell_max_h", "start_open_reason", "end_open_reason", "n_missed"]
    return sorted(
        (
            tuple(sorted(s["detection_ids"].split(";"))),
            tuple(sorted(back[n] for n in s["scene_ids"].split(";"))),
            *(str(s[c]) for c in times + kept),
            s["moves"],
        )
        for _, s in stays.iterrows()
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(look_series(), st.booleans(), st.data())
def test_stays_do_not_depend_on_row_order_or_scene_ids(series, moves, data):
    scenes, _, rows = series
    config = LinkConfig(link_moves=moves)
    same = {s: s for s in scenes}
    renamed = data.draw(st.permutations([f"n{i}" for i in range(len(scenes))]))
    names = dict(zip(scenes, renamed, strict=True))
    order = data.draw(st.permutations(range(len(rows))))
    aligned = data.draw(st.sets(st.sampled_from(sorted(scenes))))
    assert _linked(*series, names, order, config, aligned) == _linked(
        *series, same, range(len(rows)), config, aligned
    )


def test_frames_of_one_pass_seconds_apart_are_one_look():
    # s2b, a frame of the pass of s2 taken 2 s after it, sees the stand empty (the detector
    # missed the aircraft there): it bounds no departure, which s3 does, 12 h later
    cover = coverage({**SCENES, "s2b": 24.0 + 2 / 3600})
    stay = link_stays(detections([sighting("s1"), sighting("s2")]), cover).iloc[0]
    assert (stay["end_bounded_by"], stay["dwell_max_h"], stay["n_missed"]) == ("s3", 36.0, 0)
    # nor is it a miss inside the stay, even with none allowed
    rows = [sighting("s1"), sighting("s2"), sighting("s3")]
    stays = link_stays(detections(rows), cover, LinkConfig(max_visible_misses=0))
    assert list(stays["scene_ids"]) == ["s1;s2;s3"]
    # a scene two minutes later is another look
    cover = coverage({**SCENES, "s2b": 24.0 + 2 / 60})
    stay = link_stays(detections([sighting("s1"), sighting("s2")]), cover).iloc[0]
    assert stay["end_bounded_by"] == "s2b"


def test_one_aircraft_detected_twice_in_one_look_is_one_stay():
    # s2 holds two footprints 1 m apart that the detector did not merge; s3b, an image of the
    # pass of s3 20 s later, shows the aircraft 2 m off and 35 % wider (off the size gate).
    # Two aircraft never stand that close: each is the stay's aircraft again, not a second
    # stay whose end another "like aircraft" leaves open.
    cover = coverage({**SCENES, "s3b": 36.0 + 20 / 3600})
    rows = [sighting(s) for s in ("s1", "s2", "s3")]
    rows.append(sighting("s2", x=101.0, score=0.8))
    rows.append({**sighting("s3", x=102.0, wingspan_m=58.0), "scene_id": "s3b", "hours": 36.0})
    stays = link_stays(detections(rows), cover)
    assert len(stays) == 1
    stay = stays.iloc[0]
    assert stay["detection_ids"] == "s1:0;s2:1;s2:3;s3:2;s3b:4"
    assert stay["scene_ids"] == "s1;s2;s3;s3b" and stay["n_missed"] == 0
    assert (stay["start_bounded_by"], stay["end_bounded_by"]) == ("s0", "s4")
    # a duplicate adds no evidence: two 0.5 footprints of one image are one 0.5 sighting
    weak = [sighting("s5", x=300.0, score=0.5), sighting("s5", x=301.0, score=0.5)]
    assert len(link_stays(detections(rows + weak), cover)) == 1
    # side by side, wingtips 4 m apart (centres a span and 4 m), two aircraft stay two
    pair = [sighting(s, x=x) for s in ("s1", "s2") for x in (100.0, 147.0)]
    stays = link_stays(detections([*pair, sighting("s2", x=148.0, score=0.7)]), coverage(SCENES))
    assert list(stays["detection_ids"]) == ["s1:0;s2:2", "s1:1;s2:3;s2:4"]


def test_look_alikes_that_swap_stands_between_looks_read_as_two_stays_that_never_moved():
    # The documented limit: two IL62s at x=100 and x=200 swap stands between s3 and s4. The
    # images cannot tell them apart, so each stand holds one stay from s1 to s5, no move.
    rows = [sighting(s, x=x) for s in ("s1", "s2", "s3", "s4", "s5") for x in (100.0, 200.0)]
    for config in (LinkConfig(), LinkConfig(link_moves=True)):
        stays = link_stays(detections(rows), coverage(SCENES), config)
        assert list(stays["scene_ids"]) == ["s1;s2;s3;s4;s5"] * 2
        assert list(stays["moves"]) == [0, 0]


def test_the_images_of_one_pass_give_one_aircraft_to_one_stay_even_under_close_gates():
    # Seen at s1, s2; s3 clouded; at 48 h (unseen 24 h: close gates, 5 m) s4 shows it 7.5 m
    # off, too far to extend the stay, and s4b, 20 s later, 3.5 m off and 4 m from s4's.
    # Both images show one aircraft: one stay holds both, not one each.
    cfg = LinkConfig(close_distance_m=5.0)
    cover = coverage({**SCENES, "s4b": 48.0 + 20 / 3600}, hidden={"s3": CLOUD})
    rows = [sighting("s1"), sighting("s2"), sighting("s4", x=107.5)]
    rows.append({**sighting("s4", x=103.5), "scene_id": "s4b", "hours": 48.0 + 20 / 3600})
    stays = link_stays(detections(rows), cover, cfg)
    assert sorted(stays["scene_ids"]) == ["s1;s2", "s4;s4b"]
