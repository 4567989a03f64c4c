"""Find the images in a folder (or a STAC ItemCollection) and describe each acquisition:
time, CRS, GSD, footprint.

:func:`scan` walks a folder recursively for georeferenced imagery, any case of suffix
(:mod:`dwelltime.formats`): GeoTIFF/COG, JPEG 2000 (as Pléiades and SPOT deliver), NITF and
mosaics of a product's tiles (GDAL ``.vrt``, Maxar ``.TIL``, Airbus DIMAP ``DIM_*.XML`` where
GDAL has its DIMAP driver: one scene, the files it is made of are not scenes of their own);
PNG and JPEG only with a georeference beside them (a world file such as ``.pgw``/``.jgw``/
``.wld``, or ``<name>.aux.xml``). Other PNG/JPEG files are pictures (quicklooks, thumbnails, or
images for ``dwelltime detect --gsd``): listed in :attr:`ScanResult.pictures` and named in one
warning, not scenes. Provider usable-data masks (``*_udm2.tif``, ``*_udm.tif``) are not
scenes: each is attached to the image in its folder whose stem starts with the mask's stem
minus the ``_udm2``/``_udm`` suffix (Planet: ``<id>_3B_udm2.tif`` belongs to
``<id>_3B_AnalyticMS_SR.tif``, and so does a legacy ``<id>_3B_AnalyticMS_DN_udm.tif``, used
when no UDM2 came); an Airbus DIMAP cloud mask (``MASKS/CLD_<id>_MSK.GML``, cloud
polygons) to the product ``DIM_<id>.XML`` or its tiles ``IMG_<id>_R1C1…`` beside ``MASKS``;
a Maxar ARD cloud mask (``<id>-cloud-mask.gpkg``, cloud polygons) to the images of its
acquisition beside it (``<id>-visual.tif``, ``-pan.tif``, ``-ms.tif``), whose other rasters
(``<id>-clouds.tif``, ``-water.tif``…: data masks) are no scenes;
a user's cloud polygons ``<stem>_cloud.geojson`` (``.gpkg``, ``.shp``, ``.gml``) to the image
of that stem beside it, instead of the provider's mask.
A STAC ItemCollection JSON file gives one image per item instead (:mod:`dwelltime.stac`).
Acquisition times come from the sources listed in :mod:`dwelltime.timesources`, in that order
of trust; every scene records which one it used in ``time_source``. A file that cannot be used
(not an image, truncated, no CRS, no time, all nodata, a mask that cannot be used) becomes
one :class:`SceneError` naming the file and the reason, and the scan goes on.
"""

from __future__ import annotations

import logging
import math
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from dwelltime.airports import across_antimeridian, polygonal_parts, utm_crs
from dwelltime.errors import UNREADABLE_PIXELS, NoImageError, SceneError, error_text
from dwelltime.formats import (
    CLOUD_SIDECAR_STEM,
    GEOREFERENCE_SIDECARS,
    MASK_SUFFIXES,
    PICTURE_SUFFIXES,
    RASTER_SUFFIXES,
    UDM1_SUFFIXES,
    ard_id,
    distinct_files,
    is_airbus_cloud_mask,
    is_archive,
    is_ard_cloud_mask,
    is_ard_layer,
    is_cloud_vector,
    is_dimap,
    is_packed,
    is_provider_mask,
    mosaic_members,
    unpack_archive,
    unpack_command,
    walk_folders,
)
from dwelltime.io import missing_crs, user_path
from dwelltime.regrid import (
    CloudVector,
    capped_cache,
    gsd_metres,
    mask_to_polygon,
    open_mask,
    open_picture,
    read_decimated,
    sidecar_files,
)
from dwelltime.schema import SCENE_COLUMNS, empty_frame
from dwelltime.stac import is_item_file, item_scenes
from dwelltime.tables import few
from dwelltime.timesources import (
    DETECT_TIMES_HINT,
    TIMES_HINT,
    NoTimeError,
    TimeInfo,
    acquisition_time,
    case_matched,
    name_provider,
    named_rgb_bands,
    stac_items,
    user_keys,
    user_times,
    utc_text,
    warn_save_times,
)

__all__ = [
    "ScanResult",
    "Scene",
    "gsd_metres",
    "read_scene",
    "scan",
    "scenes_frame",
    "too_coarse",
    "without_coarse",
]

log = logging.getLogger(__name__)

#: Side, in ground metres, of a cell of the decimated grid the valid-data footprint is traced
#: on: its tolerance. The footprint covers every valid pixel and claims no nodata ground
#: farther than two cells from one (a cell is valid where any of its pixels is; half a cell
#: of widening, half a cell of simplification). Coarser cells for scenes wider than
#: :data:`FOOTPRINT_MAX_PX` cells, finer ones for scenes narrower than :data:`FOOTPRINT_MIN_PX`
#: cells, never finer than a pixel. Tiling and coverage test validity per pixel
#: (:func:`dwelltime.regrid.valid_mask`); the footprint only says which aprons a scene may see.
FOOTPRINT_CELL_M = 4.0
#: Most cells along the longer side of the footprint grid (pixels of the decimated read).
FOOTPRINT_MAX_PX = 512
#: Fewest cells along the longer side of the footprint grid, where the scene has that many
#: pixels: a small scene's footprint is traced on its own pixels, or nearly.
FOOTPRINT_MIN_PX = 128
#: Footprints are simplified in EPSG:4326 to this many degrees (about 0.1 m).
FOOTPRINT_TOLERANCE_DEG = 1e-6


@dataclass(frozen=True)
class Scene:
    """One acquisition. ``footprint`` is the valid-data outline in EPSG:4326 (lon, lat)."""

    scene_id: str
    path: Path
    acquired: pd.Timestamp  # tz-aware UTC
    time_source: str  # user|stac|planet_json|planet_xml|maxar_imd|dimap|gdal_tag|filename
    provider: str
    crs: str  # "EPSG:nnnn" or WKT
    gsd_m: float  # metres per pixel, mean of x and y; ground metres for EPSG:4326 and 3857
    width: int  # pixels
    height: int  # pixels
    count: int  # bands
    dtype: str
    cloud_fraction: float  # [0, 1]; NaN if the provider says nothing
    mask_path: Path | None  # provider mask: Planet UDM2 band 1 == 1 clear, UDM == 0 usable;
    # Airbus MASKS/CLD_<id>_MSK.GML, Maxar ARD <id>-cloud-mask.gpkg, a user's
    # <stem>_cloud.geojson…: cloud polygons
    footprint: shapely.Geometry  # EPSG:4326
    #: 1-based red, green, blue band indexes as the scene's STAC item (else Maxar IMD) names
    #: them; None where none does (then :func:`dwelltime.regrid.rgb_bands` reads the file)
    rgb_bands: tuple[int, int, int] | None = None
    #: the other files it is read from (world file, ``.prj``, ``.aux.xml``, a mosaic's
    #: tiles): :func:`dwelltime.regrid.sidecar_files`
    sidecars: tuple[Path, ...] = ()
    #: what gave ``acquired``: the sidecar file's name or the GDAL tag
    #: (:attr:`dwelltime.timesources.TimeInfo.origin`); "" for the user's and the file name's
    time_origin: str = ""


@dataclass(repr=False)
class ScanResult:
    """Scenes that could be read and one error (file + reason) per file that could not;
    :func:`scenes_frame` makes the scenes a table."""

    scenes: list[Scene] = field(default_factory=list)
    errors: list[SceneError] = field(default_factory=list)
    pictures: list[Path] = field(default_factory=list)  # PNG/JPEG without georeference

    def __repr__(self) -> str:
        """The counts (``<ScanResult 10 scenes, 1 unusable file(s), 0 picture(s) without
        georeference>``), not every scene in full: what a notebook shows for ``scan(folder)``."""
        return (
            f"<ScanResult {len(self.scenes)} scenes, {len(self.errors)} unusable file(s), "
            f"{len(self.pictures)} picture(s) without georeference>"
        )


def scan(
    folder: Path,
    *,
    times: Mapping[str, object] | str | os.PathLike | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ScanResult:
    """Describe every image under ``folder`` (recursively), or of the STAC ItemCollection
    (or Item) JSON file ``folder`` names (:mod:`dwelltime.stac`), sorted by acquisition time.

    Args:
        folder: the imagery folder, or a STAC ItemCollection/Item JSON file.
        times: user acquisition times (datetime or ISO string; no zone means UTC), keyed by
            absolute path, path relative to ``folder`` (to the JSON file's folder), file name
            or stem; or a CSV of them as ``--times`` takes it
            (:func:`dwelltime.timesources.read_times_csv`). They win over every other source.
            Checked before any image is read (:func:`dwelltime.timesources.user_times`): a
            value that is no time, or a date without a time of day, raises ``TimesError``.
        progress: called as ``progress(done, total)`` after each file.
    """
    folder = user_path(folder)
    times = user_times(times)
    if is_item_file(folder):
        base, (sources, stac_index, result) = folder.parent, _item_sources(folder)
    elif folder.is_dir():
        base, (sources, stac_index, result) = folder, _folder_sources(folder)
    elif not folder.exists():  # a typo, or a disk not mounted
        raise SceneError(folder, "no such folder or file; give the folder that holds the images")
    elif is_archive(folder):
        raise SceneError(folder, unpack_archive(folder))
    else:
        raise SceneError(
            folder, "is neither a folder nor a STAC ItemCollection JSON file; give the "
            "folder that holds the images"
        )  # fmt: skip
    times = case_matched(times, [src.image for src in sources], base)
    with capped_cache():  # GDAL's cache bounded, however large the images
        for done, src in enumerate(sources, start=1):
            try:
                scene = _read_scene(
                    src.image,
                    scene_id=src.scene_id,
                    folder=base,
                    times=times,
                    stac_index=stac_index,
                    mask_path=src.mask,
                    require_time=True,
                )
            except SceneError as e:
                result.errors.append(e)
            except Exception as e:  # one bad file must not stop the scan
                result.errors.append(SceneError(src.image, error_text(e)))
            else:
                result.scenes.append(scene)
            if progress is not None:
                progress(done, len(sources))
    _warn_unused_times(times, [src.image for src in sources], base)
    warn_save_times((s.path, s.acquired, s.time_origin) for s in result.scenes)
    result.scenes = _without_duplicates(result.scenes, result.errors)
    result.scenes.sort(key=lambda s: (s.acquired, s.scene_id))
    _warn_tiles_of_one_acquisition(result.scenes)
    _warn_cloudy_without_mask(result.scenes)
    return result


def _warn_cloudy_without_mask(scenes: Sequence[Scene]) -> None:
    """One warning naming the scenes (cloudiest first) whose provider reports cloud
    (``cloud_fraction`` > 0) but that came without a mask saying where: there, cloud over a
    stand reads as the stand seen empty."""
    cloudy = sorted(
        (s for s in scenes if s.mask_path is None and s.cloud_fraction > 0),
        key=lambda s: -s.cloud_fraction,
    )
    if cloudy:
        log.warning(
            "%d scene(s) have no cloud mask although their provider reports cloud: %s; where "
            "it lies over a stand, the stand reads as seen empty: draw it into <image "
            "stem>_cloud.geojson beside the image, or move the scene away",
            len(cloudy),
            few([f"{s.scene_id} ({100 * s.cloud_fraction:.0f} %)" for s in cloudy]),
        )


#: Footprints closer than this (degrees, about 1 m) touch.
TOUCH_DEG = 1e-5


def _warn_tiles_of_one_acquisition(scenes: Sequence[Scene]) -> None:
    """One warning per acquisition time shared by scenes whose footprints touch or overlap:
    the tiles of one product (R1C1, R1C2…), each a scene of its own, cut the aircraft on
    their seams; a ``.vrt`` mosaic of them is one scene."""
    by_time: dict[pd.Timestamp, list[Scene]] = {}
    for scene in scenes:
        if not pd.isna(scene.acquired):
            by_time.setdefault(scene.acquired, []).append(scene)
    for acquired, group in by_time.items():
        touching = {
            s.scene_id
            for s in group
            for t in group
            if s is not t and shapely.dwithin(s.footprint, t.footprint, TOUCH_DEG)
        }
        if touching:
            log.warning(
                "%d scenes of one acquisition time (%s) touch, tiles of one product: %s; each "
                "is a scene of its own and aircraft on their seams are cut: mosaic them into "
                "one .vrt beside them (gdalbuildvrt mosaic.vrt TILE...), whose tiles are then "
                "not scanned",
                len(touching),
                utc_text(acquired),
                ", ".join(sorted(touching)),
            )


#: Two scenes of one acquisition time whose footprints overlap at least this much
#: (intersection over union) are one image, e.g. a copy under another name.
DUPLICATE_IOU = 0.95


def _without_duplicates(scenes: list[Scene], errors: list[SceneError]) -> list[Scene]:
    """``scenes`` less the copies of one image (same acquisition time, footprints overlapping
    :data:`DUPLICATE_IOU`): the finest GSD, then colour over grey (a product's RGB, not its
    panchromatic band at the same GSD: the detector reads red, green, blue), then the first
    scene id is kept, each other is appended to ``errors`` naming the one kept. Counting a
    copy would see an aircraft twice."""
    kept: dict[pd.Timestamp, list[Scene]] = {}
    for scene in sorted(scenes, key=lambda s: (s.gsd_m, -min(s.count, 3), s.scene_id)):
        same_time = kept.setdefault(scene.acquired, [])
        twin = next(
            (k for k in same_time if _iou(k.footprint, scene.footprint) >= DUPLICATE_IOU), None
        )
        if twin is None:
            same_time.append(scene)
        else:
            errors.append(
                SceneError(
                    scene.path,
                    f"same acquisition time and footprint as {twin.path}; skipped as a copy of it",
                )
            )
    return [scene for group in kept.values() for scene in group]


def _iou(a: shapely.Geometry, b: shapely.Geometry) -> float:
    union = shapely.union(a, b).area
    return shapely.intersection(a, b).area / union if union > 0 else 0.0


@dataclass(frozen=True)
class _Source:
    """One image to describe, its scene id and its usable-data mask."""

    image: Path
    scene_id: str
    mask: Path | None


def _folder_sources(folder: Path) -> tuple[list[_Source], dict[Path, dict], ScanResult]:
    """The images of a folder, the STAC items among its JSON files (by the image they href)
    and a result holding its pictures without georeference, or a :class:`NoImageError`
    naming the folder when it holds neither."""
    images, masks, jsons, pictures, archives = _find_files(folder)
    images = distinct_files(images)
    members = mosaic_members(images)
    images = [p for p in images if p.resolve() not in members]
    stac_index = stac_items(jsons)
    ids = scene_ids(images, folder)
    if pictures:
        log.warning(
            "%d PNG/JPEG file(s) with no georeference (world file or .aux.xml) are not scenes: "
            "%s; `dwelltime detect --gsd METRES` reads such images in pixel coordinates",
            len(pictures),
            few([p.name for p in pictures]),
        )
    if archives and (images or pictures):
        log.warning(
            "%d archive(s) are not opened: %s; unpack each in its folder (%s%s) to scan "
            "their images",
            len(archives),
            few([p.name for p in archives]),
            unpack_command(archives[0]),
            ", …" if len(archives) > 1 else "",
        )
    owned = {p: _masks_of(p, masks) for p in images}
    sources = [_Source(p, ids[p], next(iter(owned[p]), None)) for p in images]
    _warn_masks_of_no_image(masks, owned.values())
    errors: list[SceneError] = [] if images or pictures else [NoImageError(folder, archives)]
    return sources, stac_index, ScanResult(errors=errors, pictures=pictures)


def _item_sources(path: Path) -> tuple[list[_Source], dict[Path, dict], ScanResult]:
    """One image per item of a STAC ItemCollection file, the items by their image, and a
    result holding the items without a local image as errors."""
    found, errors = item_scenes(path)
    ids = Counter(str(f.item.get("id", "")) for f in found)
    sources, stac_index = [], {}
    for f in found:
        item_id = str(f.item.get("id", ""))
        scene_id = item_id if item_id and ids[item_id] == 1 else f.image.stem
        sources.append(_Source(f.image, scene_id, f.mask))
        stac_index[f.image.resolve()] = f.item
    return sources, stac_index, ScanResult(errors=errors)


def read_scene(
    path: Path,
    *,
    scene_id: str | None = None,
    folder: Path | None = None,
    times: Mapping[str, object] | str | os.PathLike | None = None,
    stac_index: Mapping[Path, dict] | None = None,
    mask_path: Path | None = None,
    require_time: bool = True,
) -> Scene:
    """Describe one image; SceneError naming the file and the reason when it cannot be used.

    ``require_time=False`` (detection alone, which needs no date) gives a scene without an
    acquisition time NaT ``acquired`` and ``time_source`` ``"none"`` instead of an error.
    ``times``: as :func:`scan` takes them.
    """
    return _read_scene(
        Path(path),
        scene_id=scene_id,
        folder=folder,
        times=user_times(times),
        stac_index=stac_index,
        mask_path=mask_path,
        require_time=require_time,
    )


def _read_scene(
    path: Path,
    *,
    scene_id: str | None,
    folder: Path | None,
    times: Mapping[str, pd.Timestamp] | None,
    stac_index: Mapping[Path, dict] | None,
    mask_path: Path | None,
    require_time: bool,
) -> Scene:
    """:func:`read_scene` of ``times`` checked already (:func:`user_times`), as :func:`scan`
    checks them once for all its images."""
    from rasterio.errors import RasterioError

    try:
        with open_picture(path) as ds:  # no georeference is reported below, not warned
            if ds.crs is None and ds.gcps[0]:
                raise SceneError(path, _gcp_problem(path, *ds.gcps))
            if ds.crs is None and ds.rpcs is not None:
                raise SceneError(path, _rpc_problem(path, ds.rpcs))
            if ds.transform.is_identity and ds.rpcs is None:
                raise SceneError(
                    path, "is not georeferenced (no geotransform: where its pixels lie is "
                    "unknown); give it a world file or GeoTIFF tags (gdal_translate -a_ullr "
                    "ULX ULY LRX LRY -a_srs EPSG:…), or read it in pixel coordinates with "
                    "`dwelltime detect --gsd METRES`"
                )  # fmt: skip
            if ds.crs is None:
                raise SceneError(path, f"has no CRS; {crs_hint(path)}")
            if not (ds.crs.is_geographic or ds.crs.is_projected):
                raise SceneError(path, _local_crs_problem(ds.crs))
            _check_on_globe(ds, path)
            if ds.rpcs is not None:
                _warn_not_orthorectified(ds)
            missing = [Path(f).name for f in ds.files if not Path(f).exists()]
            if missing:
                raise SceneError(
                    path, f"lists {len(missing)} file(s) that are missing: "
                    f"{few([Path(m).name for m in missing])}; copy the whole product "
                    "(the tiles it lists) beside it"
                )  # fmt: skip
            gsd = gsd_metres(ds.crs, ds.transform, ds.width, ds.height)
            footprint = _footprint(ds, gsd, path)
            own = getattr(ds, "src_dataset", ds)  # the file's tags, not its .prj's WarpedVRT's
            tags = {**own.tags(), **own.tags(ns="IMAGERY")}
            crs = f"EPSG:{ds.crs.to_epsg()}" if ds.crs.to_epsg() else ds.crs.to_wkt()
            shape = (ds.width, ds.height, ds.count, ds.dtypes[0])
            sidecars = sidecar_files(ds)
    except RasterioError as e:
        raise unreadable_image(path, e) from None
    if mask_path is not None:
        _check_mask(path, mask_path, footprint)
    try:
        info = acquisition_time(
            path,
            folder=folder or path.parent,
            tags=tags,
            times=times,
            stac_index=stac_index,
            hint=TIMES_HINT if require_time else DETECT_TIMES_HINT,
        )
    except NoTimeError as e:
        if require_time:
            raise SceneError(path, str(e)) from None
        info = TimeInfo(pd.NaT, "none")
    except ValueError as e:
        raise SceneError(path, str(e)) from None
    provider = info.provider if info.provider != "unknown" else name_provider(path)
    if provider == "unknown" and mask_path is not None and not is_cloud_vector(mask_path):
        provider = "planet"
    return Scene(
        scene_id=scene_id or path.stem,
        path=path.resolve(),
        acquired=info.acquired,
        time_source=info.source,
        provider=provider,
        crs=crs,
        gsd_m=gsd,
        width=shape[0],
        height=shape[1],
        count=shape[2],
        dtype=shape[3],
        cloud_fraction=info.cloud_fraction,
        mask_path=mask_path.resolve() if mask_path else None,
        footprint=footprint,
        rgb_bands=named_rgb_bands(path, shape[2], stac_index),
        sidecars=sidecars,
        time_origin=info.origin,
    )


def _gcp_problem(path: Path, gcps: Sequence[object], crs: object | None) -> str:
    """What to do with an image placed only by ground control points: the gdalwarp line that
    warps it onto the UTM grid of their middle (the GCPs' own CRS when they have none)."""
    from pyproj import Transformer

    target = "EPSG:…"
    if crs is not None:
        x, y = (float(np.mean([getattr(g, axis) for g in gcps])) for axis in "xy")
        to_lonlat = Transformer.from_crs(crs.to_wkt(), "EPSG:4326", always_xy=True)  # type: ignore[attr-defined]
        lon, lat = to_lonlat.transform(x, y)
        target = utm_crs(lon, lat) if np.isfinite([lon, lat]).all() else target
    return (
        f"is georeferenced only by {len(gcps)} ground control points (GCPs), not a "
        f"geotransform; warp it onto a map grid first (gdalwarp -t_srs {target} "
        f"-r bilinear {path.name} {path.stem}_warped.tif)"
    )


def _rpc_problem(path: Path, rpcs: object) -> str:
    """What to do with an image placed only by RPCs (a raw product, not orthorectified): the
    gdalwarp line that orthorectifies it onto the UTM grid of the RPCs' centre."""
    lon, lat = rpcs.long_off, rpcs.lat_off  # type: ignore[attr-defined]
    return (
        "is georeferenced only by RPCs (not orthorectified); orthorectify it first (gdalwarp "
        f"-rpc -to RPC_DEM=dem.tif -t_srs {utm_crs(lon, lat)} -r bilinear {path.name} "
        f"{path.stem}_ortho.tif)"
    )


def _local_crs_problem(crs: object) -> str:
    """Why an image in a local (engineering) CRS, tied to no place on Earth (a drone or CAD
    grid), cannot be placed, and how to give it a map CRS."""
    from pyproj import CRS

    name = CRS.from_wkt(crs.to_wkt()).name  # type: ignore[attr-defined]
    return (
        f"has a local CRS ({name}) tied to no place on Earth, so where its pixels lie is "
        "unknown; give it its map CRS (gdal_edit.py -a_srs EPSG:…, with -a_ullr ULX ULY LRX "
        "LRY in that CRS if its corners are local too)"
    )


def _check_on_globe(ds: object, path: Path) -> None:
    """SceneError naming ``path`` when its image ``ds``, in a lon/lat CRS, has corners that
    are no longitude and latitude (beyond ±90° of latitude or ±360° of longitude): metres of
    a projected CRS labelled EPSG:4326, whose footprint and GSD would be nonsense."""
    if not ds.crs.is_geographic:  # type: ignore[attr-defined]
        return
    corners = ((0, 0), (ds.width, 0), (ds.width, ds.height), (0, ds.height))  # type: ignore[attr-defined]
    xs, ys = zip(*(ds.transform @ c for c in corners), strict=True)  # type: ignore[attr-defined]
    if max(map(abs, xs)) <= 360 and max(map(abs, ys)) <= 90:
        return
    raise SceneError(
        path,
        f"has coordinates beyond the globe for its lon/lat CRS {ds.crs.to_string()} "  # type: ignore[attr-defined]
        f"(x {min(xs):.1f}…{max(xs):.1f}, y {min(ys):.1f}…{max(ys):.1f}): they are "
        "not degrees (metres of a projected CRS?); give it its own CRS "
        "(gdal_edit.py -a_srs EPSG:…)",
    )


def crs_hint(path: Path) -> str:
    """How to give ``path`` a CRS: by EPSG code, or a ``.prj`` of it beside the image, which
    :func:`dwelltime.regrid.open_picture` reads."""
    return f"assign one (gdal_edit.py -a_srs EPSG:…), or write it as WKT in {path.stem}.prj"


#: Coarsest scene a run links, metres per pixel (RapidEye's 5 m; the detector is measured down
#: to 3 m): a coarser scene (Sentinel-2's 10 m) would show every stand seen empty.
MAX_LINK_GSD_M = 5.0


def too_coarse(gsd_m: float) -> str | None:
    """Why imagery of ``gsd_m`` metres/pixel shows no aircraft: coarser than
    :data:`MAX_LINK_GSD_M` (a 5 % margin for a lon/lat grid's measured GSD); None when not."""
    if gsd_m <= MAX_LINK_GSD_M * 1.05:
        return None
    return (
        f"GSD {gsd_m:.1f} m is coarser than the {MAX_LINK_GSD_M:g} m at which aircraft still show"
    )


def without_coarse(found: ScanResult) -> ScanResult:
    """``found`` with its scenes :func:`too_coarse` moved to its errors: no aircraft shows in
    them, so their stands would count as seen empty and end stays."""
    coarse = [(s, too_coarse(s.gsd_m)) for s in found.scenes]
    errors = [
        SceneError(s.path, f"{why}: not used, as every stand would count as seen empty")
        for s, why in coarse
        if why
    ]
    scenes = [s for s, why in coarse if not why]
    return ScanResult(scenes, [*found.errors, *errors], found.pictures)


_NOT_ATTRIBUTES = ("path", "mask_path", "geometry")


def scenes_frame(scenes: Sequence[Scene]) -> gpd.GeoDataFrame:
    """The scenes as a GeoDataFrame with :data:`SCENE_COLUMNS`, footprints in EPSG:4326."""
    if not scenes:
        return empty_frame(SCENE_COLUMNS, "EPSG:4326")
    rows = [
        {
            **{c: getattr(s, c) for c in SCENE_COLUMNS if c not in _NOT_ATTRIBUTES},
            "path": str(s.path),
            "mask_path": str(s.mask_path) if s.mask_path else "",
        }
        for s in scenes
    ]
    frame = pd.DataFrame(rows)
    frame["acquired"] = pd.to_datetime(frame["acquired"], utc=True)
    geometry = gpd.GeoSeries([s.footprint for s in scenes], crs="EPSG:4326")
    return gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326")[list(SCENE_COLUMNS)]


def _check_mask(image: Path, mask_path: Path, footprint: shapely.Geometry) -> None:
    """SceneError naming ``image`` and its provider mask when the mask cannot be read or
    :func:`_mask_problem` finds it unusable: used as is, it would hide the whole scene, or
    its cloud would go unnoticed."""
    from pyogrio.errors import DataSourceError
    from rasterio.errors import RasterioError

    try:
        with open_mask(mask_path) as mask:
            problem = _mask_problem(mask, footprint)
    except (RasterioError, DataSourceError, OSError) as e:
        why = "truncated or corrupt file" if str(e).startswith(READ_FAILED) else _first_line(e)
        problem = f"cannot be read ({why})"
    if problem is None:
        return
    raise SceneError(
        image, f"its mask {mask_path.name} {problem}; the scene is not used: replace the mask "
        "(download it again) or move it away to use the scene without one"
    )  # fmt: skip


def _mask_problem(mask: object, footprint: shapely.Geometry) -> str | None:
    """Why the open ``mask`` cannot say where an image of ``footprint`` (EPSG:4326) saw
    cloud, or None: it has no CRS (:func:`~dwelltime.io.missing_crs`; cloud polygons only
    when there are some), a raster mask misses the footprint, or cloud polygons lie none over
    it, or there are only features that mark no area (lines, points). A raster mask whose
    pixels cannot be read raises rasterio's error; a UDM2 of unknown classes is warned."""
    from rasterio.warp import transform_bounds

    if isinstance(mask, CloudVector) and not len(mask.clouds):
        if not mask.others:
            return None
        return (
            f"holds {mask.others} feature(s) but no polygon (lines or points mark no area: "
            "draw the clouds as polygons)"
        )
    if missing_crs(mask.crs):
        return "has no CRS"
    if isinstance(mask, CloudVector):
        clouds = gpd.GeoSeries(mask.clouds, crs=mask.crs).to_crs(4326)
        if any(
            np.isfinite(c.bounds).all() and _within_180(c).intersects(footprint) for c in clouds
        ):
            return None
        return (
            "has no cloud polygon over the image (another scene's, or coordinates in "
            'another CRS than the file declares: a GeoJSON without "crs" is read as lon/lat)'
        )
    if not _lonlat_box(*transform_bounds(mask.crs, 4326, *mask.bounds)).intersects(footprint):
        return "does not overlap the image (another scene's mask?)"
    # read decimated, as the image is, so that a truncated mask fails here, named, rather
    # than at detection, where its RasterioIOError would blame the image
    gsd = gsd_metres(mask.crs, mask.transform, mask.width, mask.height)
    shape = _footprint_shape(mask.width, mask.height, gsd)
    band, valid = read_decimated(mask, shape, partial(mask.read, 1), mask.dataset_mask)
    if not Path(mask.name).stem.lower().endswith(UDM1_SUFFIXES):  # a legacy UDM: any bits
        _warn_unknown_classes(Path(mask.name), band[valid > 0])
    return None


def _warn_unknown_classes(mask: Path, clear: np.ndarray) -> None:
    """One warning naming ``mask`` when band 1 (``clear``: its values where it has data) of
    a UDM2 holds values other than 0 (not clear) and 1 (clear), which
    :func:`~dwelltime.regrid.valid_mask` takes for unseen."""
    other = np.setdiff1d(np.unique(clear), [0, 1])
    if other.size:
        log.warning(
            "%s: band 1 (clear) holds values other than 0 and 1: %s; taken for unseen "
            "(neither presence nor absence): is it a Planet UDM2?",
            mask,
            few([str(v) for v in other]),
        )


def _footprint(ds: object, gsd_m: float, path: Path) -> shapely.Geometry:
    """Valid-data outline in EPSG:4326 of ``path``'s image ``ds`` (bounds if all valid),
    traced on a grid of cells of about :data:`FOOTPRINT_CELL_M` (:func:`_footprint_shape`;
    ``gsd_m``: the scene's metres per pixel), read decimated (from overviews where the file
    has them): a cell is valid where GDAL's dataset mask (nodata, alpha or internal mask)
    has any valid pixel in it. The outline covers every valid cell, widened by half a cell
    and then simplified by half a cell, so that simplifying leaves no valid ground out.

    The decimated read also makes truncated files fail here rather than later.
    """
    from rasterio.enums import MaskFlags, Resampling
    from rasterio.errors import RasterioIOError
    from rasterio.warp import transform_geom

    out_shape = _footprint_shape(ds.width, ds.height, gsd_m)
    corners = ((0, 0), (ds.width, 0), (ds.width, ds.height), (0, ds.height))
    bounds = shapely.Polygon([ds.transform @ c for c in corners])  # rotated ones too
    all_valid = all(MaskFlags.all_valid in flags for flags in ds.mask_flag_enums)
    try:  # band 1 for the fill warning, and in a float image for NaN: no data, declared or not
        floats = np.dtype(ds.dtypes[0]).kind == "f"
        band = (
            read_decimated(ds, out_shape, partial(ds.read, 1))[0] if all_valid or floats else None
        )
        if all_valid and np.isfinite(band).all():
            _warn_undeclared_fill(ds, band == 0, path)
            outline = bounds
        else:  # averaged, a mask is > 0 where any pixel of the cell is valid
            any_valid = partial(ds.dataset_mask, resampling=Resampling.average)
            mask = read_decimated(ds, out_shape, any_valid)[0] > 0
            if band is not None:
                mask &= np.isfinite(band)
            if not mask.any():
                raise SceneError(path, "holds no valid pixels (all nodata)")
            step = ds.transform @ ds.transform.scale(
                ds.width / out_shape[1], ds.height / out_shape[0]
            )
            half = abs(step.a) / 2
            cells = mask_to_polygon(mask, step).buffer(half, join_style="mitre")
            outline = shapely.make_valid(cells.simplify(half)).intersection(bounds)
    except RasterioIOError:
        raise SceneError(path, UNREADABLE_PIXELS) from None
    outline = shapely.segmentize(outline, max(outline.length / 64, 1e-9))
    lonlat = shapely.geometry.shape(transform_geom(ds.crs, "EPSG:4326", outline))
    return _within_180(shapely.make_valid(lonlat.simplify(FOOTPRINT_TOLERANCE_DEG)))


def _footprint_shape(width: int, height: int, gsd_m: float) -> tuple[int, int]:
    """(rows, cols) of the grid the footprint of a ``width`` × ``height`` pixel scene of
    ``gsd_m`` metres per pixel is traced on: cells of :data:`FOOTPRINT_CELL_M` metres,
    between :data:`FOOTPRINT_MIN_PX` and :data:`FOOTPRINT_MAX_PX` of them along the longer
    side, none smaller than a pixel."""
    side = max(width, height)
    fewest = max(side / FOOTPRINT_MAX_PX, 1.0)  # pixels per cell
    most = max(side / FOOTPRINT_MIN_PX, 1.0)
    wanted = FOOTPRINT_CELL_M / gsd_m if gsd_m > 0 and math.isfinite(gsd_m) else fewest
    factor = min(max(wanted, fewest), most)
    return max(1, round(height / factor)), max(1, round(width / factor))


def _lonlat_box(west: float, south: float, east: float, north: float) -> shapely.Geometry:
    """The lon/lat bounds (degrees; west > east across the antimeridian, as
    ``transform_bounds`` gives them) as a box in longitudes -180°…180° (:func:`_within_180`)."""
    return _within_180(shapely.box(west, south, east + 360.0 if west > east else east, north))


def _within_180(lonlat: shapely.Geometry) -> shapely.Geometry:
    """A lon/lat geometry in longitudes -180°…180°: parts past ±180° (a lon/lat image
    written 179.9°…180.2°, or 0°…360°) moved by whole turns, so a footprint across the
    antimeridian is two parts, one each side, as RFC 7946 and the aprons have it. An outline
    whose vertices PROJ put either side of ±180° (a Web Mercator image across the
    antimeridian, which GDAL does not cut there) is first made one span
    (:func:`~dwelltime.airports.across_antimeridian`), not a band round the globe."""
    lonlat = across_antimeridian(lonlat)
    west, _, east, _ = lonlat.bounds
    if -180.0 <= west and east <= 180.0:
        return lonlat
    first, last = (int(np.floor((lon + 180.0) / 360.0)) for lon in (west, east))
    parts = [
        shapely.affinity.translate(
            lonlat.intersection(shapely.box(360.0 * k - 180.0, -90.0, 360.0 * k + 180.0, 90.0)),
            xoff=-360.0 * k,
        )
        for k in range(first, last + 1)
    ]
    return polygonal_parts([shapely.union_all(parts)])[0]  # no line where a part met ±180°


def _warn_not_orthorectified(ds: object) -> None:
    """One warning for an image whose RPCs came with its map geotransform, as products not
    orthorectified carry them (Maxar Standard, Pléiades/SPOT Primary): that geotransform may be
    only an approximation, off by tens of metres where the ground stands above or below the
    height it assumed, more the farther off nadir the image was taken."""
    epsg = ds.crs.to_epsg()  # type: ignore[attr-defined]
    name = Path(ds.name)  # type: ignore[attr-defined]
    log.warning(
        "%s: carries RPCs beside its geotransform: if it is not orthorectified (Maxar "
        "Standard, Pléiades/SPOT Primary), positions may be off by tens of metres; "
        "orthorectify it into another folder (gdalwarp -rpc -to RPC_DEM=dem.tif -t_srs %s %s "
        "ortho/%s) and scan that",
        name,
        f"EPSG:{epsg}" if epsg else "EPSG:…",
        name.name,
        name.name,
    )


#: An image that declares no nodata yet is 0 in every band over at least this share of its
#: area, joined to its edge (the fill around an orthorectified strip), is warned.
UNDECLARED_FILL_MIN = 0.01


def _warn_undeclared_fill(ds: object, zero: np.ndarray, path: Path) -> None:
    """One warning naming ``path`` when the pixels 0 in every band, joined to the image edge, cover
    :data:`UNDECLARED_FILL_MIN` of an image with no nodata, mask or alpha: that fill would be
    taken for ground seen empty. ``zero``: band 1 == 0 in a decimated read; the other bands
    are read only when band 1 has such a fill."""
    from scipy import ndimage

    def edge_joined(mask: np.ndarray) -> np.ndarray:
        edge = np.zeros_like(mask)
        edge[[0, -1], :] = edge[:, [0, -1]] = True
        return ndimage.binary_propagation(mask & edge, mask=mask)

    if edge_joined(zero).mean() < UNDECLARED_FILL_MIN:
        return
    if ds.count > 1:
        zero &= (ds.read(out_shape=(ds.count, *zero.shape)) == 0).all(axis=0)
    share = edge_joined(zero).mean()
    if share >= UNDECLARED_FILL_MIN:
        log.warning(
            "%s: %.0f %% of the image, along its edges, is 0 in every band but no nodata is "
            "declared, so it would count as ground seen empty; declare it "
            "(gdal_edit.py -a_nodata 0 %s)",
            path,
            100 * share,
            path,
        )


def _find_files(
    folder: Path,
) -> tuple[list[Path], list[Path], list[Path], list[Path], list[Path]]:
    """Images, provider masks, JSON files, pictures without georeference and archives under
    ``folder`` (:func:`dwelltime.formats.walk_folders`: links to folders followed), sorted."""
    images, masks, jsons, pictures, archives = [], [], [], [], []
    for root, files in walk_folders(folder):
        lower = {name.lower(): name for name in files}
        for name in files:
            p = root / name
            suffix = p.suffix.lower()
            if is_ard_layer(name) and suffix in RASTER_SUFFIXES:
                log.info("left out %s: a Maxar ARD data mask (<id>-clouds.tif…), no image", p)
                continue
            if suffix in RASTER_SUFFIXES or is_dimap(name):
                is_mask = is_provider_mask(name)  # ARD data masks are left out above
                (masks if is_mask else images).append(p)
            elif is_cloud_vector(name):
                masks.append(p)
            elif suffix in PICTURE_SUFFIXES:
                (images if _georeferenced(p, lower) else pictures).append(p)
            elif suffix == ".json":
                jsons.append(p)
            elif is_packed(p):
                archives.append(p)
    return images, masks, jsons, pictures, archives


def _georeferenced(picture: Path, siblings: Mapping[str, str]) -> bool:
    """Whether ``picture`` has a world file beside it, or a ``.aux.xml`` that places it (a
    geotransform or GCPs; not one holding only the statistics a GIS viewer saved there).
    ``siblings``: the file names of its folder by their lower case."""
    name = picture.name.lower()
    stem, suffix = os.path.splitext(name)
    if any(stem + s in siblings for s in GEOREFERENCE_SIDECARS[suffix]):
        return True
    aux = siblings.get(name + ".aux.xml")
    if aux is None:
        return False
    try:
        text = (picture.parent / aux).read_text(errors="replace")
    except OSError:
        return False
    return "<GeoTransform" in text or "<GCPList" in text


def _masks_of(image: Path, masks: Sequence[Path]) -> list[Path]:
    """The masks of ``masks`` that belong to ``image``, the one to use first: the user's
    cloud polygons beside it named after its stem (``<stem>_cloud.geojson``…); then the
    provider masks whose base starts its stem, Planet UDM2 before legacy UDM (which marks
    no shadow or haze), then the longest base: a Planet mask beside it (base: its stem minus
    the suffix, and a legacy UDM's ``_DN``, as in ``<id>_3B_AnalyticMS_DN_udm.tif``) or an
    Airbus cloud mask in the ``MASKS`` folder beside it (base: the product id of
    ``CLD_<id>_MSK.GML``, which follows the ``DIM_`` or ``IMG_`` of the image's stem) or a
    Maxar ARD cloud mask beside it (base: ``<id>-`` of ``<id>-cloud-mask.gpkg``)."""
    stem = image.stem.lower()
    names = (stem, stem[4:]) if stem.startswith(("dim_", "img_")) else (stem,)
    ranked: list[tuple[tuple[int, int], Path]] = []
    for m in masks:
        beside, mask_stem, rank = m.parent, m.stem.lower(), 1
        if is_airbus_cloud_mask(m):
            beside = m.parent.parent if m.parent.name.lower() == "masks" else None
            base = mask_stem[4:-4]  # CLD_<id>_MSK
        elif is_ard_cloud_mask(m):
            base = f"{ard_id(m).lower()}-"  # <id>-cloud-mask.gpkg: <id>-visual, -pan, -ms
        elif is_cloud_vector(m):
            if beside == image.parent and mask_stem == stem + CLOUD_SIDECAR_STEM:
                ranked.append(((2, 0), m))
            continue
        else:
            base = next(mask_stem[: -len(s)] for s in MASK_SUFFIXES if mask_stem.endswith(s))
            if mask_stem.endswith(UDM1_SUFFIXES):
                base, rank = base.removesuffix("_dn"), 0
        if beside == image.parent and any(n.startswith(base) for n in names):
            ranked.append(((rank, len(base)), m))
    return [m for _, m in sorted(ranked, key=lambda r: r[0], reverse=True)]


def _warn_masks_of_no_image(masks: Sequence[Path], owned: Iterable[Sequence[Path]]) -> None:
    """One warning naming the ``masks`` that belong to no image (``owned``: the masks of each
    image, :func:`_masks_of`): a mask left behind when its image was renamed, or a cloud file
    misspelt, whose cloud would read as ground seen empty."""
    taken = {m for found in owned for m in found}
    unused = [m.name for m in masks if m not in taken]
    if unused:
        log.warning(
            "%d mask(s) belong to no image and are not used: %s; a mask is its image's when "
            "named as its provider names it (Planet: <id>_3B_udm2.tif beside "
            "<id>_3B_AnalyticMS….tif) or, cloud polygons, <image stem>_cloud.geojson",
            len(unused),
            few(unused),
        )


def scene_ids(images: Sequence[Path], folder: Path) -> dict[Path, str]:
    """A distinct id for each of ``images`` (all under ``folder``): file stems; where stems
    repeat, the path relative to ``folder`` without its suffix; where that repeats too
    (``a.jp2`` beside ``a.tif``), with it."""
    stems = Counter(p.stem for p in images)
    paths = Counter(p.relative_to(folder).with_suffix("") for p in images)
    ids = {}
    for p in images:
        relative = p.relative_to(folder)
        if stems[p.stem] == 1:
            ids[p] = p.stem
        elif paths[relative.with_suffix("")] == 1:
            ids[p] = relative.with_suffix("").as_posix()
        else:
            ids[p] = relative.as_posix()
    return ids


def _warn_unused_times(
    times: Mapping[str, object] | None, images: Sequence[Path], folder: Path
) -> None:
    """Warn about the keys of ``times`` that name none of ``images`` (found under ``folder``),
    and about the images it names under none of their keys: their times come from other
    sources, which the user may have meant to overrule."""
    if not times:
        return
    keys = {p: user_keys(p, folder) for p in images}
    known = {k for names in keys.values() for k in names}
    unused = sorted(k for k in times if k not in known)
    if unused:
        log.warning(
            "--times (times= in Python) names %d file(s) not found among the images: %s",
            len(unused),
            few(unused, 5),
        )
    unnamed = [p.name for p, names in keys.items() if not any(k in times for k in names)]
    if unnamed:
        log.warning(
            "--times (times= in Python) gives no time for %d of the %d images, which take it "
            "from their metadata or name (time_source): %s",
            len(unnamed),
            len(images),
            few(unnamed, 5),
        )


#: How rasterio's error begins when a file opens but reading its pixels fails.
READ_FAILED = "Read failed"


def as_scene_error(scene: Scene, exc: Exception) -> SceneError:
    """A one-line :class:`SceneError` naming the scene's file for any failure while reading it:
    pixels that cannot be read from a file that opens are :data:`UNREADABLE_PIXELS`."""
    from rasterio.errors import RasterioIOError

    if isinstance(exc, SceneError):
        return exc
    if isinstance(exc, RasterioIOError) and str(exc).startswith(READ_FAILED):
        return SceneError(scene.path, UNREADABLE_PIXELS)
    return SceneError(scene.path, error_text(exc))


def unreadable_image(path: Path, e: Exception) -> SceneError:
    """The SceneError for an image file that cannot be opened or read: ``not a readable image
    (first line of the error)``."""
    return SceneError(path, f"not a readable image ({_first_line(e)})")


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
