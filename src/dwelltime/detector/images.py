"""Detection over whole image files: georeferenced scenes through the tiling stage, plain
images (no georeference) in their own pixel frame. Used by ``dwelltime detect``."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from dwelltime.airports import Airport, ApronSource
from dwelltime.detector.predict import Detector, detect_tiles
from dwelltime.errors import NoImageError, SceneError
from dwelltime.formats import (
    IMAGE_SUFFIXES,
    distinct_files,
    is_archive,
    is_dimap,
    is_packed,
    is_provider_mask,
    mosaic_members,
    unpack_archive,
    walk_folders,
)
from dwelltime.stac import is_item_file, item_scenes

if TYPE_CHECKING:
    from dwelltime.scenes import Scene
    from dwelltime.tiling import TileSpec

log = logging.getLogger(__name__)

#: Layer of detections in original-image pixels (no CRS).
PIXEL_LAYER = "detections_pixels"


def collect(paths: Iterable[Path]) -> tuple[list[Path], list[SceneError]]:
    """Image files among ``paths`` and the inputs that give none. Folders are searched
    recursively for images (sorted; suffixes of :data:`dwelltime.formats.IMAGE_SUFFIXES`,
    usable-data masks such as ``*_udm2.tif`` or Maxar ARD's ``<id>-clouds.tif`` and the tiles
    of a ``.vrt``/``.til`` mosaic or a DIMAP ``DIM_*.XML`` product left out); a STAC
    ItemCollection JSON gives its items' local images (:mod:`dwelltime.stac`; an item
    without one is an error). An archive, given or in a folder, is an error of its own: it
    is not opened. A file reached twice (a link to it, or given twice) is read once
    (:func:`dwelltime.formats.distinct_files`)."""
    files: list[Path] = []
    errors: list[SceneError] = []
    for path in paths:
        if path.is_dir():
            listed = [root / name for root, names in walk_folders(path) for name in names]
            found = sorted(
                p
                for p in listed
                if (p.name.lower().endswith(IMAGE_SUFFIXES) or is_dimap(p.name))
                and not is_provider_mask(p.name)
            )
            errors += [SceneError(p, unpack_archive(p)) for p in sorted(listed) if is_packed(p)]
            if not found:
                errors.append(NoImageError(path))
            members = mosaic_members(found)  # a mosaic's tiles are read through it
            files += [p for p in found if p.resolve() not in members]
        elif is_item_file(path):
            try:
                found, unusable = item_scenes(path)
            except SceneError as exc:  # not an item collection at all
                errors.append(exc)
                continue
            files += [f.image for f in found]
            errors += unusable
        elif is_archive(path):
            errors.append(SceneError(path, unpack_archive(path)))
        else:
            files.append(path)
    return distinct_files(files), errors


def input_scene_ids(files: Sequence[Path]) -> dict[Path, str]:
    """A distinct scene id for each of ``files`` (:func:`collect`'s): its stem, or where stems
    repeat (``day1/x.jpg``, ``day2/x.jpg``) its path under their common folder
    (:func:`dwelltime.scenes.scene_ids`), so no two images share detection ids."""
    from dwelltime.scenes import scene_ids

    if not files:
        return {}
    folder = Path(os.path.commonpath([p.absolute().parent for p in files]))
    ids = scene_ids([p.absolute() for p in files], folder)
    return {p: ids[p.absolute()] for p in files}


def detect_image(
    path: Path,
    detector: Detector,
    *,
    gsd_m: float | None = None,
    airport: str | Airport | None = None,
    aprons: ApronSource | None = None,
    tile_size: int = 512,
    batch_size: int = 8,
    progress: Callable[[int], None] | None = None,
    scene_id: str | None = None,
    scene: Scene | None = None,
) -> gpd.GeoDataFrame:
    """Detections of one image file, with an ``image`` column (its path); ``scene_id`` (and
    the prefix of each ``detection_id``): the file stem unless given; ``scene``: the image
    as :func:`image_scene` read it (of the same ``scene_id``), not read again.

    A georeferenced image is read through :mod:`dwelltime.scenes` and tiled over the aprons
    of ``airport`` (a code, or an :class:`~dwelltime.airports.Airport` as
    :func:`~dwelltime.airports.airport_and_aprons` gives it, for an airport the registry lacks)
    read from ``aprons`` (:func:`~dwelltime.airports.load_aprons`: default the 3 km square
    around its reference point), or over its whole footprint, in the local UTM CRS; one that
    misses the aprons
    is a SceneError, after :func:`dwelltime.tiling.scenes_over_aprons` has warned how far
    away it is. A plain image needs ``gsd_m`` (metres/pixel) and gives footprints in its
    (column, row) pixels, no CRS.
    SceneError names the file when it cannot be used.
    """
    spec = _tile_spec(detector, tile_size)
    scene_id = path.stem if scene_id is None else scene_id
    scene = scene or _scene_of(path, scene_id)
    if scene is not None:
        frame = _detect_scene(path, scene, detector, spec, airport, aprons, batch_size, progress)
    else:
        placed, _, _ = _placement(path)
        if gsd_m is None and placed:  # a world file without a CRS
            from dwelltime.scenes import crs_hint

            raise SceneError(
                path, f"has no CRS; {crs_hint(path)}; or give --gsd METRES to detect in "
                "pixel coordinates"
            )  # fmt: skip
        if gsd_m is None:
            raise SceneError(
                path, "has no georeference; give --gsd METRES to detect in pixel coordinates"
            )
        from dwelltime.detector.pixels import detect_pixels

        _warn_if_coarse(path, gsd_m)
        frame = detect_pixels(
            read_rgb(path),
            detector,
            gsd_m=gsd_m,
            spec=spec,
            scene_id=scene_id,
            airport=(airport.icao if isinstance(airport, Airport) else airport) or "",
            batch_size=batch_size,
            progress=progress,
        )
    frame["image"] = str(path)
    return frame


def read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB pixels of an image file without georeference, read as evaluate
    reads labelled images (:func:`dwelltime.regrid.read_rgb`: any band count and dtype)."""
    from rasterio.errors import RasterioError

    from dwelltime.regrid import read_rgb as read_bands
    from dwelltime.scenes import unreadable_image

    try:
        return np.ascontiguousarray(read_bands(path).transpose(1, 2, 0))
    except RasterioError as exc:
        raise unreadable_image(path, exc) from None


def _warn_if_coarse(path: Path, gsd_m: float) -> None:
    """Warn that the detections of an image of ``gsd_m`` metres/pixel coarser than ``run``
    uses (:func:`dwelltime.scenes.too_coarse`) are unreliable."""
    from dwelltime.scenes import too_coarse

    why = too_coarse(gsd_m)
    if why:
        log.warning(
            "%s: %s; the detector is measured on 0.3-3 m imagery (model card): its "
            "detections here are unreliable, most aircraft are missed",
            path,
            why,
        )


def image_scene(path: Path, scene_id: str | None = None) -> Scene | None:
    """The georeferenced image ``path`` as :func:`detect_image` and :func:`image_tile_count`
    read it (:func:`dwelltime.scenes.read_scene`: header and footprint, 6 s for a 16000²
    GeoTIFF), read once for both; None for a plain image, or one that cannot be used
    (:func:`detect_image` reads it again and says why)."""
    try:
        return _scene_of(path, scene_id)
    except Exception:  # any failure: detect_image meets it again and names it
        return None


def image_sidecars(path: Path) -> tuple[Path, ...]:
    """The files besides ``path`` that it is read from (:func:`dwelltime.regrid.sidecar_files`:
    a world file, ``.prj``, ``.aux.xml``, a mosaic's tiles), from its header; none when it
    cannot be opened (:func:`detect_image` says why)."""
    from dwelltime.regrid import open_picture, sidecar_files

    try:
        with open_picture(path) as ds:
            return sidecar_files(ds)
    except Exception:  # any failure: detect_image meets it again and names it
        return ()


def _scene_of(path: Path, scene_id: str | None) -> Scene | None:
    """``path`` read as a scene (:func:`dwelltime.scenes.read_scene`, no time needed) when it
    has a geotransform and a CRS, None for a plain image; SceneError when it cannot be used."""
    from dwelltime.scenes import read_scene

    placed, georeferenced, _ = _placement(path)
    if placed and georeferenced:
        return read_scene(path, scene_id=scene_id, require_time=False)
    return None


def _detect_scene(
    path: Path,
    scene: Scene,
    detector: Detector,
    spec: TileSpec,
    airport: str | Airport | None,
    apron_source: ApronSource | None,
    batch_size: int,
    progress: Callable[[int], None] | None,
) -> gpd.GeoDataFrame:
    """Detections of the georeferenced image ``path`` (read as ``scene``) tiled by ``spec``
    over the aprons of ``airport`` (from ``apron_source``: :func:`detect_image`), in its UTM
    CRS (metres); with no ``airport``, over the image's footprint in the UTM CRS of its
    centre."""
    from rasterio.errors import RasterioError

    from dwelltime.scenes import as_scene_error
    from dwelltime.tiling import iter_tiles, scenes_over_aprons

    _warn_if_coarse(path, scene.gsd_m)
    site, aprons = _scene_aprons(scene, airport, apron_source)
    if airport and not scenes_over_aprons([scene], aprons, site.icao):
        raise SceneError(path, f"does not overlap the aprons of {site.icao}")
    tiles = iter_tiles(scene, site, aprons, spec)
    try:
        return detect_tiles(
            tiles, detector, batch_size=batch_size, progress=progress, source_gsd_m=scene.gsd_m
        )
    except RasterioError as exc:  # pixels past the header unreadable: a file cut short
        raise as_scene_error(scene, exc) from None


def image_tile_count(
    path: Path,
    detector: Detector,
    *,
    gsd_m: float | None = None,
    airport: str | Airport | None = None,
    aprons: ApronSource | None = None,
    tile_size: int = 512,
    scene: Scene | None = None,
) -> int:
    """How many tiles :func:`detect_image` (same arguments; ``scene`` as :func:`image_scene`
    read it, not read again) gives the detector for ``path``, found without reading pixels: a
    georeferenced image's windows over the aprons (:func:`dwelltime.tiling.apron_windows`; one
    with no valid pixel is not read, so it may give fewer), a plain image's over its size
    resampled from ``gsd_m`` metres/pixel to the detector's. 0 for an image
    :func:`detect_image` cannot use (it says why)."""
    from dwelltime.detector.pixels import pixel_tile_count
    from dwelltime.tiling import apron_windows

    spec = _tile_spec(detector, tile_size)
    try:
        scene = scene or _scene_of(path, None)
        if scene is not None:
            return len(apron_windows(scene, *_scene_aprons(scene, airport, aprons), spec))
        shape = _placement(path)[2]
        return 0 if gsd_m is None else pixel_tile_count(shape, gsd_m=gsd_m, spec=spec)
    except Exception:  # any failure: detect_image meets it again and names it
        return 0


def _tile_spec(detector: Detector, tile_size: int) -> TileSpec:
    """Tiles of ``tile_size`` pixels at the detector's GSD, overlapping by a quarter."""
    from dwelltime.tiling import TileSpec

    return TileSpec(gsd_m=detector.gsd_m, size_px=tile_size, overlap_px=tile_size // 4)


def _placement(path: Path) -> tuple[bool, bool, tuple[int, int]]:
    """Whether the image ``path`` has a geotransform and a CRS, and its (height, width)
    pixels; SceneError when it cannot be opened. Reads the header only."""
    from rasterio.errors import RasterioError

    from dwelltime.regrid import open_picture
    from dwelltime.scenes import unreadable_image

    try:
        with open_picture(path) as ds:  # a CRS without a geotransform places nothing
            return not ds.transform.is_identity, ds.crs is not None, (ds.height, ds.width)
    except RasterioError as exc:
        raise unreadable_image(path, exc) from None


def _scene_aprons(
    scene: Scene, airport: str | Airport | None, apron_source: ApronSource | None
) -> tuple[Airport, gpd.GeoDataFrame]:
    """The airport and aprons (its CRS, metres) a georeferenced ``scene`` is tiled over: those
    of ``airport`` (from ``apron_source``, :func:`detect_image`), or with no ``airport`` the
    scene's footprint in the UTM CRS of its centre."""
    from dwelltime.airports import load_aprons, lonlat_centre, lookup_airport, utm_crs

    if airport:
        site = airport if isinstance(airport, Airport) else lookup_airport(airport)
        return site, load_aprons(site, apron_source)
    footprint = gpd.GeoSeries([scene.footprint], crs="EPSG:4326")
    lon, lat = lonlat_centre(footprint)
    name = scene.path.stem
    site = Airport(icao="", iata="", name=name, lat=lat, lon=lon, crs=utm_crs(lon, lat))
    return site, gpd.GeoDataFrame({"apron_id": ["image"]}, geometry=footprint.to_crs(site.crs))


def group_layers(frames: Sequence[gpd.GeoDataFrame]) -> dict[str, gpd.GeoDataFrame]:
    """One output layer per CRS: ``detections`` (``detections_<crs>`` when several) and
    :data:`PIXEL_LAYER` for pixel-frame detections."""
    by_crs: dict[str, list[gpd.GeoDataFrame]] = {}
    for frame in frames:
        key = "" if frame.crs is None else frame.crs.to_string()
        by_crs.setdefault(key, []).append(frame)
    mapped = [k for k in by_crs if k]
    layers = {}
    for key, group in by_crs.items():
        if not key:
            name = PIXEL_LAYER
        elif len(mapped) == 1:
            name = "detections"
        else:
            name = "detections_" + key.replace(":", "_").lower()
        layers[name] = gpd.GeoDataFrame(
            pd.concat(group, ignore_index=True), geometry="geometry", crs=group[0].crs
        )
    return layers
