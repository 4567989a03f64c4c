"""Write a rendered scene the way providers deliver it: GeoTIFF, acquisition time in one of
the places real providers put it, and a Planet-UDM2-style usable-data mask for cloudy scenes.

Time sources (see :mod:`dwelltime.timesources` for the reading side):

- ``gdal_tag``: ``TIFFTAG_DATETIME`` "YYYY:MM:DD HH:MM:SS" (no zone; UTC);
- ``stac``: STAC item sidecar ``<stem>.json`` with ``properties.datetime``;
- ``planet_json``: Planet ``<item id>_metadata.json`` with ``properties.acquired`` beside
  ``<item id>_3B_AnalyticMS.tif``;
- ``maxar_imd``: ``<stem>.IMD`` with ``firstLineTime``;
- ``filename``: a date-time such as ``20230731T023512`` in the file name.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.enums import ColorInterp

from dwelltime.synth.scene import RenderedScene

TIME_SOURCES = ("gdal_tag", "stac", "planet_json", "maxar_imd", "filename")


def image_name(stem: str, acquired: pd.Timestamp, time_source: str) -> str:
    """File name of the image for ``time_source`` (Planet and filename sources shape the name)."""
    if time_source == "planet_json":
        return f"{stem}_3B_AnalyticMS.tif"
    if time_source == "filename":
        return f"{stem}_{acquired.strftime('%Y%m%dT%H%M%S')}.tif"
    return f"{stem}.tif"


def write_scene(scene: RenderedScene, folder: Path) -> Path:
    """Write the GeoTIFF, its time metadata and (if cloudy) its UDM2 mask; return the image path."""
    spec = scene.spec
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / image_name(spec.stem, spec.acquired, spec.time_source)
    count, height, width = scene.data.shape
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": count,
        "dtype": scene.data.dtype.name,
        "crs": CRS.from_user_input(scene.crs),
        "transform": scene.transform,
        "nodata": 0,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
    }
    if spec.jpeg_quality and scene.data.dtype == np.uint8 and count == 3:
        profile.update(compress="JPEG", jpeg_quality=spec.jpeg_quality, photometric="YCBCR")
        profile.pop("nodata")  # JPEG-compressed RGB: nodata via the internal mask instead
    else:
        profile.update(compress="DEFLATE", predictor=2)
    planet = spec.time_source.startswith("planet") and count == 4
    with rasterio.open(path, "w", **profile) as dst:
        # Planet 4-band analytic products are blue, green, red, NIR with no colour
        # interpretation; other providers label their bands.
        dst.write(scene.data[[2, 1, 0, 3]] if planet else scene.data)
        if not planet and count >= 3:
            rgb = [ColorInterp.red, ColorInterp.green, ColorInterp.blue]
            dst.colorinterp = rgb + [ColorInterp.undefined] * (count - 3)
        if "nodata" not in profile:
            dst.write_mask(scene.valid.astype(np.uint8) * 255)
        if spec.time_source == "gdal_tag":
            dst.update_tags(TIFFTAG_DATETIME=spec.acquired.strftime("%Y:%m:%d %H:%M:%S"))
        dst.update_tags(SYNTHETIC="dwelltime.synth")
    _write_time_sidecar(scene, path)
    if scene.cloud_fraction > 0:
        write_udm2(scene, folder / f"{path.stem}_udm2.tif")
    return path


def _iso(t: pd.Timestamp) -> str:
    return t.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _footprint_lonlat(scene: RenderedScene) -> list[list[float]]:
    h, w = scene.valid.shape
    cols, rows = np.array([0, w, w, 0, 0]), np.array([0, 0, h, h, 0])
    xs, ys = scene.transform @ (cols, rows)
    lon, lat = Transformer.from_crs(scene.crs, "EPSG:4326", always_xy=True).transform(xs, ys)
    return [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]


def _write_time_sidecar(scene: RenderedScene, image: Path) -> None:
    spec = scene.spec
    ring = _footprint_lonlat(scene)
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    geometry = {"type": "Polygon", "coordinates": [ring]}
    cloud = round(scene.cloud_fraction, 4)
    if spec.time_source == "stac":
        item = {
            "type": "Feature",
            "stac_version": "1.0.0",
            "id": image.stem,
            "geometry": geometry,
            "bbox": [min(lons), min(lats), max(lons), max(lats)],
            "properties": {
                "datetime": _iso(spec.acquired),
                "platform": "synthetic",
                "gsd": spec.gsd_m,
                "eo:cloud_cover": 100 * cloud,
                "view:off_nadir": spec.off_nadir_deg,
                "view:sun_azimuth": scene.sun.azimuth_deg,
                "view:sun_elevation": scene.sun.elevation_deg,
            },
            "assets": {
                "image": {"href": f"./{image.name}", "type": "image/tiff; application=geotiff"}
            },
            "links": [],
        }
        image.with_suffix(".json").write_text(json.dumps(item, indent=1))
    elif spec.time_source == "planet_json":
        item_id = image.stem.removesuffix("_3B_AnalyticMS")
        meta = {
            "id": item_id,
            "type": "Feature",
            "geometry": geometry,
            "properties": {
                "acquired": _iso(spec.acquired),
                "item_type": "SkySatScene",
                "provider": "skysat",
                "cloud_cover": cloud,
                "gsd": spec.gsd_m,
                "view_angle": spec.off_nadir_deg,
                "sun_azimuth": scene.sun.azimuth_deg,
                "sun_elevation": scene.sun.elevation_deg,
            },
        }
        (image.parent / f"{item_id}_metadata.json").write_text(json.dumps(meta, indent=1))
    elif spec.time_source == "maxar_imd":
        t = spec.acquired.tz_convert("UTC")
        imd = (
            'version = "28.4";\ngenerationTime = '
            f'{_iso(t)};\nproductType = "Basic";\nBEGIN_GROUP = IMAGE_1\n'
            f'\tsatId = "WV03";\n\tfirstLineTime = {_iso(t)};\n'
            f"\tavgSunAz = {scene.sun.azimuth_deg:.1f};\n"
            f"\tavgSunEl = {scene.sun.elevation_deg:.1f};\n"
            f"\tavgOffNadirViewAngle = {spec.off_nadir_deg:.1f};\n\tcloudCover = {cloud:.3f};\n"
            "END_GROUP = IMAGE_1\nEND;\n"
        )
        image.with_suffix(".IMD").write_text(imd)


def write_udm2(scene: RenderedScene, path: Path) -> Path:
    """Planet-UDM2-style mask on the image grid: band 1 clear (1) / not (0), band 6 cloud,
    band 8 unusable (1 = nodata); other bands 0. uint8, 8 bands."""
    h, w = scene.valid.shape
    bands = np.zeros((8, h, w), np.uint8)
    bands[0] = scene.clear
    bands[5] = scene.valid & ~scene.clear
    bands[7] = ~scene.valid
    profile = {
        "driver": "GTiff",
        "width": w,
        "height": h,
        "count": 8,
        "dtype": "uint8",
        "crs": CRS.from_user_input(scene.crs),
        "transform": scene.transform,
        "compress": "DEFLATE",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(bands)
        dst.update_tags(1, name="clear")
    return path
