"""``dwelltime link`` on a small saved GeoPackage of detections and coverage."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from dwelltime.cli import main
from dwelltime.io import read_layer, write_layers
from dwelltime.pipeline import source_commit
from dwelltime.schema import COVERAGE_COLUMNS, DETECTION_COLUMNS

CRS = "EPSG:32651"
T0 = pd.Timestamp("2026-07-31T00:00:00Z")


def frames(sightings: list[tuple[str, float, str]]):
    """Coverage of five scenes 12 h apart and detections (scene, x, type) at y = 100 m."""
    scenes = {f"s{i}": T0 + pd.Timedelta(hours=12 * i) for i in range(5)}
    apron = shapely.box(0, 0, 600, 300)
    cover = gpd.GeoDataFrame(
        [(s, "ZKPY", "main", t, 1.0, apron) for s, t in scenes.items()],
        columns=list(COVERAGE_COLUMNS),
        crs=CRS,
    )
    rows = [
        (f"{s}:{n}", s, "ZKPY", scenes[s], x, 100.0, 90.0, 50.0, 40.0, type_, 0.9, 0.9,
         shapely.Point(x, 100).buffer(25))
        for n, (s, x, type_) in enumerate(sightings)
    ]  # fmt: skip
    dets = gpd.GeoDataFrame(rows, columns=list(DETECTION_COLUMNS), crs=CRS)
    return {"coverage": cover, "detections": dets}


@pytest.fixture
def saved(tmp_path):
    sightings = [("s1", 100.0, "IL62"), ("s2", 100.0, "IL62"), ("s3", 100.0, "IL62")]
    sightings += [("s0", 400.0, "TU20"), ("s1", 400.0, "TU20")]
    write_layers(tmp_path / "run", frames(sightings), formats=("gpkg",))
    return tmp_path / "run" / "dwelltime.gpkg"


def _link(*args):
    return CliRunner().invoke(main, ["-q", "link", *map(str, args)])


def test_link_prints_the_stays_table(saved):
    result = _link(saved)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "5 detections in 5 scenes → 2 stays"
    assert lines[1].split()[:2] == ["stay", "type"]
    il62 = next(line for line in lines if "IL62" in line)
    assert "24.0–48.0" in il62 and "2026-07-31 12:00" in il62
    assert lines[-3].startswith("rules: a stay ends at 2 visible misses in a row")
    assert lines[-2].startswith("bounds: the nearest scene either side that saw the stand empty")
    assert lines[-1].startswith("open ends: edge = imagery begins/ends")
    tu20 = next(line for line in lines if "TU20" in line)
    assert "≥ 12.0" in tu20 and "start (edge)" in tu20


def test_a_console_without_the_tables_glyphs_gets_ascii_stand_ins(saved):
    # Windows writes cp1252 to a redirected stdout: it has no ≥ or →
    result = CliRunner(charset="cp1252").invoke(main, ["-q", "link", str(saved)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "5 detections in 5 scenes -> 2 stays"
    assert ">= 12.0" in next(line for line in lines if "TU20" in line)


def test_type_filter_and_outputs(saved, tmp_path):
    out = tmp_path / "out"
    result = _link(saved, "--type", "Il-62", "--out", out)  # read as the designator IL62
    assert result.exit_code == 0, result.output
    assert "5 detections in 5 scenes → 1 stay of type IL62" in result.stdout
    assert "TU20" not in result.stdout
    for name in ("dwelltime.gpkg", "stays.csv", "detections.csv", "timeline.png"):
        assert (out / name).exists(), name
    assert list(read_layer(out, "stays")["type"]) == ["IL62"]  # as `run --type` writes them
    assert len(read_layer(out, "detections")) == 5  # every detection: relink for another type


def test_a_type_the_catalog_does_not_know_is_a_usage_error_with_close_matches(saved):
    result = _link(saved, "--type", "IL62X")
    assert result.exit_code == 2 and "did you mean IL62" in result.output


def test_the_relinked_run_keeps_its_detector_record_with_the_new_settings(saved, tmp_path):
    source = {"detector": {"weights": "w.safetensors", "sha256": "ab"}, "link": {"x": 1}}
    source["dwelltime_commit"] = "0" * 40  # the run's code; the stays are this code's
    source["inputs"] = {"airport": "ZKPY", "flights": {"path": "/f.csv", "sha256": "cd"}}
    (saved.parent / "run.json").write_text(json.dumps(source))
    out = tmp_path / "out"
    assert _link(saved, "--max-misses", "0", "--out", out).exit_code == 0
    made = json.loads((out / "run.json").read_text())
    assert made["detector"] == source["detector"] and made["relinked_from"] == str(saved)
    assert made["dwelltime_commit"] == source_commit()
    assert made["inputs"] == {**source["inputs"], "flights": None}  # this relinking's own
    assert made["link"]["max_visible_misses"] == 0 and "x" not in made["link"]
    (saved.parent / "run.json").unlink()  # saved detections without a record: settings only
    assert _link(saved, "--out", out, "--overwrite").exit_code == 0
    made = json.loads((out / "run.json").read_text())
    assert "detector" not in made and made["link"]["max_visible_misses"] == 1


def test_the_relinked_record_has_absolute_paths_and_the_flights_file(saved, tmp_path):
    import hashlib

    flights = tmp_path / "f.csv"
    flights.write_text("time,airport,event,type\n2026-07-31T01:00:00Z,ZKPY,arr,IL62\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        assert _link("run", "--flights", "f.csv", "--out", "out").exit_code == 0
    made = json.loads((tmp_path / "out" / "run.json").read_text())
    assert made["relinked_from"] == str(tmp_path / "run") and made["flights"] is True
    sha256 = hashlib.sha256(flights.read_bytes()).hexdigest()
    assert made["inputs"]["flights"] == {"path": str(flights), "sha256": sha256}


def test_relinking_with_other_settings_than_the_run_says_so(saved):
    from dwelltime.linking import LinkConfig
    from dwelltime.pipeline import link_provenance

    made = link_provenance(LinkConfig(max_gap_h=24.0), flights=True, type_filter="IL62")
    (saved.parent / "run.json").write_text(json.dumps(made))
    result = _link(saved)
    assert result.exit_code == 0, result.output
    assert (
        f"note: {saved.parent / 'run.json'} was linked with other settings, so these stays may "
        "differ from its: max_gap_h 24.0 → 72.0; flight log used → none; type filter IL62 → none"
    ) in result.stderr
    made = link_provenance(LinkConfig(), flights=False, type_filter=None)
    (saved.parent / "run.json").write_text(json.dumps(made))
    assert "note:" not in _link(saved).stderr  # the run's own settings: its stays again


def test_formats_may_be_listed_in_one_option(saved, tmp_path):
    from dwelltime.cli.options import OUTPUT_FORMATS
    from dwelltime.io import FORMATS

    assert OUTPUT_FORMATS == FORMATS
    out = tmp_path / "out"
    assert (
        _link(saved, "--out", out, "--format", "gpkg, GeoJSON", "--format", "gpkg").exit_code == 0
    )
    assert {"dwelltime.gpkg", "stays.geojson"} <= {p.name for p in out.iterdir()}
    assert not (out / "stays.csv").exists()
    result = _link(saved, "--out", out, "--format", "gpkg,shp")
    assert result.exit_code == 2
    assert "'shp': choose from gpkg, csv, geojson, parquet (several: --format gpkg" in result.output


def test_a_run_folder_written_without_geopackage_is_linked_from_its_csv(tmp_path):
    sightings = [("s1", 100.0, "IL62"), ("s2", 100.0, "IL62"), ("s0", 400.0, "TU20")]
    write_layers(tmp_path / "run", frames(sightings), formats=("csv",))  # run --format csv
    result = _link(tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("3 detections in 5 scenes → 2 stays")
    result = _link(tmp_path)  # nothing there: says what it looked for
    assert result.exit_code == 2
    assert f"{tmp_path}: no dwelltime.gpkg, nor detections.parquet, .csv or .geojson" in " ".join(
        result.output.split()
    )


def test_a_run_folder_written_as_geojson_only_is_linked_in_its_metres(tmp_path):
    """run --format geojson writes lon/lat (RFC 7946): link refused that folder, telling the
    user that linking needs the UTM CRS 'as written by dwelltime run'."""
    sightings = [("s1", 100.0, "IL62"), ("s2", 100.0, "IL62"), ("s0", 400.0, "TU20")]
    write_layers(tmp_path / "run", frames(sightings), formats=("geojson",))
    result = _link(tmp_path / "run", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("3 detections in 5 scenes → 2 stays")
    stays = read_layer(tmp_path / "out", "stays")
    assert stays.crs == CRS
    assert sorted(stays["x"].round(6)) == [100.0, 400.0]


def test_existing_outputs_need_overwrite(saved, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "timeline.png").write_bytes(b"old")
    result = _link(saved, "--out", out)
    assert result.exit_code == 1
    # the CLI's wording, not the API's (overwrite=True)
    assert f"Error: {out / 'timeline.png'} already exists; pass --overwrite to replace it\n" == (
        result.output
    )
    assert not (out / "dwelltime.gpkg").exists()
    assert _link(saved, "--out", out, "--overwrite").exit_code == 0
    assert (out / "timeline.png").read_bytes()[:4] == b"\x89PNG"


def test_relink_in_place_with_overwrite(saved):
    result = _link(saved, "--out", saved.parent, "--overwrite", "--link-moves")
    assert result.exit_code == 0, result.output
    assert len(read_layer(saved, "stays")) == 2
    assert len(read_layer(saved, "detections")) == 5


def test_config_options_change_the_linking(tmp_path):
    sightings = [("s0", 100.0, "IL62"), ("s1", 100.0, "IL62"), ("s3", 100.0, "IL62")]
    write_layers(tmp_path, frames(sightings), formats=("gpkg",))
    assert "→ 1 stay" in _link(tmp_path).stdout
    assert "→ 2 stays" in _link(tmp_path, "--max-misses", "0").stdout
    assert "→ 2 stays" in _link(tmp_path, "--max-gap", "12").stdout


def test_no_rejoin_keeps_the_stays_a_long_gap_splits(tmp_path):
    """Nobody looked at the stand in s1: by default the two sightings 24 h apart are joined
    again across --max-gap 12; --no-rejoin keeps them apart."""
    layers = frames([("s0", 100.0, "IL62"), ("s2", 100.0, "IL62")])
    layers["coverage"] = layers["coverage"][layers["coverage"]["scene_id"] != "s1"]
    write_layers(tmp_path, layers, formats=("gpkg",))
    assert "→ 1 stay" in _link(tmp_path, "--max-gap", "12").stdout
    assert "→ 2 stays" in _link(tmp_path, "--max-gap", "12", "--no-rejoin").stdout


def test_prior_strength_sets_the_estimates_prior(saved, tmp_path):
    from dwelltime.linking import LinkConfig, link_stays

    layers = {name: read_layer(saved, name) for name in ("detections", "coverage")}
    for option, strength in (("none", None), ("0.5", 0.5), (None, 2.0)):
        out = tmp_path / str(option)
        args = [] if option is None else ["--prior-strength", option]
        assert _link(saved, *args, "--out", out).exit_code == 0
        made = read_layer(out, "stays").sort_values("stay_id")
        expected = link_stays(
            layers["detections"], layers["coverage"], LinkConfig(prior_strength=strength)
        )
        assert list(made["dwell_est_h"]) == pytest.approx(
            list(expected["dwell_est_h"]), nan_ok=True
        )
        assert json.loads((out / "run.json").read_text())["link"]["prior_strength"] == strength
    result = _link(saved, "--prior-strength", "-1")
    assert result.exit_code == 2 and "--prior-strength" in result.output


def test_no_detections(tmp_path):
    layers = frames([])
    write_layers(tmp_path, layers, formats=("gpkg",))
    result = _link(tmp_path / "dwelltime.gpkg", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "No stays." in result.stdout
    assert read_layer(tmp_path / "out", "stays").empty


def test_a_blank_centre_in_a_saved_table_is_a_usage_error_naming_it(tmp_path):
    # a detections.csv edited by hand, one x left blank: one line, not a scipy traceback
    sightings = [("s1", 100.0, "IL62"), ("s2", 100.0, "IL62"), ("s3", 100.0, "IL62")]
    write_layers(tmp_path / "run", frames(sightings), formats=("csv",))
    table = tmp_path / "run" / "detections.csv"
    edited = pd.read_csv(table)
    edited.loc[1, "x"] = None
    edited.to_csv(table, index=False)
    result = _link(tmp_path / "run")
    assert result.exit_code == 2
    assert f"{tmp_path / 'run'}: 1 detection with no number in x: s2:1;" in " ".join(
        result.output.split()
    )


def test_missing_layer_or_coverage_is_a_usage_error(tmp_path, saved):
    write_layers(tmp_path / "only", {"detections": frames([])["detections"]})
    result = _link(tmp_path / "only" / "dwelltime.gpkg")
    assert result.exit_code == 2 and "no layer 'coverage'" in result.output
    result = _link(tmp_path / "only" / "detections.csv")
    assert result.exit_code == 2 and "--coverage" in result.output
    assert _link(tmp_path / "missing.gpkg").exit_code == 2


def test_a_file_that_is_no_table_is_blamed_not_the_missing_coverage(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a table")
    result = _link(notes)
    assert result.exit_code == 2
    assert "Invalid value for DETECTIONS: " in result.output and "notes.txt" in result.output
    assert "--coverage" not in result.output


@pytest.mark.parametrize(("status", "n_stays"), [("ok", 2), ("failed", 1), ("low_peak", 1)])
def test_coregistered_scenes_link_with_the_tighter_close_gate(tmp_path, status, n_stays):
    """Seen at s0, missed at s1, seen again 8 m away at s2 (24 h later): the same aircraft
    within the 15 m gate, unless the scenes layer says both were co-registered (close gate
    5 m between them; the rules recorded are the defaults): s2's ``status``, the others
    aligned."""
    layers = frames([("s0", 100.0, "IL62"), ("s2", 108.0, "IL62")])
    scenes = gpd.GeoDataFrame(
        {
            "scene_id": [f"s{i}" for i in range(5)],
            "coreg_status": ["reference", "ok", status, "ok", "ok"],
        },
        geometry=[shapely.box(0, 0, 600, 300)] * 5,
        crs=CRS,
    )
    write_layers(tmp_path / "run", {**layers, "scenes": scenes}, formats=("gpkg",))
    result = _link(tmp_path / "run" / "dwelltime.gpkg", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert len(read_layer(tmp_path / "out" / "dwelltime.gpkg", "stays")) == n_stays
    made = json.loads((tmp_path / "out" / "run.json").read_text())  # the gate it linked with
    assert made["link"]["close_distance_m"] is None


def test_overwrite_leaves_no_table_of_the_earlier_run_in_another_format(saved, tmp_path):
    out = tmp_path / "out"
    assert _link(saved, "--out", out, "--format", "geojson").exit_code == 0
    assert _link(saved, "--type", "IL62", "--out", out, "--overwrite").exit_code == 0
    assert not list(out.glob("*.geojson"))
    assert len(read_layer(out / "stays.csv")) == 1


def test_the_scenes_layer_of_the_input_is_written_so_the_results_can_be_scored(saved, tmp_path):
    scenes = frames([])["coverage"][["scene_id", "acquired", "geometry"]]
    layers = {"scenes": scenes, **frames([("s1", 100.0, "IL62")])}
    write_layers(saved.parent, layers, formats=("gpkg",), overwrite=True)
    assert _link(saved, "--out", tmp_path / "out").exit_code == 0
    assert list(read_layer(tmp_path / "out", "scenes")["scene_id"]) == [f"s{i}" for i in range(5)]


def test_help_does_not_promise_detect_outputs():
    """`detect` writes no coverage layer, so link's help names `run` as the source."""
    result = CliRunner().invoke(main, ["link", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "written by `dwelltime run` or `detect`" not in text
    assert "`detect` writes no coverage" in text


def test_help_of_flights_speaks_of_no_detection_link_does_not_run():
    result = CliRunner().invoke(main, ["link", "--help"])
    text = " ".join(result.output.split())
    assert "Read before anything else;" in text and "detection;" not in text


def test_no_stays_from_weak_detections_says_why_and_min_score_keeps_them(tmp_path):
    layers = frames([("s1", 100.0, "IL62"), ("s3", 400.0, "IL62")])
    layers["detections"]["score"] = [0.4, 0.5]  # each alone too weak for a stay (0.65)
    write_layers(tmp_path / "run", layers, formats=("gpkg",))
    result = _link(tmp_path / "run" / "dwelltime.gpkg")
    assert result.exit_code == 0, result.output
    assert "No stays: none of the 2 detections" in result.stdout
    assert "(0.65; best detection score 0.50)" in result.stdout
    assert "try --min-score 0.5." in result.stdout
    out = tmp_path / "out"
    result = _link(tmp_path / "run" / "dwelltime.gpkg", "--min-score", "0.4", "--out", out)
    assert "→ 2 stays" in result.stdout
    assert json.loads((out / "run.json").read_text())["link"]["min_score_single"] == 0.4
    assert _link(tmp_path / "run" / "dwelltime.gpkg", "--min-score", "2").exit_code == 2


def test_max_rows_cuts_the_table_and_says_where_all_stays_are(saved, tmp_path):
    lines = _link(saved, "--max-rows", "1", "--out", tmp_path / "out").stdout.splitlines()
    assert lines[4] == (
        f"… 1 more of 2 stays not shown; all are in the stays files written to "
        f"{tmp_path / 'out'} (--max-rows 0 prints them all)"
    )
    assert sum("ZKPY-000" in line for line in lines) == 1
    assert len(read_layer(tmp_path / "out", "stays")) == 2
    cut = _link(saved, "--max-rows", "1").stdout
    assert "not shown; --max-rows 0 prints them all, --out DIR writes them all" in cut
    assert "not shown" not in _link(saved, "--max-rows", "0").stdout


def test_a_flight_log_s_warnings_are_given_once(saved, tmp_path, caplog):
    """--flights is checked when the option is read and read again by the API: the check
    holds its warnings back, so each is given once."""
    flights = tmp_path / "f.csv"
    flights.write_text("time,airport,event,type\n2026-07-31T01:00:00Z,ZKPY,arr,Il-99\n")
    with caplog.at_level("WARNING", logger="dwelltime"):
        assert _link(saved, "--flights", flights).exit_code == 0
    unknown = [r for r in caplog.records if "IL-99" in r.getMessage()]
    assert len(unknown) == 1


@pytest.mark.parametrize(("fmt", "magic"), [("svg", b"<?xml"), ("pdf", b"%PDF")])
def test_the_timeline_is_written_in_the_figure_format_asked(saved, tmp_path, fmt, magic):
    """``--figure-format svg|pdf``: a vector timeline for a paper, instead of the PNG."""
    out = tmp_path / "out"
    result = _link(saved, "--out", out, "--figure-format", fmt.upper())
    assert result.exit_code == 0, result.output
    assert (out / f"timeline.{fmt}").read_bytes().startswith(magic)
    assert not (out / "timeline.png").exists()
    assert f"wrote {out / f'timeline.{fmt}'}" in result.stdout


def test_the_figure_formats_of_the_options_are_the_plots(saved):
    from dwelltime.cli.options import FIGURE_FORMATS
    from dwelltime.formats import FIGURE_FORMATS as PLOT_FORMATS

    assert FIGURE_FORMATS == PLOT_FORMATS
    result = _link(saved, "--figure-format", "jpg")
    assert result.exit_code == 2 and "'jpg' is not one of 'png', 'svg', 'pdf'" in result.stderr


def test_relinking_with_overwrite_in_another_figure_format_removes_the_old_timeline(
    saved, tmp_path
):
    """As ``run --overwrite`` does: the folder holds one timeline, not last run's PNG beside
    this run's PDF."""
    out = tmp_path / "out"
    assert _link(saved, "--out", out).exit_code == 0
    result = _link(saved, "--out", out, "--overwrite", "--figure-format", "pdf")
    assert result.exit_code == 0, result.output
    assert (out / "timeline.pdf").exists() and not (out / "timeline.png").exists()
    assert f"removed {out / 'timeline.png'}: an earlier timeline" in result.stdout
