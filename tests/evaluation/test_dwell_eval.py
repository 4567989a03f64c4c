"""Stay matching and dwell scores on hand-made stays."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from dwelltime.errors import LabelError
from dwelltime.evaluation.dwell import (
    SCORE_COLUMNS,
    TRUE_STAY_COLUMNS,
    format_scores,
    load_true_stays,
    match_stays,
    median_interval,
    median_revisit_h,
    score_stays,
    true_detections,
)
from dwelltime.linking import stays_frame
from dwelltime.schema import DETECTION_COLUMNS

T0 = pd.Timestamp("2023-07-31 00:00", tz="UTC")


def h(hours: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(hours=hours)


def true_stay(true_id, type_, x, start_h, end_h, observed=True):
    return {
        "true_id": true_id,
        "airport": "ZKPY",
        "type": type_,
        "x": x,
        "y": 0.0,
        "start": h(start_h),
        "end": h(end_h),
        "dwell_h": end_h - start_h,
        "observed": observed,
    }


def pred(type_, x, first_h, last_h, t_a=None, t_b=None, est=None):
    lo = last_h - first_h
    hi = (t_b - t_a) if t_a is not None and t_b is not None else math.nan
    return {
        "airport": "ZKPY",
        "type": type_,
        "type_prob": 0.9,
        "x": x,
        "y": 0.0,
        "first_seen": h(first_h),
        "last_seen": h(last_h),
        "last_absent_before": h(t_a) if t_a is not None else pd.NaT,
        "first_absent_after": h(t_b) if t_b is not None else pd.NaT,
        "n_seen": 2,
        "dwell_min_h": lo,
        "dwell_max_h": hi,
        "dwell_est_h": est if est is not None else (lo if math.isnan(hi) else (lo + hi) / 2),
        "censored_start": t_a is None,
        "censored_end": t_b is None,
    }


@pytest.fixture
def truth():
    return pd.DataFrame(
        [
            true_stay("S1", "IL62", 0.0, 0, 36),  # seen 6–30, bounded 0–48: inside, err 0
            true_stay("S2", "B738", 100.0, 10, 20),  # split in two predicted stays
            true_stay("S3", "A320", 200.0, 0, 10),  # missed
            true_stay("S4", "A320", 300.0, 0, 5, observed=False),  # never visible: no miss
            true_stay("S5", "TU20", 400.0, -500, 500),  # resident, censored both ends
        ],
        columns=list(TRUE_STAY_COLUMNS),
    )


@pytest.fixture
def predicted():
    records = [
        pred("IL62", 3.0, 6, 30, t_a=-6, t_b=42, est=36.0),  # 36 in [24, 48]
        pred("B738", 101.0, 11, 12, t_a=9, t_b=14),  # true 10 h outside [1, 5]
        pred("B738", 99.0, 18, 19, t_a=14, t_b=25),  # the split part: a false positive
        pred("IL76", 400.0, 0, 100),  # censored: [100, +inf) holds 1000 h
        pred("A320", 250.0, 0, 5),  # 50 m from any truth: false positive
        pred("IL62", 0.0, 50, 60, t_a=40, t_b=70),  # right place, after S1 left: FP
    ]
    return stays_frame(records, "EPSG:32651")


def test_match_stays_gates_on_distance_time_and_airport(predicted, truth):
    pairs = match_stays(predicted, truth, max_distance_m=20.0)
    assert sorted(zip(pairs["pred"], pairs["true"], strict=True)) == [(0, 0), (1, 1), (3, 4)]
    assert pairs.set_index("pred").loc[0, "distance_m"] == pytest.approx(3.0)
    other = truth.assign(airport="UUEE")
    assert match_stays(predicted, other).empty
    assert match_stays(predicted.iloc[:0], truth).empty


def test_score_stays_per_type_and_overall(predicted, truth):
    scores = score_stays(predicted, truth).set_index("type")
    assert list(scores.reset_index().columns) == list(SCORE_COLUMNS)
    overall = scores.loc["all"]
    # tp: S1, S2, S5; fp: split B738, far A320, late IL62; fn: S3 (S4 never observed)
    assert (overall["tp"], overall["n_pred"], overall["n_true"]) == (3, 6, 4)
    assert overall["precision"] == pytest.approx(0.5)
    assert overall["recall"] == pytest.approx(0.75)
    assert overall["f1"] == pytest.approx(2 * 3 / (2 * 3 + 3 + 1))
    assert overall["coverage"] == pytest.approx(2 / 3)  # S2's 10 h outside [1, 5]
    assert overall["type_acc"] == pytest.approx(2 / 3)  # S5, a TU20, read as an IL76
    assert scores.loc["TU20", "type_acc"] == 0.0 and scores.loc["IL62", "type_acc"] == 1.0
    assert overall["n_bounded"] == 2
    assert overall["median_abs_err_h"] == pytest.approx((0.0 + 7.0) / 2)  # |36−36|, |3−10|
    assert scores.loc["A320", "recall"] == 0.0 and scores.loc["A320", "n_pred"] == 1
    assert scores.loc["B738", "precision"] == pytest.approx(0.5)
    assert scores.loc["TU20", "coverage"] == 1.0 and scores.loc["TU20", "n_bounded"] == 0
    assert math.isnan(overall["median_err_lo_h"])  # two errors say nothing of the median
    table = format_scores(scores.reset_index())
    assert "median |err| h" in table and table.startswith("true type")


def test_score_stays_empty_cases(predicted, truth):
    none = score_stays(predicted.iloc[:0], truth).set_index("type").loc["all"]
    assert none["recall"] == 0.0 and math.isnan(none["precision"])
    nothing = score_stays(predicted.iloc[:0], truth.iloc[:0])
    assert nothing["type"].tolist() == ["all"] and math.isnan(nothing["f1"].iloc[0])


def test_median_interval_is_the_binomial_order_statistics():
    values = np.arange(30.0)[::-1]  # any order
    # n = 30 at 95 %: P(Bin(30, 1/2) <= 9) = 0.021 <= 0.025 < P(<= 10) = 0.049, so k = 10
    assert median_interval(values) == (9.0, 20.0)  # x(10), x(21)
    assert median_interval(values, level=0.5)[0] > 9.0  # a lower confidence, a narrower one
    assert median_interval(np.arange(6.0)) == (0.0, 5.0)  # 6: the smallest n at 95 %
    assert all(math.isnan(v) for v in median_interval(np.arange(5.0)))
    assert all(math.isnan(v) for v in median_interval(np.array([])))


def test_median_interval_covers_the_true_median_as_often_as_it_says():
    rng = np.random.default_rng(0)
    draws = rng.exponential(1.0, size=(2000, 25))  # true median ln 2
    held = [lo <= math.log(2) <= hi for lo, hi in map(median_interval, draws)]
    assert np.mean(held) >= 0.94  # at least 95 % by construction, less sampling noise


def test_format_scores_shows_the_interval_of_the_median():
    scores = pd.DataFrame(
        [
            {c: 1 for c in SCORE_COLUMNS}
            | {"type": "all", "median_err_lo_h": 2.0, "median_err_hi_h": 9.25}
        ]
    )
    text = format_scores(scores)
    assert "95% interval h" in text and "2.0-9.2" in text


def test_median_revisit_h():
    assert median_revisit_h([h(0), h(30), h(10), h(12)]) == pytest.approx(10.0)
    assert math.isnan(median_revisit_h([h(0)]))


def write_series(folder):
    """A two-scene series' truth: V1 seen in s1, V2 hidden (under cloud) in s1, and s2 with
    no truth file (V3 never seen), with the columns `dwelltime synth` writes."""
    truth = folder / "truth"
    truth.mkdir()
    (truth / "stays.csv").write_text(
        "stay_id,aircraft_id,visit_id,type,stand_id,x,y,start,end\n"
        "S001,V1,V1,IL62,A1,10.0,20.0,2023-07-31T00:00:00+00:00,2023-08-01T12:00:00+00:00\n"
        "S002,V2,V2,B738,A2,50.0,20.0,2023-07-31T00:00:00+00:00,2023-08-01T12:00:00+00:00\n"
        "S003,V3,V3,A320,A3,90.0,20.0,2023-08-02T00:00:00+00:00,2023-08-02T12:00:00+00:00\n"
    )
    (truth / "scenes.csv").write_text(
        "scene_id,acquired\ns1,2023-07-31T03:00:00+00:00\ns2,2023-08-02T03:00:00+00:00\n"
    )
    gpd.GeoDataFrame(
        {
            "aircraft_id": ["V1", "V2"],
            "stand_id": ["A1", "A2"],
            "type": ["IL62", "B738"],
            "heading_grid_deg": [90.0, 270.0],
            "length_m": [53.12, 39.47],
            "wingspan_m": [43.2, 34.32],
            "hidden": [False, True],
            "x": [12.0, 55.0],  # aircraft centres, off the stand points
            "y": [20.0, 20.0],
        },
        geometry=[shapely.box(-14, 0, 38, 40), shapely.box(35, 0, 75, 40)],
        crs="EPSG:32651",
    ).to_file(truth / "s1.geojson", driver="GeoJSON")


def test_load_true_stays_marks_observed_stays(tmp_path):
    write_series(tmp_path)
    truth = tmp_path / "truth"
    stays = load_true_stays(tmp_path, "zkpy")
    assert list(stays.columns) == list(TRUE_STAY_COLUMNS)
    assert stays["observed"].tolist() == [True, False, False]
    assert stays["dwell_h"].tolist() == [36.0, 36.0, 12.0]
    assert stays["x"].tolist() == [12.0, 55.0, 90.0]  # V3 never in a scene: the stand point
    assert (stays["airport"] == "ZKPY").all()
    assert np.issubdtype(stays["x"].dtype, np.floating)
    (truth / "scenes.csv").unlink()
    with pytest.raises(LabelError, match=r"scenes\.csv"):
        load_true_stays(tmp_path, "ZKPY")


@pytest.mark.parametrize(
    ("name", "edit", "message"),
    [
        (
            "stays.csv",
            lambda f: f.drop(columns=["x", "y"]),
            r"stays\.csv: missing column\(s\) x, y",
        ),
        (
            "stays.csv",
            lambda f: f.assign(start="yesterday"),
            r"stays\.csv: column start is not ISO",
        ),
        (
            "stays.csv",
            lambda f: f.assign(end=[None, "2023-08-01T12:00Z", None]),
            r"stays\.csv: no end time on line\(s\) 2, 4",
        ),
        ("scenes.csv", lambda f: f.assign(acquired="2023-07-31T03:00"), None),  # naive: UTC
        ("s1.geojson", lambda f: f.assign(hidden=["no", "yes"]), None),  # yes/no as text
        ("stays.csv", lambda f: f.assign(type=["Il-62", "b738", "a320"]), None),
        ("s1.geojson", lambda f: f.drop(columns=["aircraft_id"]), r"s1\.geojson: missing column"),
    ],
)
def test_load_true_stays_names_a_malformed_truth_file(tmp_path, name, edit, message):
    """Truth a user builds by hand: a missing column or a bad time is one LabelError naming
    the file, not a KeyError or a pandas traceback; times without an offset are UTC, and a
    hidden flag written as text ("no") is read as a yes/no word, not as a non-empty string,
    and types in other spellings (Il-62) as designators."""
    write_series(tmp_path)
    path = tmp_path / "truth" / name
    if path.suffix == ".csv":
        edit(pd.read_csv(path)).to_csv(path, index=False)
    else:
        edit(gpd.read_file(path)).to_file(path, driver="GeoJSON")
    if message is None:
        stays = load_true_stays(tmp_path, "ZKPY")
        assert stays["observed"].tolist() == [True, False, False]
        assert stays["type"].tolist() == ["IL62", "B738", "A320"]  # as the detector names them
    else:
        with pytest.raises(LabelError, match=message):
            load_true_stays(tmp_path, "ZKPY")


def test_load_true_stays_without_any_scene_truth_file(tmp_path, caplog):
    """A series built by hand with stays.csv and scenes.csv only: a stay a scene falls in is
    observed (so it counts as missed when nothing finds it), and a warning says how."""
    write_series(tmp_path)
    (tmp_path / "truth" / "s1.geojson").unlink()
    stays = load_true_stays(tmp_path, "ZKPY")
    assert stays["observed"].tolist() == [True, True, True]
    assert "no scene of scenes.csv has a <scene_id>.geojson" in caplog.text
    far = pd.DataFrame([pred("IL62", 500.0, 0, 1)])  # finds none of them
    assert score_stays(far, stays).iloc[-1][["n_true", "recall"]].tolist() == [3, 0]


def test_true_detections_are_the_unhidden_aircraft_as_a_detections_layer(tmp_path):
    write_series(tmp_path)
    det = true_detections(tmp_path, "zkpy")
    assert list(det.columns) == list(DETECTION_COLUMNS)
    assert det.crs == "EPSG:32651"
    assert det["detection_id"].tolist() == ["s1:1"]  # V2 hidden, s2 without aircraft
    row = det.iloc[0]
    assert (row["airport"], row["type"], row["score"], row["type_prob"]) == ("ZKPY", "IL62", 1, 1)
    assert (row["x"], row["y"], row["heading_deg"], row["length_m"]) == (12.0, 20.0, 90.0, 53.12)
    assert row["acquired"] == pd.Timestamp("2023-07-31 03:00", tz="UTC")
    assert row["geometry"].equals(shapely.box(-14, 0, 38, 40))


def test_true_detections_name_a_truth_file_without_attributes(tmp_path):
    write_series(tmp_path)
    path = tmp_path / "truth" / "s1.geojson"
    gpd.read_file(path).drop(columns=["length_m", "type"]).to_file(path, driver="GeoJSON")
    assert load_true_stays(tmp_path, "ZKPY")["observed"].tolist() == [True, False, False]
    with pytest.raises(LabelError, match=r"s1\.geojson: missing column\(s\) type, length_m"):
        true_detections(tmp_path, "ZKPY")
