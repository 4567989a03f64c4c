"""Scene series: georeferencing, provider time metadata, UDM2 masks, truth files, traffic."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
import rasterio

from dwelltime.synth import simulate_series
from dwelltime.synth.scene import SceneSpec
from dwelltime.synth.series import airport_layout
from dwelltime.synth.traffic import Visit
from dwelltime.synth.writers import TIME_SOURCES

T0 = pd.Timestamp("2023-07-29T00:00:00Z")
B2 = airport_layout("ZKPY")[1].stand("B2")
VISIT = Visit("IL62", T0 + pd.Timedelta(hours=30), T0 + pd.Timedelta(hours=66), stand_id="B2")


def _specs() -> list[SceneSpec]:
    """One coarse (fast) scene per time source; the third in EPSG:4326, the fourth cloudy."""
    specs = []
    for i, source in enumerate(TIME_SOURCES):
        specs.append(
            SceneSpec(
                stem=f"t{i}",
                acquired=T0 + pd.Timedelta(hours=20 + 12 * i, seconds=17 * i),
                time_source=source,
                crs="EPSG:4326" if i == 2 else "EPSG:32651",
                gsd_m=3.0,
                bands=4 if i % 2 else 3,
                dtype="uint16" if i % 2 else "uint8",
                cloud_cover=0.3 if i == 3 else 0.0,
                cloud_over=(B2.x, B2.y) if i == 3 else None,
                shift_m=(2.0, -1.5) if i == 1 else (0.0, 0.0),
                jpeg_quality=85 if i == 4 else None,
                nodata_corner=i == 0,
            )
        )
    return specs


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    out = tmp_path_factory.mktemp("series")
    return simulate_series(
        out,
        airport="ZKPY",
        start="2023-07-29",
        days=4,
        seed=9,
        visits=[VISIT],
        specs=_specs(),
        visitors_per_day=1.5,
        reserved=["B2"],
    )


def test_files_written(series):
    assert len(series.images) == len(TIME_SOURCES)
    assert all(p.is_file() for p in series.images)
    for image in series.images:
        assert (series.truth_dir / f"{image.stem}.geojson").is_file()
        assert (series.truth_dir / "dota" / f"{image.stem}.txt").is_file()
    assert (series.truth_dir / "stays.csv").is_file() and (
        series.truth_dir / "scenes.csv"
    ).is_file()
    import geopandas as gpd

    aprons = gpd.read_file(series.aprons_path)
    assert list(aprons["apron_id"]) == ["A", "B"] and aprons.crs.to_epsg() == 32651


def test_rasters_have_the_requested_grid_bands_and_dtype(series):
    for spec, image in zip(series.specs, series.images, strict=True):
        with rasterio.open(image) as src:
            assert src.count == spec.bands and src.dtypes[0] == spec.dtype
            assert src.crs.to_epsg() == int(spec.crs.split(":")[1])
            if spec.crs == "EPSG:32651":
                assert src.res == pytest.approx((3.0, 3.0))
            cx, cy = src.xy(src.height // 2, src.width // 2)
            if spec.crs == "EPSG:4326":
                assert cx == pytest.approx(125.67, abs=0.01) and cy == pytest.approx(
                    39.224, abs=0.01
                )
            else:
                assert cx == pytest.approx(730486, abs=50) and cy == pytest.approx(4345043, abs=50)


def test_gdal_tag_is_written_without_zone(series):
    with rasterio.open(series.images[0]) as src:
        value = src.tags()["TIFFTAG_DATETIME"]
    assert value == series.specs[0].acquired.strftime("%Y:%m:%d %H:%M:%S")


def test_sidecars_hold_the_time(series):
    stac = json.loads(series.images[1].with_suffix(".json").read_text())
    assert stac["properties"]["datetime"].startswith("2023-07-30T08:00:17")
    planet = json.loads((series.imagery_dir / "t2_metadata.json").read_text())
    assert planet["properties"]["acquired"].startswith("2023-07-30T20:00:34")
    assert "firstLineTime = 2023-07-31T08:00:51" in series.images[3].with_suffix(".IMD").read_text()
    assert "20230731T200108" in series.images[4].name


def test_every_time_source_reads_back_through_scan(series):
    scenes = pytest.importorskip("dwelltime.scenes")
    result = scenes.scan(series.imagery_dir)
    assert result.errors == []
    by_stem = {s.path.name: s for s in result.scenes}
    for spec, image in zip(series.specs, series.images, strict=True):
        scene = by_stem[image.name]
        assert scene.time_source == spec.time_source
        assert scene.acquired == spec.acquired
    cloudy = by_stem[series.images[3].name]
    assert cloudy.mask_path is not None and cloudy.mask_path.name.endswith("_udm2.tif")


def test_udm2_marks_cloud_on_the_same_grid(series):
    image = series.images[3]
    masks = sorted(series.imagery_dir.glob("*_udm2.tif"))
    assert [m.name for m in masks] == [f"{image.stem}_udm2.tif"]
    with rasterio.open(image) as src, rasterio.open(masks[0]) as udm:
        assert (udm.transform, udm.width, udm.height, udm.crs) == (
            src.transform,
            src.width,
            src.height,
            src.crs,
        )
        clear = udm.read(1)
    assert 0.05 < 1 - clear.mean() < 0.9


def _truth(series, i):
    import geopandas as gpd

    return gpd.read_file(series.truth_dir / f"{series.images[i].stem}.geojson")


def test_truth_pixels_follow_the_map_footprint(series):
    """Map footprint → pixels through the written transform, corrected for the misregistration."""
    from pyproj import Transformer

    for i, (spec, image) in enumerate(zip(series.specs, series.images, strict=True)):
        frame = _truth(series, i)
        assert len(frame) > 0
        with rasterio.open(image) as src:
            transform, crs = src.transform, src.crs
        to_scene = Transformer.from_crs(frame.crs, crs, always_xy=True)
        shift_e, shift_n = spec.shift_m
        for geom, px in zip(frame.geometry, frame["polygon_px"], strict=True):
            xy = np.asarray(geom.exterior.coords)[:4]
            x, y = to_scene.transform(xy[:, 0] + shift_e, xy[:, 1] + shift_n)
            cols, rows = ~transform @ (np.asarray(x), np.asarray(y))
            assert np.allclose(np.stack([cols, rows], 1), np.asarray(px), atol=0.05)


def test_dota_matches_geojson_and_flags_hidden(series):
    hidden_any = False
    for i, image in enumerate(series.images):
        frame = _truth(series, i)
        lines = (series.truth_dir / "dota" / f"{image.stem}.txt").read_text().splitlines()
        assert lines[0] == "gsd:3"
        body = [ln.split() for ln in lines[1:]]
        assert len(body) == len(frame)
        assert [b[8] for b in body] == list(frame["type"])
        assert [b[9] == "1" for b in body] == list(frame["hidden"])
        hidden_any |= bool(frame["hidden"].any())
    assert hidden_any  # the cloud over stand B2 hides the Il-62M


def test_stays_hold_true_times(series):
    with open(series.truth_dir / "stays.csv") as f:
        rows = list(csv.DictReader(f))
    il62 = [r for r in rows if r["type"] == "IL62"]
    assert len(il62) == 1 and il62[0]["stand_id"] == "B2"
    assert pd.Timestamp(il62[0]["arrival"]) == VISIT.arrival
    assert pd.Timestamp(il62[0]["departure"]) == VISIT.departure
    residents = [r for r in rows if r["resident"] == "True"]
    assert len(residents) == 4
    # nobody else on the reserved stand, no two aircraft on one stand at once
    for a in rows:
        for b in rows:
            if a is not b and a["stand_id"] == b["stand_id"]:
                assert a["end"] <= b["start"] or b["end"] <= a["start"]


def test_aircraft_present_only_during_their_stay(series):
    for i, spec in enumerate(series.specs):
        frame = _truth(series, i)
        present = VISIT.arrival <= spec.acquired < VISIT.departure
        assert ("IL62" in set(frame["type"])) == present


def test_random_series_spreads_the_time_sources():
    from dwelltime.synth.series import _cover_time_sources

    specs = [SceneSpec(f"s{i}", T0 + pd.Timedelta(hours=i), "gdal_tag") for i in range(7)]
    covered = _cover_time_sources(specs)
    assert {s.time_source for s in covered} == set(TIME_SOURCES)
    two = _cover_time_sources(specs[:2])  # too few scenes: as many sources as possible
    assert len({s.time_source for s in two}) == 2


def test_series_is_deterministic_from_the_seed(tmp_path):
    spec = [SceneSpec("d0", T0 + pd.Timedelta(hours=30), "gdal_tag", gsd_m=3.0, cloud_cover=0.2)]
    runs = [
        simulate_series(tmp_path / name, days=2, seed=seed, specs=spec)
        for name, seed in (("a", 5), ("b", 5), ("c", 6))
    ]
    pixels = []
    for run in runs:
        with rasterio.open(run.images[0]) as src:
            pixels.append(src.read())
    assert np.array_equal(pixels[0], pixels[1]) and not np.array_equal(pixels[0], pixels[2])
    stays = [(r.truth_dir / "stays.csv").read_text() for r in runs]
    assert stays[0] == stays[1] != stays[2]
