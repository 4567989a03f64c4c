import json

import numpy as np
import pytest

from dwelltime.errors import LabelError, SceneError
from dwelltime.evaluation.dataset import coarse_copy, image_info, load_truth
from dwelltime.evaluation.labels import LabelledImage
from dwelltime.regrid import read_rgb


def test_georeferenced_gsd_wins_over_the_given_one(tmp_path, write_raster):
    info = image_info(write_raster(tmp_path / "a.tif", gsd=0.3), gsd_m=2.0)
    assert info.gsd_m == pytest.approx(0.3) and info.crs is not None


@pytest.mark.filterwarnings("error:Use .@. matmul:PendingDeprecationWarning:dwelltime")
def test_an_image_whose_pixels_are_not_square_on_the_ground_is_refused(tmp_path, write_raster):
    """A lon/lat image at 39° N: its pixels are 0.39 m east-west, 0.50 m north-south, so
    aircraft measured in its pixels with one GSD were 22 % off in one direction."""
    lonlat = write_raster(tmp_path / "geo.tif", crs="EPSG:4326", origin=(125.6, 39.3), gsd=4.5e-6)
    expected = r"geo.tif: its pixels are 0.39 m × 0.50 m on the ground \(EPSG:4326 at latitude "
    expected += r"39.3°\), not square.*gdalwarp -t_srs EPSG:32651 -tr 0.44 0.44 .*geo.tif geo_utm"
    with pytest.raises(SceneError, match=expected):
        image_info(lonlat)
    mercator = write_raster(
        tmp_path / "merc.tif", crs="EPSG:3857", origin=(1.39e7, 4.75e6), gsd=0.6
    )
    assert image_info(mercator).gsd_m == pytest.approx(0.6 * np.cos(np.radians(39.1)), rel=0.01)


def test_plain_image_takes_the_given_gsd_or_none(tmp_path, write_raster):
    path = write_raster(tmp_path / "a.tif", crs=None)
    assert image_info(path, gsd_m=0.5).gsd_m == 0.5 and image_info(path).crs is None
    assert np.isnan(image_info(path).gsd_m)


def test_a_dota_gsd_header_wins_over_the_given_gsd(tmp_path, write_raster):
    """--gsd is for images with neither georeference nor a gsd: line; DOTA images each have
    their own, and the raster's own GSD wins over both."""
    plain = write_raster(tmp_path / "plain" / "a.png", crs=None, driver="PNG")
    geo = write_raster(tmp_path / "geo" / "a.tif", gsd=0.3)
    for folder in ("plain", "geo"):
        (tmp_path / folder / "a.txt").write_text("gsd:0.2\n0 0 40 0 40 20 0 20 plane 0\n")
    (tmp_path / "plain" / "b.txt").write_text("0 0 40 0 40 20 0 20 plane 0\n")

    def gsd(image, label):
        item = LabelledImage(image, image.parent / label, "dota")
        return load_truth(item, image_info(image, gsd_m=0.5), {})[1]

    assert gsd(plain, "a.txt") == 0.2 and gsd(plain, "b.txt") == 0.5
    assert gsd(geo, "a.txt") == pytest.approx(0.3)


def test_an_unreadable_airbus_row_spoils_only_its_image(tmp_path, write_raster):
    """One bad line of an annotations.csv (1,565 rows for 49 images) is one image's problem,
    named with its line, not every image's."""
    csv = tmp_path / "annotations.csv"
    csv.write_text(
        "id,image_id,geometry,class\n"
        '1,a.png,"[(1 2), (9, 2), (9, 8), (1, 8), (1, 2)]",Airplane\n'
        '2,b.png,"[(1, 2), (9, 2), (9, 8), (1, 8), (1, 2)]",Airplane\n'
    )
    cache: dict = {}

    def truth(name):
        image = write_raster(tmp_path / name, crs=None, driver="PNG")
        return load_truth(LabelledImage(image, csv, "airbus_csv"), image_info(image), cache)[0]

    assert np.allclose(truth("b.png").polygons, [[[1, 2], [9, 2], [9, 8], [1, 8]]])
    with pytest.raises(LabelError, match=r"line 2: unreadable geometry of a\.png"):
        truth("a.png")


def test_read_rgb_repeats_one_band_and_stretches_uint16(tmp_path, write_raster):
    grey = read_rgb(write_raster(tmp_path / "g.tif", count=1))
    assert grey.shape == (3, 64, 64) and grey.dtype == np.uint8
    assert np.array_equal(grey[0], grey[2])
    wide = read_rgb(write_raster(tmp_path / "w.tif", dtype="uint16"))
    assert wide.dtype == np.uint8 and wide.min() == 0 and wide.max() == 255


def test_read_rgb_reads_a_planet_scene_as_run_does(tmp_path, write_raster):
    """A PlanetScope 4-band BGRN uint16 scene, nodata 0 along one edge: red first (band 3),
    as tiles are made, and the stretch of the valid pixels only (not pulled down by the fill)."""
    data = np.zeros((4, 64, 64), np.uint16)
    for band, value in enumerate((1000, 2000, 3000, 4000)):  # blue, green, red, NIR
        data[band, :, 8:] = value + np.arange(56, dtype=np.uint16)
    name = "20230801_183000_00_2429_3B_AnalyticMS_SR.tif"
    rgb = read_rgb(write_raster(tmp_path / name, count=4, dtype="uint16", nodata=0, data=data))
    assert rgb[0, 0, 8:].mean() > rgb[2, 0, 8:].mean()  # red is band 3, brighter than blue
    assert rgb[:, :, 8:].min() == 0 and rgb[:, :, 8:].max() == 255


def test_unreadable_image_and_geojson_without_georeference(tmp_path, write_raster):
    (tmp_path / "bad.tif").write_bytes(b"not an image")
    with pytest.raises(SceneError, match=r"bad\.tif"):
        image_info(tmp_path / "bad.tif")
    path = write_raster(tmp_path / "a.tif", crs=None)
    item = LabelledImage(path, tmp_path / "a.geojson", "geojson")
    with pytest.raises(LabelError, match="need a georeferenced image"):
        load_truth(item, image_info(path), {})


@pytest.mark.parametrize(
    "ring",
    [
        [[4, 5], [44, 5], [44, 21], [4, 21], [4, 5]],
        [[4, 95], [44, 95], [44, 111], [4, 111], [4, 95]],
    ],
)
def test_labels_that_miss_the_image_are_named(tmp_path, write_raster, ring):
    """Pixel coordinates in a GeoJSON (read as lon/lat, or off the globe) land nowhere near the
    image: one LabelError naming the file, not every aircraft silently missed."""
    path = write_raster(tmp_path / "a.tif", shape=(64, 64))
    feature = {"type": "Feature", "properties": {}}
    feature["geometry"] = {"type": "Polygon", "coordinates": [ring]}
    (tmp_path / "a.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": [feature]})
    )
    item = LabelledImage(path, tmp_path / "a.geojson", "geojson")
    with pytest.raises(LabelError, match=r"a\.geojson: none of its 1 aircraft lies on a\.tif"):
        load_truth(item, image_info(path), {})
    (tmp_path / "a.txt").write_text("-10 2 6 2 6 12 -10 12 plane 0\n")  # cut by the edge
    truth, _ = load_truth(LabelledImage(path, tmp_path / "a.txt", "dota"), image_info(path), {})
    assert len(truth) == 1


def test_coarse_copy_keeps_bands_first_and_scales_pixels():
    rgb = np.zeros((3, 60, 120), np.uint8)
    rgb[0, 24:36, 48:72] = 255  # a red square 12 × 24 px at 0.5 m
    out = coarse_copy(rgb, 0.5, 2.0)
    assert out.shape == (3, 15, 30) and out.flags["C_CONTIGUOUS"]
    rows, cols = np.nonzero(out[0] > 127)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (6, 8, 12, 17)  # × 0.25
    assert out[1:].max() < 10


def test_saved_detections_need_their_columns_and_the_labelled_images():
    import pandas as pd

    from dwelltime.errors import DetectionsError
    from dwelltime.evaluation.dataset import SAVED_DETECTION_COLUMNS, check_saved_detections

    frame = pd.DataFrame({c: [] for c in SAVED_DETECTION_COLUMNS})
    check_saved_detections(frame, ["a"], "d.gpkg")  # no detections at all: scored as none
    with pytest.raises(DetectionsError, match=r"^d\.geojson: no column type, score;"):
        check_saved_detections(frame.drop(columns=["type", "score"]), ["a"], "d.geojson")
    frame = pd.DataFrame({c: ["x"] * 5 for c in SAVED_DETECTION_COLUMNS})
    frame["scene_id"] = [f"s{i}" for i in range(5)]
    with pytest.raises(DetectionsError, match=r"scene_ids s0, s1, s2, …, images a, b \("):
        check_saved_detections(frame, ["b", "a"], "d.gpkg")
    check_saved_detections(frame, ["s4", "a"], "d.gpkg")  # one image of them is enough
