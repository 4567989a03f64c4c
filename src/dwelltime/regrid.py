"""Read just the part of a scene that a local metric grid needs, resampled onto that grid.

A :class:`Grid` is a north-up raster in the airport's UTM CRS. :func:`read_to_grid` reads the
source window under the grid (decimated by GDAL when the source is much finer than the grid,
so overviews are used where present) and reprojects it; nothing else of the scene is read.
A scene already on the grid's lattice (same CRS and pixel size, origin a whole number of
pixels away: orthoimagery at the model GSD is often delivered so) is read as is, without
resampling.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from affine import Affine

from dwelltime.errors import SceneError
from dwelltime.formats import MOSAIC_SUFFIXES, UDM1_SUFFIXES, is_cloud_vector, is_dimap_name
from dwelltime.timesources import name_provider, named_rgb_bands

#: GDAL's block cache, in bytes, where dwelltime reads many large images (scan, batch
#: readers): GDAL's default, 5 % of the RAM, is taken in full by one large image without
#: overviews and again by each reader process.
READ_CACHE_BYTES = 256 * 2**20
#: Largest side, in pixels, of the decimated read used for the per-scene stretch.
STRETCH_MAX_PX = 512
#: Percentiles of valid pixels mapped to 0 and 255 by the per-scene stretch.
STRETCH_PERCENTILES = (2.0, 98.0)

# rasterio's reproject() of in-memory arrays now and then says "Dataset has no geotransform"
# when several threads reproject at once (co-registration reads scenes in threads), although
# the output is right (opendatacube/odc-geo#131). read_to_grid always passes both transforms,
# so the message is only noise in the user's terminal.
warnings.filterwarnings("ignore", message="Dataset has no geotransform", module="rasterio.warp")


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid: ``transform`` maps (col, row) to (x, y) metres in ``crs``."""

    crs: str
    transform: Affine
    shape: tuple[int, int]  # (rows, cols)

    @property
    def gsd_m(self) -> float:
        return abs(self.transform.a)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) metres."""
        rows, cols = self.shape
        minx, maxy = self.transform.c, self.transform.f
        return (minx, maxy - rows * self.gsd_m, minx + cols * self.gsd_m, maxy)

    @classmethod
    def over(cls, bounds: Sequence[float], gsd_m: float, crs: str) -> Grid:
        """The grid of ``gsd_m`` pixels aligned on multiples of ``gsd_m`` covering ``bounds``."""
        minx, miny = (math.floor(v / gsd_m) * gsd_m for v in bounds[:2])
        maxx, maxy = (math.ceil(v / gsd_m) * gsd_m for v in bounds[2:])
        shape = (max(1, round((maxy - miny) / gsd_m)), max(1, round((maxx - minx) / gsd_m)))
        return cls(crs, Affine(gsd_m, 0.0, minx, 0.0, -gsd_m, maxy), shape)


def read_to_grid(
    ds: object,
    grid: Grid,
    *,
    indexes: Sequence[int] | None = None,
    resampling: str = "nearest",
) -> np.ndarray:
    """Bands ``indexes`` (1-based) of the open dataset ``ds`` on ``grid``: (len, rows, cols).

    ``indexes=None`` reads the dataset mask (0 nodata, 255 valid) as one band. Grid pixels
    outside the scene are 0.
    """
    from rasterio.enums import Resampling
    from rasterio.errors import WindowError
    from rasterio.transform import array_bounds
    from rasterio.warp import reproject, transform_bounds
    from rasterio.windows import Window

    count = 1 if indexes is None else len(indexes)
    dtype = np.uint8 if indexes is None else np.dtype(ds.dtypes[indexes[0] - 1])
    out = np.zeros((count, *grid.shape), dtype=dtype)
    aligned = _aligned_window(ds, grid)
    if aligned is not None:
        try:
            win = aligned.intersection(Window(0, 0, ds.width, ds.height))
        except WindowError:  # the grid lies outside the scene
            return out
        r, c = int(win.row_off - aligned.row_off), int(win.col_off - aligned.col_off)
        rows, cols = slice(r, r + int(win.height)), slice(c, c + int(win.width))
        if indexes is None:
            out[0, rows, cols] = ds.dataset_mask(window=win)
        else:
            out[:, rows, cols] = ds.read(list(indexes), window=win)
        return out
    bounds = array_bounds(*grid.shape, grid.transform)  # (west, south, east, north)
    src_bounds = transform_bounds(grid.crs, ds.crs, bounds[0], bounds[1], bounds[2], bounds[3])
    if ds.crs.is_geographic:
        src_bounds = _near_longitudes(src_bounds, (ds.bounds.left + ds.bounds.right) / 2)
    win = _pixel_window(src_bounds, ds.transform, margin=2)
    try:
        win = win.intersection(Window(0, 0, ds.width, ds.height))
    except WindowError:  # the grid lies outside the scene
        return out
    # decimated along each axis on its own: a lon/lat pixel away from the equator is
    # narrower than tall, and one step for both would read its rows coarser than the grid
    along_row, along_column = pixel_metres(ds.crs, ds.transform, ds.width, ds.height)
    steps = [max(1, math.floor(grid.gsd_m / size)) for size in (along_column, along_row)]
    shape = (max(1, math.ceil(win.height / steps[0])), max(1, math.ceil(win.width / steps[1])))
    if indexes is None:
        src = ds.dataset_mask(window=win, out_shape=shape)[None]
    else:
        src = ds.read(
            list(indexes),
            window=win,
            out_shape=(count, *shape),
            resampling=Resampling.average if max(steps) > 1 else Resampling.nearest,
        )
    src_transform = ds.window_transform(win) @ Affine.scale(
        win.width / shape[1], win.height / shape[0]
    )
    reproject(
        src,
        out,
        src_transform=src_transform,
        src_crs=ds.crs,
        dst_transform=grid.transform,
        dst_crs=grid.crs,
        resampling=Resampling[resampling],
    )
    return out


def _pixel_window(bounds: Sequence[float], transform: Affine, margin: int) -> object:
    """The window of whole pixels of ``transform`` holding map ``bounds`` (west, south, east,
    north) with ``margin`` pixels around: from its four corners, so that any affine grid
    (south-up, bottom-up, rotated past 90°) gives one, where ``from_bounds`` refuses them."""
    from rasterio.windows import Window

    west, south, east, north = bounds
    corners = [~transform @ (x, y) for x in (west, east) for y in (south, north)]
    cols, rows = (np.array(v) for v in zip(*corners, strict=True))
    col0, row0 = math.floor(cols.min()) - margin, math.floor(rows.min()) - margin
    return Window(
        col0, row0, math.ceil(cols.max()) + margin - col0, math.ceil(rows.max()) + margin - row0
    )


def _near_longitudes(
    bounds: tuple[float, float, float, float], centre_lon: float
) -> tuple[float, float, float, float]:
    """Lon/lat ``bounds`` (degrees) written in the longitudes of an image centred on
    ``centre_lon``: a grid across the antimeridian (west > east, as :func:`transform_bounds`
    gives it) made one span, and the span moved by whole turns next to the image, whose
    longitudes may run past 180° (179.9°…180.2°) or start anywhere (0°…360°)."""
    west, south, east, north = bounds
    if west > east:
        east += 360.0
    turns = 360.0 * round((centre_lon - (west + east) / 2) / 360.0)
    return (west + turns, south, east + turns, north)


def _aligned_window(ds: object, grid: Grid) -> object | None:
    """The window of ``ds`` that is exactly ``grid`` (same CRS and pixel size, no rotation,
    origin within 10⁻⁶ pixel of a whole number of pixels away), else None."""
    from rasterio.crs import CRS
    from rasterio.windows import Window

    t, g = ds.transform, grid.transform  # type: ignore[attr-defined]
    if t.b or t.d or not (math.isclose(t.a, g.a) and math.isclose(t.e, g.e)):
        return None
    col, row = (g.c - t.c) / t.a, (g.f - t.f) / t.e
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        return None
    if ds.crs != CRS.from_user_input(grid.crs):  # type: ignore[attr-defined]
        return None
    return Window(round(col), round(row), grid.shape[1], grid.shape[0])


#: A projected CRS whose scale at the image centre is within this fraction of true (UTM and
#: national grids: 0.1 %) gives its own metres as the GSD; beyond it (Web Mercator: 1/cos(lat),
#: +29 % at 39° N) the ground metres are given instead.
GRID_SCALE_TOLERANCE = 0.01


def gsd_metres(crs: object, transform: object, width: int, height: int) -> float:
    """Mean pixel size in metres (:func:`pixel_metres`, the mean of its two sides)."""
    return float(sum(pixel_metres(crs, transform, width, height)) / 2)


def pixel_metres(crs: object, transform: object, width: int, height: int) -> tuple[float, float]:
    """Size in metres of the pixel steps along a row and along a column: on the ground (WGS84
    ellipsoid, at the image centre: :func:`ground_pixel_m`) for a geographic CRS (degrees →
    metres) and for a projected CRS that is not true to scale there (Web Mercator, as web map
    tiles come), else in the projected CRS's own metres."""
    ground = ground_pixel_m(crs, transform, width, height)
    if crs.is_geographic:  # type: ignore[attr-defined]
        return ground
    factor = crs.linear_units_factor[1]  # type: ignore[attr-defined]
    grid = (
        math.hypot(transform.a, transform.d) * factor,  # type: ignore[attr-defined]
        math.hypot(transform.b, transform.e) * factor,  # type: ignore[attr-defined]
    )
    unknown = not math.isfinite(sum(ground))  # the centre lies outside the CRS's area of use
    true_scale = unknown or abs(sum(ground) / sum(grid) - 1) <= GRID_SCALE_TOLERANCE
    return grid if true_scale else ground


def ground_pixel_m(crs: object, transform: Affine, width: int, height: int) -> tuple[float, float]:
    """Ground size (metres, WGS84 ellipsoid) of the pixel steps along a row and along a column
    at the image centre; NaN where the centre has no longitude and latitude. They differ where
    the CRS is not conformal (lon/lat: the row step shrinks by cos(latitude))."""
    return _ground_pixel_m(crs.to_wkt(), transform, width, height)  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=256)
def _ground_pixel_m(
    crs_wkt: str, transform: Affine, width: int, height: int
) -> tuple[float, float]:
    """:func:`ground_pixel_m` of a CRS as WKT. Cached: tiling asks once per window of the
    same scene."""
    from pyproj import Geod, Transformer

    to_lonlat = Transformer.from_crs(crs_wkt, "EPSG:4326", always_xy=True)
    col, row = width / 2, height / 2
    points = [transform @ p for p in ((col, row), (col + 1, row), (col, row + 1))]
    (lon0, lat0), *steps = (to_lonlat.transform(x, y) for x, y in points)
    geod = Geod(ellps="WGS84")
    along_row, along_column = (float(geod.inv(lon0, lat0, lon, lat)[2]) for lon, lat in steps)
    return along_row, along_column


def capped_cache() -> contextlib.AbstractContextManager:
    """A rasterio environment whose GDAL block cache is :data:`READ_CACHE_BYTES`."""
    import rasterio

    return rasterio.Env(GDAL_CACHEMAX=READ_CACHE_BYTES)


def read_decimated(
    ds: object, out_shape: tuple[int, int], *reads: Callable[..., np.ndarray]
) -> list[np.ndarray]:
    """What each of ``reads`` (``ds.read`` of some bands, ``ds.dataset_mask``: called as
    ``read(window=, out_shape=(rows, cols))``) gives for the whole of ``ds`` at ``out_shape``
    (rows, cols), read in strips of the image whose decoded blocks of all bands fit in half
    of :data:`READ_CACHE_BYTES`, every read of a strip before the next strip. Read whole,
    GDAL goes band by band, and once the blocks of a file without overviews outgrow its cache
    (:func:`capped_cache`) it decodes every block again for each band and for the mask."""
    from rasterio.windows import Window

    rows, cols = out_shape
    per_row = ds.height / rows  # source rows per output row
    row_bytes = per_row * ds.width * ds.count * np.dtype(ds.dtypes[0]).itemsize
    step = max(1, int(READ_CACHE_BYTES // 2 // max(row_bytes, 1)))
    strips: list[list[np.ndarray]] = [[] for _ in reads]
    for r0 in range(0, rows, step):
        r1 = min(rows, r0 + step)
        window = Window(0, r0 * per_row, ds.width, (r1 - r0) * per_row)
        for read, parts in zip(reads, strips, strict=True):
            parts.append(read(window=window, out_shape=(r1 - r0, cols)))
    return [np.concatenate(parts, axis=-2) for parts in strips]


def mask_to_polygon(mask: np.ndarray, transform: Affine) -> shapely.Geometry:
    """The True pixels of a (rows, cols) bool mask as one valid (multi)polygon in map units."""
    from rasterio.features import shapes

    flags = mask.astype(np.uint8)
    parts = [shapely.geometry.shape(g) for g, _ in shapes(flags, mask=mask, transform=transform)]
    return shapely.make_valid(shapely.union_all(parts)) if parts else shapely.Polygon()


@contextlib.contextmanager
def open_picture(path: Path) -> Iterator[object]:
    """The image at ``path`` opened with rasterio for reading, without rasterio's warning that
    it has no georeference: plain JPEG/PNG pictures are read knowingly, and the scan reports
    an image without one as a :class:`~dwelltime.errors.SceneError`. An empty file (0 bytes)
    is a SceneError saying so, rather than GDAL's "not recognized as … a supported format", and
    so is a name that is not UTF-8 (undecodable bytes, which Python keeps as surrogates), and
    a file of text (a download's error page) named as an image.

    An image placed by a world file whose CRS is only in the ``.prj`` beside it (ESRI WKT,
    which GDAL reads for no JPEG, PNG or TIFF) is given that CRS (:func:`prj_crs`): every
    stage opens scenes here, so they all read it alike."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
    from rasterio.vrt import WarpedVRT

    if Path(path).is_file() and Path(path).stat().st_size == 0:
        raise SceneError(path, "is empty (0 bytes): a download or copy that did not finish")
    try:
        os.fspath(path).encode("utf-8")
    except UnicodeEncodeError:
        raise SceneError(
            path, "its name is not UTF-8, which GDAL cannot open (a ZIP made on Windows, "
            "unpacked here?): unpack it again naming its encoding (unzip -O CP866) or rename it "
            "(convmv -f CP1251 -t UTF-8 --notest -r FOLDER)"
        ) from None  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        try:
            ds = rasterio.open(path)
        except RasterioIOError:
            if _is_text(path):
                raise SceneError(
                    path, "is text (a web page, XML or JSON: a download's error response, such "
                    "as an expired link's), not an image; download it again"
                ) from None  # fmt: skip
            raise
        with ds:
            placed = ds.crs is None and not ds.transform.is_identity
            crs = prj_crs(Path(path)) if placed else None
            if crs is None:
                yield ds
                return
            grid = {"transform": ds.transform, "width": ds.width, "height": ds.height}
            with WarpedVRT(ds, src_crs=crs, crs=crs, **grid) as vrt:  # the same pixels
                yield vrt


def prj_crs(image: Path) -> object | None:
    """The CRS in the ``.prj`` (or ``.PRJ``) named after ``image`` beside it (ESRI or OGC WKT,
    as GIS software writes it with a world file), None when there is none; SceneError naming
    it when it holds no CRS."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError
    from rasterio.crs import CRS as RasterioCRS

    prj = _prj_path(image)
    if prj is None:
        return None
    try:
        return RasterioCRS.from_wkt(CRS.from_wkt(prj.read_text(errors="replace")).to_wkt())
    except CRSError:
        raise SceneError(
            prj, f"is no CRS PROJ reads (not a complete WKT): write the CRS of {image.name} "
            "there as WKT, as GIS software exports it, or remove it and give the CRS "
            "(gdal_edit.py -a_srs EPSG:…)"
        ) from None  # fmt: skip


def _prj_path(image: Path) -> Path | None:
    """The ``.prj`` (or ``.PRJ``) named after ``image`` beside it, None when there is none."""
    return next((p for p in map(image.with_suffix, (".prj", ".PRJ")) if p.is_file()), None)


def sidecar_files(ds: object) -> tuple[Path, ...]:
    """The files besides the image itself that ``ds``, as :func:`open_picture` yields it, is
    read from (resolved, sorted): GDAL's (a world file, ``.aux.xml``, a mosaic's tiles…) and
    the ``.prj`` that gives it its CRS (:func:`prj_crs`). Edit one, and the scene reads
    otherwise: placed elsewhere, or other pixels."""
    src = getattr(ds, "src_dataset", ds)  # the file under open_picture's WarpedVRT
    files = {Path(f).resolve() for f in src.files}
    prj = _prj_path(Path(src.name)) if src is not ds else None
    if prj is not None:
        files.add(prj.resolve())
    return tuple(sorted(files - {Path(src.name).resolve()}))


def _is_text(path: Path) -> bool:
    """Whether ``path``, named as a binary image (not a ``.vrt``/``.til`` mosaic nor a DIMAP
    XML, which are text), begins as markup or JSON does."""
    if Path(path).suffix.lower() in MOSAIC_SUFFIXES or is_dimap_name(path):
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return False
    return head.startswith((b"<", b"{", b"["))


def read_rgb(path: Path) -> np.ndarray:
    """The image as (3, H, W) uint8 red, green, blue: the bands ``run`` reads
    (:func:`rgb_bands`: metadata, colour interpretation, the provider of a
    Planet/Maxar file name, else bands 1–3; a single band repeated; a palette's colours),
    other dtypes stretched from their 2nd to 98th percentile of valid pixels, as scenes are."""
    path = Path(path)
    with open_picture(path) as ds:
        if ds.colorinterp[0].name == "palette":  # a palette PNG: its colours, not its indexes
            colours = ds.colormap(1)
            lut = np.zeros((max(colours) + 1, 3), np.uint8)
            for index, rgba in colours.items():
                lut[index] = rgba[:3]
            return np.ascontiguousarray(
                np.take(lut, ds.read(1), axis=0, mode="clip").transpose(2, 0, 1)
            )
        bands = rgb_bands(ds, name_provider(path), named_rgb_bands(path, ds.count))
        return to_uint8(ds.read(bands), stretch_limits(ds, bands))


@dataclass(frozen=True)
class CloudVector:
    """Cloud polygons of one scene (Airbus DIMAP ``MASKS/CLD_*_MSK.GML``, Maxar ARD
    ``<id>-cloud-mask.gpkg``, or a user's ``<image stem>_cloud.geojson``…): where it saw
    cloud."""

    name: str  # the file
    crs: object | None  # the polygons' CRS; None: the file has none (the scan refuses it)
    clouds: np.ndarray  # shapely polygons, map units of ``crs``
    others: int = 0  # features that mark no area: lines, points, no geometry


def read_cloud_vector(path: Path) -> CloudVector:
    """The cloud polygons of the first layer of the vector file at ``path``; none where it has
    no feature (an Airbus mask of a clear scene may have no layer). GML is read from memory, so
    that GDAL writes no ``.gfs`` file into the provider's product."""
    import io

    import pyogrio

    path = Path(path)
    gml = path.suffix.lower() == ".gml"
    data = path.read_bytes() if gml else b""

    def source() -> Path | io.BytesIO:
        return io.BytesIO(data) if gml else path

    layers = pyogrio.list_layers(source())
    if not len(layers):
        return CloudVector(str(path), None, np.empty(0, dtype=object))
    frame = pyogrio.read_dataframe(source(), layer=layers[0][0])
    polygons = frame.geometry[frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    return CloudVector(str(path), frame.crs, polygons.to_numpy(), len(frame) - len(polygons))


def open_mask(path: Path | None) -> contextlib.AbstractContextManager:
    """The provider mask at ``path`` opened for reading (a :class:`CloudVector` for an Airbus
    cloud mask), or a null context yielding None."""
    import rasterio

    if path is None:
        return contextlib.nullcontext()
    if is_cloud_vector(path):
        return contextlib.nullcontext(read_cloud_vector(path))
    return rasterio.open(path)


def valid_mask(ds: object, grid: Grid, provider_mask: object | None = None) -> np.ndarray:
    """(rows, cols) bool: the scene has data there (nodata/mask/alpha; in a float image also
    not NaN, a fill often left undeclared) and, where a provider mask is open, it says clear:
    Planet UDM2 (``*_udm2``) band 1 == 1, UDM (:data:`~dwelltime.formats.UDM1_SUFFIXES`) == 0,
    no pixel touched by a :class:`CloudVector` polygon. Ground a raster mask does not cover
    (outside its extent, or its nodata) is unknown, so not valid."""
    valid = read_to_grid(ds, grid)[0] > 0
    if np.dtype(ds.dtypes[0]).kind == "f":
        valid &= np.isfinite(read_to_grid(ds, grid, indexes=[1])[0])
    if isinstance(provider_mask, CloudVector):
        valid &= _outside(provider_mask, ds.crs, grid)
    elif provider_mask is not None:
        udm1 = Path(provider_mask.name).stem.lower().endswith(UDM1_SUFFIXES)
        valid &= read_to_grid(provider_mask, grid, indexes=[1])[0] == (0 if udm1 else 1)
        valid &= read_to_grid(provider_mask, grid)[0] > 0
    return valid


def _outside(mask: CloudVector, scene_crs: object, grid: Grid) -> np.ndarray:
    """(rows, cols) bool: the grid pixels no cloud polygon of ``mask`` touches."""
    import geopandas as gpd
    from rasterio.features import geometry_mask

    if not len(mask.clouds):
        return np.ones(grid.shape, bool)
    clouds = gpd.GeoSeries(mask.clouds, crs=mask.crs or scene_crs).to_crs(grid.crs)
    return geometry_mask(clouds, out_shape=grid.shape, transform=grid.transform, all_touched=True)


#: Providers whose 4-band images are BGRN, 5-band ones RapidEye (blue, green, red, red edge,
#: NIR) and 8-band ones SuperDove: Planet, and the constellations its STAC items name.
PLANET_PROVIDERS = ("planet", "planetscope", "skysat", "rapideye")
#: Providers whose 4-band images are BGRN and 8-band ones WorldView (coastal, blue, green,
#: yellow, red, red edge, NIR1, NIR2): Maxar, and the platforms its STAC items name.
MAXAR_PROVIDERS = ("maxar", "worldview-2", "worldview-3", "worldview-4", "geoeye-1",
                   "quickbird-2", "wv02", "wv03", "wv04", "ge01", "qb02")  # fmt: skip
#: Red, green, blue of each provider's images, by band count.
PROVIDER_RGB: dict[str, dict[int, tuple[int, int, int]]] = {
    **{name: {4: (3, 2, 1), 5: (3, 2, 1), 8: (6, 4, 2)} for name in PLANET_PROVIDERS},
    **{name: {4: (3, 2, 1), 8: (5, 3, 2)} for name in MAXAR_PROVIDERS},
}


def rgb_bands(
    ds: object, provider: str = "unknown", named: Sequence[int] | None = None
) -> list[int]:
    """1-based band indexes giving red, green, blue, from what says so first:

    1. ``named``: the indexes the scene's metadata names (``Scene.rgb_bands``: its STAC
       item, :func:`dwelltime.stac.item_rgb_bands`, else its Maxar IMD or XML,
       :func:`dwelltime.timesources.imd_rgb_bands`);
    2. the file's GDAL colour interpretation (a GeoTIFF's photometric RGB, a JPEG 2000's
       colour channels), when it names red, green and blue;
    3. its band descriptions (``red``, ``green``, ``blue``), when they name all three;
    4. the provider's band order (:data:`PROVIDER_RGB`): Planet (provider ``planet``, or a
       STAC constellation of :data:`PLANET_PROVIDERS`) 4-band BGRN and 5-band RapidEye →
       3,2,1, 8-band SuperDove → 6,4,2; Maxar (:data:`MAXAR_PROVIDERS`) 4-band BGRN → 3,2,1,
       8-band WorldView → 5,3,2;
    5. else the first three bands, as red, green, blue.

    A 1- or 2-band image (panchromatic) → band 1 three times.
    """
    if ds.count < 3:
        return [1, 1, 1]
    if named is not None and all(1 <= b <= ds.count for b in named):
        return list(named)
    for names in (
        [c.name for c in ds.colorinterp],
        [(d or "").strip().lower() for d in ds.descriptions],
    ):
        if all(c in names for c in ("red", "green", "blue")):
            return [names.index(c) + 1 for c in ("red", "green", "blue")]
    by_count = PROVIDER_RGB.get(provider, {})
    if ds.count in by_count:
        return list(by_count[ds.count])
    return [1, 2, 3]


def stretch_limits(ds: object, bands: Sequence[int]) -> tuple[float, float] | None:
    """The per-scene linear stretch (low, high) from the 2nd–98th percentile of valid pixels
    in a decimated read; None for uint8 images, which are used as they are."""
    if ds.dtypes[bands[0] - 1] == "uint8":
        return None
    scale = max(1.0, max(ds.width, ds.height) / STRETCH_MAX_PX)
    shape = (max(1, round(ds.height / scale)), max(1, round(ds.width / scale)))
    data, mask = read_decimated(ds, shape, functools.partial(ds.read, list(bands)), ds.dataset_mask)
    data = data.astype(np.float64)
    valid = (mask > 0) & np.isfinite(data).all(axis=0)
    values = data[:, valid]
    if values.size == 0:
        return (0.0, 1.0)
    low, high = np.percentile(values, STRETCH_PERCENTILES)
    return (float(low), float(high) if high > low else float(low) + 1.0)


def to_uint8(image: np.ndarray, limits: tuple[float, float] | None) -> np.ndarray:
    """Apply the per-scene stretch: ``limits`` (low, high) → (0, 255); None: already uint8."""
    if limits is None:
        return image.astype(np.uint8, copy=False)
    low, high = limits
    scaled = (image.astype(np.float32) - low) * (255.0 / (high - low))
    return np.nan_to_num(scaled, nan=0.0).clip(0, 255).astype(np.uint8)
