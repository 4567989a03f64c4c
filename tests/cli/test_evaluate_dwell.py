"""``dwelltime evaluate-dwell`` on a saved run and a hand-made truth folder."""

from __future__ import annotations

import codecs

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from dwelltime.cli import main
from dwelltime.io import write_layers
from dwelltime.linking import stays_frame

T0 = pd.Timestamp("2023-07-31T00:00:00Z")


def at(hours: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(hours=hours)


@pytest.fixture
def series(tmp_path):
    """Truth: an IL62 on stand A1 for 36 h (seen in s1) and a B738 never seen."""
    truth = tmp_path / "series" / "truth"
    truth.mkdir(parents=True)
    (truth / "stays.csv").write_text(
        "stay_id,aircraft_id,visit_id,type,stand_id,x,y,start,end\n"
        f"S001,V1,V1,IL62,A1,100.0,200.0,{at(0).isoformat()},{at(36).isoformat()}\n"
        f"S002,V2,V2,B738,A2,500.0,200.0,{at(0).isoformat()},{at(2).isoformat()}\n"
    )
    (truth / "scenes.csv").write_text(
        f"scene_id,acquired\ns0,{at(-12).isoformat()}\ns1,{at(6).isoformat()}\n"
        f"s2,{at(30).isoformat()}\ns3,{at(48).isoformat()}\n"
    )
    gpd.GeoDataFrame(
        {"aircraft_id": ["V1"], "stand_id": ["A1"], "hidden": [False]},
        geometry=[shapely.Point(100, 200)],
        crs="EPSG:32651",
    ).to_file(truth / "s1.geojson", driver="GeoJSON")
    return tmp_path / "series"


def _stay(type_, x, first, last, t_a, t_b):
    return {
        "airport": "ZKPY",
        "type": type_,
        "type_prob": 0.9,
        "x": x,
        "y": 200.0,
        "first_seen": at(first),
        "last_seen": at(last),
        "last_absent_before": at(t_a),
        "first_absent_after": at(t_b),
        "n_seen": 2,
        "dwell_min_h": last - first,
        "dwell_max_h": t_b - t_a,
        "dwell_est_h": (t_b - t_a + last - first) / 2,
    }


@pytest.fixture
def results(tmp_path):
    stays = stays_frame(
        [_stay("IL62", 103.0, 6, 30, -12, 48), _stay("TU20", 900.0, 6, 30, -12, 48)], "EPSG:32651"
    )
    scenes = gpd.GeoDataFrame(
        {"scene_id": ["s0", "s1", "s2", "s3"], "acquired": [at(-12), at(6), at(30), at(48)]},
        geometry=[shapely.Point(125.67, 39.22)] * 4,
        crs="EPSG:4326",
    )
    write_layers(tmp_path / "run", {"stays": stays, "scenes": scenes}, formats=("gpkg",))
    return tmp_path / "run" / "dwelltime.gpkg"


def _evaluate(*args):
    return CliRunner().invoke(main, ["-q", "evaluate-dwell", *map(str, args)])


def test_scores_a_saved_run(series, results, tmp_path):
    out = tmp_path / "out"
    result = _evaluate(series, "--airport", "ZKPY", "--results", results, "--out", out)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "2 predicted stays, 1 observed true stay, 4 scenes" in lines[0]
    assert "median revisit 18.0 h" in lines[0]
    overall = next(line for line in lines if line.startswith("all")).split()
    # one true positive (IL62), one false positive (TU20 far away); B738 never observed
    assert overall[1:7] == ["1", "2", "1", "0.50", "1.00", "0.67"]
    assert "km or more" not in result.output
    assert (out / "dwell_scores.csv").read_bytes().startswith(codecs.BOM_UTF8)  # as io's CSVs
    scores = pd.read_csv(out / "dwell_scores.csv")
    il62 = scores.set_index("type").loc["IL62"]
    assert il62["coverage"] == 1.0  # 36 h in [24, 60]
    assert il62["median_abs_err_h"] == pytest.approx(6.0)  # est 42 h
    again = _evaluate(series, "--airport", "ZKPY", "--results", results, "--out", out)
    assert again.exit_code == 1 and "--overwrite" in again.output


def test_an_iata_code_scores_like_the_icao_one(series, results):
    """--airport takes FNJ as well as ZKPY: the truth is at the ICAO code the run's stays use."""
    result = _evaluate(series, "--airport", "fnj", "--results", results)
    assert result.exit_code == 0, result.output
    overall = next(line for line in result.stdout.splitlines() if line.startswith("all"))
    assert overall.split()[1:4] == ["1", "2", "1"]  # n_true, n_pred, tp


def test_saved_stays_at_another_airport_are_refused(series, results):
    """Stays of a run at ZKPY scored against --airport UUEE: every one a false positive, every
    true stay missed; refused, naming the airports, instead of scores of 0."""
    result = _evaluate(series, "--airport", "UUEE", "--results", results)
    assert result.exit_code == 2
    assert "holds stays at ZKPY, none at UUEE" in result.output


def test_truth_in_other_coordinates_is_pointed_out(series, results):
    """stays.csv x, y in another frame (here a real UTM point, the run's stays near 0): no
    stay can match, and a warning says why instead of silent zeros."""
    path = series / "truth" / "stays.csv"
    text = path.read_text().replace(",100.0,200.0,", ",730485.0,4345043.0,")
    path.write_text(text.replace(",500.0,200.0,", ",730085.0,4345043.0,"))
    (series / "truth" / "s1.geojson").unlink()
    result = _evaluate(series, "--airport", "ZKPY", "--results", results)
    assert result.exit_code == 0, result.output
    assert "every true stay is 4406 km or more from every predicted one" in result.output


def test_tight_gate_and_missing_truth(series, results, tmp_path):
    result = _evaluate(series, "--airport", "ZKPY", "--results", results, "--gate", "1")
    assert result.exit_code == 0, result.output
    overall = next(line for line in result.stdout.splitlines() if line.startswith("all"))
    assert overall.split()[3] == "0"  # the 3 m offset no longer matches
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = _evaluate(empty, "--airport", "ZKPY", "--results", results)
    assert missing.exit_code == 1 and "stays.csv" in missing.output
    bad = _evaluate(series, "--airport", "ZKPY", "--results", series / "truth" / "stays.csv")
    assert bad.exit_code == 2


@pytest.mark.parametrize(
    "option",
    [
        ("--flights", "flights.csv"),
        ("--no-coregister",),
        ("--precision", "fp32"),
        ("--device", "cpu"),
    ],
)
def test_options_of_the_linking_are_refused_with_saved_stays(series, results, tmp_path, option):
    (tmp_path / "flights.csv").write_text("time,airport,event,type\n")
    option = tuple(str(tmp_path / a) if a.endswith(".csv") else a for a in option)
    result = _evaluate(series, "--airport", "ZKPY", "--results", results, *option)
    assert result.exit_code == 2
    assert "scores saved stays as they are" in result.output and "dwelltime link" in result.output
    assert result.stderr.splitlines()[-1].startswith(f"Error: {option[0]}: ")


def test_a_series_without_a_usable_image_names_it_and_fails(series, tmp_path):
    """Not a table of zero recall with exit status 0: the file left out is named, and
    nothing could be scored."""
    (series / "imagery").mkdir()
    (series / "imagery" / "s1_20230731T060000.tif").write_text("not an image")
    result = _evaluate(series, "--airport", "ZKPY", "--out", tmp_path / "scored")
    assert result.exit_code == 1
    skipped, error = result.stderr.splitlines()
    assert skipped.startswith("skipped ") and "s1_20230731T060000.tif" in skipped
    assert error == f"Error: no usable scene of ZKPY in {series / 'imagery'}"
    assert "recall" not in result.stdout and not (tmp_path / "scored").exists()
