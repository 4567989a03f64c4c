"""Flight-tracking evidence tightens dwell bounds on hand-made stays."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from dwelltime.dwell import dwell_estimate, log_uniform_prior
from dwelltime.flights import (
    FLIGHT_COLUMNS,
    FlightsError,
    as_flights,
    read_flights,
    tighten_with_flights,
)
from dwelltime.linking import stays_frame


def t(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def stay(type_="IL62", airport="ZKPY", t_a="2023-07-30 03:00", t_b="2023-08-03 03:00"):
    """Seen 31 Jul 03:00 to 2 Aug 03:00 (48 h), absent 30 Jul and 3 Aug (max 96 h)."""
    t_i, t_j = t("2023-07-31 03:00"), t("2023-08-02 03:00")
    a = t(t_a) if t_a else pd.NaT
    b = t(t_b) if t_b else pd.NaT
    return {
        "airport": airport,
        "type": type_,
        "type_prob": 0.9,
        "x": 0.0,
        "y": 0.0,
        "first_seen": t_i,
        "last_seen": t_j,
        "last_absent_before": a,
        "first_absent_after": b,
        "n_seen": 2,
        "dwell_min_h": 48.0,
        "dwell_max_h": (b - a) / pd.Timedelta(hours=1) if t_a and t_b else float("nan"),
        "dwell_est_h": 72.0,
        "censored_start": not t_a,
        "censored_end": not t_b,
        "start_bounded_by": "s0" if t_a else "",
        "end_bounded_by": "s9" if t_b else "",
    }


@pytest.fixture
def flights_csv(tmp_path):
    path = tmp_path / "flights.csv"
    path.write_text(
        "time,airport,event,type,registration\n"
        "2023-07-30T20:00:00Z,zkpy,arr,IL62,RA-86496\n"  # row 1: the arrival
        "2023-07-31T12:00:00Z,ZKPY,arr,IL62,\n"  # row 2: after t_i, not ours
        "2023-08-02T10:00:00,ZKPY,departure,il62,\n"  # row 3: the departure (naive = UTC)
        "2023-08-02T11:00:00Z,ZKPY,dep,TU20,\n"  # row 4: another type
        "2023-08-02T12:00:00Z,UUEE,dep,IL62,\n"  # row 5: another airport
        "yesterday,ZKPY,arr,IL62,\n"  # row 6: bad time
        "2023-08-01T12:00:00Z,ZKPY,xyz,IL62,\n"  # row 7: bad event
    )
    return path


def test_read_flights_normalises_and_skips_bad_rows(flights_csv, caplog):
    with caplog.at_level(logging.WARNING, logger="dwelltime.flights"):
        flights = read_flights(flights_csv)
    assert list(flights.columns) == list(FLIGHT_COLUMNS)
    assert flights["row"].tolist() == [1, 2, 3, 4, 5]
    assert flights["event"].tolist() == ["arr", "arr", "dep", "dep", "dep"]
    assert flights.loc[0, "airport"] == "ZKPY" and flights.loc[2, "type"] == "IL62"
    assert flights.loc[2, "time"] == t("2023-08-02 10:00")
    assert "row 6" in caplog.text and "row 7" in caplog.text and "flights.csv" in caplog.text


def test_read_flights_missing_columns_names_them(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("time,airport\n2023-07-30T20:00:00Z,ZKPY\n")
    with pytest.raises(FlightsError, match="missing event"):
        read_flights(path)
    with pytest.raises(FlightsError, match="cannot read"):
        read_flights(tmp_path / "none.csv")


def test_a_track_of_positions_is_refused_saying_it_is_not_movements(tmp_path):
    """FlightRadar24's playback CSV and ADS-B Exchange's or tar1090's data are positions of a
    track: the refusal names the missing columns and says what the file holds instead."""
    path = tmp_path / "playback.csv"
    path.write_text(
        "Timestamp,UTC,Callsign,Position,Altitude,Speed,Direction\n"
        '1690747200,2023-07-30T20:00:00Z,KOR152,"39.22,125.67",0,0,90\n'
    )
    with pytest.raises(FlightsError) as error:
        read_flights(path)
    assert str(error.value) == (
        f"{path}: the flights CSV needs columns time, airport and event (arr/dep), or a route's "
        "(From, ATD, To, ATA), and type; missing airport, event; its Position, Altitude are a "
        "track's positions, not arrivals and departures: give the aircraft's flights "
        "(FlightRadar24's aircraft history, OpenSky's flights)"
    )
    path.write_text("hex,r,t,flight,lat,lon,alt_baro\n8a0001,P-885,IL62,KOR152,39.2,125.6,0\n")
    with pytest.raises(FlightsError, match="missing time, airport, event; its lat, lon, alt_baro"):
        read_flights(path)


def test_flights_tighten_both_ends(flights_csv):
    stays = stays_frame([stay()], "EPSG:32651")
    out = tighten_with_flights(stays, read_flights(flights_csv))
    row = out.iloc[0]
    assert row["last_absent_before"] == t("2023-07-30 20:00")
    assert row["first_absent_after"] == t("2023-08-02 10:00")
    assert row["start_bounded_by"] == "flight:1"
    assert row["end_bounded_by"] == "flight:3"
    assert row["dwell_max_h"] == pytest.approx(62.0)  # 2 Aug 10:00 − 30 Jul 20:00
    assert row["dwell_est_h"] == pytest.approx(62.0)  # one movement each side: the times
    assert row["dwell_min_h"] == 48.0
    assert stays.iloc[0]["dwell_max_h"] == 96.0  # input unchanged


@pytest.mark.parametrize(
    "times",
    [
        pd.to_datetime(["2023-07-30 20:00", "2023-08-02 10:00"]),  # no zone: UTC, as the CSV
        ["2023-07-30T20:00:00Z", "2023-08-02T10:00:00Z"],
    ],
    ids=["naive datetimes", "ISO text"],
)
def test_a_flight_log_frame_made_elsewhere_tightens_as_the_csv_does(times):
    """A notebook's own frame (no row or registration column, times naive or text)."""
    log = pd.DataFrame({"time": times, "airport": "ZKPY", "event": ["arr", "dep"], "type": "IL62"})
    row = tighten_with_flights(stays_frame([stay()], "EPSG:32651"), log).iloc[0]
    assert row["last_absent_before"] == t("2023-07-30 20:00")
    assert row["first_absent_after"] == t("2023-08-02 10:00")
    assert (row["start_bounded_by"], row["end_bounded_by"]) == ("flight:1", "flight:2")


def test_a_frame_s_airports_events_and_types_are_read_as_the_csv_s(caplog):
    """A notebook's frame of the words a CSV may hold (IATA code, ``arrival``, a tracker's
    type name, a registration's type) matched no stay, and nothing said why."""
    log = pd.DataFrame(
        {
            "time": ["2023-07-30T20:00:00Z", "2023-08-02T10:00:00Z"],
            "airport": ["FNJ", " zkpy"],
            "event": ["Arrival", "took off"],
            "type": ["Ilyushin Il-62M", None],
            "registration": ["RA-86496", "RA86496"],
        }
    )
    with caplog.at_level(logging.WARNING, logger="dwelltime.flights"):
        read = as_flights(log)
        row = tighten_with_flights(stays_frame([stay()], "EPSG:32651"), read).iloc[0]
    assert read[["airport", "event", "type"]].to_numpy().tolist() == [
        ["ZKPY", "arr", "IL62"],
        ["ZKPY", "dep", "IL62"],
    ]
    assert (row["start_bounded_by"], row["end_bounded_by"]) == ("flight:1", "flight:2")
    assert not caplog.records
    with pytest.raises(FlightsError, match=r"^flights: event\(s\) 'overflew' are neither"):
        as_flights(log.assign(event=["arr", "overflew"]))


def test_a_flight_log_frame_without_its_columns_names_them():
    log = pd.DataFrame({"time": ["2023-07-30T20:00:00Z"], "airport": ["ZKPY"]})
    with pytest.raises(FlightsError, match=r"^flights: the frame lacks column\(s\) event;"):
        tighten_with_flights(stays_frame([stay()], "EPSG:32651"), log)


def test_a_flight_log_that_is_neither_a_path_nor_a_frame_is_named():
    """`run(flights=[{...}])` raised AttributeError: 'list' object has no attribute 'columns'."""
    rows = [{"time": "2023-07-30T20:00:00Z", "airport": "ZKPY", "event": "arr"}]
    with pytest.raises(FlightsError, match=r"^flights: a list is no flight log; give the CSV"):
        as_flights(rows)
    assert len(as_flights(pd.DataFrame(rows))) == 1  # as the message says


def test_a_frame_without_type_is_taken_as_the_same_csv_is(tmp_path, caplog):
    """OpenSky logs carry no type: the frame, like its CSV, is read (its movements match no
    stay), with the same one warning, not refused."""
    path = tmp_path / "f.csv"
    path.write_text("time,airport,event\n2023-07-30T20:00:00Z,ZKPY,arr\n")
    frame = pd.DataFrame({"time": ["2023-07-30T20:00:00Z"], "airport": ["ZKPY"], "event": ["arr"]})
    from_csv = as_flights(path)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dwelltime.flights"):
        from_frame = as_flights(frame)
    pd.testing.assert_frame_equal(from_frame, from_csv, check_dtype=False)
    assert [r.getMessage() for r in caplog.records] == [
        "flights: no column gives the aircraft's type (type), so its 1 movement(s) match no "
        "stay and tighten no bound (stays are matched by type and size): add each row's type "
        "(IL62)"
    ]
    out = tighten_with_flights(stays_frame([stay()], "EPSG:32651"), frame)
    assert (out.iloc[0]["start_bounded_by"], out.iloc[0]["end_bounded_by"]) == ("s0", "s9")


def test_several_arrivals_take_the_earliest_and_leave_a_window(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(
        "time,airport,event,type\n"
        "2023-07-30T10:00:00Z,ZKPY,arr,IL62\n"
        "2023-07-30T22:00:00Z,ZKPY,arr,IL62\n"
    )
    out = tighten_with_flights(stays_frame([stay()], "EPSG:32651"), read_flights(path))
    row = out.iloc[0]
    assert row["last_absent_before"] == t("2023-07-30 10:00")
    assert row["dwell_max_h"] == pytest.approx(89.0)
    # the arrival between 30 Jul 10:00 and 31 Jul 03:00; the departure as imaged
    arrival, departure = (
        (t("2023-07-30 10:00"), t("2023-07-31 03:00")),
        (t("2023-08-02 03:00"), t("2023-08-03 03:00")),
    )
    assert row["dwell_est_h"] == pytest.approx(dwell_estimate(arrival, departure))
    assert row["end_bounded_by"] == "s9"

    # with the airport's prior (as linking fitted it), the estimate is made under that prior
    def flat(d):
        return np.ones_like(d)

    priors = {"ZKPY": flat, "UUWW": log_uniform_prior}
    out = tighten_with_flights(stays_frame([stay()], "EPSG:32651"), read_flights(path), priors)
    expected = dwell_estimate(arrival, departure, prior=flat)
    assert out.iloc[0]["dwell_est_h"] == pytest.approx(expected)
    assert abs(expected - dwell_estimate(arrival, departure)) > 1.0


def test_no_match_censored_or_unknown_leaves_stays_alone(flights_csv):
    flights = read_flights(flights_csv)
    stays = stays_frame(
        [stay(type_="A320"), stay(t_a=None, t_b=None), stay(type_="unknown")], "EPSG:32651"
    )
    out = tighten_with_flights(stays, flights)
    cols = ["last_absent_before", "first_absent_after", "start_bounded_by", "end_bounded_by"]
    pd.testing.assert_frame_equal(
        pd.DataFrame(out[cols]), pd.DataFrame(stays[cols]), check_dtype=False
    )
    assert out.iloc[1]["censored_start"] and pd.isna(out.iloc[1]["dwell_max_h"])
    assert tighten_with_flights(stays.iloc[:0], flights).empty
    assert tighten_with_flights(stays, flights.iloc[:0]).equals(stays)


def test_link_command_reads_flights(tmp_path, flights_csv, caplog):
    """``dwelltime link --flights``: the IL62 bounds come from the CSV; a bad CSV is exit 2;
    a CSV with no row at the airport is warned."""
    import geopandas as gpd
    import shapely
    from click.testing import CliRunner

    from dwelltime.cli import main
    from dwelltime.io import read_layer, write_layers
    from dwelltime.schema import COVERAGE_COLUMNS, DETECTION_COLUMNS

    times = {f"s{i}": t("2023-07-30 03:00") + pd.Timedelta(days=i) for i in range(5)}
    cover = gpd.GeoDataFrame(
        [(s, "ZKPY", "A", time, 1.0, shapely.box(0, 0, 300, 300)) for s, time in times.items()],
        columns=list(COVERAGE_COLUMNS),
        crs="EPSG:32651",
    )
    dets = gpd.GeoDataFrame(
        [
            (f"{s}:1", s, "ZKPY", times[s], 100.0, 100.0, 90.0, 53.0, 43.0, "IL62", 0.9, 0.9,
             shapely.Point(100, 100).buffer(20))
            for s in ("s1", "s2", "s3")
        ],
        columns=list(DETECTION_COLUMNS),
        crs="EPSG:32651",
    )  # fmt: skip
    write_layers(tmp_path / "run", {"coverage": cover, "detections": dets}, formats=("gpkg",))
    gpkg = tmp_path / "run" / "dwelltime.gpkg"
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["-q", "link", str(gpkg), "--flights", str(flights_csv), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    stay = read_layer(out, "stays").iloc[0]
    assert (stay["start_bounded_by"], stay["end_bounded_by"]) == ("flight:1", "flight:3")
    assert stay["dwell_max_h"] == pytest.approx(62.0)
    bad = tmp_path / "bad.csv"
    bad.write_text("when,where\n")
    result = CliRunner().invoke(main, ["-q", "link", str(gpkg), "--flights", str(bad)])
    assert result.exit_code == 2 and "missing" in result.output
    elsewhere = tmp_path / "elsewhere.csv"
    elsewhere.write_text("time,airport,event,type\n2023-07-30T20:00:00Z,SVO,arr,IL62\n")
    with caplog.at_level(logging.WARNING, logger="dwelltime.flights"):
        result = CliRunner().invoke(main, ["-q", "link", str(gpkg), "--flights", str(elsewhere)])
    assert result.exit_code == 0 and "0 of 1 rows are at ZKPY (FNJ)" in caplog.text


def test_an_uncertain_look_alike_matches_by_measured_size(flights_csv):
    """The IL62 movements match an uncertain look-alike (or unknown) whose measured size is an
    Il-62's (53.1 × 43.2 m); not a confident look-alike, nor a 30 m aircraft."""
    rows = []
    for type_, prob, length, span in (
        ("A310", 0.3, 52.5, 43.9),
        ("unknown", 0.8, 53.4, 42.6),
        ("A310", 0.3, 30.0, 28.0),
        ("A310", 0.9, 52.5, 43.9),
    ):
        row = {**stay(type_=type_), "type_prob": prob, "length_m": length, "wingspan_m": span}
        rows.append(row)
    out = tighten_with_flights(stays_frame(rows, "EPSG:32651"), read_flights(flights_csv))
    assert out["start_bounded_by"].tolist() == ["flight:1", "flight:1", "s0", "s0"]
    assert out["end_bounded_by"].tolist() == ["flight:3", "flight:3", "s9", "s9"]


def test_types_unknown_to_the_catalog_are_named_and_match_nothing(tmp_path, caplog):
    """Designators the catalog lacks: one warning naming them (with the near miss), and
    tightening a stay with a measured size goes on instead of failing. ``Il-62`` is IL62."""
    path = tmp_path / "f1.csv"
    path.write_text(
        "time,airport,event,type\n"
        "2023-07-30T20:00:00Z,ZKPY,arr,IL62X\n"
        "2023-08-02T10:00:00Z,ZKPY,dep,ZZZZ\n"
        "2023-08-03T10:00:00Z,ZKPY,dep,Il-62\n"
    )
    with caplog.at_level(logging.WARNING, logger="dwelltime.flights"):
        flights = read_flights(path)
    (message,) = [r.getMessage() for r in caplog.records]
    assert "f1.csv: 2 row(s)" in message
    assert "IL62X (did you mean IL62 or " in message and message.endswith(", ZZZZ")
    assert list(flights["type"]) == ["IL62X", "ZZZZ", "IL62"]
    row = {**stay(type_="A310"), "type_prob": 0.3, "length_m": 53.1, "wingspan_m": 43.2}
    stays = stays_frame([row], "EPSG:32651")
    out = tighten_with_flights(stays, flights)
    assert (out.iloc[0]["start_bounded_by"], out.iloc[0]["end_bounded_by"]) == ("s0", "s9")


def test_iata_airport_codes_match_and_a_log_elsewhere_is_warned(tmp_path, caplog):
    """``FNJ`` rows are ZKPY's (the registry resolves IATA codes); a log with no row at the
    airport says so in one line naming the file."""
    from dwelltime.airports import lookup_airport
    from dwelltime.flights import warn_if_not_at

    path = tmp_path / "flights.csv"
    path.write_text(
        "time,airport,event,type\n"
        "2023-07-30T20:00:00Z,fnj,arr,IL62\n"
        "2023-08-02T10:00:00Z,FNJ,dep,IL62\n"
        "2023-08-02T11:00:00Z,SVO,dep,IL62\n"
        "2023-08-02T12:00:00Z,XQQ,dep,IL62\n"  # no such airport: kept as written
    )
    flights = read_flights(path)
    assert flights["airport"].tolist() == ["ZKPY", "ZKPY", "UUEE", "XQQ"]
    out = tighten_with_flights(stays_frame([stay()], "EPSG:32651"), flights)
    assert (out.iloc[0]["start_bounded_by"], out.iloc[0]["end_bounded_by"]) == (
        "flight:1",
        "flight:2",
    )
    with caplog.at_level(logging.WARNING, logger="dwelltime.flights"):
        warn_if_not_at(flights, lookup_airport("ZKPY"))
        assert not caplog.records
        warn_if_not_at(flights.iloc[2:], lookup_airport("FNJ"))
        warn_if_not_at(flights, "KP-X1")  # the code of an airport the registry lacks
    first, second = [r.getMessage() for r in caplog.records]
    assert first == f"{path}: 0 of 2 rows are at ZKPY (FNJ); they are at UUEE, XQQ"
    assert second == f"{path}: 0 of 4 rows are at KP-X1; they are at UUEE, XQQ, ZKPY"


def test_tightening_takes_the_csv_path(flights_csv):
    stays = stays_frame([stay()], "EPSG:32651")
    from_path = tighten_with_flights(stays, str(flights_csv))
    pd.testing.assert_frame_equal(from_path, tighten_with_flights(stays, read_flights(flights_csv)))
    assert from_path.iloc[0]["start_bounded_by"] == "flight:1"


def test_a_log_of_another_period_is_warned(tmp_path, caplog):
    path = tmp_path / "f.csv"
    path.write_text(
        "time,airport,event,type\n"
        "2024-07-30T20:00:00Z,ZKPY,arr,IL62\n"  # a year after the imagery
        "2024-08-02T10:00:00Z,ZKPY,dep,IL62\n"
        "2023-07-30T20:00:00Z,UUEE,arr,IL62\n"  # elsewhere: warn_if_not_at's business
    )
    stays = stays_frame([stay()], "EPSG:32651")
    with caplog.at_level(logging.WARNING, logger="dwelltime.flights"):
        out = tighten_with_flights(stays, read_flights(path))
    assert out["start_bounded_by"].tolist() == ["s0"]
    warned = [r.getMessage() for r in caplog.records]
    assert warned == [
        f"{path}: its 2 row(s) at ZKPY are from 2024-07-30 20:00 to 2024-08-02 10:00, outside "
        "the 2023-07-30 03:00 to 2023-08-03 03:00 its stays span; they tighten no bound"
    ]
    path.write_text("time,airport,event,type\n2023-08-02T20:00:00Z,ZKPY,arr,IL62\n")
    caplog.clear()  # a row inside the span, though it tightens nothing: no warning
    with caplog.at_level(logging.WARNING, logger="dwelltime.flights"):
        tighten_with_flights(stays, read_flights(path))
    assert not caplog.records


def test_day_month_dates_are_read_in_the_order_the_file_shows(tmp_path, caplog):
    """``31/07/2023`` shows the day comes first, so ``02/08/2023`` is 2 August, not 8
    February; a file whose dates never show the order skips them with a warning."""
    path = tmp_path / "f.csv"
    path.write_text(
        "time,airport,event,type\n31/07/2023 14:05,ZKPY,arr,IL62\n02/08/2023 03:10,ZKPY,dep,IL62\n"
    )
    assert read_flights(path)["time"].tolist() == [t("2023-07-31 14:05"), t("2023-08-02 03:10")]
    path.write_text(
        "time,airport,event,type\n7/31/2023 2:05 PM,ZKPY,arr,IL62\n8/2/2023 3:10 AM,ZKPY,dep,IL62\n"
    )
    assert read_flights(path)["time"].tolist() == [t("2023-07-31 14:05"), t("2023-08-02 03:10")]
    path.write_text("time,airport,event,type\n02/08/2023 03:10,ZKPY,dep,IL62\n")
    with caplog.at_level(logging.WARNING, logger="dwelltime.flights"):
        assert read_flights(path).empty
    (message,) = [r.getMessage() for r in caplog.records if r.name == "dwelltime.flights"]
    assert message.startswith(f"{path}: row 1 (02/08/2023 03:10,ZKPY,dep,IL62): time '02/08/2023")
    assert "could be day/month or month/day" in message


def test_a_repeated_row_counts_once(tmp_path, caplog):
    """A log exported twice holds each arrival twice: still one arrival, so the estimate takes
    its time (not a window between two candidates), and the repeat is named."""
    path = tmp_path / "f.csv"
    path.write_text(
        "time,airport,event,type,registration\n"
        "2023-07-30T20:00:00Z,ZKPY,arr,IL62,P-885\n"
        "2023-08-02T10:00:00Z,ZKPY,dep,IL62,P-885\n"
        "2023-07-30T20:00:00Z,ZKPY,arr,Il-62,P-885\n"  # the first row again
        "2023-07-30T20:00:00Z,ZKPY,arr,IL62,P-618\n"  # another aircraft: kept
    )
    with caplog.at_level(logging.WARNING, logger="dwelltime.flights"):
        flights = read_flights(path)
    assert flights["row"].tolist() == [1, 2, 4]
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: 1 row(s) repeat an earlier row's time, airport, event, type and registration "
        "(rows 3); each movement counts once"
    ]
    p885 = flights[flights["registration"] == "P-885"]
    out = tighten_with_flights(stays_frame([stay()], "EPSG:32651"), p885)
    assert out.iloc[0]["dwell_est_h"] == pytest.approx(62.0)


def test_excel_separators_and_a_row_with_extra_fields(tmp_path, caplog):
    """Excel where ``,`` is the decimal mark writes ``;`` (with a BOM and CRLF); a row with
    more fields than the header is skipped in one warning and the other rows still count."""
    path = tmp_path / "f.csv"
    path.write_bytes(
        b"\xef\xbb\xbftime;airport;event;type\r\n"
        b"2023-07-30T20:00:00Z;ZKPY;arr;IL62\r\n"
        b";;;\r\n"  # a blank row: counted, not warned
        b"2023-08-02T10:00:00Z;ZKPY;dep;IL62;P-885;late\r\n"
        b"2023-08-02T11:00:00Z;ZKPY;dep;IL62;\r\n"  # an empty extra field: fine
    )
    with caplog.at_level(logging.WARNING, logger="dwelltime.flights"):
        flights = read_flights(path)
    assert flights["row"].tolist() == [1, 4]
    assert flights["time"].tolist() == [t("2023-07-30 20:00"), t("2023-08-02 11:00")]
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: row 3 (2023-08-02T10:00:00Z;ZKPY;dep;IL62;P-885;late): 6 fields where the "
        "header has 4; skipped"
    ]
    path.write_text("")
    with pytest.raises(FlightsError, match="the flights CSV is empty"):
        read_flights(path)


def test_unix_seconds_and_zones_are_read_as_utc(tmp_path):
    """OpenSky and ADS-B Exchange give Unix time; a local time with its offset is the same
    instant in UTC."""
    path = tmp_path / "f.csv"
    path.write_text(
        "time,airport,event,type\n"
        "1690747200,ZKPY,arr,IL62\n"  # 2023-07-30T20:00:00Z
        "1690970400.5,ZKPY,dep,IL62\n"
        "2023-08-02T19:00:00+09:00,ZKPY,dep,IL62\n"
        "1690974000500,ZKPY,dep,IL62\n"  # milliseconds, as web trackers export them
    )
    assert read_flights(path)["time"].tolist() == [
        t("2023-07-30 20:00"),
        t("2023-08-02 10:00:00.5"),
        t("2023-08-02 10:00"),
        t("2023-08-02 11:00:00.5"),
    ]


def test_event_words_trackers_write_are_read(tmp_path, caplog):
    path = tmp_path / "f.csv"
    words = ["Landed", "ARRIVED", "arr", "TakeOff", "took  off", "Departed", "DEP", "Take-off"]
    path.write_text(
        "time,airport,event,type\n"
        + "".join(f"2023-08-0{n + 1}T10:00Z,ZKPY,{word},IL62\n" for n, word in enumerate(words))
    )
    with caplog.at_level(logging.WARNING, logger="dwelltime.flights"):
        flights = read_flights(path)
    assert flights["event"].tolist() == ["arr"] * 3 + ["dep"] * 5
    assert not caplog.records


def test_a_time_without_its_year_or_time_of_day_is_skipped_and_named(tmp_path, caplog):
    """``14:05`` alone would be read as today, ``2023-08-02`` as midnight: both are skipped
    with a warning saying what is missing; so is an event that is not arr or dep, and a row
    without an airport (it would match no stay, and name "" among the log's airports)."""
    path = tmp_path / "f.csv"
    path.write_text(
        "time,airport,event,type\n"
        "14:05,ZKPY,arr,IL62\n"
        "2023-08-02,ZKPY,dep,IL62\n"
        "2023-08-02 10:00,ZKPY,xyz,IL62\n"
        "31 Jul 2023 14:05,ZKPY,arr,IL62\n"
        "2023-08-02 11:00,,dep,IL62\n"
    )
    with caplog.at_level(logging.WARNING, logger="dwelltime.flights"):
        flights = read_flights(path)
    assert flights["time"].tolist() == [t("2023-07-31 14:05")]
    assert [r.getMessage() for r in caplog.records if r.name == "dwelltime.flights"] == [
        f"{path}: row 1 (14:05,ZKPY,arr,IL62): time '14:05' has no date with its year; write "
        "it 2023-08-02 03:10; skipped",
        f"{path}: row 2 (2023-08-02,ZKPY,dep,IL62): time '2023-08-02' has no time of day "
        "(midnight would bias dwell times by up to a day); write it 2023-08-02 03:10; skipped",
        f"{path}: row 3 (2023-08-02 10:00,ZKPY,xyz,IL62): event 'xyz' is not arr or dep; skipped",
        f"{path}: row 5 (2023-08-02 11:00,,dep,IL62): no airport; skipped",
    ]


def test_column_names_of_exports_are_read(tmp_path):
    """``timestamp``, ``typecode``, ``reg`` (OpenSky, ADS-B Exchange, FlightRadar24) stand for
    ``time``, ``type``, ``registration``; a header that has both keeps its own ``type``."""
    path = tmp_path / "f.csv"
    path.write_text("timestamp,airport,movement,typecode,reg\n1690747200,ZKPY,arr,IL62,P-885\n")
    (row,) = read_flights(path).to_dict("records")
    assert (row["time"], row["event"], row["type"], row["registration"]) == (
        t("2023-07-30 20:00"),
        "arr",
        "IL62",
        "P-885",
    )
    path.write_text("time,airport,event,type,typecode\n1690747200,ZKPY,arr,IL62,A320\n")
    assert read_flights(path)["type"].tolist() == ["IL62"]


def test_a_header_with_a_note_in_brackets_is_read_and_utc_there_is_taken(tmp_path, caplog):
    """``Time (UTC)`` is the ``time`` column, and says its times are UTC: no warning that they
    lack a zone; ``Time (local)`` is read as UTC with that warning."""
    path = tmp_path / "f.csv"
    path.write_text(
        "Date (UTC),Time (UTC),Airport,Event,Aircraft Type\n2023-08-01,08:42,ZKPY,arr,IL62\n"
    )
    with caplog.at_level(logging.WARNING):
        assert read_flights(path)["time"].tolist() == [t("2023-08-01 08:42")]
    assert not caplog.records
    path.write_text("Time (local),Airport,Event,Type\n2023-08-01 08:42,ZKPY,arr,IL62\n")
    with caplog.at_level(logging.WARNING):
        assert read_flights(path)["time"].tolist() == [t("2023-08-01 08:42")]
    assert "1 time(s) without a zone" in caplog.text


def test_an_opensky_log_of_flights_gives_each_its_departure_and_arrival(tmp_path):
    """OpenSky's flights API: one row per flight, departing ``firstSeen`` from
    ``estDepartureAirport`` and arriving ``lastSeen`` at ``estArrivalAirport`` (Unix time);
    both movements carry the flight's row, and an airport OpenSky does not know gives none."""
    path = tmp_path / "f.csv"
    path.write_text(
        "icao24,firstSeen,estDepartureAirport,lastSeen,estArrivalAirport,callsign,typecode\n"
        "14f1b8,1690700000,UUEE,1690747200,ZKPY,KOR152,IL62\n"
        "14f1b8,1690970400,ZKPY,1690990000,,KOR151,IL62\n"
    )
    flights = read_flights(path)
    assert flights[["row", "airport", "event"]].values.tolist() == [
        [1, "UUEE", "dep"],
        [1, "ZKPY", "arr"],
        [2, "ZKPY", "dep"],
    ]
    out = tighten_with_flights(stays_frame([stay()], "EPSG:32651"), flights)
    assert (out.iloc[0]["start_bounded_by"], out.iloc[0]["end_bounded_by"]) == (
        "flight:1",
        "flight:2",
    )
    assert out.iloc[0]["dwell_max_h"] == pytest.approx(62.0)


def test_a_pyopensky_flight_list_is_read_as_routes(tmp_path):
    """pyopensky's ``Trino.flightlist`` saved by pandas: ``departure`` and ``arrival`` are the
    airports of ``firstseen`` and ``lastseen`` (in FlightAware's history, with ``Origin`` and
    ``Destination``, they are the times)."""
    path = tmp_path / "flightlist.csv"
    path.write_text(
        ",icao24,firstseen,departure,lastseen,arrival,callsign,day,typecode\n"
        "0,14f1b8,2023-07-30 05:33:20+00:00,UUEE,2023-07-30 20:00:00+00:00,ZKPY,KOR152,"
        "2023-07-30 00:00:00+00:00,IL62\n"
    )
    flights = read_flights(path)
    assert flights[["time", "airport", "event", "type"]].values.tolist() == [
        [t("2023-07-30 05:33:20"), "UUEE", "dep", "IL62"],
        [t("2023-07-30 20:00"), "ZKPY", "arr", "IL62"],
    ]


def test_an_airport_opensky_could_not_estimate_gives_no_movement(tmp_path, caplog):
    """OpenSky writes an airport it could not estimate as ``null`` (``None`` once Python wrote
    its JSON as text): no movement there, as for an empty field, rather than one at an
    airport ``NULL``."""
    path = tmp_path / "opensky.csv"
    path.write_text(
        "icao24,firstSeen,estDepartureAirport,lastSeen,estArrivalAirport,callsign,typecode\n"
        "14f1b8,1690700000,None,1690747200,ZKPY,KOR152,IL62\n"
        "14f1b8,1690970400,ZKPY,1690990000,null,KOR151,IL62\n"
    )
    with caplog.at_level(logging.WARNING, logger="dwelltime.flights"):
        flights = read_flights(path)
    assert flights[["row", "airport", "event"]].values.tolist() == [
        [1, "ZKPY", "arr"],
        [2, "ZKPY", "dep"],
    ]
    assert not caplog.records


def test_an_opensky_log_without_types_is_read_and_said_to_match_nothing(tmp_path, caplog):
    """OpenSky's flights (Impala ``flights_data4``, REST ``flights/arrival``) carry no aircraft
    type: the log is read (its movements, untyped) and one warning says that none of them can
    match a stay, and where the type is found; no stay is tightened."""
    path = tmp_path / "opensky.csv"
    path.write_text(
        "icao24,firstSeen,estDepartureAirport,lastSeen,estArrivalAirport,callsign\n"
        "14f1b8,1690700000,UUEE,1690747200,ZKPY,KOR152\n"
        "14f1b8,1690970400,ZKPY,1690990000,UUEE,KOR151\n"
    )
    with caplog.at_level(logging.WARNING, logger="dwelltime.flights"):
        flights = read_flights(path)
    assert flights[["row", "airport", "event", "type"]].values.tolist() == [
        [1, "UUEE", "dep", ""],
        [1, "ZKPY", "arr", ""],
        [2, "ZKPY", "dep", ""],
        [2, "UUEE", "arr", ""],
    ]
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: no column gives the aircraft's type (type, typecode, aircraft…), so its 4 "
        "movement(s) match no stay and tighten no bound (stays are matched by type and size): "
        "add each row's type (IL62), as OpenSky's aircraft database gives it for its icao24"
    ]
    stays = stays_frame([stay()], "EPSG:32651")
    out = tighten_with_flights(stays, flights)
    assert (out.iloc[0]["start_bounded_by"], out.iloc[0]["end_bounded_by"]) == ("s0", "s9")


def test_a_log_excel_saved_on_windows_is_read(tmp_path):
    """Excel's "CSV (Comma delimited)" on Windows is Windows-1252, not UTF-8."""
    path = tmp_path / "f.csv"
    path.write_bytes(
        "time,airport,event,type,note\n2023-07-30T20:00:00Z,ZKPY,arr,IL62,Sunan – VIP\n".encode(
            "cp1252"
        )
    )
    assert read_flights(path)["time"].tolist() == [t("2023-07-30 20:00")]


def test_a_log_excel_saved_as_unicode_text_is_read(tmp_path):
    """Excel's "Unicode Text" is UTF-16, tab-separated: it was refused as lacking columns
    time, airport and event."""
    path = tmp_path / "f.txt"
    text = "Time\tAirport\tEvent\tType\r\n2023-07-30T20:00:00Z\tZKPY\tarr\tIL62\r\n"
    path.write_bytes(text.encode("utf-16"))
    assert read_flights(path)["time"].tolist() == [t("2023-07-30 20:00")]


def test_times_without_a_zone_are_read_as_utc_with_one_warning(tmp_path, caplog):
    path = tmp_path / "local.csv"
    path.write_text(
        "time,airport,event,type\n"
        "2023-07-31 14:05,ZKPY,arr,IL62\n"
        "2023-08-02T14:05+09:00,ZKPY,dep,IL62\n"
        "1690855200,ZKPY,arr,IL62\n"
        "2023-08-03 02:00 UTC,ZKPY,dep,IL62\n"
        "2023-08-03 09:00,ZKPY,dep,IL62\n"
    )
    with caplog.at_level(logging.WARNING):
        flights = read_flights(path)
    assert flights.loc[0, "time"] == t("2023-07-31 14:05")  # still UTC, but said so
    assert flights.loc[1, "time"] == t("2023-08-02 05:05")
    lines = [r.getMessage() for r in caplog.records if "zone" in r.getMessage()]
    assert lines == [
        f"{path}: 2 time(s) without a zone (row 1: '2023-07-31 14:05') read as UTC; if they "
        "are local times, write their offset (2023-08-02T14:05+09:00)"
    ]


def test_an_offset_after_utc_in_a_time_or_its_header_is_the_time_s_zone(tmp_path, caplog):
    """A local time written ``UTC+9`` (Pyongyang's, as people write it) is 9 h ahead of UTC,
    not behind it as POSIX zones read; a header ``Time (UTC+9)`` gives its times that offset.
    Both were read 9 h wrong: the header's times as UTC, without the zone warning."""
    path = tmp_path / "f.csv"
    path.write_text(
        "Time,Airport,Event,Type\n"
        "2023-08-01 00:40 UTC+9,FNJ,arr,IL62\n"
        "2023-08-01 19:00 GMT-05:00,FNJ,dep,IL62\n"
        "2023-08-02 09:10 utc+05:30,FNJ,dep,IL62\n"
    )
    with caplog.at_level(logging.WARNING):
        times = read_flights(path)["time"].tolist()
    assert times == [t("2023-07-31 15:40"), t("2023-08-02 00:00"), t("2023-08-02 03:40")]
    assert not caplog.records  # each has its zone
    path.write_text(
        "Date,Time (UTC+9),Airport,Event,Type\n"
        "01/08/2023,00:40,FNJ,arr,IL62\n"
        "2023-08-02,12:40 UTC,FNJ,dep,IL62\n"  # a zone of its own wins
        "31/07/2023,23:00+09:00,FNJ,dep,IL62\n"
    )
    with caplog.at_level(logging.WARNING):
        times = read_flights(path)["time"].tolist()
    assert times == [t("2023-07-31 15:40"), t("2023-08-02 12:40"), t("2023-07-31 14:00")]
    assert not caplog.records
    frame = pd.DataFrame({"time": ["2023-08-01 00:40 UTC+9"], "airport": "FNJ", "event": "arr"})
    assert as_flights(frame.assign(type="IL62"))["time"].tolist() == [t("2023-07-31 15:40")]


def test_rows_without_a_type_are_counted_in_one_line_saying_why(tmp_path, caplog):
    path = tmp_path / "regs.csv"
    path.write_text(
        "time,airport,event,type,registration\n"
        "2023-07-31T14:05Z,ZKPY,arr,,RA-86496\n"
        "2023-08-02T03:10Z,ZKPY,dep,,RA-86496\n"
        "2023-08-02T05:10Z,ZKPY,dep,IL62,RA-86466\n"
    )
    with caplog.at_level(logging.WARNING):
        assert len(read_flights(path)) == 3
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: 2 of 3 row(s) have no type and match no stay (stays are matched by type and "
        "size; a registration alone is not used): give each row its type (IL62)"
    ]


def test_a_route_log_gives_each_flight_its_departure_and_arrival(tmp_path, caplog):
    """FlightRadar24's history (``From``/``To`` with the airport's name and codes, ``ATD``/
    ``ATA``, ``Aircraft``) or a spreadsheet's ``origin``/``departure_time``: one row per flight,
    a departure from one airport and an arrival at the other; a time that cannot be read is
    named with its column."""
    path = tmp_path / "fr24.csv"
    path.write_text(
        "Date,From,To,Flight,ATD,ATA,Aircraft\n"
        "30 Jul 2023,Moscow (VKO),Pyongyang (FNJ),RSD063,2023-07-30 12:00Z,2023-07-30 20:00Z,"
        "Il-62M\n"
        "02 Aug 2023,Pyongyang (FNJ),Moscow (VKO/UUWW),RSD064,2023-08-02 10:00Z,2023-08-02,IL62\n"
    )
    with caplog.at_level(logging.WARNING, logger="dwelltime.flights"):
        flights = read_flights(path)
    assert flights[["row", "airport", "event", "type"]].values.tolist() == [
        [1, "UUWW", "dep", "IL62"],
        [1, "ZKPY", "arr", "IL62"],
        [2, "ZKPY", "dep", "IL62"],
    ]
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.startswith(f"{path}: row 2 (")
    assert "ATA '2023-08-02' has no time of day" in message
    out = tighten_with_flights(stays_frame([stay()], "EPSG:32651"), flights).iloc[0]
    assert (out["start_bounded_by"], out["end_bounded_by"]) == ("flight:1", "flight:2")
    assert out["dwell_max_h"] == pytest.approx(62.0)

    # a flight exported twice is one row repeated (its two movements); one not landed yet
    # gives its departure
    path.write_text(
        "origin,destination,departure time,arrival time,type\n"
        "UUWW,ZKPY,2023-07-30T12:00Z,2023-07-30T20:00Z,IL62\n"
        "UUWW,ZKPY,2023-07-30T12:00Z,2023-07-30T20:00Z,IL62\n"
        "ZKPY,UUWW,2023-08-02T10:00Z,,IL62\n"
    )
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dwelltime.flights"):
        flights = read_flights(path)
    assert flights[["row", "airport", "event"]].values.tolist() == [
        [1, "UUWW", "dep"],
        [1, "ZKPY", "arr"],
        [3, "ZKPY", "dep"],
    ]
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: row 3 (ZKPY,UUWW,2023-08-02T10:00Z,,IL62): no arrival time; its arrival skipped",
        f"{path}: 1 row(s) repeat an earlier row's time, airport, event, type and registration "
        "(rows 2); each movement counts once",
    ]


def test_a_date_column_gives_its_day_to_times_of_day(tmp_path, caplog):
    """FlightRadar24's history gives ``DATE`` (the departure's day) and ``ATD``/``ATA`` as
    times of day (``08:42``, ``8:42 AM``, ``08:42 UTC``): each is read on that day (UTC unless
    a zone is given), an arrival earlier than its departure on the next day; a movement log's
    ``Date`` and ``Time`` likewise."""
    path = tmp_path / "fr24.csv"
    path.write_text(
        "DATE,FROM,TO,FLIGHT,ATD,ATA,AIRCRAFT\n"
        "30 Jul 2023,Moscow (VKO),Pyongyang (FNJ),RSD063,23:10 UTC,04:20 UTC,IL62\n"
        "2023-08-02,Pyongyang (FNJ),Moscow (VKO),RSD064,8:42 AM,15:05,IL62\n"
    )
    flights = read_flights(path)
    assert flights[["row", "airport", "event"]].values.tolist() == [
        [1, "UUWW", "dep"],
        [1, "ZKPY", "arr"],
        [2, "ZKPY", "dep"],
        [2, "UUWW", "arr"],
    ]
    assert flights["time"].tolist() == [
        t("2023-07-30 23:10"),
        t("2023-07-31 04:20"),  # past midnight: the day after the departure
        t("2023-08-02 08:42"),
        t("2023-08-02 15:05"),
    ]
    path.write_text("Date,Time,Airport,Event,Type\n31.07.2023,14:05,ZKPY,arr,IL62\n")
    assert read_flights(path)["time"].tolist() == [t("2023-07-31 14:05")]


def test_a_flight_history_s_landed_status_gives_its_arrival(tmp_path, caplog):
    """FlightRadar24's aircraft history has ``ATD`` but no ``ATA``: the arrival's time is in
    ``STATUS`` (``Landed 08:42``); a flight that has not landed there (``Diverted``,
    ``Canceled``) gives no arrival, and ``—`` is no time; ``STD``/``STA`` (scheduled) are
    not movements."""
    path = tmp_path / "fr24.csv"
    path.write_text(
        "DATE,FROM,TO,FLIGHT,FLIGHT TIME,STD,ATD,STA,STATUS,AIRCRAFT\n"
        "30 Jul 2023,Moscow (VKO),Pyongyang (FNJ),RSD063,8:00,12:00,12:10,20:00,Landed 20:05,"
        "IL62\n"
        "02 Aug 2023,Pyongyang (FNJ),Moscow (VKO),RSD064,,10:00,10:02,18:00,Diverted,IL62\n"
        "03 Aug 2023,Pyongyang (FNJ),Moscow (VKO),RSD064,,10:00,—,18:00,Canceled,IL62\n"
    )
    with caplog.at_level(logging.WARNING, logger="dwelltime.flights"):
        flights = read_flights(path)
    assert flights[["row", "time", "airport", "event"]].values.tolist() == [
        [1, t("2023-07-30 12:10"), "UUWW", "dep"],
        [1, t("2023-07-30 20:05"), "ZKPY", "arr"],
        [2, t("2023-08-02 10:02"), "ZKPY", "dep"],
    ]
    problems = [
        r.getMessage().split("): ")[-1] for r in caplog.records if r.name == "dwelltime.flights"
    ]
    assert problems == [
        "no landing time in STATUS; its arrival skipped",
        "no ATD; its departure skipped",
        "no landing time in STATUS; its arrival skipped",
    ]


def test_a_flightaware_history_is_read_and_zone_abbreviations_are_named(tmp_path, caplog):
    """FlightAware's "Past flights" copied: ``Departure`` from ``Origin`` and ``Arrival`` at
    ``Destination`` (``Beijing Capital Int'l (PEK / ZBAA)``), times of day of the ``Date``; in
    UTC they are read (an arrival after midnight the next day), while a zone written as an
    abbreviation (``CST``: China's or US Central) is named in the row's warning."""
    path = tmp_path / "flightaware.csv"
    path.write_text(
        "Date,Aircraft,Origin,Destination,Departure,Arrival,Duration\n"
        "Sun 30-Jul-2023,IL62,Moscow Vnukovo (VKO / UUWW),Pyongyang Sunan Int'l (FNJ / ZKPY),"
        "11:30PM UTC,08:10AM UTC,8h 40m\n"
        "Wed 02-Aug-2023,IL62,Pyongyang Sunan Int'l (FNJ / ZKPY),Beijing Capital Int'l (PEK / "
        "ZBAA),08:42AM KST,09:20AM CST,1h 38m\n"
    )
    with caplog.at_level(logging.WARNING, logger="dwelltime.flights"):
        flights = read_flights(path)
    assert flights[["row", "time", "airport", "event"]].values.tolist() == [
        [1, t("2023-07-30 23:30"), "UUWW", "dep"],
        [1, t("2023-07-31 08:10"), "ZKPY", "arr"],
    ]
    problems = [
        r.getMessage().split("): ")[-1] for r in caplog.records if r.name == "dwelltime.flights"
    ]
    assert problems == [
        f"{column} 'Wed 02-Aug-2023 {time}' gives its zone as '{zone}', which is not read (such "
        "abbreviations name several zones: CST is China's or US Central); write times in UTC or "
        f"with their offset (2023-08-02 03:10+08:00); its {movement} skipped"
        for column, time, zone, movement in [
            ("Departure", "08:42AM KST", "KST", "departure"),
            ("Arrival", "09:20AM CST", "CST", "arrival"),
        ]
    ]


def test_an_airport_s_arrivals_page_is_read_by_its_status(tmp_path, caplog):
    """FlightRadar24's arrivals (departures) of an airport, copied with a ``Date`` and the
    airport's code added: ``TIME`` is the scheduled time, ``STATUS`` (``Landed 08:52``,
    ``Departed 08:44``) the movement and its actual time; a flight that has not moved
    (``Estimated 09:55``, ``Canceled``) is skipped naming its status. Without the airport (the
    page does not name it), the refusal says what to add."""
    path = tmp_path / "fr24_fnj.csv"
    path.write_text(
        "Date,Time,Flight,From,Airline,Aircraft,Status,Airport\n"
        "2023-07-30,20:00,RSD063,Moscow (VKO),Rossiya,IL62 (RA-86496),Landed 20:35,FNJ\n"
        "2023-07-30,21:40,JS156,Shenyang (SHE),Air Koryo,IL62 (P-881),Estimated 21:55,FNJ\n"
        "2023-07-30,22:40,JS158,Vladivostok (VVO),Air Koryo,TU20 (P-561),Canceled,FNJ\n"
        "2023-08-02,10:00,RSD064,Moscow (VKO),Rossiya,IL62 (RA-86496),Departed 10:12,FNJ\n"
    )
    with caplog.at_level(logging.WARNING, logger="dwelltime.flights"):
        flights = read_flights(path)
    assert flights[["row", "time", "airport", "event", "type"]].values.tolist() == [
        [1, t("2023-07-30 20:35"), "ZKPY", "arr", "IL62"],
        [4, t("2023-08-02 10:12"), "ZKPY", "dep", "IL62"],
    ]
    problems = [
        r.getMessage().split("): ")[-1] for r in caplog.records if r.name == "dwelltime.flights"
    ]
    assert problems == [
        "Status 'Estimated 21:55' is not arr or dep; skipped",
        "Status 'Canceled' is not arr or dep; skipped",
    ]
    path.write_text(
        "Date,Time,Flight,To,Airline,Aircraft,Status\n"
        "2023-08-02,10:00,RSD064,Moscow (VKO),Rossiya,IL62 (RA-86496),Departed 10:12\n"
    )
    with pytest.raises(FlightsError) as error:  # was: "…, and type; missing airport"
        read_flights(path)
    assert str(error.value) == (
        f"{path}: an airport's departures (To is the other end of each flight) without the "
        "airport they are at; add a column Airport holding its code (ICAO or IATA, such as "
        "ZKPY or FNJ) on every row"
    )
    path.write_text("time,airport,status,type\n2023-08-02 10:12,ZKPY,confirmed,IL62\n")
    with pytest.raises(FlightsError, match=r"missing event$"):
        read_flights(path)  # a status of another kind gives no event


def test_times_of_day_with_no_date_anywhere_are_refused_naming_the_columns(tmp_path):
    path = tmp_path / "fr24.csv"
    path.write_text("From,To,ATD,ATA,Aircraft\nVKO,FNJ,12:00,2023-07-30 20:00,IL62\n")
    with pytest.raises(FlightsError) as error:
        read_flights(path)
    assert str(error.value) == (
        f"{path}: column(s) ATD hold times of day without a date ('12:00') and no Date column "
        "gives their day; add a Date column (2023-08-01) or write each time with its date "
        "(2023-08-01 08:42)"
    )


def test_a_movement_while_the_imagery_sees_the_stay_is_reported_and_not_used(tmp_path, caplog):
    """A log's arrival after the first sighting (or departure before the last) contradicts
    the imagery: that end keeps its scene, and one warning names the stay and the rows; an end
    a flight bounds, or a row another stay used, is not warned about."""
    path = tmp_path / "f.csv"
    path.write_text(
        "time,airport,event,type\n"
        "2023-07-31T12:00:00Z,ZKPY,arr,IL62\n"  # row 1: while seen, no arrival in the window
        "2023-08-01T12:00:00Z,ZKPY,dep,IL62\n"  # row 2: while seen, but row 3 bounds the end
        "2023-08-02T10:00:00Z,ZKPY,dep,IL62\n"  # row 3: the departure
    )
    with caplog.at_level(logging.WARNING, logger="dwelltime.flights"):
        out = tighten_with_flights(stays_frame([stay()], "EPSG:32651"), read_flights(path))
    row = out.iloc[0]
    assert (row["start_bounded_by"], row["end_bounded_by"]) == ("s0", "flight:3")
    assert row["last_absent_before"] == t("2023-07-30 03:00")
    assert row["dwell_max_h"] == pytest.approx(79.0)  # 2 Aug 10:00 − 30 Jul 03:00
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: row(s) 1 (2023-07-31 12:00) record an arrival of IL62 at ZKPY while stay "
        "ZKPY-0001 was seen there from 2023-07-31 03:00 to 2023-08-02 03:00 UTC; the imagery "
        "wins: its start is bounded by scene s0 (is it another IL62, or a time or zone wrong "
        "in the log?)"
    ]

    # the arrival bounds another stay's start: explained, so not a conflict for this one; the
    # one departure (row 3) bounds both stays' ends: one aircraft's, so the log lacks one
    other = {**stay(t_a="2023-07-31 06:00"), "first_seen": t("2023-07-31 13:00")}
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dwelltime.flights"):
        out = tighten_with_flights(stays_frame([stay(), other], "EPSG:32651"), read_flights(path))
    assert out["start_bounded_by"].tolist() == ["s0", "flight:1"]
    assert out["end_bounded_by"].tolist() == ["flight:3", "flight:3"]
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: row 3 (a departure of IL62 at ZKPY, 2023-08-02 10:00 UTC) bounds 2 stays "
        "(ZKPY-0001, ZKPY-0002), but is one aircraft's movement: the log lacks the others', so "
        "their bounds may be too tight"
    ]


def test_a_busy_log_s_movements_during_stays_are_one_warning_and_listed_at_info(tmp_path, caplog):
    """A complete log of a busy airport: other aircraft of a resident's type come and go while
    it stands there. One warning counts such movements (not one per stay end, a flood at
    every airport-week), and each is listed at info level (-v); the imagery bounds the ends."""
    path = tmp_path / "f.csv"
    path.write_text(
        "time,airport,event,type\n"
        "2023-07-31T12:00:00Z,ZKPY,arr,IL62\n"
        "2023-08-01T12:00:00Z,ZKPY,dep,IL62\n"
        "2023-07-31T13:00:00Z,ZKPY,arr,T204\n"
    )
    stays = stays_frame([stay(), {**stay("T204"), "x": 500.0}], "EPSG:32651")
    with caplog.at_level(logging.INFO, logger="dwelltime.flights"):
        out = tighten_with_flights(stays, read_flights(path))
    assert out["start_bounded_by"].tolist() == ["s0", "s0"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"{path}: 3 movements fall while a stay of their type was seen on the ground (another "
        "aircraft of the type, or a time or zone wrong in the log?); the imagery bounds those "
        "ends (-v lists them)"
    ]
    listed = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert [line.split(" record ")[1].split(" at ")[0] for line in listed] == [
        "an arrival of IL62",
        "a departure of IL62",
        "an arrival of T204",
    ]


def test_a_row_without_a_type_takes_the_one_its_registration_has_elsewhere(tmp_path, caplog):
    """An analyst's log of one airframe: its type on one row (as an export of its history
    gives it), the others by registration alone, written with or without the hyphen; a
    registration the file gives two types stays untyped."""
    path = tmp_path / "regs.csv"
    path.write_text(
        "time,airport,event,type,registration\n"
        "2023-07-29T14:05Z,UUWW,dep,Il-62M,RA-86496\n"
        "2023-07-30T20:00Z,ZKPY,arr,,ra86496\n"
        "2023-08-02T10:00Z,ZKPY,dep,,RA-86496\n"
        "2023-08-02T11:00Z,ZKPY,dep,,P-885\n"
        "2023-08-05T12:00Z,ZKPY,dep,IL62,P-881\n"
        "2023-08-05T13:00Z,ZKPY,dep,T204,P-881\n"
        "2023-08-05T14:00Z,ZKPY,dep,,P-881\n"
    )
    with caplog.at_level(logging.WARNING, logger="dwelltime.flights"):
        flights = read_flights(path)
    assert flights["type"].tolist() == ["IL62", "IL62", "IL62", "", "IL62", "T204", ""]
    assert "2 of 7 row(s) have no type" in caplog.text
    out = tighten_with_flights(stays_frame([stay()], "EPSG:32651"), flights).iloc[0]
    assert (out["start_bounded_by"], out["end_bounded_by"]) == ("flight:2", "flight:3")


def test_a_log_without_a_movement_is_named_in_one_warning(tmp_path, caplog):
    """A header alone (an export of an empty search): the log tightens nothing, and says so
    rather than being silently ignored (rows that fail to read are named each)."""
    path = tmp_path / "f.csv"
    path.write_text("time,airport,event,type\n")
    with caplog.at_level(logging.WARNING, logger="dwelltime.flights"):
        assert read_flights(path).empty
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: the flights CSV has a header but no rows; it tightens no bound"
    ]


def test_matching_movements_to_stays_by_size_loads_no_detector(fresh_python):
    """A stay of uncertain type is matched by its measured size against the catalog's
    dimensions (`link --flights`): that reads the type rules, not the network, so torch is
    not loaded (a fresh interpreter to see it)."""
    code = (
        "import sys, geopandas, dwelltime.flights as f;"
        "fits = f._size_fits(geopandas.GeoDataFrame({'length_m': [53.0], 'wingspan_m': [43.0]}),"
        " ['IL62']);"
        "print(sorted(fits[0]), 'torch' in sys.modules)"
    )
    assert fresh_python(code) == ["['IL62']", "False"]


def test_movements_at_the_very_times_of_the_first_and_last_sighting_bound_the_stay():
    """Logged arrival at 03:00 on 31 Jul and departure at 03:00 on 2 Aug, the times of the
    first and last image showing the aircraft: the stay is known to the minute, 48 h."""
    log = pd.DataFrame(
        {
            "row": [1, 2],
            "time": [t("2023-07-31 03:00"), t("2023-08-02 03:00")],
            "airport": "ZKPY",
            "event": ["arr", "dep"],
            "type": "IL62",
        }
    )
    row = tighten_with_flights(stays_frame([stay()], "EPSG:32651"), log).iloc[0]
    assert (row["start_bounded_by"], row["end_bounded_by"]) == ("flight:1", "flight:2")
    assert row["dwell_max_h"] == row["dwell_est_h"] == row["dwell_min_h"] == 48.0
