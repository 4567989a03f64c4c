import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from dwelltime.cli import main
from dwelltime.evaluation import predict
from dwelltime.footprints import cross_boxes, footprint_corners
from dwelltime.schema import DETECTION_COLUMNS
from dwelltime.synth.export import dota_line

ORIGIN = (730_000.0, 4_345_000.0)


@pytest.fixture
def labelled(tmp_path, write_raster):
    """imagery/a.tif (128² px at 0.5 m, UTM 51N) with an Il-62 at pixel (64, 60) heading 90°,
    its DOTA truth in truth/dota/, and c.tif without labels."""
    data = np.zeros((3, 128, 128), np.uint8)
    data[0, 60, 64] = 255  # the marker the fake detector finds
    imagery = tmp_path / "imagery"
    write_raster(imagery / "a.tif", origin=ORIGIN, shape=(128, 128), data=data)
    write_raster(imagery / "c.tif", origin=ORIGIN, shape=(32, 32))
    truth = footprint_corners(
        np.array([64.5]), np.array([60.5]), np.array([20.0]), np.array([16.0]), np.array([90.0])
    )
    (tmp_path / "truth" / "dota").mkdir(parents=True)
    (tmp_path / "truth" / "dota" / "a.txt").write_text(dota_line(truth[0], "IL62", False) + "\n")
    return imagery


def detections_frame(heading, score=0.8):
    """One Il-62 detection on a.tif (UTM 51N), DETECTION_COLUMNS."""
    corners = footprint_corners(
        np.array([ORIGIN[0] + 32.25]),
        np.array([ORIGIN[1] - 30.25]),
        np.array([10.0]),
        np.array([8.0]),
        np.array([heading]),
        y_down=False,
    )
    row = {
        "detection_id": "a:0",
        "scene_id": "a",
        "airport": "ZKPY",
        "acquired": pd.Timestamp("2024-08-01", tz="UTC"),
        "x": 0.0,
        "y": 0.0,
        "heading_deg": heading,
        "length_m": 11.0,
        "wingspan_m": 8.0,
        "type": "IL62",
        "type_prob": 0.9,
        "score": score,
    }
    frame = gpd.GeoDataFrame([row], geometry=[shapely.Polygon(corners[0])], crs="EPSG:32651")
    return frame[list(DETECTION_COLUMNS)]


def detections_file(tmp_path, heading):
    path = tmp_path / "detections.gpkg"
    detections_frame(heading).to_file(path, layer="detections")
    return path


def evaluate_saved(folder, detections, *args):
    return CliRunner().invoke(
        main, ["-q", "evaluate", str(folder), "--detections", str(detections), *map(str, args)]
    )


def recall(output: str) -> float:
    line = next(line for line in output.splitlines() if line.strip().startswith("recall"))
    return float(line.split()[-1])


def test_saved_detections_and_tables(labelled, tmp_path):
    out = tmp_path / "eval"
    args = ["evaluate", str(labelled), "--detections", str(detections_file(tmp_path, 270.0))]
    result = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "c.tif: no labels found; skipped" in result.output
    assert "default: no run.json beside" in result.output
    assert "label file(s)" not in result.output  # every label file has its image
    doc = json.loads((out / "evaluation.json").read_text())
    overall = doc["overall"]
    assert overall["ap50"] == 1 and overall["recall"] == 1 and overall["type_accuracy"] == 1
    assert overall["median_length_err_m"] == pytest.approx(1)
    assert overall["median_heading_err_deg"] == pytest.approx(180)
    assert overall["median_heading_err_mod180_deg"] == pytest.approx(0)
    assert doc["by_gsd"][0]["gsd_bin"] == "0.4–0.6 m"
    again = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert again.exit_code == 1 and "--overwrite" in again.output
    assert "recall" not in again.stdout  # refused before scoring, not after


def test_images_in_subfolders_are_named_by_their_path(labelled, tmp_path, write_raster):
    """other/a.tif shares a.tif's stem: saved detections (named by stem) cannot tell them
    apart, so both are skipped, saying so; the tables name other/d.tif by its path."""
    line = (labelled.parent / "truth" / "dota" / "a.txt").read_text()
    for name in ("a", "d"):
        write_raster(labelled / "other" / f"{name}.tif", origin=ORIGIN, shape=(128, 128))
        (labelled / "other" / f"{name}.txt").write_text(line)
    out = tmp_path / "eval"
    result = evaluate_saved(labelled, detections_file(tmp_path, 90.0), "--out", out)
    assert result.exit_code == 0, result.output
    assert result.output.count("2 labelled images have the file stem 'a'") == 2
    assert pd.read_csv(out / "misses.csv")["image_id"].tolist() == ["other/d"]


def test_label_files_without_an_image_are_named(labelled, tmp_path):
    """A label whose image is missing (or in a format evaluate does not read) is not scored
    without a word: one line counts and names such files."""
    (labelled.parent / "truth" / "dota" / "z.txt").write_text("")
    result = evaluate_saved(labelled, detections_file(tmp_path, 90.0))
    assert result.exit_code == 0, result.output
    assert "1 label file(s) have no image of their name" in result.output
    assert "z.txt" in result.output


@pytest.mark.parametrize("option", [("--precision", "fp32"), ("--tile-size", "1024")])
def test_the_detector_s_options_are_refused_with_saved_detections(labelled, tmp_path, option):
    """Not silently ignored: the saved detections are scored as they were made."""
    result = evaluate_saved(labelled, detections_file(tmp_path, 90.0), *option)
    assert result.exit_code == 2 and "recall" not in result.stdout
    assert result.stderr.splitlines()[-1] == (
        f"Error: {option[0]}: the detector does not run with --detections, which scores the "
        "saved detections as they are; leave out one or the other"
    )


def test_runs_the_detector(labelled, monkeypatch, marker_detector):
    monkeypatch.setattr(
        "dwelltime.detector.load_detector", lambda w, device, precision: marker_detector()
    )
    monkeypatch.setattr(predict, "shipped_threshold", lambda w: (0.6, "model card test"))
    result = CliRunner().invoke(
        main, ["-q", "evaluate", str(labelled), "--tile-size", "64", "--overlap", "16"]
    )
    assert result.exit_code == 0, result.output
    assert "score threshold 0.6 (model card test)" in result.output
    assert "detector marker, fp32 on cpu" in result.output
    ap50 = next(line for line in result.output.splitlines() if line.strip().startswith("AP50"))
    assert float(ap50.split()[-1]) == pytest.approx(1)


def test_existing_tables_are_refused_before_the_detector_runs(labelled, tmp_path, monkeypatch):
    """--out holding last run's tables: refused at once, not after detecting every image."""
    calls = []
    monkeypatch.setattr(
        "dwelltime.detector.load_detector", lambda *a, **k: calls.append(a) or 1 / 0
    )
    out = tmp_path / "eval"
    out.mkdir()
    (out / "misses.csv").write_text("")
    result = CliRunner().invoke(main, ["-q", "evaluate", str(labelled), "--out", str(out)])
    assert result.exit_code == 1 and "--overwrite" in result.output
    assert calls == []


@pytest.mark.parametrize(
    "option", [("--overlap", "-10"), ("--batch-size", "0"), ("--tile-size", "8")]
)
def test_tiling_options_out_of_range_are_usage_errors(labelled, option):
    result = CliRunner().invoke(main, ["-q", "evaluate", str(labelled), *option])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert f"Invalid value for '{option[0]}'" in result.stderr


def test_no_labels_is_a_clear_error(tmp_path, write_raster):
    write_raster(tmp_path / "x.tif")
    result = CliRunner().invoke(
        main, ["evaluate", str(tmp_path), "--detections", str(detections_file(tmp_path, 0.0))]
    )
    assert result.exit_code == 1 and "no labelled images" in result.output


def test_bad_label_file_is_reported_and_skipped(labelled, tmp_path):
    (labelled / "c.txt").write_text("not a label\n")
    result = CliRunner().invoke(
        main, ["evaluate", str(labelled), "--detections", str(detections_file(tmp_path, 90.0))]
    )
    assert result.exit_code == 0, result.output
    assert "c.txt, line 1: expected" in result.output and "skipped" in result.output
    (labelled.parent / "truth" / "dota" / "a.txt").write_text("0 0 1 0 1\n")
    (labelled / "c.txt").unlink()
    nothing = evaluate_saved(labelled, detections_file(tmp_path, 90.0), "--out", tmp_path / "o")
    assert nothing.exit_code == 1 and "a.txt, line 1: expected" in nothing.output
    assert "none of the 1 labelled images" in nothing.output and not (tmp_path / "o").exists()


@pytest.mark.filterwarnings("ignore:'crs' was not provided")  # written so on purpose
def test_airbus_boxes_axis_aligned_with_pixel_detections(tmp_path, write_raster):
    """Airbus layout: images/ + annotations.csv beside it; detections saved in pixels."""
    write_raster(tmp_path / "images" / "x.tif", crs=None, shape=(128, 128))
    corners = footprint_corners(
        np.array([60.0]), np.array([50.0]), np.array([40.0]), np.array([40.0]), np.array([45.0])
    )[0]
    cross = cross_boxes(corners[None])[0]  # the box a labeller draws around that aircraft
    (lo_x, lo_y), (hi_x, hi_y) = cross.min(axis=0).tolist(), cross.max(axis=0).tolist()
    ring = [(lo_x, lo_y), (hi_x, lo_y), (hi_x, hi_y), (lo_x, hi_y), (lo_x, lo_y)]
    (tmp_path / "annotations.csv").write_text(
        f'id,image_id,geometry,class\n1,x.tif,"{ring}",Airplane\n'
    )
    row = {c: 0.0 for c in DETECTION_COLUMNS if c != "geometry"}
    row.update(
        scene_id="x",
        type="unknown",
        score=0.9,
        heading_deg=45.0,
        length_m=20.0,
        wingspan_m=20.0,
        detection_id="x:0",
        airport="",
        acquired="",
    )
    dets = gpd.GeoDataFrame([row], geometry=[shapely.Polygon(corners)])  # no CRS: pixels
    dets.to_file(tmp_path / "d.gpkg", layer="detections")
    args = [
        "evaluate",
        str(tmp_path / "images"),
        "--detections",
        str(tmp_path / "d.gpkg"),
        "--gsd",
        "0.5",
        "--out",
        str(tmp_path / "o"),
    ]
    boxed = CliRunner().invoke(main, args)  # box-only labels: boxes compared, unasked
    assert boxed.exit_code == 0, boxed.output
    assert "axis-aligned box IoU" in boxed.output, boxed.output
    doc = json.loads((tmp_path / "o" / "evaluation.json").read_text())
    assert doc["iou"] == "axis_aligned" and doc["overall"]["ap50"] == pytest.approx(1)
    oriented = CliRunner().invoke(main, [*args, "--oriented", "--overwrite"])
    assert oriented.exit_code == 0, oriented.output
    doc = json.loads((tmp_path / "o" / "evaluation.json").read_text())
    assert doc["iou"] == "oriented" and doc["overall"]["ap50"] == 0, oriented.output
    write_raster(tmp_path / "images" / "y.tif", crs=None, shape=(32, 32))
    (tmp_path / "images" / "y.txt").write_text("")  # DOTA: no aircraft
    mixed = CliRunner().invoke(main, [*args, "--overwrite"])
    assert mixed.exit_code == 0, mixed.output
    assert "1 of the 2 labelled images have Airbus labels" in mixed.output, mixed.output
    assert json.loads((tmp_path / "o" / "evaluation.json").read_text())["iou"] == "oriented"


def test_unknown_gsd_is_said(tmp_path, write_raster, monkeypatch, marker_detector):
    write_raster(tmp_path / "p.tif", crs=None)
    (tmp_path / "p.txt").write_text("0 0 4 0 4 2 0 2 plane 0\n")
    monkeypatch.setattr(
        "dwelltime.detector.load_detector", lambda w, device, precision: marker_detector()
    )
    monkeypatch.setattr(predict, "shipped_threshold", lambda w: (0.5, "test"))
    result = CliRunner().invoke(main, ["-q", "evaluate", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "GSD unknown" in result.output and "pass --gsd" in result.output
    assert "unknown" in result.output.split("By GSD")[1]


def _saved_pixel_detection(folder, write_raster):
    """A plain image ``p.tif`` without georeference, its DOTA label and one saved pixel
    detection of it (``d.gpkg``, as ``detect --gsd`` writes them) in ``folder``."""
    write_raster(folder / "p.tif", crs=None)
    (folder / "p.txt").write_text("0 0 4 0 4 2 0 2 plane 0\n")
    frame = detections_frame(90.0)
    frame["scene_id"] = "p"
    frame = frame.set_geometry([shapely.box(0, 0, 4, 2)], crs=None)
    frame.to_file(folder / "d.gpkg", layer="detections_pixels")


def test_unknown_gsd_of_saved_detections_is_said(tmp_path, write_raster):
    """Saved pixel detections (`detect --gsd`) scored on an image of unknown GSD: sizes
    are not scored, and the line saying so and how to give the GSD is there too."""
    _saved_pixel_detection(tmp_path, write_raster)
    result = evaluate_saved(tmp_path, tmp_path / "d.gpkg")
    assert result.exit_code == 0, result.output
    assert "p.tif: GSD unknown (no georeference, no DOTA 'gsd:' line); sizes not scored; " in (
        result.output
    )


def test_saved_detections_are_scored_at_the_gsd_detect_recorded(tmp_path, write_raster):
    """``detect --gsd 0.5`` recorded its GSD in run.json: ``evaluate --detections`` takes it
    (one line says so) instead of asking for --gsd again; a --gsd given wins."""
    _saved_pixel_detection(tmp_path, write_raster)
    (tmp_path / "run.json").write_text(json.dumps({"inputs": {"gsd_m": 0.5}}))
    result = evaluate_saved(tmp_path, tmp_path / "d.gpkg")
    assert result.exit_code == 0, result.output
    assert "GSD unknown" not in result.output
    said = "GSD 0.5 m for the images without georeference: the --gsd `dwelltime detect` was "
    said += f"given (recorded in {tmp_path / 'run.json'}); pass --gsd to change it"
    assert said in result.stderr
    assert "0.4–0.6 m" in result.output.split("By GSD")[1]
    given = evaluate_saved(tmp_path, tmp_path / "d.gpkg", "--gsd", 2)
    assert "recorded in" not in given.stderr and "≥2 m" in given.output.split("By GSD")[1]


@pytest.mark.filterwarnings("ignore:'crs' was not provided")  # written so on purpose
def test_an_airbus_image_of_unknown_gsd_is_not_said_to_lose_sizes(tmp_path, write_raster):
    """Airbus boxes carry no sizes: the line for their image without a GSD says what the GSD
    changes (the by-GSD bin), not "sizes not scored", which --gsd would not change."""
    write_raster(tmp_path / "images" / "x.tif", crs=None, shape=(64, 64))
    ring = [(10, 10), (30, 10), (30, 30), (10, 30), (10, 10)]
    (tmp_path / "annotations.csv").write_text(
        f'id,image_id,geometry,class\n1,x.tif,"{ring}",Airplane\n'
    )
    frame = detections_frame(90.0)
    frame["scene_id"] = "x"
    frame.set_geometry([shapely.box(10, 10, 30, 30)], crs=None).to_file(
        tmp_path / "d.gpkg", layer="detections_pixels"
    )
    result = evaluate_saved(tmp_path / "images", tmp_path / "d.gpkg")
    assert result.exit_code == 0, result.output
    assert "x.tif: GSD unknown (no georeference); binned as GSD 'unknown'; pass --gsd" in (
        result.stderr
    )
    assert "sizes not scored" not in result.output


def test_the_detections_layer_of_a_run_output_is_scored(labelled, tmp_path):
    """A dwelltime.gpkg as `run` writes it: several layers, scenes first."""
    from dwelltime.io import write_layers

    scenes = gpd.GeoDataFrame({"scene_id": ["a"]}, geometry=[shapely.Point(125, 39)], crs=4326)
    out = tmp_path / "results"
    write_layers(out, {"scenes": scenes, "detections": detections_frame(90.0)}, formats=("gpkg",))
    result = evaluate_saved(labelled, out / "dwelltime.gpkg")
    assert result.exit_code == 0, result.output
    assert "More than one layer" not in result.output and recall(result.output) == 1

    scenes_only = tmp_path / "scenes_only"  # overwriting `out` would keep its detections
    write_layers(scenes_only, {"scenes": scenes}, formats=("gpkg",))
    result = evaluate_saved(labelled, scenes_only / "dwelltime.gpkg")
    assert result.exit_code == 2 and "has no layer 'detections'" in result.output


def test_the_one_detections_layer_of_a_detect_output_is_scored(labelled, tmp_path):
    """`dwelltime detect` names its layers detections_*: the one there is scored, several
    are a usage error naming them."""
    path = tmp_path / "dwelltime.gpkg"
    detections_frame(90.0).to_file(path, layer="detections_epsg_32651")
    result = evaluate_saved(labelled, path)
    assert result.exit_code == 0, result.output
    assert recall(result.output) == 1

    detections_frame(90.0).to_file(path, layer="detections_pixels")
    result = evaluate_saved(labelled, path)
    assert result.exit_code == 2
    assert "several detections layers ['detections_epsg_32651', 'detections_pixels']" in (
        result.output
    )


def test_saved_detections_are_scored_at_the_threshold_recorded_with_them(labelled, tmp_path):
    """A 0.4 detection: found at the 0.3 the run recorded, missed at the 0.5 default."""
    path = tmp_path / "detections.gpkg"
    detections_frame(90.0, score=0.4).to_file(path, layer="detections")
    result = evaluate_saved(labelled, path)
    assert "score threshold 0.5 (default: no run.json beside" in result.output
    assert recall(result.output) == 0

    (tmp_path / "run.json").write_text(json.dumps({"detector": {"score_threshold": 0.3}}))
    result = evaluate_saved(labelled, path)
    assert f"score threshold 0.3 (recorded in {tmp_path / 'run.json'})" in result.output
    assert recall(result.output) == 1
    result = evaluate_saved(labelled, path, "--score-threshold", 0.45)
    assert "score threshold 0.45 (given)" in result.output and recall(result.output) == 0


def test_the_model_card_of_the_recorded_weights_gives_the_threshold(labelled, tmp_path):
    from dwelltime.detector.weights import default_weights

    made = {"detector": {"weights": default_weights().name}}  # a record without decode settings
    (tmp_path / "run.json").write_text(json.dumps(made))
    result = evaluate_saved(labelled, detections_file(tmp_path, 90.0))
    assert f"score threshold 0.3 (model card {default_weights().name}" in result.output


def test_labelled_images_without_saved_detections_are_named(labelled, tmp_path, write_raster):
    """Saved detections of some of the labelled images only (detect run on a few): the others
    are scored as all missed, and one line names them, not a silent drop in recall."""
    detections = detections_file(tmp_path, 90.0)
    assert "no detection in" not in evaluate_saved(labelled, detections).output
    write_raster(labelled / "b.tif", origin=ORIGIN, shape=(128, 128))
    (labelled.parent / "truth" / "dota" / "b.txt").write_text(
        (labelled.parent / "truth" / "dota" / "a.txt").read_text()
    )
    result = evaluate_saved(labelled, detections)
    assert result.exit_code == 0, result.output
    assert recall(result.output) == pytest.approx(0.5)
    assert (
        f"1 of the 2 labelled images have no detection in {detections}, scored as finding "
        "nothing there: b (were they detected?)"
    ) in result.output


def test_detections_of_other_images_are_a_clear_error(labelled, tmp_path):
    path = tmp_path / "detections.gpkg"
    frame = detections_frame(90.0)
    frame["scene_id"] = "zkpy_07"
    frame.to_file(path, layer="detections")
    result = evaluate_saved(labelled, path)
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"Error: {path}: no detection is on a labelled image: scene_ids zkpy_07, images a "
        "(a detection's scene_id must be its image's file stem)"
    )


@pytest.mark.parametrize("fmt", ["png", "tif"])
def test_synthetic_chips_of_each_format_are_read_back(tmp_path, fmt, monkeypatch, marker_detector):
    """``synth chips --format png|tif`` then ``evaluate``: every chip scored, its DOTA truth
    (difficult ones aside) and its GSD (the labels' gsd: line) read."""
    chips = tmp_path / "chips"
    args = ["-q", "synth", "chips", "--out", str(chips), "-n", "3", "--size", "128"]
    assert CliRunner().invoke(main, [*args, "--format", fmt, "--seed", "4"]).exit_code == 0
    assert {p.suffix for p in (chips / "images").iterdir()} == {f".{fmt}"}
    truth = [
        line
        for label in (chips / "labels").iterdir()
        for line in label.read_text().splitlines()[1:]
        if line.endswith(" 0")
    ]
    monkeypatch.setattr(
        "dwelltime.detector.load_detector", lambda w, device, precision: marker_detector()
    )
    out = tmp_path / "eval"
    result = CliRunner().invoke(main, ["-q", "evaluate", str(chips), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "skipped" not in result.output and "GSD unknown" not in result.output
    doc = json.loads((out / "evaluation.json").read_text())
    assert (doc["overall"]["n_images"], doc["overall"]["n_truth"]) == (3, len(truth)) == (3, 2)
    assert [row["gsd_bin"] for row in doc["by_gsd"]] == ["0.4–0.6 m"]
