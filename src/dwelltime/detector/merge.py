"""Tiles to map: tile-pixel detections to footprints in the tile's CRS, and one row per aircraft
where tiles overlap.

Strategy for duplicates (named ``intersection-over-smaller``): two footprints whose
intersection covers more than ``threshold`` of the smaller one are the same aircraft. Of a group
the row kept is the highest-scoring one whose footprint lies wholly inside its tile; if every
copy is cut by a tile edge, the one whose tile holds it most centrally (largest edge margin).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import affine
import numpy as np
import shapely

from dwelltime.detector.decode import TileDetections
from dwelltime.footprints import direction_heading, footprint_corners, frame_axes

if TYPE_CHECKING:
    import geopandas as gpd

#: Intersection-over-smaller above which two footprints are one aircraft.
MERGE_THRESHOLD = 0.5


@dataclass(frozen=True)
class MapDetections:
    """Detections of one tile in map units: centre ``x``, ``y``, ``length_m``, ``span_m``,
    ``heading_deg`` (clockwise from map up), ``footprints`` (shapely polygons) and
    ``edge_margin_px`` (distance of the footprint to the tile edge; negative when cut)."""

    x: np.ndarray
    y: np.ndarray
    length_m: np.ndarray
    span_m: np.ndarray
    heading_deg: np.ndarray
    footprints: np.ndarray
    edge_margin_px: np.ndarray


def georeference(
    det: TileDetections, transform: affine.Affine, tile_shape: tuple[int, int], gsd_m: float
) -> MapDetections:
    """Map tile pixels (column, row) through ``transform``; sizes in metres from the tile's
    ``gsd_m`` (so that a transform to original-image pixels still gives metres).

    Headings are measured clockwise from "up" of the target frame: +y for a map frame
    (negative determinant, north-up rasters) and −y for a pixel frame with rows going down
    (positive determinant), so a pixel-to-pixel transform keeps "clockwise from image up".
    ``tile_shape``: (H, W) pixels.
    """
    corners = footprint_corners(det.cx, det.cy, det.length_px, det.span_px, det.heading_deg)
    a, b, c, d, e, f = transform.a, transform.b, transform.c, transform.d, transform.e, transform.f
    lin = np.array([[a, b], [d, e]])
    map_corners = corners @ lin.T + np.array([c, f])
    centres = np.stack([det.cx, det.cy], axis=-1).astype(np.float64) @ lin.T + np.array([c, f])
    nose = frame_axes(det.heading_deg)[0] @ lin.T
    heading = direction_heading(nose, y_down=np.linalg.det(lin) >= 0)
    h, w = tile_shape
    margin = np.minimum.reduce(
        [corners[..., 0], w - corners[..., 0], corners[..., 1], h - corners[..., 1]]
    ).min(axis=1)
    return MapDetections(
        x=centres[:, 0],
        y=centres[:, 1],
        length_m=np.asarray(det.length_px, float) * gsd_m,
        span_m=np.asarray(det.span_px, float) * gsd_m,
        heading_deg=heading,
        footprints=shapely.polygons(map_corners),
        edge_margin_px=margin,
    )


def merge_overlaps(
    frame: gpd.GeoDataFrame, *, threshold: float = MERGE_THRESHOLD
) -> gpd.GeoDataFrame:
    """Drop duplicates of the same aircraft seen in overlapping tiles of the same scene.

    ``frame`` needs ``scene_id``, ``score``, ``edge_margin_px`` and footprint geometries; the
    result keeps the input order of the surviving rows.
    """
    if frame.empty:
        return frame
    inside = frame["edge_margin_px"].to_numpy() >= 0
    # priority: wholly-inside copies first (by score), then cut copies (by edge margin)
    order = np.lexsort(
        (
            -np.where(inside, frame["score"].to_numpy(), frame["edge_margin_px"].to_numpy()),
            ~inside,
        )
    )
    geoms = frame.geometry.to_numpy()
    areas = shapely.area(geoms)
    scenes = frame["scene_id"].to_numpy()
    # every duplicate pair (i, j) at once, then a greedy pass in priority order
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pair = (left != right) & (scenes[left] == scenes[right])
    left, right = left[pair], right[pair]
    inter = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    same = inter > threshold * np.maximum(np.minimum(areas[left], areas[right]), 1e-9)
    by_left = np.argsort(left[same], kind="stable")
    left, right = left[same][by_left], right[same][by_left]
    bounds = np.searchsorted(left, np.arange(len(frame) + 1))
    dropped = np.zeros(len(frame), dtype=bool)
    for i in order:
        if not dropped[i]:
            dropped[right[bounds[i] : bounds[i + 1]]] = True
    return frame[~dropped]
