"""Tiles over the aprons resampled to the model GSD, and what part of each apron a scene saw.

:func:`tile_windows` is pure window maths. :func:`iter_tiles` reads, for one scene and one
airport, only the windows that touch both an apron and the scene's footprint, resampled into
the airport's UTM grid at ``TileSpec.gsd_m`` (tile origins on multiples of the GSD, so tiles of
different scenes line up). :func:`scene_coverage` says how much of each apron a scene saw
(data present and, where a provider mask exists, clear), as a fraction and as a polygon, so
:func:`is_visible` can answer "was this stand visible in that scene?". :func:`scenes_over_aprons`
keeps the scenes whose footprint meets an apron.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine

from dwelltime.airports import Airport, lonlat_centre, nearest_airport, polygonal_parts
from dwelltime.regrid import (
    Grid,
    capped_cache,
    mask_to_polygon,
    open_mask,
    open_picture,
    read_to_grid,
    rgb_bands,
    stretch_limits,
    to_uint8,
    valid_mask,
)
from dwelltime.scenes import Scene
from dwelltime.schema import COVERAGE_COLUMNS, UTC_TIMESTAMP, empty_frame

log = logging.getLogger(__name__)

#: Pixel size (metres) of the visibility masks behind :func:`scene_coverage`.
COVERAGE_GSD_M = 4.0

Bounds = tuple[float, float, float, float]  # (minx, miny, maxx, maxy)


@dataclass(frozen=True)
class TileSpec:
    """Tile geometry: ``size_px`` square tiles of ``gsd_m`` metres per pixel, neighbours
    overlapping by at least ``overlap_px`` pixels."""

    gsd_m: float = 0.5
    size_px: int = 512
    overlap_px: int = 128

    def __post_init__(self) -> None:
        if not self.gsd_m > 0:
            raise ValueError(f"TileSpec.gsd_m must be > 0 metres, got {self.gsd_m}")
        if self.size_px < 1:
            raise ValueError(f"TileSpec.size_px must be >= 1, got {self.size_px}")
        if not 0 <= self.overlap_px < self.size_px:
            raise ValueError(
                f"TileSpec.overlap_px must be in [0, size_px={self.size_px}), got {self.overlap_px}"
            )

    @property
    def size_m(self) -> float:
        """Tile side, metres."""
        return self.size_px * self.gsd_m

    @property
    def stride_m(self) -> float:
        """Distance between neighbouring tile origins, metres (edge tiles may be closer)."""
        return (self.size_px - self.overlap_px) * self.gsd_m


@dataclass(frozen=True, eq=False)
class Tile:
    """One tile of one scene, ready for the detector; its repr leaves out the pixel arrays."""

    scene_id: str
    airport: str  # ICAO
    acquired: pd.Timestamp  # UTC
    index: int  # 0-based, per scene × airport
    crs: str  # local metric CRS (airport.crs)
    transform: Affine  # (col, row) pixel -> (x, y) metres; north-up, pixel = spec.gsd_m
    # (3, size_px, size_px) uint8 RGB, stretched per scene; 0 where invalid
    image: np.ndarray = field(repr=False)
    valid: np.ndarray = field(repr=False)  # (size_px, size_px) bool: has data and not cloud

    def without_image(self) -> Tile:
        """This tile with an empty image ((3, 0, 0), not a view) and its valid mask (a
        read-only all-True view where nothing is masked): what post-processing needs, so a
        scene's detections can wait for its last tile without holding all its pixels."""
        valid = self.valid if not self.valid.all() else np.broadcast_to(np.True_, self.valid.shape)
        return replace(self, image=np.empty((3, 0, 0), np.uint8), valid=valid)


def tile_windows(bounds: Bounds, spec: TileSpec) -> list[Bounds]:
    """Square windows of ``spec.size_m`` covering ``bounds`` (metres), rows north to south.

    Neighbours overlap by at least ``spec.overlap_px`` pixels; the last tile of a row or
    column is shifted inward to end on the bounds (never padded past them). Along an axis
    shorter than a tile, one tile is centred on the bounds.
    """
    minx, miny, maxx, maxy = bounds
    if not (minx <= maxx and miny <= maxy):
        raise ValueError(f"bounds must be (minx, miny, maxx, maxy), got {bounds}")
    xs = _starts(minx, maxx, spec.size_m, spec.stride_m)
    ys = _starts(miny, maxy, spec.size_m, spec.stride_m)
    return [(x, y, x + spec.size_m, y + spec.size_m) for y in reversed(ys) for x in xs]


def _starts(low: float, high: float, size: float, stride: float) -> list[float]:
    """Tile start coordinates along one axis."""
    length = high - low
    if length <= size:
        return [low + (length - size) / 2]
    n = math.ceil((length - size) / stride - 1e-9)
    return [low + i * stride for i in range(n)] + [high - size]


def scenes_over_aprons(scenes: list[Scene], aprons: gpd.GeoDataFrame, icao: str) -> list[Scene]:
    """The scenes whose footprint overlaps an apron (compared in the aprons' CRS, metres as
    :func:`~dwelltime.airports.load_aprons` gives them, so aprons across the antimeridian are
    not a band round the globe); the others are logged as skipped, and when none does, a
    warning says how far the nearest scene is from them (the gap: m under 1 km) and which
    airport the scenes show (a wrong airport or aprons file, not bad imagery)."""
    region = aprons.union_all()
    footprints = gpd.GeoSeries([s.footprint for s in scenes], crs="EPSG:4326").to_crs(aprons.crs)
    kept = []
    for scene, footprint in zip(scenes, footprints, strict=True):
        if footprint.intersects(region):
            kept.append(scene)
        else:
            log.info("%s: does not overlap the aprons of %s; skipped", scene.path, icao)
    if scenes and not kept:
        log.warning(
            "none of the %d scenes covers the aprons of %s: the nearest is %s from them%s; "
            "check --airport and --aprons",
            len(scenes),
            icao,
            _distance_text(_gap_m(footprints, region)),
            _airport_under(scenes, icao),
        )
    return kept


def _gap_m(footprints: gpd.GeoSeries, region: shapely.Geometry) -> float:
    """Metres from the nearest of ``footprints`` to ``region`` (in their CRS): the shortest
    line between them, measured on the ellipsoid (a UTM zone's metres stretch far from it)."""
    from pyproj import Geod

    nearest = footprints.iloc[int(np.argmin(footprints.distance(region).to_numpy()))]
    ends = shapely.points(shapely.get_coordinates(shapely.shortest_line(nearest, region)))
    (lon_a, lat_a), (lon_b, lat_b) = shapely.get_coordinates(
        gpd.GeoSeries(ends, crs=footprints.crs).to_crs("EPSG:4326")
    )
    return float(Geod(ellps="WGS84").inv(lon_a, lat_a, lon_b, lat_b)[2])


def _distance_text(metres: float) -> str:
    """A gap as messages give it: ``"180 m"`` under a kilometre, else ``"53 km"``."""
    return f"{metres:.0f} m" if metres < 999.5 else f"{metres / 1000:.0f} km"


def _airport_under(scenes: list[Scene], icao: str) -> str:
    """``"; they lie at ZKPY/FNJ (Pyongyang Sunan International Airport)"``: the registry's
    airport nearest the centre of the ``scenes``' footprints (within 20 km), when it is not
    ``icao``; else ""."""
    lon, lat = lonlat_centre(gpd.GeoSeries([s.footprint for s in scenes], crs="EPSG:4326"))
    there = nearest_airport(lon, lat)
    if there is None or there.icao == icao:
        return ""
    return f"; they lie at {there.icao}/{there.iata or '-'} ({there.name})"


def iter_tiles(
    scene: Scene, airport: Airport, aprons: gpd.GeoDataFrame, spec: TileSpec
) -> Iterator[Tile]:
    """Tiles of ``scene`` over ``aprons`` (in ``airport.crs``), resampled to ``spec.gsd_m``.

    Only windows that intersect an apron within the scene footprint are read; windows with no
    valid pixel (all nodata or cloud) are skipped. Images are RGB uint8 (see
    :func:`dwelltime.regrid.rgb_bands`); non-uint8 scenes get one linear stretch per scene.
    Aprons in another CRS (a GeoJSON read in EPSG:4326) are reprojected to ``airport.crs``;
    aprons without one are a ValueError. Read under :func:`~dwelltime.regrid.capped_cache`:
    GDAL's blocks of a large apron's rows of tiles are held up to 256 MiB, not 5 % of the RAM.
    """
    windows = apron_windows(scene, airport, aprons, spec)
    if not windows:
        return
    with capped_cache(), open_picture(scene.path) as ds, open_mask(scene.mask_path) as mask:
        bands = rgb_bands(ds, scene.provider, scene.rgb_bands)
        limits = stretch_limits(ds, bands)
        index = 0
        for window in windows:
            x0, y1 = (round(v / spec.gsd_m) * spec.gsd_m for v in (window[0], window[3]))
            transform = Affine(spec.gsd_m, 0.0, x0, 0.0, -spec.gsd_m, y1)
            grid = Grid(airport.crs, transform, (spec.size_px, spec.size_px))
            valid = valid_mask(ds, grid, mask)
            if not valid.any():
                continue
            image = to_uint8(read_to_grid(ds, grid, indexes=bands, resampling="bilinear"), limits)
            if not valid.all():
                np.multiply(image, valid, out=image)  # 0 where invalid
            yield Tile(
                scene_id=scene.scene_id,
                airport=airport.icao,
                acquired=scene.acquired,
                index=index,
                crs=airport.crs,
                transform=grid.transform,
                image=image,
                valid=valid,
            )
            index += 1


def apron_windows(
    scene: Scene, airport: Airport, aprons: gpd.GeoDataFrame, spec: TileSpec
) -> list[Bounds]:
    """The windows (metres, ``airport.crs``) :func:`iter_tiles` reads: those of
    :func:`tile_windows` over the aprons within the scene footprint that meet them. It
    yields at most as many tiles (none where a window has no valid pixel); no pixel is read.
    ``aprons``: as :func:`iter_tiles` takes them."""
    region = _seen_aprons(scene, airport, in_airport_crs(aprons, airport))
    if region.is_empty:
        return []
    windows = tile_windows(Grid.over(region.bounds, spec.gsd_m, airport.crs).bounds, spec)
    return [w for w in windows if shapely.box(*w).intersects(region)]


def scene_coverage(scene: Scene, airport: Airport, aprons: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One row per apron (:data:`COVERAGE_COLUMNS`, ``airport.crs``): the part of the apron
    the scene saw (data present and not cloud, on a ``COVERAGE_GSD_M`` grid) as ``geometry``
    (a MultiPolygon, empty where it saw none) and its share of the apron area as
    ``visible_fraction``. ``aprons``: as :func:`iter_tiles` takes them."""
    if aprons.empty:
        return empty_frame(COVERAGE_COLUMNS, airport.crs)
    aprons = in_airport_crs(aprons, airport)
    visible = visible_area(scene, airport, aprons)
    seen = polygonal_parts(aprons.geometry.intersection(visible).to_numpy())
    area = aprons.geometry.area.to_numpy()
    fraction = np.divide(shapely.area(seen), area, out=np.zeros(len(area)), where=area > 0)
    return gpd.GeoDataFrame(
        {
            "scene_id": scene.scene_id,
            "airport": airport.icao,
            "apron_id": aprons["apron_id"].astype(str).to_numpy(),
            "acquired": pd.Series([scene.acquired] * len(aprons), dtype=UTC_TIMESTAMP),
            "visible_fraction": fraction.clip(0.0, 1.0),
        },
        geometry=seen,
        crs=airport.crs,
    )[list(COVERAGE_COLUMNS)]


def visible_area(scene: Scene, airport: Airport, aprons: gpd.GeoDataFrame) -> shapely.Geometry:
    """Where over the aprons' bounds ``scene`` has clear data, a polygon in ``airport.crs``."""
    if _seen_aprons(scene, airport, aprons).is_empty:
        return shapely.Polygon()
    gsd = max(COVERAGE_GSD_M, scene.gsd_m)
    grid = Grid.over(aprons.total_bounds, gsd, airport.crs)
    with open_picture(scene.path) as ds, open_mask(scene.mask_path) as mask:
        valid = valid_mask(ds, grid, mask)
    return mask_to_polygon(valid, grid.transform)


def is_visible(
    coverage: gpd.GeoDataFrame,
    scene_id: str,
    footprint: shapely.Geometry,
    min_fraction: float = 0.8,
) -> bool:
    """Whether at least ``min_fraction`` of ``footprint`` (coverage CRS, e.g. an aircraft's
    stand) lay in the visible area of scene ``scene_id``; a point or line must lie inside it.
    False when the coverage has no row for the scene. One footprint at a time; linking asks
    the same question in bulk through :class:`Visibility`, which this uses."""
    rows = coverage[coverage["scene_id"] == scene_id]
    return bool(Visibility(rows, min_fraction=min_fraction).covers(scene_id, [footprint])[0])


class Visibility:
    """Answers "was this stand visible in that scene?" from one airport's coverage rows."""

    def __init__(self, coverage: gpd.GeoDataFrame, *, min_fraction: float = 0.8) -> None:
        self.min_fraction = min_fraction
        self._union: dict[str, shapely.Geometry] = {}
        for scene_id, group in coverage.groupby("scene_id"):
            union = shapely.union_all(group.geometry.to_numpy())
            shapely.prepare(union)
            self._union[str(scene_id)] = union

    def visible(
        self, scene_id: str, x: np.ndarray, y: np.ndarray, radius: np.ndarray
    ) -> np.ndarray:
        """Bool per disc (centre ``x, y`` and ``radius`` in metres): at least ``min_fraction``
        of the disc lies inside the scene's visible area. No coverage row → not visible."""
        x, y, radius = np.atleast_1d(x), np.atleast_1d(y), np.atleast_1d(radius)
        return self.covers(scene_id, shapely.buffer(shapely.points(x, y), radius, quad_segs=8))

    def covers(self, scene_id: str, footprints: np.ndarray) -> np.ndarray:
        """Bool per footprint (coverage CRS): at least ``min_fraction`` of its area lies in the
        scene's visible area; a point or line (no area) must lie inside it. No coverage row →
        not visible."""
        geoms = np.atleast_1d(np.asarray(footprints, dtype=object))
        union = self._union.get(str(scene_id))
        if union is None or union.is_empty:
            return np.zeros(len(geoms), bool)
        area = shapely.area(geoms)
        inside = np.where(area > 0, shapely.contains(union, geoms), shapely.covers(union, geoms))
        partial = ~inside & (area > 0) & shapely.intersects(union, geoms)
        if partial.any():
            frac = shapely.area(shapely.intersection(geoms[partial], union))
            inside[partial] = frac / area[partial] >= self.min_fraction
        return inside


def in_airport_crs(aprons: gpd.GeoDataFrame, airport: Airport) -> gpd.GeoDataFrame:
    """``aprons`` in ``airport.crs`` (metres), reprojected when in another CRS, so that
    polygons in degrees are not read as metres (nothing seen, silently); ValueError for
    aprons without a CRS."""
    if aprons.crs is None:
        raise ValueError(
            f"aprons have no CRS; set it (aprons.set_crs(...)) or read them with "
            f"dwelltime.airports.load_aprons, which puts them in {airport.crs}"
        )
    return aprons if aprons.crs == airport.crs else aprons.to_crs(airport.crs)


def _seen_aprons(scene: Scene, airport: Airport, aprons: gpd.GeoDataFrame) -> shapely.Geometry:
    """The aprons within the scene footprint, in ``airport.crs`` (empty if they miss)."""
    if aprons.empty:
        return shapely.Polygon()
    footprint = gpd.GeoSeries([scene.footprint], crs="EPSG:4326").to_crs(airport.crs)[0]
    return shapely.union_all(aprons.geometry.to_numpy()).intersection(footprint)
