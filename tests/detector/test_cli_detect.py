"""``dwelltime detect`` on a plain image and on a small GeoTIFF (tiny untrained weights)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
import pytest
import rasterio
from click.testing import CliRunner
from PIL import Image
from rasterio.transform import from_origin

from dwelltime.cli import main


def test_plain_image_needs_gsd_and_writes_pixel_layer(tmp_path, tiny_weights):
    png = tmp_path / "apron.png"
    Image.fromarray(np.full((100, 120, 3), 90, np.uint8)).save(png)
    runner = CliRunner()
    args = ["-q", "detect", str(png), "--weights", str(tiny_weights), "--tile-size", "64"]
    refused = runner.invoke(main, [*args, "--out", str(tmp_path / "o1")])
    assert refused.exit_code == 1
    assert "--gsd" in refused.output
    assert "no usable image among 1 input(s)" in refused.output  # each input counted once
    done = runner.invoke(main, [*args, "--gsd", "0.5", "--out", str(tmp_path / "out")])
    assert done.exit_code == 0, done.output
    assert "(column, row) pixels" in done.output
    assert f"detector {tiny_weights.name}, " in done.output  # precision and device it ran on
    assert (tmp_path / "out" / "detections_pixels.csv").is_file()
    assert (tmp_path / "out" / "dwelltime.gpkg").is_file()
    made = json.loads((tmp_path / "out" / "run.json").read_text())
    assert made["detector"]["weights"] == tiny_weights.name and made["tile_size_px"] == 64
    assert made["detector"]["precision"] in ("bf16", "fp32", "int8")


def test_a_tiff_with_a_crs_but_no_geotransform_is_a_plain_image(tmp_path, tiny_weights):
    import warnings

    tif = tmp_path / "export.tif"
    profile = dict(driver="GTiff", width=64, height=64, count=3, dtype="uint8", crs="EPSG:32651")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rasterio: "Dataset has no geotransform"
        with rasterio.open(tif, "w", **profile) as ds:
            ds.write(np.full((3, 64, 64), 90, np.uint8))
    args = ["-q", "detect", str(tif), "--weights", str(tiny_weights), "--tile-size", "64"]
    done = CliRunner().invoke(main, [*args, "--gsd", "0.5", "--out", str(tmp_path / "out")])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "out" / "detections_pixels.csv").is_file()


def test_a_picture_with_a_world_file_and_a_prj_is_detected_in_its_crs(tmp_path, tiny_weights):
    """GDAL reads the world file, not the .prj: dwelltime reads the .prj, so the picture is
    detected in map coordinates; a .prj that holds no CRS is named, not taken for none."""
    from pyproj import CRS

    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "s.JPG")
    (tmp_path / "s.JGW").write_text("0.5\n0\n0\n-0.5\n330000\n4340000\n")
    (tmp_path / "s.PRJ").write_text('PROJCS["WGS_1984_UTM_Zone_51N"]')
    args = ["-q", "detect", str(tmp_path / "s.JPG"), "--weights", str(tiny_weights)]
    result = CliRunner().invoke(main, [*args, "--tile-size", "64"])
    assert result.exit_code == 1
    assert "s.PRJ: is no CRS PROJ reads (not a complete WKT)" in result.output
    (tmp_path / "s.PRJ").write_text(CRS.from_epsg(32651).to_wkt("WKT1_ESRI"))
    out = tmp_path / "out"
    done = CliRunner().invoke(main, [*args, "--tile-size", "64", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert (out / "detections.csv").is_file() and not (out / "detections_pixels.csv").exists()


def test_plain_images_with_and_without_aircraft_make_one_layer(tmp_path, tiny_weights, monkeypatch):
    """A folder where one image has no aircraft: the empty frame must not turn the
    ``acquired`` column (NaT for plain images) into objects, which GeoPackage cannot write."""
    import dwelltime.detector.predict as predict
    from dwelltime.detector.decode import TileDetections

    real = predict.Detector.predict

    def one_aircraft_unless_dark(self, images):
        out = real(self, images)
        bright = [float(np.asarray(im).mean()) > 50 for im in images]
        return [
            TileDetections(*(np.array([v], np.float32) for v in (32, 32, 40, 30, 90)),
                           type_probs=np.full((1, 3), 1 / 3, np.float32),
                           score=np.array([0.9], np.float32))
            if b else d
            for d, b in zip(out, bright, strict=True)
        ]  # fmt: skip

    monkeypatch.setattr(predict.Detector, "predict", one_aircraft_unless_dark)
    for name, value in (("a_dark.png", 0), ("b_bright.png", 200)):
        Image.fromarray(np.full((64, 64, 3), value, np.uint8)).save(tmp_path / name)
    args = ["-q", "detect", str(tmp_path), "--gsd", "0.5", "--weights", str(tiny_weights)]
    done = CliRunner().invoke(main, [*args, "--tile-size", "64", "--out", str(tmp_path / "out")])
    assert done.exit_code == 0, done.output
    assert "1 aircraft in 2 image(s)" in done.output
    assert (tmp_path / "out" / "dwelltime.gpkg").is_file()


def test_images_of_one_name_in_two_folders_get_distinct_ids(tmp_path, tiny_weights, monkeypatch):
    """day1/x.png and day2/x.png: scene ids day1/x and day2/x, not x twice, so no two
    detections share a detection_id."""
    import geopandas as gpd

    import dwelltime.detector.predict as predict
    from dwelltime.detector.decode import TileDetections

    def one_aircraft(self, images):
        return [
            TileDetections(*(np.array([v], np.float32) for v in (32, 32, 40, 30, 90)),
                           type_probs=np.full((1, 3), 1 / 3, np.float32),
                           score=np.array([0.9], np.float32))
            for _ in images
        ]  # fmt: skip

    monkeypatch.setattr(predict.Detector, "predict", one_aircraft)
    for day in ("day1", "day2"):
        (tmp_path / day).mkdir()
        Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(tmp_path / day / "x.png")
    args = ["-q", "detect", str(tmp_path / "day1"), str(tmp_path / "day2"), "--gsd", "0.5"]
    out = tmp_path / "out"
    done = CliRunner().invoke(
        main, [*args, "--weights", str(tiny_weights), "--tile-size", "64", "--out", str(out)]
    )
    assert done.exit_code == 0, done.output
    frame = gpd.read_file(out / "dwelltime.gpkg", layer="detections_pixels")
    assert sorted(frame["scene_id"]) == ["day1/x", "day2/x"]
    assert frame["detection_id"].is_unique, frame["detection_id"].tolist()


def test_georeferenced_image_writes_map_layer(tmp_path, tiny_weights):
    tif = tmp_path / "sunan_20260731T030000.tif"
    with rasterio.open(
        tif,
        "w",
        driver="GTiff",
        width=96,
        height=96,
        count=3,
        dtype="uint8",
        crs="EPSG:32651",
        transform=from_origin(350000, 4340000, 0.5, 0.5),
    ) as ds:
        ds.write(np.full((3, 96, 96), 120, np.uint8))
    result = CliRunner().invoke(
        main,
        [
            "-q",
            "detect",
            str(tif),
            "--weights",
            str(tiny_weights),
            "--tile-size",
            "64",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "footprints in EPSG:32651" in result.output
    assert (tmp_path / "out" / "detections.csv").is_file()


def test_gsd_given_for_georeferenced_images_only_is_said_to_be_unused(
    tmp_path, tiny_weights, write_raster
):
    """Not silently ignored: a GeoTIFF is detected at the GSD its file gives."""
    tif = write_raster(tmp_path / "sunan_20260731T030000.tif", shape=(96, 96))
    args = ["-q", "detect", str(tif), "--gsd", "0.3", "--weights", str(tiny_weights)]
    result = CliRunner().invoke(main, [*args, "--tile-size", "64"])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("--gsd not used: it is for images without georeference")


def test_an_image_without_acquisition_time_is_detected(tmp_path):
    """Shipped weights on a rendered Il-62 in a GeoTIFF that says nothing of its date."""
    from dwelltime.io import read_layer
    from dwelltime.synth import render_chip

    chip = render_chip(
        np.random.default_rng(3),
        size_px=256,
        gsd_m=0.5,
        source_gsd_m=0.5,
        types=["IL62"],
        n_aircraft=(1, 1),
        cloud_probability=0.0,
    )
    tif = tmp_path / "no_date_at_all.tif"
    with rasterio.open(
        tif, "w", driver="GTiff", width=256, height=256, count=3, dtype="uint8",
        crs="EPSG:32651", transform=from_origin(350000, 4340000, 0.5, 0.5),
    ) as ds:  # fmt: skip
        ds.write(chip.image.transpose(2, 0, 1))
    result = CliRunner().invoke(main, ["-q", "detect", str(tif), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    rows = read_layer(tmp_path / "out" / "dwelltime.gpkg", "detections")
    assert len(rows) == 1  # the one aircraft
    assert rows["acquired"].isna().all()


def test_unreadable_file_is_skipped_with_its_name(tmp_path, tiny_weights):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    result = CliRunner().invoke(
        main, ["-q", "detect", str(bad), "--gsd", "0.5", "--weights", str(tiny_weights)]
    )
    assert result.exit_code == 1
    assert "broken.jpg" in result.output


def test_a_file_cut_short_after_its_overviews_is_skipped_and_the_others_kept(
    tmp_path, tiny_weights, write_raster, write_cut_cog
):
    """A truncated COG passes the scan (its overviews read) and fails when tiled: one line
    names it, and the other image's detections are still written."""
    from dwelltime.io import read_layer

    write_raster(tmp_path / "in" / "good_20230731T023512.tif", shape=(96, 96))
    write_cut_cog(tmp_path / "in" / "cut_20230801T023512.tif")
    out = tmp_path / "out"
    args = ["detect", str(tmp_path / "in"), "--weights", str(tiny_weights), "--tile-size", "64"]
    result = CliRunner().invoke(main, ["-q", *args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    skipped = [line for line in result.output.splitlines() if line.startswith("skipped")]
    assert len(skipped) == 1 and "cut_20230801T023512.tif" in skipped[0]
    assert "truncated or corrupt" in skipped[0]
    assert "1 image(s), 1 skipped" in result.output
    assert (read_layer(out / "dwelltime.gpkg", "detections")["image"].str.contains("good")).all()


def test_an_empty_file_is_named_as_empty(tmp_path, tiny_weights):
    (tmp_path / "cut_20230731T023512.tif").write_bytes(b"")
    result = CliRunner().invoke(
        main, ["-q", "detect", str(tmp_path), "--weights", str(tiny_weights)]
    )
    assert result.exit_code == 1
    assert "cut_20230731T023512.tif: is empty (0 bytes)" in result.output


def test_a_device_or_precision_this_machine_cannot_honour_is_one_line(tmp_path, tiny_weights):
    png = tmp_path / "apron.png"
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(png)
    args = ["-q", "detect", str(png), "--gsd", "0.5", "--weights", str(tiny_weights)]
    unknown = CliRunner().invoke(main, [*args, "--device", "gpu0", "--out", str(tmp_path / "a")])
    assert unknown.exit_code == 1 and "Error: device 'gpu0':" in unknown.output
    assert "Traceback" not in unknown.output
    # the tiny weights carry no int8 calibration
    int8 = CliRunner().invoke(main, [*args, "--precision", "int8", "--out", str(tmp_path / "b")])
    assert int8.exit_code == 1
    assert "Error: precision int8: the weights carry no int8 calibration" in int8.output


def test_geojson_leaves_out_the_pixel_layer_with_a_warning(tmp_path, tiny_weights, caplog):
    """A folder of a plain image and a GeoTIFF asked for GeoJSON: the map layer is written
    in every format, the pixel layer (no CRS: no lon/lat) in all but GeoJSON, and one
    warning says why; no traceback."""
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(tmp_path / "apron.png")
    with rasterio.open(
        tmp_path / "scene.tif", "w", driver="GTiff", width=96, height=96, count=3,
        dtype="uint8", crs="EPSG:32651", transform=from_origin(350000, 4340000, 0.5, 0.5),
    ) as ds:  # fmt: skip
        ds.write(np.full((3, 96, 96), 120, np.uint8))
    out = tmp_path / "out"
    args = ["-q", "detect", str(tmp_path), "--gsd", "0.5", "--weights", str(tiny_weights)]
    formats = ["--format", "geojson", "--format", "csv"]
    result = CliRunner().invoke(main, [*args, "--tile-size", "64", *formats, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert {p.name for p in out.glob("detections*")} == {
        "detections.geojson", "detections.csv", "detections.schema.json",
        "detections_pixels.csv", "detections_pixels.schema.json",
    }  # fmt: skip
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and "'detections_pixels'" in warned[0] and "lon/lat" in warned[0]


def test_an_image_off_the_airport_is_skipped_with_a_warning(
    tmp_path, tiny_weights, write_raster, caplog
):
    """A GeoTIFF some 380 km west of Sunan with --airport ZKPY: the warning of ``run`` says
    how far it is, the image is skipped; no empty pixel-frame layer, no 'pixels' line."""
    far = write_raster(tmp_path / "far.tif", origin=(350000, 4340000), shape=(96, 96))
    args = ["-q", "detect", str(far), "--airport", "ZKPY", "--weights", str(tiny_weights)]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 1  # no usable image
    assert "far.tif: does not overlap the aprons of ZKPY" in result.output
    assert "pixels" not in result.output
    assert not (tmp_path / "out").exists()
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and "km from them" in warned[0]


def test_an_earlier_runs_out_folder_is_refused_before_any_detection(tmp_path, tiny_weights):
    out = tmp_path / "out"
    out.mkdir()
    (out / "run.json").write_text("{}")
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    args = ["-q", "detect", str(notes), "--weights", str(tiny_weights), "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()  # not "skipped notes.txt" then "no usable image"
    assert "run.json already exists; pass --overwrite" in line


def test_an_unknown_airport_is_a_usage_error_before_any_image(tmp_path, write_raster):
    images = [write_raster(tmp_path / f"scene_{i}.tif") for i in range(2)]
    result = CliRunner().invoke(main, ["-q", "detect", *map(str, images), "--airport", "QQQQ"])
    assert result.exit_code == 2  # not one "skipped" line per image, then exit 1
    assert "Invalid value for '--airport': unknown airport code 'QQQQ'" in result.stderr
    assert "skipped" not in result.stderr


def test_strict_fails_when_an_input_could_not_be_used(tmp_path, tiny_weights):
    png = tmp_path / "apron.png"
    Image.fromarray(np.full((100, 120, 3), 90, np.uint8)).save(png)
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    args = ["-q", "detect", str(png), str(tmp_path / "broken.jpg"), "--gsd", "0.5"]
    args += ["--weights", str(tiny_weights), "--tile-size", "64"]
    assert CliRunner().invoke(main, args).exit_code == 0  # one image was read
    strict = CliRunner().invoke(main, [*args, "--strict"])
    assert strict.exit_code == 1
    assert "1 input(s) could not be used (--strict)" in strict.stderr


def test_an_image_coarser_than_5_m_is_detected_with_a_warning(tmp_path, tiny_weights, caplog):
    png = tmp_path / "s2.png"
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(png)
    args = ["-q", "detect", str(png), "--weights", str(tiny_weights), "--tile-size", "64"]
    with caplog.at_level(logging.WARNING, logger="dwelltime"):
        fine = CliRunner().invoke(main, [*args, "--gsd", "3"])
        assert fine.exit_code == 0, fine.output
        assert "unreliable" not in caplog.text
        coarse = CliRunner().invoke(main, [*args, "--gsd", "10"])
    assert coarse.exit_code == 0, coarse.output
    assert "s2.png: GSD 10.0 m is coarser than the 5 m at which aircraft still show" in caplog.text
    assert "unreliable" in caplog.text


def test_a_plain_image_past_pils_pixel_limit_is_read(tmp_path, tiny_weights, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # stands for PIL's 179 Mpx
    png = tmp_path / "pleiades_pan.png"
    Image.fromarray(np.full((100, 120, 3), 90, np.uint8)).save(png)
    args = ["-q", "detect", str(png), "--weights", str(tiny_weights), "--tile-size", "64"]
    result = CliRunner().invoke(main, [*args, "--gsd", "0.5"])
    assert result.exit_code == 0, result.output
    assert "pleiades_pan.png: " in result.output


def test_an_image_across_the_antimeridian_is_detected_in_its_own_utm_zone(tmp_path, tiny_weights):
    """Its footprint has parts by +180° and by -180°, whose centroid is near 0°: the image was
    tiled in UTM zone 31, at 180° from that zone's meridian, where metres are nonsense."""
    from pyproj import Transformer

    x, y = Transformer.from_crs(4326, 32760, always_xy=True).transform(180.0, -16.0)
    tif = tmp_path / "fiji_20260731T030000.tif"
    with rasterio.open(
        tif, "w", driver="GTiff", width=96, height=96, count=3, dtype="uint8",
        crs="EPSG:32760", transform=from_origin(x - 24, y + 24, 0.5, 0.5),
    ) as ds:  # fmt: skip
        ds.write(np.full((3, 96, 96), 120, np.uint8))
    out = tmp_path / "out"
    args = ["detect", str(tif), "--weights", str(tiny_weights), "--tile-size", "64", "--out"]
    result = CliRunner().invoke(main, ["-q", *args, str(out)])
    assert result.exit_code == 0, result.output
    (line,) = [text for text in result.output.splitlines() if "aircraft; footprints in" in text]
    assert line.endswith(("footprints in EPSG:32760", "footprints in EPSG:32701")), line  # 180°


def test_detect_searches_the_aprons_given(tmp_path, tiny_weights, write_raster):
    """``detect --airport`` searched only the 3 km square and had no ``--aprons``, though its
    log said 'give --aprons FILE': aprons beside the image now leave it unused; a bad apron
    file is one error before any work, and --aprons needs --airport."""
    import geopandas as gpd
    import shapely

    image = write_raster(tmp_path / "zkpy.tif", shape=(96, 96))
    with rasterio.open(image) as ds:
        right, top = ds.bounds.right, ds.bounds.top
    aprons = tmp_path / "aprons.geojson"
    beside = shapely.box(right + 100, top - 48, right + 200, top)
    gpd.GeoDataFrame({"name": ["A"]}, geometry=[beside], crs=32651).to_file(aprons)
    args = ["-q", "detect", str(image), "--weights", str(tiny_weights), "--airport", "zkpy"]
    assert CliRunner().invoke(main, args).exit_code == 0  # in the default square
    missed = CliRunner().invoke(main, [*args, "--aprons", str(aprons)])
    assert missed.exit_code == 1
    assert "zkpy.tif: does not overlap the aprons of ZKPY" in missed.output
    (tmp_path / "bad.geojson").write_text("{ not json")
    bad = CliRunner().invoke(main, [*args, "--aprons", str(tmp_path / "bad.geojson")])
    assert bad.exit_code == 1 and "bad.geojson: cannot read apron file" in bad.output
    assert "Traceback" not in bad.output
    alone = CliRunner().invoke(main, ["detect", str(image), "--aprons", str(aprons)])
    assert alone.exit_code == 2 and "--aprons needs --airport" in alone.output
    unknown = CliRunner().invoke(main, [*args[:-1], "ZKPQ"])
    assert unknown.exit_code == 2 and "did you mean ZKPY/FNJ" in unknown.output


def test_ctrl_c_writes_the_images_finished_and_exits_130(tmp_path, tiny_weights, monkeypatch):
    """Ctrl-C in the second of three images: the first one's detections are written, run.json
    says the run was interrupted and which images are done and left, one line says so."""
    import dwelltime.detector.predict as predict
    from dwelltime.cli import INTERRUPTED
    from dwelltime.io import read_layer

    real = predict.Detector.predict

    def stopped_on_a_bright_tile(self, images):
        if any(float(np.asarray(im).mean()) > 50 for im in images):
            raise KeyboardInterrupt
        return real(self, images)

    monkeypatch.setattr(predict.Detector, "predict", stopped_on_a_bright_tile)
    for name, value in (("a.png", 0), ("b.png", 200), ("c.png", 0)):
        Image.fromarray(np.full((64, 64, 3), value, np.uint8)).save(tmp_path / name)
    out = tmp_path / "out"
    args = ["-q", "detect", "--gsd", "0.5", "--weights", str(tiny_weights), "--tile-size", "64"]
    result = CliRunner().invoke(main, [*args, str(tmp_path), "--out", str(out)])
    assert result.exit_code == INTERRUPTED, result.output
    assert "Traceback" not in result.output
    assert result.stderr.splitlines()[-1] == (
        f"dwelltime detect: interrupted; the 1 image(s) finished are written to {out}; its "
        "run.json lists them and the 2 not detected; the same command with --overwrite "
        "detects only those"
    )
    assert len(read_layer(out / "dwelltime.gpkg", "detections_pixels")) == 0  # a: no aircraft
    made = json.loads((out / "run.json").read_text())
    assert made["interrupted"] is True
    assert made["images"] == [str((tmp_path / "a.png").resolve())]
    assert made["images_left"] == [str((tmp_path / n).resolve()) for n in ("b.png", "c.png")]

    alone = CliRunner().invoke(main, [*args, str(tmp_path / "b.png")])  # nothing finished
    assert alone.exit_code == INTERRUPTED
    assert alone.stderr.splitlines()[-1].endswith("no image was finished, so nothing is written")


def test_run_json_records_the_gsd_airport_and_aprons_given(tmp_path, tiny_weights, write_raster):
    """``--gsd``, ``--airport`` and ``--aprons`` are in run.json's inputs (None when not given),
    so ``evaluate --detections`` need not ask for the GSD again."""
    import geopandas as gpd
    import shapely

    png = tmp_path / "apron.png"
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(png)
    args = ["-q", "detect", "--weights", str(tiny_weights), "--tile-size", "64"]
    plain = CliRunner().invoke(
        main, [*args, str(png), "--gsd", "0.5", "--out", str(tmp_path / "p")]
    )
    assert plain.exit_code == 0, plain.output
    made = json.loads((tmp_path / "p" / "run.json").read_text())
    assert made["inputs"] == {"airport": None, "aprons": None, "gsd_m": 0.5}

    image = write_raster(tmp_path / "zkpy.tif", shape=(96, 96))
    with rasterio.open(image) as ds:
        over = shapely.box(*ds.bounds)
    aprons = tmp_path / "aprons.geojson"
    gpd.GeoDataFrame({"name": ["A"]}, geometry=[over], crs=32651).to_file(aprons)
    at = [str(image), "--airport", "zkpy", "--aprons", str(aprons), "--out", str(tmp_path / "a")]
    mapped = CliRunner().invoke(main, [*args, *at])
    assert mapped.exit_code == 0, mapped.output
    inputs = json.loads((tmp_path / "a" / "run.json").read_text())["inputs"]
    assert inputs["airport"] == "ZKPY" and inputs["gsd_m"] is None
    assert inputs["aprons"]["path"] == str(aprons.resolve()) and inputs["apron_set"]["count"] == 1


def test_aprons_layer_names_the_layer_of_a_file_of_several(tmp_path, tiny_weights, write_raster):
    """A file of several polygon layers none named like apron could not be used from the CLI
    (the error asked to rename the layer or extract it with ogr2ogr): --aprons-layer names
    it, and run.json records it; a layer the file lacks is one line listing its layers."""
    import geopandas as gpd
    import shapely

    image = write_raster(tmp_path / "zkpy.tif", shape=(96, 96))
    with rasterio.open(image) as ds:
        over = shapely.box(*ds.bounds)
    aprons = tmp_path / "airfield.gpkg"
    for layer in ("stands", "parking"):
        gpd.GeoDataFrame({"name": [layer]}, geometry=[over], crs=32651).to_file(aprons, layer=layer)
    args = ["-q", "detect", "--weights", str(tiny_weights), "--tile-size", "64", str(image)]
    at = [*args, "--airport", "ZKPY", "--aprons", str(aprons), "--out", str(tmp_path / "a")]
    named = CliRunner().invoke(main, [*at, "--aprons-layer", "parking"])
    assert named.exit_code == 0, named.output
    inputs = json.loads((tmp_path / "a" / "run.json").read_text())["inputs"]
    assert inputs["aprons"]["path"] == str(aprons.resolve())
    assert inputs["apron_set"]["layer"] == "parking"

    lacking = CliRunner().invoke(main, [*at, "--aprons-layer", "hangars", "--overwrite"])
    assert lacking.exit_code == 1 and "Traceback" not in lacking.output
    assert f"{aprons}: no layer 'hangars'; its layers: stands (Polygon), parking (Polygon)" in (
        lacking.stderr
    )
    alone = CliRunner().invoke(main, [*args, "--airport", "ZKPY", "--aprons-layer", "parking"])
    assert alone.exit_code == 2
    assert "--aprons-layer needs --aprons" in alone.stderr


def test_a_line_per_image_is_logged_where_no_bar_is_drawn(tmp_path, tiny_weights, caplog):
    """stderr no terminal (a log file): no bar, so each image done is logged in one line (an
    info line: none on the console with -q), as batch.log has one per scene."""
    for name in ("a.png", "b.png"):
        Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(tmp_path / name)
    args = ["detect", str(tmp_path), "--gsd", "0.5", "--weights", str(tiny_weights)]
    with caplog.at_level(logging.INFO, logger="dwelltime"):
        result = CliRunner().invoke(main, [*args, "--tile-size", "64"])
    assert result.exit_code == 0, result.output
    done = [r.getMessage() for r in caplog.records if " done, " in r.getMessage()]
    assert len(done) == 2, caplog.text
    assert done[0].startswith(f"{tmp_path / 'a.png'} done, 1 tiles in ")
    assert done[0].endswith(" s (1 of 2 images)") and done[1].endswith(" s (2 of 2 images)")


def test_an_unexpected_failure_in_one_image_skips_it_and_keeps_the_others(
    tmp_path, tiny_weights, monkeypatch
):
    """A failure that is no dwelltime error (the device out of memory on the second of three
    images) is one line naming the image, as ``run`` names a scene's; the other two are
    written, no traceback."""
    import dwelltime.detector.predict as predict

    real = predict.Detector.predict

    def out_of_memory_on_a_bright_tile(self, images):
        if any(float(np.asarray(im).mean()) > 50 for im in images):
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(self, images)

    monkeypatch.setattr(predict.Detector, "predict", out_of_memory_on_a_bright_tile)
    for name, value in (("a.png", 0), ("b.png", 200), ("c.png", 0)):
        Image.fromarray(np.full((64, 64, 3), value, np.uint8)).save(tmp_path / name)
    out = tmp_path / "out"
    args = ["-q", "detect", str(tmp_path), "--gsd", "0.5", "--weights", str(tiny_weights)]
    result = CliRunner().invoke(main, [*args, "--tile-size", "64", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert (
        f"skipped {tmp_path / 'b.png'}: RuntimeError: CUDA out of memory. Tried to allocate"
    ) in result.stderr
    assert "0 aircraft in 2 image(s), 1 skipped" in result.output
    made = json.loads((out / "run.json").read_text())
    assert made["images"] == [str((tmp_path / n).resolve()) for n in ("a.png", "c.png")]


def test_overwrite_drops_an_earlier_outputs_other_layers(tmp_path, tiny_weights, write_raster):
    """A GeoTIFF detected into out/, then a plain image into it with --overwrite: the earlier
    'detections' layer and files went on beside the new run.json, which did not describe
    them (and ``evaluate --detections`` would score them); now they are dropped."""
    from dwelltime.io import layer_names

    tif = write_raster(tmp_path / "s.tif", shape=(96, 96))
    png = tmp_path / "p.png"
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(png)
    out = tmp_path / "out"
    args = ["-q", "detect", "--weights", str(tiny_weights), "--tile-size", "64", "--out", str(out)]
    assert CliRunner().invoke(main, [*args, str(tif)]).exit_code == 0
    again = CliRunner().invoke(main, [*args, str(png), "--gsd", "0.5", "--overwrite"])
    assert again.exit_code == 0, again.output
    assert layer_names(out / "dwelltime.gpkg") == ["detections_pixels"]
    assert not (out / "detections.csv").exists()


def test_ctrl_c_between_two_images_writes_the_images_finished(tmp_path, tiny_weights, monkeypatch):
    """Ctrl-C while the line of the first of two images is printed (outside the detection):
    that image is written and listed done in run.json, the second listed left, exit 130; the
    same command with --overwrite then detects the second only."""
    import dwelltime.cli.detect as command
    from dwelltime.cli import INTERRUPTED

    def stopped(path, frame):
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "_echo_done", stopped)
    for name in ("a.png", "b.png"):
        Image.fromarray(np.full((64, 64, 3), 0, np.uint8)).save(tmp_path / name)
    out = tmp_path / "out"
    args = ["-q", "detect", "--gsd", "0.5", "--weights", str(tiny_weights), "--tile-size", "64"]
    result = CliRunner().invoke(main, [*args, str(tmp_path), "--out", str(out)])
    assert result.exit_code == INTERRUPTED, result.output
    assert result.stderr.splitlines()[-1].endswith(
        f"the 1 image(s) finished are written to {out}; its run.json lists them and the 1 not "
        "detected; the same command with --overwrite detects only those"
    )
    made = json.loads((out / "run.json").read_text())
    assert made["images"] == [str((tmp_path / "a.png").resolve())]
    assert made["images_left"] == [str((tmp_path / "b.png").resolve())]

    import dwelltime.detector.images as images  # the same command with --overwrite: a is kept

    monkeypatch.undo()
    detected: list[str] = []
    real = images.detect_image
    monkeypatch.setattr(
        images, "detect_image", lambda p, *a, **k: detected.append(p.name) or real(p, *a, **k)
    )
    again = CliRunner().invoke(main, [*args, str(tmp_path), "--out", str(out), "--overwrite"])
    assert again.exit_code == 0, again.output
    assert detected == ["b.png"]
    made = json.loads((out / "run.json").read_text())
    assert made["images"] == [str((tmp_path / n).resolve()) for n in ("a.png", "b.png")]
    assert not made["interrupted"] and not (out / "parts").exists()


def test_the_bar_counts_the_tiles_up_front_and_drops_those_of_an_image_skipped(
    tmp_path, tiny_weights, write_raster, monkeypatch
):
    """The bar's total is every image's tiles, counted from the headers before any is read
    (a GeoTIFF's windows, a plain image's from its size and --gsd), so it can show an
    estimate; the tiles of an image that fails are taken off it, so it ends at the count."""
    import dwelltime.cli.progress as progress
    import dwelltime.detector.predict as predict

    bars = []
    real_bar, real_predict = progress.progress_bar, predict.Detector.predict

    def recorded(ctx, **kwargs):
        bars.append((kwargs["total"], real_bar(ctx, **kwargs)))
        return bars[-1][1]

    def fails_on_a_bright_tile(self, images):
        if any(float(np.asarray(im).mean()) > 50 for im in images):
            raise RuntimeError("CUDA out of memory")
        return real_predict(self, images)

    monkeypatch.setattr(progress, "progress_bar", recorded)
    monkeypatch.setattr(predict.Detector, "predict", fails_on_a_bright_tile)
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "a.png")  # 1 tile
    Image.fromarray(np.zeros((64, 160, 3), np.uint8)).save(tmp_path / "b.png")  # 3 tiles
    Image.fromarray(np.full((64, 112, 3), 200, np.uint8)).save(tmp_path / "c.png")  # 2, fails
    dark = np.zeros((3, 96, 96), np.uint8)
    write_raster(tmp_path / "d.tif", shape=(96, 96), gsd=0.5, data=dark)  # 48 m: 4 tiles of 32
    (tmp_path / "e.png").write_bytes(b"not an image")  # none
    args = ["-q", "detect", str(tmp_path), "--gsd", "0.5", "--weights", str(tiny_weights)]
    result = CliRunner().invoke(main, [*args, "--tile-size", "64"])
    assert result.exit_code == 0, result.output
    assert "2 skipped" in result.output
    ((first, bar),) = bars
    assert first == 1 + 3 + 2 + 4
    assert bar.total == 1 + 3 + 4  # c's 2 dropped


@pytest.mark.parametrize("spoilt", ["read-only", "a file"])
def test_an_out_folder_spoilt_during_the_run_gets_the_detections_written_elsewhere(
    tmp_path, tiny_weights, monkeypatch, spoilt
):
    """--out made read-only (or replaced by a file) while the images are detected: nothing is
    lost; the detections and run.json go to a temporary folder that one line names, after
    saying why --out could not take them, exit 1."""
    import dwelltime.cli.detect as command

    if spoilt == "read-only" and os.geteuid() == 0:
        pytest.skip("chmod does not stop root writing")
    out = tmp_path / "out"
    out.mkdir()
    echo = command._echo_done

    def spoil_then_echo(path, frame):
        if spoilt == "read-only":
            out.chmod(0o555)
        else:
            shutil.rmtree(out)  # with the image's detections kept in out/parts/
            out.write_text("")
        echo(path, frame)

    monkeypatch.setattr(command, "_echo_done", spoil_then_echo)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    png = tmp_path / "a.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(png)
    args = ["-q", "detect", str(png), "--gsd", "0.5", "--weights", str(tiny_weights)]
    try:
        result = CliRunner().invoke(main, [*args, "--tile-size", "64", "--out", str(out)])
    finally:
        if out.is_dir():
            out.chmod(0o755)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    (fallback,) = (tmp_path / "tmp").iterdir()
    assert result.stderr.splitlines()[-1] == (
        f"Error: {out}: cannot write output there "
        f"({'Permission denied' if spoilt == 'read-only' else f'{out} is a file'}); the "
        f"detections of the 1 image(s) are written to {fallback} instead"
    )
    assert json.loads((fallback / "run.json").read_text())["images"] == [str(png.resolve())]
    assert (fallback / "dwelltime.gpkg").exists()


def test_an_images_line_is_printed_on_a_line_of_its_own_under_the_bar(
    tmp_path, tiny_weights, monkeypatch
):
    """Where the bar is drawn (a terminal), it is wiped before an image's line or a skipped
    line is printed and redrawn after, so neither is glued to the end of the bar."""
    from tqdm import tqdm

    import dwelltime.cli.progress as progress

    monkeypatch.setattr(progress, "progress_bar", lambda ctx, **kwargs: tqdm(**kwargs))
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"not an image")
    args = ["detect", str(tmp_path), "--gsd", "0.5", "--weights", str(tiny_weights)]
    result = CliRunner().invoke(main, [*args, "--tile-size", "64"])
    assert result.exit_code == 0, result.output
    assert "tile/s]" in result.output  # the bar was drawn
    for line in (f"{tmp_path / 'a.png'}: 0 aircraft", f"skipped {tmp_path / 'b.png'}: "):
        before = result.output[: result.output.index(line)]
        assert before.endswith(("\r", "\n")), repr(before[-80:])


def test_counting_the_tiles_says_an_images_warnings_no_second_time(
    tmp_path, tiny_weights, write_raster, caplog
):
    """The tiles are counted up front from each image's header, which warns of what the
    detection warns of again (zeros along its edges, no nodata declared): said once."""
    image = write_raster(tmp_path / "g.tif", shape=(96, 96), data=np.zeros((3, 96, 96), np.uint8))
    args = ["-q", "detect", str(image), "--weights", str(tiny_weights), "--tile-size", "64"]
    with caplog.at_level(logging.WARNING):
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    said = [r.getMessage() for r in caplog.records if "no nodata is declared" in r.getMessage()]
    assert len(said) == 1, said


def test_a_killed_detect_keeps_the_images_finished_and_a_rerun_detects_only_the_others(
    tmp_path, tiny_weights, write_raster, monkeypatch, hang_after_first_commit
):
    """Killed (SIGKILL: the OOM killer, a lost SSH session) after its first image: it wrote
    nothing, so every image was detected again. Now each image finished is kept in
    out/parts/ as it is done; the same command started again detects only the others and
    writes what a run never stopped writes; parts/ is then removed."""
    import dwelltime.detector.images as images
    from dwelltime.io import layer_names, read_layer

    folder = tmp_path / "in"
    write_raster(folder / "a.tif", shape=(96, 96))
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(folder / "b.png")
    Image.fromarray(np.full((64, 96, 3), 90, np.uint8)).save(folder / "c.png")
    args = ["-q", "detect", str(folder), "--gsd", "0.5", "--weights", str(tiny_weights)]
    args += ["--tile-size", "64"]
    out, parts = tmp_path / "out", tmp_path / "out" / "parts"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dwelltime", *args, "--out", str(out)],
        env=hang_after_first_commit(tmp_path / "hook"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not list(parts.glob("*.done")) and proc.poll() is None:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "detect ended before it was killed"
    assert [p.name for p in parts.glob("*.done")] == ["a.done"]
    assert not (out / "run.json").exists()

    detected: list[str] = []
    real = images.detect_image
    monkeypatch.setattr(
        images, "detect_image", lambda p, *a, **k: detected.append(p.name) or real(p, *a, **k)
    )
    again = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert detected == ["b.png", "c.png"]
    assert not parts.exists()
    made = json.loads((out / "run.json").read_text())
    assert made["images"] == [str((folder / n).resolve()) for n in ("a.tif", "b.png", "c.png")]
    fresh = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "fresh")])
    assert fresh.exit_code == 0, fresh.output
    assert layer_names(out / "dwelltime.gpkg") == ["detections", "detections_pixels"]
    for layer in layer_names(out / "dwelltime.gpkg"):
        pd.testing.assert_frame_equal(
            read_layer(out / "dwelltime.gpkg", layer),
            read_layer(tmp_path / "fresh" / "dwelltime.gpkg", layer),
        )


def test_each_georeferenced_images_header_is_read_once(
    tmp_path, tiny_weights, write_raster, monkeypatch
):
    """Counting the tiles up front read each GeoTIFF (header and footprint: 6 s for a 16000²
    one) and detecting it read it again; now the scene read for the count is detected."""
    import dwelltime.scenes as scenes

    read: list[str] = []
    real = scenes.read_scene
    monkeypatch.setattr(scenes, "read_scene", lambda p, **k: read.append(p.name) or real(p, **k))
    for name in ("a.tif", "b.tif"):
        write_raster(tmp_path / name, shape=(96, 96))
    args = ["-q", "detect", str(tmp_path), "--weights", str(tiny_weights), "--tile-size", "64"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert read == ["a.tif", "b.tif"]


def test_an_image_whose_world_file_changed_since_it_was_kept_is_detected_again(
    tmp_path, tiny_weights, write_raster, monkeypatch
):
    """Stopped after two of three images were kept, then the world file of one corrected:
    started again, that image is detected again (its detections kept would lie where the old
    world file put them), the other is reused."""
    from pyproj import CRS as ProjCRS

    import dwelltime.cli.detect as command
    import dwelltime.detector.images as images

    png = write_raster(tmp_path / "a.png", driver="PNG", crs=None, shape=(96, 96))
    png.with_name("a.png.aux.xml").unlink()  # placed by its world file and .prj alone
    png.with_suffix(".pgw").write_text("0.5\n0\n0\n-0.5\n730485.78\n4345043.01\n")
    png.with_suffix(".prj").write_text(ProjCRS.from_epsg(32651).to_wkt("WKT1_ESRI"))
    for name in ("b.tif", "c.tif"):
        write_raster(tmp_path / name, shape=(96, 96))
    echoed: list[str] = []
    echo = command._echo_done

    def stopped_at_the_second(path, frame):
        echoed.append(path.name)
        if len(echoed) == 2:  # a and b kept by now
            raise KeyboardInterrupt
        echo(path, frame)

    monkeypatch.setattr(command, "_echo_done", stopped_at_the_second)
    out = tmp_path / "out"
    args = ["-q", "detect", *(str(tmp_path / n) for n in ("a.png", "b.tif", "c.tif"))]
    args += ["--out", str(out), "--weights", str(tiny_weights), "--tile-size", "64"]
    stopped = CliRunner().invoke(main, args)
    assert stopped.exit_code == 130, stopped.output
    assert sorted(p.name for p in (out / "parts").glob("*.done")) == ["a.done", "b.done"]

    monkeypatch.undo()
    png.with_suffix(".pgw").write_text("0.5\n0\n0\n-0.5\n730495.78\n4345043.01\n")  # 10 m east
    detected: list[str] = []
    real = images.detect_image
    monkeypatch.setattr(
        images, "detect_image", lambda p, *a, **k: detected.append(p.name) or real(p, *a, **k)
    )
    again = CliRunner().invoke(main, [*args, "--overwrite"])
    assert again.exit_code == 0, again.output
    assert detected == ["a.png", "c.tif"]
