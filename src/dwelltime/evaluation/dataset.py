"""Images of a labelled folder: pixel frame, GSD, RGB pixels, truth and saved detections.

Everything is brought into the image's pixel frame (col, row): DOTA labels already are; GeoJSON
footprints and saved detections go through the raster's CRS and transform.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dwelltime.errors import DetectionsError, LabelError, SceneError
from dwelltime.evaluation.labels import (
    AirbusRows,
    LabelledImage,
    airbus_boxes,
    airbus_rows,
    read_dota,
    read_geojson,
)
from dwelltime.evaluation.objects import Objects, detection_objects
from dwelltime.regrid import ground_pixel_m, open_picture
from dwelltime.tables import few

if TYPE_CHECKING:
    import pandas as pd
    from rasterio.io import DatasetReader


@dataclass(frozen=True)
class ImageInfo:
    """Where an image's pixels lie. crs/transform are None for images without georeference.

    gsd_m: metres per pixel from the georeference, else the value given, else NaN.
    """

    path: Path
    width: int
    height: int
    crs: object | None
    transform: object | None
    gsd_m: float


#: Largest relative difference between the ground sizes of a georeferenced image's pixel
#: along a row and along a column that evaluation, which works in the image's pixels, accepts.
SQUARE_PIXEL_TOLERANCE = 0.05


def image_info(path: Path, *, gsd_m: float | None = None) -> ImageInfo:
    """Size, georeference and GSD of an image (``gsd_m`` is used only without georeference).

    SceneError for a georeferenced image whose pixels are not square on the ground (a lon/lat
    grid away from the equator: :data:`SQUARE_PIXEL_TOLERANCE`): in its pixels aircraft are
    squeezed and one GSD cannot give their lengths and spans in metres."""
    import rasterio

    from dwelltime.scenes import gsd_metres

    try:
        with open_picture(path) as ds:
            georef = ds.crs is not None and not ds.transform.is_identity
            if georef:
                _check_square_pixels(path, ds)
            gsd = (
                gsd_metres(ds.crs, ds.transform, ds.width, ds.height)
                if georef
                else (gsd_m if gsd_m is not None else math.nan)
            )
            return ImageInfo(
                Path(path),
                ds.width,
                ds.height,
                ds.crs if georef else None,
                ds.transform if georef else None,
                float(gsd),
            )
    except rasterio.errors.RasterioIOError as exc:
        raise SceneError(path, f"cannot be opened as an image ({exc})") from None


def _check_square_pixels(path: Path, ds: DatasetReader) -> None:
    """SceneError naming ``path`` when its pixels' ground sizes along a row and a column differ
    by more than :data:`SQUARE_PIXEL_TOLERANCE`, with the gdalwarp line that squares them."""
    from pyproj import Transformer

    from dwelltime.airports import utm_crs

    along_row, along_column = ground_pixel_m(ds.crs, ds.transform, ds.width, ds.height)
    if not abs(along_row / along_column - 1) > SQUARE_PIXEL_TOLERANCE:  # NaN: not measured
        return
    centre = ds.transform @ (ds.width / 2, ds.height / 2)
    to_lonlat = Transformer.from_crs(ds.crs.to_wkt(), "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(*centre)
    size = (along_row + along_column) / 2
    raise SceneError(
        path, f"its pixels are {along_row:.2f} m × {along_column:.2f} m on the ground "
        f"({ds.crs.to_string()} at latitude {lat:.1f}°), not square, so one GSD cannot "
        f"measure aircraft in them; warp it to its UTM zone first (gdalwarp -t_srs "
        f"{utm_crs(lon, lat)} -tr "
        f"{size:.2g} {size:.2g} -r bilinear {path.name} {path.stem}_utm.tif)"
    )  # fmt: skip


def image_id(image: Path, folder: Path) -> str:
    """An image's name in the evaluation tables: its path under ``folder`` without the
    suffix, e.g. ``site2/2021-05-01`` (the file stem of an image directly in ``folder``)."""
    return Path(image).relative_to(folder).with_suffix("").as_posix()


def coarse_copy(rgb: np.ndarray, gsd_m: float, coarse_gsd_m: float) -> np.ndarray:
    """A (3, H, W) uint8 image of ``gsd_m`` metres/pixel as a coarser sensor would have taken
    it at ``coarse_gsd_m`` (:func:`dwelltime.synth.degrade.coarsen`, with
    :data:`~dwelltime.synth.degrade.COARSE_SENSOR_BLUR_PX`): (3, H', W'); pixel coordinates
    on it are those on ``rgb`` times ``gsd_m / coarse_gsd_m``."""
    from dwelltime.synth.degrade import COARSE_SENSOR_BLUR_PX, coarsen

    coarse = coarsen(rgb.transpose(1, 2, 0), gsd_m, coarse_gsd_m, COARSE_SENSOR_BLUR_PX)
    return np.ascontiguousarray(coarse.transpose(2, 0, 1))


def load_truth(
    item: LabelledImage, info: ImageInfo, airbus: dict[Path, AirbusRows]
) -> tuple[Objects, float]:
    """Truth objects of one image in its pixels, and the GSD to report it under.

    ``airbus`` caches the rows of Airbus CSVs by path (filled on first use; an unreadable row
    spoils only its image). Raises
    :class:`LabelError` when there are labels and none of them touches the image.
    """
    truth, gsd = _read_truth(item, info, airbus)
    corners = truth.polygons
    lo, hi = corners.min(axis=1), corners.max(axis=1)
    on_image = (hi > 0).all(axis=1) & (lo[:, 0] < info.width) & (lo[:, 1] < info.height)
    if len(truth) and not on_image.any():
        raise LabelError(
            f"{item.labels}: none of its {len(truth)} aircraft lies on {item.image.name} "
            f"({info.width} × {info.height} px); are they another image's labels, pixel "
            "coordinates where map ones belong, or in the wrong CRS?"
        )
    return truth, gsd


def _read_truth(
    item: LabelledImage, info: ImageInfo, airbus: dict[Path, AirbusRows]
) -> tuple[Objects, float]:
    """:func:`load_truth` without the check that the labels lie on the image."""
    if item.kind == "dota":
        if info.crs is None:  # info.gsd_m is the one given: a gsd: header wins over it
            return read_dota(item.labels, default_gsd_m=info.gsd_m)
        return read_dota(item.labels, gsd_m=info.gsd_m)
    if item.kind == "geojson":
        if info.crs is None:
            raise LabelError(
                f"{item.labels}: GeoJSON footprints need a georeferenced image, and "
                f"{item.image.name} has no CRS; label it in DOTA pixels instead"
            )
        return read_geojson(
            item.labels, crs=info.crs, transform=info.transform, gsd_m=info.gsd_m
        ), info.gsd_m
    if item.labels not in airbus:
        airbus[item.labels] = airbus_rows(item.labels)
    rows = airbus[item.labels].get(item.image.name, [])
    return airbus_boxes(item.labels, item.image.name, rows), info.gsd_m


#: columns :func:`saved_detections` reads (of DETECTION_COLUMNS)
SAVED_DETECTION_COLUMNS = ("scene_id", "type", "length_m", "wingspan_m", "heading_deg", "score")


def check_saved_detections(frame: pd.DataFrame, stems: Sequence[str], path: Path) -> None:
    """Raise :class:`DetectionsError` naming ``path`` when ``frame`` lacks a column that
    :func:`saved_detections` reads, or has detections but none whose ``scene_id`` is one of
    the labelled images' file ``stems`` (a few ids of each named)."""
    missing = [c for c in SAVED_DETECTION_COLUMNS if c not in frame.columns]
    if missing:
        raise DetectionsError(
            f"{path}: no column {', '.join(missing)}; give detections as dwelltime writes them"
        )
    ids = sorted(set(frame["scene_id"].astype(str)))
    if ids and not set(ids) & set(stems):
        raise DetectionsError(
            f"{path}: no detection is on a labelled image: scene_ids {few(ids)}, images "
            f"{few(sorted(stems))} (a detection's scene_id must be its image's file stem)"
        )


def stems_without_detections(frame: pd.DataFrame, stems: Sequence[str]) -> list[str]:
    """The labelled images' file ``stems`` that no row of saved detections ``frame`` names by
    its ``scene_id``, sorted: scored as finding nothing, whether the detector found nothing
    there or never ran on them."""
    return sorted(set(stems) - set(frame["scene_id"].astype(str)))


def saved_detections(frame: object, scene_id: str, info: ImageInfo) -> Objects:
    """Detections of one scene from a DETECTION_COLUMNS frame, in the image's pixels.

    Rows are those whose ``scene_id`` is the image stem. Footprints are reprojected to the
    image CRS and mapped through its transform; when the frame or the image has no CRS, the
    footprints are read as image pixel coordinates.
    """
    import shapely

    rows = frame[frame["scene_id"].astype(str) == scene_id]  # type: ignore[index]
    if len(rows) == 0:
        return Objects.empty()
    geoms = rows.geometry
    to_pixels = frame.crs is not None and info.crs is not None  # type: ignore[attr-defined]
    if to_pixels:
        geoms = geoms.to_crs(info.crs)
    corners = []
    for geom in geoms:
        ring = np.asarray(shapely.oriented_envelope(geom).exterior.coords)[:4]
        if to_pixels:
            cols, rows_px = ~info.transform @ (ring[:, 0], ring[:, 1])  # type: ignore[operator]
            ring = np.stack([cols, rows_px], axis=-1)
        corners.append(ring)
    return detection_objects(rows, np.array(corners))
