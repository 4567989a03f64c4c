"""The stays table: columns, order, UTC times, open maxima, type filter, empty cases."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from dwelltime.linking import LinkConfig, stays_frame
from dwelltime.report import censored_label, dwell_range, link_rules, stays_report, stays_table

T0 = pd.Timestamp("2026-07-31T06:00:00Z")


def stay(type_: str, first_h: float, last_h: float, absent: tuple[float | None, float | None]):
    t_a, t_b = (None if h is None else T0 + pd.Timedelta(hours=h) for h in absent)
    min_h = last_h - first_h
    max_h = math.nan if None in absent else absent[1] - absent[0]
    return {
        "airport": "ZKPY",
        "type": type_,
        "type_prob": 0.875,
        "x": 0.0,
        "y": 0.0,
        "first_seen": T0 + pd.Timedelta(hours=first_h),
        "last_seen": T0 + pd.Timedelta(hours=last_h),
        "last_absent_before": t_a,
        "first_absent_after": t_b,
        "n_seen": 3,
        "dwell_min_h": min_h,
        "dwell_max_h": max_h,
        "dwell_est_h": math.nan if math.isnan(max_h) else (min_h + max_h) / 2,
        "censored_start": t_a is None,
        "censored_end": t_b is None,
    }


@pytest.fixture
def stays():
    records = [
        stay("TU20", 0, 10, (-5, 20)),
        stay("IL62", 0, 36, (-12, 48)),
        stay("IL62", 50, 60, (None, 70)),
        stay("A320", 0, 1, (None, None)),
    ]
    return stays_frame(records, "EPSG:32651")


def test_sorted_by_type_then_longest_dwell(stays):
    lines = stays_table(stays).splitlines()
    assert lines[0].split()[:4] == ["stay", "type", "(prob)", "first"]
    rows = [line.split()[0] for line in lines[2:]]
    assert rows == ["ZKPY-0004", "ZKPY-0002", "ZKPY-0003", "ZKPY-0001"]
    il62 = lines[3]
    assert "IL62 (0.88)" in il62 and "2026-07-31 06:00" in il62 and "2026-08-01 18:00" in il62
    assert "36.0–60.0" in il62 and "48.0" in il62 and il62.rstrip().endswith("3")


def test_a_censored_stay_ranks_by_its_minimum():
    """No estimate, but it stood at least 100 h: above a bounded stay of about 48 h."""
    records = [stay("IL62", 0, 36, (-12, 48)), stay("IL62", 50, 150, (None, 170))]
    rows = [
        line.split()[0] for line in stays_table(stays_frame(records, "EPSG:32651")).splitlines()
    ]
    assert rows[2:] == ["ZKPY-0002", "ZKPY-0001"]


def test_open_maximum_and_censored_flags(stays):
    text = stays_table(stays)
    a320 = next(line for line in text.splitlines() if "A320" in line)
    assert "≥ 1.0" in a320 and a320.split()[-3:] == ["-", "both", "3"]  # no estimate
    assert "start" in next(line for line in text.splitlines() if "ZKPY-0003" in line)


def test_the_censored_column_says_why_an_end_is_open():
    records = [
        {**stay("IL62", 0, 36, (None, None)), "start_open_reason": "edge"},
        {**stay("IL62", 50, 60, (None, 70)), "start_open_reason": "occupied"},
    ]
    records[0]["end_open_reason"] = "gap"
    lines = stays_table(stays_frame(records, "EPSG:32651")).splitlines()
    assert "both (edge, gap)" in next(line for line in lines if "ZKPY-0001" in line)
    assert "start (occupied)" in next(line for line in lines if "ZKPY-0002" in line)
    assert censored_label(True, True, "unseen", "unseen") == "both (unseen)"
    assert censored_label(False, False, "edge", "") == "-"


def test_type_filter_is_case_insensitive(stays):
    text = stays_table(stays, type_filter="il62")
    assert "IL62" in text and "TU20" not in text and "A320" not in text
    assert stays_table(stays, type_filter="Il-62") == text  # as --type reads it
    assert stays_table(stays, type_filter="B744") == (
        "No stays of type B744 (4 stays of other types: A320, IL62 ×2, TU20)."
    )
    assert stays_table(stays.iloc[:0], type_filter="B744") == "No stays of type B744."


def test_no_stays():
    assert stays_table(stays_frame([], "EPSG:32651")) == "No stays."


def test_cell_helpers():
    assert dwell_range(36.0, 58.0) == "36.0–58.0"
    assert dwell_range(36.0, math.nan) == "≥ 36.0"
    assert dwell_range(144.97, math.nan) == "≥ 144.9"  # seen 144.97 h: not "≥ 145.0"
    # the range shown holds the one computed: not "36.0–58.0" for 35.97–58.02 h
    assert dwell_range(35.97, 58.02) == "35.9–58.1"
    assert dwell_range(0.1 + 0.2, 0.1 + 0.2) == "0.3–0.3"  # 0.30000000000000004 h
    assert censored_label(False, False) == "-"
    assert censored_label(False, True) == "end"


def test_the_rules_under_the_table_say_how_the_stays_were_made_and_bounded():
    rules, bounds, opened = link_rules(LinkConfig(), flights=False).splitlines()
    assert rules.startswith("rules: a stay ends at 2 visible misses in a row")
    assert "over 72 h apart split (re-joined" in rules and "a tow starts a new stay" in rules
    assert "fitted to this airport's stays (strength 2)" in rules
    assert "flight" not in bounds and "start/end_bounded_by" in bounds
    assert opened.startswith("open ends: edge = ") and "gap = occupied after over 72 h" in opened
    config = LinkConfig(max_visible_misses=0, max_gap_h=None, link_moves=True, prior_strength=None)
    rules, bounds, opened = link_rules(config, flights=True).splitlines()
    assert "ends at 1 visible miss in a row" in rules and "no limit on the hours" in rules
    assert "a tow is joined" in rules and "log-uniform prior" in rules
    assert "or a flight-log row" in bounds and "gap" not in opened
    assert "re-joined" not in link_rules(LinkConfig(rejoin_gaps=False), flights=False)


def test_a_long_table_is_cut_at_max_rows_and_says_where_the_rest_are(stays):
    text = stays_table(stays, max_rows=2, more="all are in out/")
    lines = text.splitlines()
    assert [line.split()[0] for line in lines[2:4]] == ["ZKPY-0004", "ZKPY-0002"]
    assert len(lines) == 5 and lines[-1] == "… 2 more of 4 stays not shown; all are in out/"
    assert stays_table(stays, max_rows=4) == stays_table(stays)
    assert stays_table(stays, type_filter="IL62", max_rows=1).endswith(
        "1 more of 2 stays not shown"
    )


def test_a_table_wider_than_the_terminal_is_narrowed_to_fit(stays):
    full = stays_table(stays)
    assert max(map(len, full.splitlines())) > 80  # what an 80-column terminal wrapped
    assert stays_table(stays, width=200) == full
    lines = stays_table(stays, width=80).splitlines()
    assert max(map(len, lines)) <= 80
    assert lines[0].split()[-2:] == ["open", "seen"] and "both" in lines[2]
    assert "2026-" not in lines[3] and "07-31 06:00" in lines[3] and "36.0–60.0" in lines[3]
    assert lines[6].startswith("(narrowed to 80 columns: times of 2026")
    narrow = stays_table(stays, width=50).splitlines()
    assert max(map(len, narrow)) <= 50 and "seen" not in narrow[0]


def test_what_a_narrow_table_says_of_the_stays_it_leaves_out_fits_too(stays):
    more = "--max-rows 0 prints them all, --out DIR writes them all"
    lines = stays_table(stays, max_rows=1, more=more, width=50).splitlines()
    assert max(map(len, lines)) <= 50 and lines[-1].startswith("  ")
    assert " ".join(" ".join(lines).split()).endswith("stays not shown; " + more)
    lines = stays_table(stays, type_filter="B738", width=30).splitlines()
    assert len(lines) > 1 and max(map(len, lines)) <= 30


def test_detections_left_out_of_every_stay_are_counted_with_what_to_try(stays):
    """One scene, six aircraft found, five under the evidence a stay needs: "1 stay" alone
    left the five unexplained."""
    stays = stays.assign(detection_ids=["s:1", "s:2", "s:3;s:4", "s:5"])
    scores = [0.9, 0.8, 0.7, 0.7, 0.9, 0.53, 0.31]
    detections = pd.DataFrame({"detection_id": [f"s:{i}" for i in range(1, 8)], "score": scores})
    text = stays_report(stays, detections, LinkConfig())
    assert "2 of the 7 detections are in no stay" in text, text
    assert "(0.65; best of them 0.53). If they are aircraft, try --min-score 0.53." in text
    assert text.splitlines()[-3].startswith("rules: ")
    assert "in no stay" not in stays_report(stays, detections.iloc[:5], LinkConfig())
    one = stays_report(stays, detections.iloc[:6], LinkConfig())
    assert "1 of the 6 detections is in no stay: too weak, alone or with the other " in one
    assert "of its stand, for the evidence a stay needs (0.65; its score 0.53). If it is an " in one


def test_detections_in_stays_of_other_types_are_not_counted_as_in_no_stay(stays):
    """`link --type IL62` on a run with no IL62 said "27 of the 27 detections are in no stay:
    too weak … try --min-score 0.97": its stays are the filter's, every detection of the
    other types' stays seemed unlinked."""
    stays = stays.assign(detection_ids=["s:1", "s:2", "s:3", "s:4"])
    detections = pd.DataFrame({"detection_id": ["s:1", "s:2", "s:3", "s:4"], "score": [0.9] * 4})
    kept = stays[stays["type"] == "IL62"]
    text = stays_report(kept, detections, LinkConfig(), type_filter="IL62")
    assert "ZKPY-0002" in text and "in no stay" not in text and "--min-score" not in text
    none = stays_report(kept.iloc[:0], detections, LinkConfig(), type_filter="B738")
    assert none.startswith("No stays of type B738.\nrules: "), none


def test_with_a_flight_log_a_line_under_the_table_names_the_ends_its_rows_bound(stays):
    """Given --flights, the table did not say whether the log bounded anything: only the stays
    files' start/end_bounded_by did."""
    bounds = {"start_bounded_by": ["s0", "flight:3", "", ""], "end_bounded_by": ["s9"] * 4}
    stays = stays.assign(**bounds)
    stays.loc[2, "end_bounded_by"] = "flight:12"
    lines = stays_report(stays, stays, LinkConfig(), flights=True).splitlines()
    assert lines[-4] == (
        "flight log: its rows bound 2 ends: ZKPY-0002 start (row 3), ZKPY-0003 end (row 12)"
    )
    lines = stays_report(stays, stays, LinkConfig(), type_filter="TU20", flights=True)
    assert "flight log: its rows bound no end of these stays" in lines
    assert "flight log" not in stays_report(stays, stays, LinkConfig())  # no log given


def test_the_report_wraps_its_rules_to_the_width(stays):
    text = stays_report(stays, stays, LinkConfig(), width=80)
    assert max(map(len, text.splitlines())) <= 80
    assert "\n  " in text  # continuation lines indented
    assert stays_report(stays, stays, LinkConfig()).splitlines()[-3].startswith("rules: ")
