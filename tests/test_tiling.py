import itertools
import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from dwelltime import tiling
from dwelltime.airports import load_aprons, lookup_airport
from dwelltime.regrid import READ_CACHE_BYTES, rgb_bands
from dwelltime.scenes import read_scene
from dwelltime.schema import COVERAGE_COLUMNS
from dwelltime.tiling import (
    TileSpec,
    is_visible,
    iter_tiles,
    scene_coverage,
    scenes_over_aprons,
    tile_windows,
    visible_area,
)

X0, Y0 = 730_485.78, 4_345_043.01  # upper-left corner of the test scenes, near ZKPY (UTM 51N)
SPEC = TileSpec(gsd_m=1.0, size_px=64, overlap_px=16)
EPS = 1e-6


# --- tile_windows: pure maths -------------------------------------------------------------


def test_tilespec_rejects_bad_values():
    for bad in ({"gsd_m": 0}, {"size_px": 0}, {"overlap_px": 512}, {"overlap_px": -1}):
        with pytest.raises(ValueError, match="TileSpec"):
            TileSpec(**bad)


def test_tile_windows_examples():
    spec = TileSpec(gsd_m=0.5, size_px=512, overlap_px=128)  # 256 m tiles, 192 m stride
    assert tile_windows((0, 0, 256, 256), spec) == [(0, 0, 256, 256)]
    assert tile_windows((0, 0, 100, 100), spec) == [(-78, -78, 178, 178)]  # centred
    windows = tile_windows((0, 0, 1000, 500), spec)
    xs = sorted({w[0] for w in windows})
    assert xs == [0, 192, 384, 576, 744]  # last one shifted inward to end at 1000
    assert windows[0][3] == 500  # first row is the northernmost


def test_tile_windows_rejects_inverted_bounds():
    with pytest.raises(ValueError, match="bounds"):
        tile_windows((10, 0, 0, 10), SPEC)


@settings(max_examples=150, deadline=None)
@given(
    minx=st.floats(-1e5, 1e5),
    miny=st.floats(-1e5, 1e5),
    width_tiles=st.floats(0, 12),
    height_tiles=st.floats(0, 12),
    gsd=st.sampled_from([0.3, 0.5, 1.0, 3.0]),
    size=st.integers(8, 512),
    overlap_share=st.floats(0, 0.9),
)
def test_tile_windows_cover_without_gaps(
    minx, miny, width_tiles, height_tiles, gsd, size, overlap_share
):
    spec = TileSpec(gsd_m=gsd, size_px=size, overlap_px=int(size * overlap_share))
    bounds = (minx, miny, minx + width_tiles * spec.size_m, miny + height_tiles * spec.size_m)
    windows = tile_windows(bounds, spec)
    xs = sorted({w[0] for w in windows})
    ys = sorted({w[1] for w in windows})
    assert len(windows) == len(xs) * len(ys)
    assert all(w[2] - w[0] == pytest.approx(spec.size_m) for w in windows)
    assert all(w[3] - w[1] == pytest.approx(spec.size_m) for w in windows)
    overlap_m = spec.overlap_px * gsd
    for starts, low, high in ((xs, bounds[0], bounds[2]), (ys, bounds[1], bounds[3])):
        assert starts[0] <= low + EPS and starts[-1] + spec.size_m >= high - EPS  # covered
        for a, b in itertools.pairwise(starts):
            assert a + spec.size_m - b >= overlap_m - EPS  # no gap, overlap as asked
        if high - low >= spec.size_m:
            assert starts[0] >= low - EPS and starts[-1] + spec.size_m <= high + EPS  # inside
    if len(windows) <= 64:
        union = shapely.union_all([shapely.box(*w) for w in windows])
        assert union.buffer(EPS * 10).covers(shapely.box(*bounds))


# --- iter_tiles / coverage on tiny rasters ----------------------------------------------------


@pytest.fixture
def airport():
    return lookup_airport("ZKPY")


@pytest.fixture
def aprons():
    """One 300 m apron in the middle of the 600 m test scenes."""
    apron = shapely.box(X0 + 150, Y0 - 450, X0 + 450, Y0 - 150)
    return gpd.GeoDataFrame({"apron_id": ["A"]}, geometry=[apron], crs="EPSG:32651")


def _scene(write_raster, path, *, west_nodata=False, mask_path=None, **kwargs):
    """A 600 m x 600 m scene at 3 m (unless kwargs say otherwise) starting at (X0, Y0)."""
    kwargs.setdefault("origin", (X0, Y0))
    kwargs.setdefault("gsd", 3.0)
    kwargs.setdefault("shape", (200, 200))
    if west_nodata:
        data = np.full(
            (kwargs.get("count", 3), *kwargs["shape"]), 100, kwargs.get("dtype", "uint8")
        )
        data[:, :, : kwargs["shape"][1] // 2] = 0
        kwargs.update(data=data, nodata=0)
    image = write_raster(path, tags={"TIFFTAG_DATETIME": "2023:07:31 02:35:12"}, **kwargs)
    return read_scene(image, mask_path=mask_path)


def test_a_picture_placed_by_a_world_file_and_prj_tiles_as_its_geotiff(
    tmp_path, write_raster, airport, aprons
):
    """A PNG with its .pgw and ESRI .prj: the same tiles and coverage as the GeoTIFF of its
    pixels, since every stage opens scenes through regrid.open_picture, which reads the .prj."""
    from PIL import Image
    from pyproj import CRS

    tif = _scene(write_raster, tmp_path / "tif" / "s.tif")
    png = tmp_path / "png" / "s_20230731T023512.png"
    png.parent.mkdir()
    with rasterio.open(tif.path) as ds:
        Image.fromarray(ds.read().transpose(1, 2, 0)).save(png)
    world = f"3.0\n0\n0\n-3.0\n{X0 + 1.5}\n{Y0 - 1.5}\n"
    png.with_suffix(".pgw").write_text(world)
    png.with_suffix(".prj").write_text(CRS.from_epsg(32651).to_wkt("WKT1_ESRI"))
    scene = read_scene(png)
    got, expected = (list(iter_tiles(s, airport, aprons, SPEC)) for s in (scene, tif))
    assert len(got) == len(expected) == 36
    assert all(
        (a.image == b.image).all() and a.transform == b.transform
        for a, b in zip(got, expected, strict=True)
    )
    coverage = scene_coverage(scene, airport, aprons)
    assert coverage["visible_fraction"].tolist() == [1.0]


def _pixel_x(tile):
    """Easting (metres) of the centre of each tile column."""
    return tile.transform.c + (np.arange(tile.valid.shape[1]) + 0.5) * tile.transform.a


def test_tiles_cover_the_apron_on_the_model_grid(tmp_path, write_raster, airport, aprons):
    scene = _scene(write_raster, tmp_path / "s.tif")
    tiles = list(iter_tiles(scene, airport, aprons, SPEC))
    assert len(tiles) == 36  # 300 m apron, 64 m tiles, 48 m stride: 6 x 6
    apron = aprons.geometry[0]
    for n, tile in enumerate(tiles):
        assert (tile.index, tile.scene_id, tile.airport, tile.crs) == (n, "s", "ZKPY", "EPSG:32651")
        assert tile.acquired == pd.Timestamp("2023-07-31T02:35:12Z")
        assert tile.image.shape == (3, 64, 64) and tile.image.dtype == np.uint8
        assert tile.valid.shape == (64, 64) and tile.valid.all()
        assert (tile.transform.a, tile.transform.e) == (1.0, -1.0)
        assert tile.transform.c == round(tile.transform.c)  # origins on the 1 m grid
        box = shapely.box(
            tile.transform.c, tile.transform.f - 64, tile.transform.c + 64, tile.transform.f
        )
        assert box.intersects(apron)
    union = shapely.union_all(
        [
            shapely.box(t.transform.c, t.transform.f - 64, t.transform.c + 64, t.transform.f)
            for t in tiles
        ]
    )
    assert union.covers(apron)
    assert "array(" not in repr(tiles[0]) and len(repr(tiles[0])) < 300  # a notebook shows it


def test_nodata_is_invalid_and_black(tmp_path, write_raster, airport, aprons):
    scene = _scene(write_raster, tmp_path / "s.tif", west_nodata=True)
    tiles = list(iter_tiles(scene, airport, aprons, SPEC))
    assert 0 < len(tiles) < 36  # windows wholly in the nodata half are skipped
    for tile in tiles:
        x = _pixel_x(tile)
        assert not tile.valid[:, x < X0 + 297].any()
        assert tile.valid[:, x > X0 + 303].all()
        assert (tile.image[:, ~tile.valid] == 0).all()
        assert (tile.image[:, tile.valid] > 0).all()


def test_nan_fill_of_a_float_image_is_no_data_though_undeclared(
    tmp_path, write_raster, airport, aprons
):
    data = np.full((3, 200, 200), 0.2, np.float32)
    data[:, :, :100] = np.nan  # reflectance with a NaN fill and no nodata in the file
    scene = _scene(write_raster, tmp_path / "s.tif", dtype="float32", data=data)
    (row,) = scene_coverage(scene, airport, aprons).itertuples()
    assert row.visible_fraction == pytest.approx(0.5, abs=0.03)  # the NaN half saw nothing
    footprint = gpd.GeoSeries([scene.footprint], crs=4326).to_crs(airport.crs)[0]
    assert footprint.area == pytest.approx(300 * 600, rel=0.02)
    for tile in iter_tiles(scene, airport, aprons, SPEC):
        assert not tile.valid[:, _pixel_x(tile) < X0 + 297].any()


def test_tiles_are_read_under_a_capped_gdal_cache(
    tmp_path, write_raster, airport, aprons, monkeypatch
):
    # GDAL's block cache is 5 % of the RAM by default: run over an airport-wide apron of a
    # 16000 x 16000 striped image held 1.4 GB of blocks (0.5 GB capped). Tiles are read
    # under regrid.capped_cache, as the scan and the batch job's readers read.
    caches = []
    read = tiling.read_to_grid

    def spy(*args, **kwargs):
        caches.append(rasterio.env.getenv().get("GDAL_CACHEMAX") if rasterio.env.hasenv() else None)
        return read(*args, **kwargs)

    monkeypatch.setattr(tiling, "read_to_grid", spy)
    tiles = list(iter_tiles(_scene(write_raster, tmp_path / "s.tif"), airport, aprons, SPEC))
    assert tiles and caches == [READ_CACHE_BYTES] * len(tiles)


@pytest.mark.parametrize(
    ("suffix", "clear", "cloud"),
    [("_udm2", 1, 0), ("_udm", 0, 2), ("_udm2_clip", 1, 0), ("_udm_clip", 0, 2)],
)
def test_provider_mask_makes_cloud_invalid(
    tmp_path, write_raster, airport, aprons, suffix, clear, cloud
):
    flags = np.full((1, 200, 200), clear, np.uint8)
    flags[:, :, :100] = cloud  # cloudy west half
    mask = write_raster(
        tmp_path / f"s{suffix}.tif", count=1, data=flags, gsd=3.0, shape=(200, 200), origin=(X0, Y0)
    )
    scene = _scene(write_raster, tmp_path / "s.tif", mask_path=mask)
    tiles = list(iter_tiles(scene, airport, aprons, SPEC))
    assert tiles
    for tile in tiles:
        x = _pixel_x(tile)
        assert not tile.valid[:, x < X0 + 297].any()
        assert tile.valid[:, x > X0 + 303].all()
    (row,) = scene_coverage(scene, airport, aprons).itertuples()
    assert row.visible_fraction == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize(("suffix", "clear"), [("_udm2", 1), ("_udm", 0)])
def test_ground_a_provider_mask_does_not_cover_is_not_seen(
    tmp_path, write_raster, airport, aprons, suffix, clear
):
    """A mask covering only the east half of its image (clipped, or another grid) says
    nothing of the west half: that half is unknown, not clear (a legacy UDM's 0, usable, was
    read there from the zeros outside the mask)."""
    flags = np.full((1, 200, 100), clear, np.uint8)
    mask = write_raster(
        tmp_path / f"s{suffix}.tif", count=1, data=flags, gsd=3.0, shape=(200, 100),
        origin=(X0 + 300, Y0),
    )  # fmt: skip
    scene = _scene(write_raster, tmp_path / "s.tif", mask_path=mask)
    (row,) = scene_coverage(scene, airport, aprons).itertuples()
    assert row.visible_fraction == pytest.approx(0.5, abs=0.03)
    for tile in iter_tiles(scene, airport, aprons, SPEC):
        assert not tile.valid[:, _pixel_x(tile) < X0 + 297].any()


def test_band_order_from_colorinterp(tmp_path, write_raster, airport, aprons):
    data = np.stack([np.full((200, 200), v, np.uint8) for v in (10, 20, 30, 40)])
    scene = _scene(
        write_raster,
        tmp_path / "s.tif",
        count=4,
        data=data,
        colorinterp=["blue", "green", "red", "undefined"],
    )
    tile = next(iter_tiles(scene, airport, aprons, SPEC))
    assert [int(tile.image[b].mean()) for b in range(3)] == [30, 20, 10]


def test_rgb_band_choice(tmp_path, write_raster):
    import rasterio

    cases = [
        ({"count": 1}, "unknown", [1, 1, 1]),
        ({"count": 4}, "unknown", [1, 2, 3]),
        ({"count": 4, "dtype": "uint16"}, "planet", [3, 2, 1]),
        ({"count": 8, "dtype": "uint16"}, "planet", [6, 4, 2]),
        ({"count": 4, "dtype": "uint16"}, "planetscope", [3, 2, 1]),  # a STAC constellation
        ({"count": 4, "dtype": "uint16"}, "skysat", [3, 2, 1]),
        (
            {"count": 4, "dtype": "uint16", "descriptions": ["nir", "red", "green", "blue"]},
            "unknown",
            [2, 3, 4],
        ),
        ({"count": 5, "dtype": "uint16"}, "rapideye", [3, 2, 1]),  # blue, green, red, RE, NIR
        ({"count": 5, "dtype": "uint16"}, "planet", [3, 2, 1]),  # Planet's RapidEye
        ({"count": 5, "dtype": "uint16"}, "unknown", [1, 2, 3]),  # unknown: the default
        ({"count": 4, "dtype": "uint16"}, "maxar", [3, 2, 1]),  # BGRN
        ({"count": 8, "dtype": "uint16"}, "maxar", [5, 3, 2]),  # C, B, G, Y, R, RE, N1, N2
        ({"count": 8, "dtype": "uint16"}, "worldview-3", [5, 3, 2]),  # a STAC platform
        ({"count": 3}, "maxar", [1, 2, 3]),  # 3-band: red, green, blue
    ]
    for n, (kwargs, provider, expected) in enumerate(cases):
        with rasterio.open(write_raster(tmp_path / f"{n}.tif", **kwargs)) as ds:
            assert rgb_bands(ds, provider) == expected, kwargs


def test_band_order_named_by_metadata_wins_over_the_file_and_the_provider(tmp_path, write_raster):
    import rasterio

    labelled = write_raster(
        tmp_path / "rgb.tif", count=4, colorinterp=["red", "green", "blue", "undefined"]
    )
    plain = write_raster(tmp_path / "plain.tif", count=4, dtype="uint16")
    pan = write_raster(tmp_path / "pan.tif", count=1)
    with rasterio.open(labelled) as ds:
        assert rgb_bands(ds, "unknown", (3, 2, 1)) == [3, 2, 1]  # STAC beats colour interp
        assert rgb_bands(ds, "unknown", (4, 5, 6)) == [1, 2, 3]  # names bands it lacks
    with rasterio.open(plain) as ds:
        assert rgb_bands(ds, "planet", (1, 2, 3)) == [1, 2, 3]  # STAC beats the provider
    with rasterio.open(pan) as ds:
        assert rgb_bands(ds, "unknown", (3, 2, 1)) == [1, 1, 1]


def test_16bit_scene_is_stretched_to_uint8(tmp_path, write_raster, airport, aprons):
    scene = _scene(write_raster, tmp_path / "s.tif", count=4, dtype="uint16")
    tiles = list(iter_tiles(scene, airport, aprons, SPEC))
    pixels = np.concatenate([t.image.reshape(3, -1) for t in tiles], axis=1)
    assert pixels.dtype == np.uint8
    assert pixels.min() < 30 and pixels.max() > 225  # the apron spans most of the ramp


def test_epsg4326_scene_is_resampled_to_utm(tmp_path, write_raster, airport, aprons):
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(32651, 4326, always_xy=True).transform(X0, Y0)
    scene = _scene(
        write_raster,
        tmp_path / "s.tif",
        crs="EPSG:4326",
        origin=(lon - 0.001, lat + 0.001),
        gsd=3e-5,
        shape=(300, 300),
    )
    tiles = list(iter_tiles(scene, airport, aprons, SPEC))
    assert len(tiles) == 36
    assert all(t.valid.all() and t.crs == "EPSG:32651" for t in tiles)


def test_scene_beside_the_aprons_gives_nothing(tmp_path, write_raster, airport, aprons):
    scene = _scene(write_raster, tmp_path / "s.tif", origin=(X0 + 5000, Y0))
    assert list(iter_tiles(scene, airport, aprons, SPEC)) == []
    coverage = scene_coverage(scene, airport, aprons)
    assert coverage["visible_fraction"].tolist() == [0.0]
    assert coverage.geometry[0].is_empty


def test_coverage_columns_and_fractions(tmp_path, write_raster, airport, aprons):
    full = _scene(write_raster, tmp_path / "full.tif")
    half = _scene(write_raster, tmp_path / "half.tif", west_nodata=True)
    coverage = pd.concat(
        [scene_coverage(s, airport, aprons) for s in (full, half)], ignore_index=True
    )
    assert list(coverage.columns) == list(COVERAGE_COLUMNS)
    assert coverage["visible_fraction"].tolist() == pytest.approx([1.0, 0.5], abs=0.03)
    assert coverage["apron_id"].tolist() == ["A", "A"]
    assert (coverage["acquired"] == pd.Timestamp("2023-07-31T02:35:12Z")).all()
    coverage = gpd.GeoDataFrame(coverage, crs="EPSG:32651")
    east_stand = shapely.box(X0 + 350, Y0 - 350, X0 + 400, Y0 - 300)
    west_stand = shapely.box(X0 + 200, Y0 - 350, X0 + 250, Y0 - 300)
    assert is_visible(coverage, "full", west_stand)
    assert is_visible(coverage, "half", east_stand)
    assert not is_visible(coverage, "half", west_stand)
    assert is_visible(coverage, "half", shapely.Point(X0 + 375, Y0 - 325))
    assert not is_visible(coverage, "half", shapely.Point(X0 + 225, Y0 - 325))
    assert not is_visible(coverage, "no-such-scene", east_stand)
    straddling = shapely.box(X0 + 280, Y0 - 350, X0 + 330, Y0 - 300)  # 40 % in the nodata
    assert is_visible(coverage, "half", straddling, min_fraction=0.5)
    assert not is_visible(coverage, "half", straddling)


def test_coverage_times_have_the_resolution_of_every_other_layers(
    tmp_path, write_raster, airport, aprons
):
    """Microseconds as scenes and detections: Arrow and DuckDB refuse to join coverage.parquet
    with detections.parquet on ``acquired`` of timestamp[ns] against timestamp[us]."""
    from dwelltime.schema import UTC_TIMESTAMP

    coverage = scene_coverage(_scene(write_raster, tmp_path / "a.tif"), airport, aprons)
    assert str(coverage["acquired"].dtype) == UTC_TIMESTAMP


def test_aprons_in_degrees_are_reprojected_not_read_as_metres(
    tmp_path, write_raster, airport, aprons
):
    """Aprons as geopandas.read_file gives a GeoJSON (EPSG:4326) tile and cover as in UTM."""
    scene = _scene(write_raster, tmp_path / "s.tif")
    in_degrees = aprons.to_crs("EPSG:4326")
    assert len(list(iter_tiles(scene, airport, in_degrees, SPEC))) == 36
    coverage = scene_coverage(scene, airport, in_degrees)
    assert coverage.crs == "EPSG:32651"
    assert coverage["visible_fraction"].tolist() == pytest.approx([1.0], abs=0.01)
    with pytest.raises(ValueError, match="aprons have no CRS; set it"):
        scene_coverage(scene, airport, aprons.set_crs(None, allow_override=True))


def test_empty_aprons(tmp_path, write_raster, airport):
    scene = _scene(write_raster, tmp_path / "s.tif")
    empty = gpd.GeoDataFrame({"apron_id": []}, geometry=[], crs="EPSG:32651")
    assert list(iter_tiles(scene, airport, empty, SPEC)) == []
    coverage = scene_coverage(scene, airport, empty)
    assert coverage.empty and list(coverage.columns) == list(COVERAGE_COLUMNS)


class _RecordingDataset:
    """Wraps an open dataset and records the windows of its reads."""

    def __init__(self, ds):
        self._ds, self.windows = ds, []

    def __getattr__(self, name):
        return getattr(self._ds, name)

    def read(self, *args, window=None, **kwargs):
        self.windows.append(window)
        return self._ds.read(*args, window=window, **kwargs)

    def dataset_mask(self, *args, window=None, **kwargs):
        self.windows.append(window)
        return self._ds.dataset_mask(*args, window=window, **kwargs)


def test_read_to_grid_reads_only_the_window_under_the_grid(tmp_path, write_raster):
    import rasterio

    from dwelltime.regrid import Grid, read_to_grid

    image = write_raster(tmp_path / "big.tif", origin=(X0, Y0), gsd=1.0, shape=(1000, 1000))
    from affine import Affine

    grid = Grid("EPSG:32651", Affine(1.0, 0.0, X0 + 500, 0.0, -1.0, Y0 - 500), (64, 64))
    with rasterio.open(image) as ds:
        recording = _RecordingDataset(ds)
        pixels = read_to_grid(recording, grid, indexes=[1, 2, 3], resampling="bilinear")
        expected = ds.read([1, 2, 3], window=((500, 564), (500, 564)))
    (window,) = recording.windows
    assert window.width <= 70 and window.height <= 70
    assert pixels.shape == (3, 64, 64)
    assert np.abs(pixels.astype(int) - expected).max() <= 1  # same grid: the same pixels


def test_coverage_of_an_apron_touching_the_seen_area_is_an_empty_multipolygon(
    tmp_path, write_raster, airport, aprons
):
    scene = _scene(write_raster, tmp_path / "half.tif", west_nodata=True)
    seen_west = visible_area(scene, airport, aprons).bounds[0]
    touching = gpd.GeoDataFrame(
        {"apron_id": ["A", "edge", "corner"]},
        geometry=[
            aprons.geometry[0],
            shapely.box(X0 + 150, Y0 - 400, seen_west, Y0 - 200),  # shares an edge with it
            shapely.Polygon([(X0 + 150, Y0 - 300), (seen_west, Y0 - 300), (X0 + 150, Y0 - 310)]),
        ],
        crs="EPSG:32651",
    )
    coverage = scene_coverage(scene, airport, touching)
    assert coverage.geom_type.tolist() == ["MultiPolygon"] * 3  # one type: one QGIS layer
    assert coverage.geometry.is_valid.all()
    assert coverage.geometry.is_empty.tolist() == [False, True, True]
    assert coverage["visible_fraction"].tolist() == pytest.approx([0.5, 0.0, 0.0], abs=0.03)


def test_airbus_cloud_mask_makes_cloud_invalid(
    tmp_path, write_raster, write_cloud_gml, airport, aprons
):
    west = [(X0, Y0), (X0 + 300, Y0), (X0 + 300, Y0 - 600), (X0, Y0 - 600)]
    mask = write_cloud_gml(tmp_path / "MASKS" / "CLD_S_MSK.GML", [west])
    scene = _scene(write_raster, tmp_path / "IMG_S.tif", mask_path=mask)
    tiles = list(iter_tiles(scene, airport, aprons, SPEC))
    assert tiles
    for tile in tiles:
        x = _pixel_x(tile)
        assert not tile.valid[:, x < X0 + 299].any()
        assert tile.valid[:, x > X0 + 301].all()
    (row,) = scene_coverage(scene, airport, aprons).itertuples()
    assert row.visible_fraction == pytest.approx(0.5, abs=0.03)
    clear = write_cloud_gml(tmp_path / "MASKS" / "CLD_C_MSK.GML")  # no cloud: no feature
    scene = _scene(write_raster, tmp_path / "IMG_C.tif", mask_path=clear)
    (row,) = scene_coverage(scene, airport, aprons).itertuples()
    assert row.visible_fraction == 1.0
    assert not list(tmp_path.glob("MASKS/*.gfs"))  # GDAL wrote nothing into the product


def test_a_user_cloud_file_in_another_crs_makes_cloud_invalid(
    tmp_path, write_raster, airport, aprons
):
    west = gpd.GeoSeries([shapely.box(X0 - 50, Y0 - 650, X0 + 300, Y0 + 50)], crs=32651)
    mask = tmp_path / "s_cloud.geojson"
    gpd.GeoDataFrame(geometry=west.to_crs(4326)).to_file(mask)
    scene = _scene(write_raster, tmp_path / "s.tif", mask_path=mask)
    (row,) = scene_coverage(scene, airport, aprons).itertuples()
    assert row.visible_fraction == pytest.approx(0.5, abs=0.03)


# --- scenes_over_aprons -------------------------------------------------------------------


def test_scenes_away_from_the_aprons_are_blamed_on_the_airport_not_the_imagery(demo_dir, caplog):
    """Sunan's scenes over Moscow Sheremetyevo's default apron: none is used, and the warning
    says how far away they are."""
    from dwelltime.airports import load_aprons
    from dwelltime.scenes import scan

    sheremetyevo = lookup_airport("UUEE")
    scenes = scan(demo_dir / "imagery").scenes[:2]
    kept = scenes_over_aprons(scenes, load_aprons(sheremetyevo, None), "UUEE")
    assert kept == []
    assert "none of the 2 scenes covers the aprons of UUEE: the nearest is 6" in caplog.text
    assert "km from them; they lie at ZKPY/FNJ (Pyongyang" in caplog.text
    assert "; check --airport and --aprons" in caplog.text


def test_a_scene_over_aprons_across_the_antimeridian_is_used(tmp_path, write_raster, caplog):
    """A 600 m apron centred on 180° in UTM 60S is, in lon/lat, a band round the globe that
    misses the strip by 180°: the scene over it was skipped as 16,465 km away."""
    from pyproj import Transformer

    x, y = Transformer.from_crs(4326, 32760, always_xy=True).transform(180.0, -16.0)
    apron = shapely.box(x - 300, y - 300, x + 300, y + 300)
    aprons = gpd.GeoDataFrame({"apron_id": ["a"]}, geometry=[apron], crs="EPSG:32760")
    scenes = [
        read_scene(
            write_raster(
                tmp_path / f"{name}_20230731T023512.tif",
                crs="EPSG:4326",
                origin=(west, -15.9995),
                gsd=1e-5,
                shape=(100, 90),
            )
        )
        for name, west in (("over", 179.999), ("away", 179.5))
    ]
    assert scenes_over_aprons(scenes, aprons, "FJ-X1") == scenes[:1]
    scenes_over_aprons(scenes[1:], aprons, "FJ-X1")
    assert "the nearest is 53 km from them" in caplog.text


def test_scenes_across_the_antimeridian_away_from_the_aprons_name_the_airport_they_show(
    tmp_path, write_raster, caplog
):
    """A scene across 180° by Matei (Fiji), run with Sunan's aprons: its footprint's two parts,
    by +180° and by -180°, were centred at 0°, where no airport is, and the warning named none."""
    image = write_raster(
        tmp_path / "nfnm_20230731T023512.tif", crs="EPSG:4326", origin=(179.9995, -16.69),
        gsd=1e-5, shape=(100, 100),
    )  # fmt: skip
    scene = read_scene(image)
    assert scenes_over_aprons([scene], load_aprons(lookup_airport("ZKPY"), None), "ZKPY") == []
    assert "; they lie at NFNM/TVU (Matei Airport)" in caplog.text


def test_a_scene_beside_the_aprons_says_how_many_metres_away(tmp_path, write_raster, caplog):
    """A scene 200 m beside the aprons was said to be '0 km from them' (and the distance was
    taken from a point of the footprint to the aprons' centre, not the gap between them)."""
    with rasterio.open(write_raster(tmp_path / "zkpy_20230731T023512.tif")) as image:
        x0, top = image.bounds.right, image.bounds.top  # 32 m square
    apron = shapely.box(x0 + 200, top - 32, x0 + 1200, top)
    aprons = gpd.GeoDataFrame({"apron_id": ["a"]}, geometry=[apron], crs="EPSG:32651")
    scene = read_scene(tmp_path / "zkpy_20230731T023512.tif")
    assert scenes_over_aprons([scene], aprons, "ZKPY") == []
    assert "covers the aprons of ZKPY: the nearest is 200 m from them;" in caplog.text


def test_scenes_away_from_the_aprons_name_the_airport_they_show(tmp_path, write_raster, caplog):
    """Scenes over Sunan, run with --airport SVO (an IATA code: Sheremetyevo, not Sunan's
    FNJ): the warning names the airport the imagery shows."""
    from dwelltime.airports import airport_and_aprons
    from dwelltime.scenes import scan

    write_raster(tmp_path / "img" / "zkpy_20230731T023512.tif")
    with caplog.at_level(logging.INFO):
        airport, aprons = airport_and_aprons("svo")
        kept = scenes_over_aprons(scan(tmp_path / "img").scenes, aprons, airport.icao)
    assert kept == [] and "SVO: UUEE (Sheremetyevo" in caplog.text
    assert "; they lie at ZKPY/FNJ (Pyongyang" in caplog.text
