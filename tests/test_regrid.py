"""read_to_grid: a scene already on the grid's lattice is read as is; others are resampled."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import rasterio.warp
from affine import Affine
from pyproj import Transformer

from dwelltime.regrid import Grid, gsd_metres, open_picture, read_to_grid

X0, Y0 = 730_000.0, 4_345_000.0  # scene upper-left corner, on the 0.5 m lattice (UTM 51N)
# the same corner in UTM 52N, rounded onto that CRS's 0.5 m lattice
X52, Y52 = (
    round(2 * v) / 2
    for v in Transformer.from_crs("EPSG:32651", "EPSG:32652", always_xy=True).transform(X0, Y0)
)


@pytest.fixture
def reprojections(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts calls of rasterio.warp.reproject (read_to_grid imports it at each call)."""
    calls: list[int] = []
    real = rasterio.warp.reproject

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(rasterio.warp, "reproject", counting)
    return calls


@pytest.mark.parametrize("resampling", ["nearest", "bilinear"])
def test_a_grid_on_the_scene_lattice_reads_the_pixels_as_they_are(
    tmp_path, write_raster, reprojections, resampling
):
    image = write_raster(tmp_path / "s.tif", origin=(X0, Y0), gsd=0.5, shape=(40, 50), nodata=0)
    # 10 columns left of the scene and 5 rows below it: those grid pixels stay 0
    grid = Grid("EPSG:32651", Affine(0.5, 0, X0 - 5.0, 0, -0.5, Y0 - 12.5), (20, 30))
    with rasterio.open(image) as ds:
        source = ds.read()
        pixels = read_to_grid(ds, grid, indexes=[1, 2, 3], resampling=resampling)
        mask = read_to_grid(ds, grid)
    expected = np.zeros((3, 20, 30), np.uint8)
    expected[:, :15, 10:] = source[:, 25:40, 0:20]
    np.testing.assert_array_equal(pixels, expected)
    assert set(np.unique(mask[0, :15, 10:])) <= {0, 255} and not mask[0, 15:].any()
    assert not mask[0, :, :10].any()
    assert reprojections == []


def test_a_grid_outside_the_scene_reads_zeros(tmp_path, write_raster):
    image = write_raster(tmp_path / "s.tif", origin=(X0, Y0), gsd=0.5, shape=(40, 50))
    grid = Grid("EPSG:32651", Affine(0.5, 0, X0 + 100.0, 0, -0.5, Y0), (8, 8))
    with rasterio.open(image) as ds:
        assert not read_to_grid(ds, grid, indexes=[1]).any()


@pytest.mark.parametrize(
    ("crs", "origin", "gsd"),
    [
        ("EPSG:32651", (X0 + 0.25, Y0), 0.5),  # half a pixel off the lattice
        ("EPSG:32651", (X0, Y0), 0.6),  # another pixel size
        ("EPSG:32652", (X52, Y52), 0.5),  # another CRS
    ],
)
def test_other_scenes_are_resampled(tmp_path, write_raster, reprojections, crs, origin, gsd):
    image = write_raster(tmp_path / "s.tif", crs=crs, origin=origin, gsd=gsd, shape=(40, 50))
    grid = Grid("EPSG:32651", Affine(0.5, 0, X0 + 2.0, 0, -0.5, Y0 - 2.0), (8, 8))
    with rasterio.open(image) as ds:
        read_to_grid(ds, grid, indexes=[1])
    assert reprojections == [1]


def test_a_plain_picture_opens_without_rasterio_warning_of_its_missing_georeference(tmp_path):
    import warnings

    from PIL import Image

    Image.fromarray(np.zeros((8, 12, 3), np.uint8)).save(tmp_path / "a.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_picture(tmp_path / "a.png") as ds:
            assert (ds.width, ds.height, ds.crs) == (12, 8, None)
        with rasterio.open(tmp_path / "a.png"):  # rasterio itself warns
            pass
    assert [w.category.__name__ for w in caught] == ["NotGeoreferencedWarning"]


def _placed_picture(path, prj: str | None) -> None:
    """A 16-pixel JPEG at 0.5 m placed by a world file in UTM 51N, with ``prj`` as its .prj."""
    from PIL import Image

    Image.fromarray(np.full((16, 16, 3), 120, np.uint8)).save(path)
    path.with_suffix(".jgw").write_text("0.5\n0\n0\n-0.5\n330000.25\n4339999.75\n")
    if prj is not None:
        path.with_suffix(".prj").write_text(prj)


def test_a_world_file_picture_takes_the_crs_of_the_esri_prj_beside_it(tmp_path):
    """GDAL reads the world file and not the .prj: open_picture gives the image that CRS,
    the pixels and the grid as they are; no .prj: no CRS; a .prj that holds none: named."""
    from pyproj import CRS

    from dwelltime.errors import SceneError

    _placed_picture(tmp_path / "s.jpg", CRS.from_epsg(32651).to_wkt("WKT1_ESRI"))
    with open_picture(tmp_path / "s.jpg") as ds:
        assert ds.crs.to_epsg() == 32651
        assert ds.transform == Affine(0.5, 0, 330000, 0, -0.5, 4340000)
        assert (ds.read() == 120).all()
    _placed_picture(tmp_path / "t.jpg", None)
    with open_picture(tmp_path / "t.jpg") as ds:
        assert ds.crs is None and not ds.transform.is_identity
    _placed_picture(tmp_path / "u.jpg", 'PROJCS["WGS_1984_UTM_Zone_51N"]')
    with pytest.raises(SceneError, match=r"u\.prj: is no CRS PROJ reads .* u\.jpg"):
        with open_picture(tmp_path / "u.jpg"):
            pass


def test_a_file_name_that_is_not_utf8_is_named_and_the_scan_goes_on(tmp_path, write_raster):
    """Names unpacked from a ZIP made on Windows (Cyrillic in CP1251 bytes) reach Python as
    surrogates, which rasterio cannot encode: one line says so, not a UnicodeEncodeError."""
    import os
    import shutil

    from dwelltime.errors import SceneError
    from dwelltime.scenes import scan

    good = write_raster(tmp_path / "ok_20230801T023512.tif")
    cyrillic = os.fsdecode(os.fsencode(tmp_path) + b"/\xd1\xed\xe8\xec\xee\xea_20230731T023512.tif")
    shutil.copy(good, cyrillic)
    with pytest.raises(SceneError, match="its name is not UTF-8"):
        with open_picture(cyrillic):
            pass
    result = scan(tmp_path)
    assert [s.scene_id for s in result.scenes] == ["ok_20230801T023512"]
    (error,) = result.errors
    assert error.reason.startswith("its name is not UTF-8") and "unzip -O" in error.reason


@pytest.mark.parametrize(
    "text",
    [
        b"<!DOCTYPE html><html><title>403 Forbidden</title></html>",
        b'<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>',
        b'{"message": "Unauthorized"}',
    ],
)
def test_a_download_s_error_page_named_as_an_image_is_named_as_such(tmp_path, text):
    from dwelltime.errors import SceneError

    page = tmp_path / "scene_20230731T023512.tif"
    page.write_bytes(text)
    with pytest.raises(SceneError, match=r"scene_20230731T023512\.tif: is text .* download it"):
        with open_picture(page):
            pass


@pytest.mark.parametrize(
    ("west", "grid_lon", "grid_crs"),
    [
        (179.999, 180.0, "EPSG:32760"),  # image and grid across the antimeridian
        (180.1, -179.8995, "EPSG:32701"),  # image in longitudes past 180°, grid at -179.9°
        (-180.001, 179.9995, "EPSG:32760"),  # image from -180.001°, grid east of it at 179.9995°
    ],
)
def test_a_lon_lat_scene_by_the_antimeridian_is_read_onto_the_grid(
    tmp_path, write_raster, west, grid_lon, grid_crs
):
    """West half of the scene 50, east half 200, about 0.5 m pixels at 16° S."""
    step, lat = 1e-5, -16.0
    data = np.full((1, 100, 200), 50, np.uint8)
    data[:, :, 100:] = 200
    image = write_raster(
        tmp_path / "s.tif", crs="EPSG:4326", origin=(west, lat + 5e-4), gsd=step,
        shape=(100, 200), count=1, data=data,
    )  # fmt: skip
    east_of_middle = (grid_lon - (west + 100 * step) + 180) % 360 - 180  # degrees
    x, y = Transformer.from_crs(4326, grid_crs, always_xy=True).transform(grid_lon, lat)
    grid = Grid(grid_crs, Affine(1.0, 0, x - 10, 0, -1.0, y + 10), (20, 20))
    with rasterio.open(image) as ds:
        pixels = read_to_grid(ds, grid, indexes=[1])[0]
    assert pixels.all()  # every grid pixel lies in the scene
    if abs(east_of_middle) > 1e-4:  # grid wholly on one side of the scene's middle
        assert set(np.unique(pixels)) == {200 if east_of_middle > 0 else 50}
    else:
        assert set(np.unique(pixels)) == {50, 200}


@pytest.mark.parametrize("shift", range(4))
def test_a_lon_lat_scene_at_60_north_is_decimated_along_each_axis_on_its_own(
    tmp_path, write_raster, shift
):
    """Square lon/lat pixels at 60° N are 0.14 m wide and 0.28 m tall on the ground (GSD 0.21
    m): decimated onto a 0.5 m grid by one step of 2 for both axes, the rows were averaged
    pairwise into 0.56 m, coarser than the grid, and E-W stripes 1.1 m apart (4 rows bright, 4
    dark) lost a third of their contrast where the pairs straddled the stripes. Each axis now
    takes its own step: every offset of the stripes keeps their contrast."""
    lat, lon, step, rows = 60.0, 30.0, 2.5e-6, 400
    bright = ((np.arange(rows) + shift) // 4) % 2 == 1
    data = np.broadcast_to(np.where(bright, 200, 20).astype(np.uint8)[:, None], (rows, 200))
    image = write_raster(
        tmp_path / "s.tif", crs="EPSG:4326", origin=(lon, lat + rows * step), gsd=step,
        shape=(rows, 200), count=1, data=data,
    )  # fmt: skip
    x, y = Transformer.from_crs(4326, 32636, always_xy=True).transform(
        lon + 100 * step, lat + rows * step / 2
    )
    grid = Grid("EPSG:32636", Affine(0.5, 0, round(x) - 10, 0, -0.5, round(y) + 20), (80, 40))
    with rasterio.open(image) as ds:
        assert gsd_metres(ds.crs, ds.transform, ds.width, ds.height) == pytest.approx(0.209, 0.01)
        rows_seen = read_to_grid(ds, grid, indexes=[1], resampling="bilinear")[0].mean(axis=1)
    assert rows_seen.max() - rows_seen.min() > 0.75 * (200 - 20)


@pytest.mark.parametrize("layout", ["bottom-up", "south-up", "turned 120°"])
def test_a_scene_of_any_affine_layout_is_read_as_the_north_up_one(tmp_path, write_raster, layout):
    """Bottom-up (row 0 the southern edge), south-up (turned 180°) and turned past 90°: the
    map width or height of a pixel is negative, and rasterio's from_bounds refused them with
    WindowError 'Bounds and transform are inconsistent'."""
    data = np.random.default_rng(0).integers(1, 255, (1, 40, 50), dtype=np.uint8)
    turn = Affine.translation(X0 + 12.5, Y0 - 10.0) @ Affine.rotation(120)  # about the middle
    transform, pixels = {
        "bottom-up": (Affine(0.5, 0, X0, 0, 0.5, Y0 - 20.0), data[:, ::-1]),
        "south-up": (Affine(-0.5, 0, X0 + 25.0, 0, 0.5, Y0 - 20.0), data[:, ::-1, ::-1]),
        "turned 120°": (turn @ Affine(0.5, 0, -12.5, 0, -0.5, 10.0), data),
    }[layout]
    north_up = write_raster(tmp_path / "n.tif", origin=(X0, Y0), shape=(40, 50), count=1, data=data)
    other = tmp_path / "o.tif"
    profile = dict(driver="GTiff", width=50, height=40, count=1, dtype="uint8", crs="EPSG:32651")
    with rasterio.open(other, "w", transform=transform, **profile) as ds:
        ds.write(np.ascontiguousarray(pixels))
    grid = Grid("EPSG:32651", Affine(0.5, 0, X0 + 7.5, 0, -0.5, Y0 - 5.0), (20, 20))
    with rasterio.open(other) as ds:
        read = read_to_grid(ds, grid, indexes=[1])[0]
    assert read.all()  # the grid lies in the scene's middle, whichever way it is turned
    if layout != "turned 120°":
        with rasterio.open(north_up) as ds:
            np.testing.assert_array_equal(read, read_to_grid(ds, grid, indexes=[1])[0])


@pytest.mark.filterwarnings("error:Use .@. matmul:PendingDeprecationWarning:dwelltime")
def test_reading_to_a_grid_multiplies_no_affine_by_a_tuple(tmp_path, write_raster):
    """``~transform * (x, y)`` is deprecated by affine 3 (a warning per tile); ``@`` it is."""
    path = write_raster(tmp_path / "a.tif", origin=(X0, Y0), count=1)
    grid = Grid("EPSG:32651", Affine(1.0, 0, X0 + 2.0, 0, -1.0, Y0 - 2.0), (8, 8))  # resampled
    with rasterio.open(path) as ds:
        assert read_to_grid(ds, grid, indexes=[1]).shape == (1, 8, 8)


def test_decimated_reads_in_strips_match_one_read(tmp_path, write_raster, monkeypatch):
    """Read in strips that fit GDAL's capped cache, decimated bands and mask are those of
    one read of the whole image."""
    from functools import partial

    from dwelltime import regrid

    data = np.full((3, 97, 83), 50, np.uint16)
    data[:, 10:60, :20] = 0
    path = write_raster(tmp_path / "a.tif", data=data, dtype="uint16", shape=(97, 83), nodata=0)
    monkeypatch.setattr(regrid, "READ_CACHE_BYTES", 83 * 3 * 2 * 8)  # a few rows per strip
    with rasterio.open(path) as ds:
        bands = ds.read([3, 1], out_shape=(2, 40, 30))
        mask = ds.dataset_mask(out_shape=(40, 30))
        strips = regrid.read_decimated(ds, (40, 30), partial(ds.read, [3, 1]), ds.dataset_mask)
    np.testing.assert_array_equal(strips[0], bands)
    np.testing.assert_array_equal(strips[1], mask)
